"""Workbooks from any writer load alike: openpyxl, xlsxwriter, LibreOffice (.xlsx, .xls, .ods),
a legacy .xls, and a workbook openpyxl itself cannot open; date cells, Excel serial numbers
and text dates; error cells and missing-value tokens; the sheet holding the table."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from lenstop.ingest.problems import DataError
from lenstop.ingest.schema import DATE_COLUMNS
from lenstop.ingest.validate import load_cohort
from tests.conftest import TODAY, write_csv
from tests.ingest.test_io_formats import _typed_for_binary

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is not installed (Debian: apt-get install "
    "libreoffice-calc-nogui), so no workbook written by it can be made here")


@pytest.fixture
def reference(small_text, tmp_path):
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "ref.csv"), today=TODAY)
    return cohort


def _xlsx(frame: pd.DataFrame, path: Path, engine: str = "openpyxl") -> Path:
    frame.to_excel(path, index=False, sheet_name="cohort", engine=engine)
    return path


def _soffice(source: Path, target: str, out: Path) -> Path:
    """`soffice --headless --convert-to TARGET`: the workbook as LibreOffice writes it."""
    out.mkdir(exist_ok=True)
    profile = out / "profile"  # its own profile: conversions may run in parallel
    subprocess.run([SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", target, "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=180)
    made = out / f"{source.stem}.{target.split(':')[0]}"
    assert made.exists(), f"LibreOffice wrote no {made.name}"
    return made


@pytest.mark.parametrize("engine", ["openpyxl", "xlsxwriter"])
def test_python_writers_with_date_cells(small_text, tmp_path, reference, engine):
    path = _xlsx(_typed_for_binary(small_text), tmp_path / f"{engine}.xlsx", engine)
    cohort, _ = load_cohort(path, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


def test_xlsm_reads_like_xlsx(small_text, tmp_path, reference):
    path = _xlsx(_typed_for_binary(small_text), tmp_path / "extract.xlsx", "xlsxwriter")
    cohort, _ = load_cohort(path.rename(tmp_path / "extract.xlsm"), today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


def test_text_dates_and_serial_numbers(small_text, tmp_path, reference):
    frame = _typed_for_binary(small_text)
    epoch = pd.Timestamp("1899-12-30")
    for col in DATE_COLUMNS[:3]:  # numbers in General-formatted cells: Excel serial dates
        frame[col] = (frame[col] - epoch).dt.days.astype("Int64")
    for col in DATE_COLUMNS[3:]:  # text cells holding ISO dates
        frame[col] = small_text[col]
    cohort, warnings = load_cohort(_xlsx(frame, tmp_path / "mixed.xlsx"), today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)
    n = 3 * len(frame)
    assert any(f"{n} date cells held Excel serial numbers" in w for w in warnings), warnings


@needs_soffice
@pytest.mark.parametrize("target", ["xls:MS Excel 97", "ods:calc8",
                                    "xlsx:Calc MS Excel 2007 XML"])
def test_libreoffice_workbooks(small_text, tmp_path, reference, target):
    source = _xlsx(_typed_for_binary(small_text), tmp_path / "extract.xlsx")
    made = _soffice(source, target, tmp_path / "lo")
    cohort, warnings = load_cohort(made, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


@needs_soffice
def test_legacy_xls_with_a_notes_sheet_and_blank_rows(small_text, tmp_path, reference):
    import openpyxl

    source = tmp_path / "legacy.xlsx"
    with pd.ExcelWriter(source) as xl:
        pd.DataFrame({"Hinweis": ["Export 2024"]}).to_excel(xl, sheet_name="notes", index=False)
        _typed_for_binary(small_text).to_excel(xl, sheet_name="cohort", index=False)
    book = openpyxl.load_workbook(source)
    book["cohort"].insert_rows(6, 2)  # two blank rows between the 4th and 5th patient
    book.save(source)
    made = _soffice(source, "xls:MS Excel 97", tmp_path / "lo")
    cohort, warnings = load_cohort(made, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)
    assert any("read sheet 'cohort' of 2" in w for w in warnings)
    assert any("skipped 2 blank rows" in w for w in warnings), warnings


def test_a_workbook_openpyxl_cannot_open(small_text, tmp_path, reference):
    """Excel and calamine take a workbook whose styles part is declared but absent."""
    import openpyxl

    good = _xlsx(_typed_for_binary(small_text), tmp_path / "good.xlsx", "xlsxwriter")
    bad = tmp_path / "nostyles.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename != "xl/styles.xml":
                zout.writestr(item.filename, zin.read(item.filename))
    with pytest.raises(Exception):  # noqa: B017 - any failure of openpyxl's will do
        openpyxl.load_workbook(bad)
    cohort, _ = load_cohort(bad, today=TODAY)
    pd.testing.assert_frame_equal(cohort, reference)


def test_error_cells_and_tokens_are_missing(small_text, tmp_path, reference):
    import xlsxwriter

    frame = small_text.copy()
    path = tmp_path / "errors.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("cohort")
    sheet.write_row(0, 0, list(frame.columns))
    hb = list(frame.columns).index("hb_at_stop_g_dl")
    aml = list(frame.columns).index("aml_date")
    for i, row in enumerate(frame.itertuples(index=False), start=1):
        sheet.write_row(i, 0, ["" if v is None else v for v in row])
    sheet.write_formula(1, hb, "=1/0", None, "#DIV/0!")   # an error cell
    sheet.write_formula(2, hb, "=NA()", None, "#N/A")     # another
    sheet.write_string(3, hb, "#N/A")                     # the error as text (an export)
    sheet.write_string(4, aml, "NA")                      # R's missing value
    book.close()
    cohort, warnings = load_cohort(path, today=TODAY)
    expected = reference.copy()
    expected.loc[[0, 1, 2], "hb_at_stop_g_dl"] = pd.NA
    pd.testing.assert_frame_equal(cohort, expected)
    assert any("2 cells read as missing (" in w and "#N/A 1" in w and "NA 1" in w
               for w in warnings), warnings


def test_notes_sheet_first_and_renamed_columns(small_text, tmp_path):
    """The table is found and the report names the renamed columns, not the sheet."""
    path = tmp_path / "registry.xlsx"
    renamed = small_text.rename(columns={"patient_id": "PatNr", "hb_at_stop_g_dl": "hb_stop"})
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"about": ["registry export"]}).to_excel(xl, sheet_name="notes",
                                                             index=False)
        renamed.to_excel(xl, sheet_name="Daten", index=False)
    with pytest.raises(DataError) as info:
        load_cohort(path, today=TODAY)
    report = info.value.report()
    assert "name the sheet" not in report
    assert "column patient_id: required column is missing" in report
    assert "the file has a column 'hb_stop'" in report
    assert "read sheet 'Daten', the only one holding a table" in report
    mapping = tmp_path / "cw.yml"
    mapping.write_text("columns:\n  patient_id: PatNr\n  hb_at_stop_g_dl: hb_stop\n")
    cohort, warnings = load_cohort(path, mapping=mapping, today=TODAY)
    assert list(cohort["patient_id"]) == list(small_text["patient_id"])
    assert any("read sheet 'Daten' of 2" in w for w in warnings)


def test_several_tables_and_no_id_column_asks_for_sheet_and_crosswalk(small_text, tmp_path):
    path = tmp_path / "two.xlsx"
    renamed = small_text.rename(columns={"patient_id": "PatNr"})
    with pd.ExcelWriter(path) as xl:
        renamed.to_excel(xl, sheet_name="2023", index=False)
        renamed.to_excel(xl, sheet_name="2024", index=False)
    with pytest.raises(DataError, match=r"none of them has a patient_id header; name the "
                       r"sheet to read \(--sheet NAME\); if the columns have other names"):
        load_cohort(path, today=TODAY)
    mapping = tmp_path / "cw.yml"
    mapping.write_text("columns: {patient_id: PatNr}\n")
    with pytest.raises(DataError, match="2 of them have a PatNr or patient_id header"):
        load_cohort(path, mapping=mapping, today=TODAY)
    cohort, _ = load_cohort(path, sheet="2024", mapping=mapping, today=TODAY)
    assert len(cohort) == len(small_text)


def test_header_below_blank_rows_and_columns(small_text, tmp_path, reference):
    """A table that starts at B3 is read, and its rows keep their sheet numbers."""
    import openpyxl

    path = _xlsx(small_text, tmp_path / "offset.xlsx")
    book = openpyxl.load_workbook(path)
    book.active.insert_rows(1, 2)
    book.active.insert_cols(1)
    book.active["D5"] = "X"  # sex of the second patient, now on sheet row 5
    book.save(path)
    with pytest.raises(DataError) as info:
        load_cohort(path, today=TODAY)
    assert [(p.row, p.column, p.value) for p in info.value.problems] == [("row 5", "sex", "X")]
