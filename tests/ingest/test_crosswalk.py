"""The crosswalk: a registry-shaped extract loads as the shipped cohort; every problem with a
crosswalk is reported at once with its line; `lenstop crosswalk` writes a usable first one."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from lenstop import config
from lenstop.cli import main
from lenstop.ingest.crosswalk import (
    EXAMPLE,
    Crosswalk,
    draft_crosswalk,
    load_crosswalk,
    parse_crosswalk,
)
from lenstop.ingest.problems import DataError
from lenstop.ingest.readers import read_raw
from lenstop.ingest.schema import COLUMN_BY_NAME
from lenstop.ingest.validate import load_cohort, month_format
from tests.conftest import TODAY, write_csv


def run_main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _written_date(iso: str, fmt: str) -> str:
    """An ISO date (or a day-unknown 'YYYY-MM') as the registry writes it in `fmt`."""
    if len(iso) == 7:
        return dt.datetime.strptime(iso, "%Y-%m").strftime(month_format(fmt))
    return dt.date.fromisoformat(iso).strftime(fmt)


def registry_export(text: pd.DataFrame, cw: Crosswalk, path: Path) -> Path:
    """`text` (dictionary cells) written the way the crosswalk `cw` describes: its column
    names and codes, Hb in g/L, dd.mm.yyyy dates, decimal commas, semicolons."""
    frame = text.copy()
    for name, codes in cw.values.items():
        inverse = {target: code for code, target in codes.items()}
        frame[name] = frame[name].map(lambda v, inverse=inverse: None if v is None
                                      else inverse[v])
    frame["hb_at_stop_g_dl"] = frame["hb_at_stop_g_dl"].map(
        lambda v: None if v is None else f"{(Decimal(v) * 10).normalize():f}")
    for col in frame.columns:
        spec = COLUMN_BY_NAME.get(col)
        if spec is not None and spec.kind == "float":
            frame[col] = frame[col].map(lambda v: None if v is None else v.replace(".", ","))
        elif spec is not None and spec.kind == "date":
            frame[col] = frame[col].map(lambda v: None if v is None else
                                        _written_date(v, cw.date_format))
    frame = frame.rename(columns=cw.columns)
    frame.to_csv(path, sep=cw.delimiter, index=False, na_rep="", lineterminator="\r\n",
                 encoding="cp1252")
    return path


@pytest.fixture
def example(tmp_path) -> Path:
    path = tmp_path / "crosswalk.yml"
    path.write_text(EXAMPLE, encoding="utf-8")
    return path


@pytest.fixture
def registry(shipped_text, example, tmp_path) -> Path:
    return registry_export(shipped_text, load_crosswalk(example).check(), tmp_path / "reg.csv")


def test_registry_extract_through_its_crosswalk_is_the_shipped_cohort(registry, example):
    head = registry.read_text(encoding="cp1252").splitlines()
    assert head[0].startswith("PatNr;Zentrum;Geschlecht;")
    assert ";124;" in head[1] and ";n.u.;" in head[1] and ";21.12.2007;" in head[1]
    assert ";2,49;" in head[1]  # ANC with a decimal comma
    shipped, _ = load_cohort(config.SYNTHETIC_COHORT, today=TODAY)
    cohort, warnings = load_cohort(registry, mapping=example, today=TODAY)
    pd.testing.assert_frame_equal(cohort, shipped)
    again, _ = load_cohort(registry, mapping=load_crosswalk(example), today=TODAY)
    pd.testing.assert_frame_equal(again, shipped)
    assert not any("separated" in w for w in warnings)  # the crosswalk named the delimiter


def test_the_registry_extract_without_its_crosswalk_says_what_to_do(registry):
    code, _out, err = run_main("validate", str(registry))
    assert code == 2 and "Traceback" not in err
    assert "26 of the 26 required columns are missing" in err
    assert "map them in a crosswalk" in err


def test_cli_validate_with_mapping(registry, example):
    code, out, err = run_main("validate", str(registry), "--mapping", str(example))
    assert code == 0, err
    assert f"{registry.name}: 118 patients, all checks passed." in out


def test_every_problem_of_a_crosswalk_at_once(small_text, tmp_path):
    frame = small_text.rename(columns={"sex": "Geschlecht", "patient_id": "PatNr"})
    frame["Geschlecht"] = frame["Geschlecht"].map({"M": "1", "F": "2"})
    frame.loc[[2, 5], "Geschlecht"] = "3"
    frame.loc[7, "Geschlecht"] = "9"
    extract = write_csv(frame, tmp_path / "extract.csv")
    mapping = tmp_path / "cw.yml"
    mapping.write_text(
        "columns:\n"                          # line 1
        "  patient_id: PatNr\n"               # 2
        "  sex: Geschlecht\n"                 # 3
        "  centre: Zentrum\n"                 # 4: no such extract column
        "  hb_stop: Hb\n"                     # 5: not a dictionary column
        "values:\n"                           # 6
        "  sex: {'1': M, '2': F}\n"           # 7: codes 3 and 9 have no mapping
        "  ccyr_at_stop: {ja: vielleicht}\n"  # 8: not a dictionary value
        "units:\n"                            # 9
        "  hb_at_stop_g_dl: mg/dL\n"          # 10: not a unit of Hb
        "date_format: '%d'\n"                 # 11: no month and year
        "colour: blue\n",                     # 12: not a section
        encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_cohort(extract, mapping=mapping, today=TODAY)
    found = {(p.file.name, p.row, p.column, p.rule) for p in info.value.problems}
    assert found == {
        ("cw.yml", "line 4", "centre", "crosswalk: extract column exists"),
        ("cw.yml", "line 5", "hb_stop", "crosswalk: known dictionary column"),
        ("cw.yml", "line 8", "ccyr_at_stop", "crosswalk: known dictionary value"),
        ("cw.yml", "line 10", "hb_at_stop_g_dl", "crosswalk: known unit"),
        ("cw.yml", "line 11", "", "crosswalk: date format"),
        ("cw.yml", "line 12", "", "crosswalk: sections"),
        ("extract.csv", "", "sex", "crosswalk: every code mapped"),
    }
    by_rule = {p.rule: p.message for p in info.value.problems}
    assert "has no column 'Zentrum'" in by_rule["crosswalk: extract column exists"]
    assert "(closest: hb_at_stop_g_dl" in by_rule["crosswalk: known dictionary column"]
    assert "known: g/dL, g/L, mmol/L" in by_rule["crosswalk: known unit"]
    assert by_rule["crosswalk: every code mapped"].endswith(
        "2 values in 3 rows have no mapping under values: sex in cw.yml (line 7) and are not "
        "one of F, M: '3' (2 rows, first row 4), '9' (1 row, first row 9)")
    report = info.value.report()
    assert report.startswith("cw.yml, extract.csv: 7 problems; nothing was built.")
    assert "column sex: must be one of" not in report  # the coded cells are reported once


def test_the_crosswalk_file_problems_come_with_an_unreadable_extract(tmp_path):
    mapping = tmp_path / "cw.yml"
    mapping.write_text("columns:\n  sexx: Geschlecht\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_cohort(tmp_path / "missing.csv", mapping=mapping)
    assert {p.rule for p in info.value.problems} == {"file exists",
                                                     "crosswalk: known dictionary column"}


@pytest.mark.parametrize("text,line,message", [
    ("columns:\n  sex: [a, b\n", "line 3", "not valid YAML"),
    ("- columns\n", "line 1", "a crosswalk is a YAML mapping"),
    ("columns:\n  sex: A\n  sex: B\n", "line 3", "lists 'sex' twice"),
    ("columns:\n  sex: A\n  centre: A\n", "line 3", "'A' is given for both sex and centre"),
    ("values:\n  sex: {m: M, M: M}\n", "line 2", "'M' is listed twice"),
    ("decimal: ';'\n", "line 1", "decimal ';' is not one of"),
    ("colums:\n  sex: A\n", "line 1", "did you mean 'columns'?"),
])
def test_crosswalk_file_errors(tmp_path, text, line, message):
    path = tmp_path / "cw.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_crosswalk(path).check()
    assert any(p.row == line and message in p.message for p in info.value.problems), \
        info.value.report()


def test_yaml_booleans_and_numbers_stay_the_text_written():
    cw = parse_crosswalk("values:\n  ccyr_at_stop: {ja: yes, nein: no, 0: not_assessed}\n"
                         "  sex: {1.0: M, 02: F}\n").check()
    assert cw.values["ccyr_at_stop"] == {"ja": "yes", "nein": "no", "0": "not_assessed"}
    assert cw.values["sex"] == {"1": "M", "02": "F"}


def test_a_code_mapped_to_null_is_blank(small_text, tmp_path):
    small_text.loc[0, "hb_at_stop_g_dl"] = "nicht bestimmt"
    mapping = tmp_path / "cw.yml"
    mapping.write_text("values:\n  hb_at_stop_g_dl: {nicht bestimmt: null}\n", encoding="utf-8")
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "x.csv"), mapping=mapping,
                            today=TODAY)
    assert pd.isna(cohort.loc[0, "hb_at_stop_g_dl"])


def test_dates_not_in_the_crosswalks_format_name_it(small_text, tmp_path):
    small_text.loc[1, "len_stop_date"] = "2013/10/27"
    mapping = tmp_path / "cw.yml"
    mapping.write_text("date_format: '%d.%m.%Y'\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(small_text, tmp_path / "x.csv"), mapping=mapping, today=TODAY)
    [p] = info.value.problems  # the ISO dates of the other cells still load
    assert (p.row, p.column) == ("row 3", "len_stop_date")
    assert "date_format %d.%m.%Y (or ISO YYYY-MM-DD)" in p.message


# ------------------------------------------------------------------ lenstop crosswalk

def test_draft_for_the_registry_extract(registry, tmp_path):
    text = draft_crosswalk(read_raw(registry))
    cw = parse_crosswalk(text).check()  # valid YAML without problems
    assert cw.date_format == "%d.%m.%Y" and cw.decimal == "," and cw.delimiter == ";"
    assert cw.columns == {"ipssr": "IPSS_R"}  # the only name it can be sure of
    assert '  # karyotype: "Karyotyp"   # required column; a guess from the name' in text
    assert '  # ipssr: {"2": "?", "1": "?", "3": "?"}   # each ? one of very_low, low, ' \
           'intermediate; found 2 (57), 1 (43), 3 (18)' in text
    assert '  # centre: "Zentrum"   # required column; a guess from the name' in text
    assert "age_at_len_stop: \"LEN_Stopp\"" not in text  # a date column is no age
    assert "# extract columns not mapped: PatNr, Geschlecht, Alter_bei_Stopp," in text


def test_draft_completes_an_extract_with_dictionary_names(shipped_text, tmp_path):
    frame = shipped_text.copy()
    for col in ("len_start_date", "ti_start_date", "len_stop_date", "last_followup_date"):
        frame[col] = pd.to_datetime(frame[col]).dt.strftime("%d/%m/%Y")
    frame["hb_at_stop_g_dl"] = frame["hb_at_stop_g_dl"].map(
        lambda v: None if v is None else f"{(Decimal(v) * 10).normalize():f}")
    extract = write_csv(frame, tmp_path / "extract.csv")
    out = tmp_path / "cw.yml"
    code, stdout, err = run_main("crosswalk", str(extract), "--out", str(out))
    assert code == 0 and f"wrote {out}" in stdout, err
    text = out.read_text(encoding="utf-8")
    assert 'date_format: "%d/%m/%Y"' in text
    assert "  hb_at_stop_g_dl: g/L   # the values look like g/L (median 124)" in text
    cohort, _ = load_cohort(extract, mapping=out, today=TODAY)
    shipped, _ = load_cohort(config.SYNTHETIC_COHORT, today=TODAY)
    pd.testing.assert_frame_equal(cohort, shipped)
    code, _stdout, err = run_main("crosswalk", str(extract), "--out", str(out))
    assert code == 2 and "already exists" in err and "Traceback" not in err


def test_draft_uses_variable_labels(small_text, tmp_path):
    import pyreadstat

    from tests.ingest.test_io_formats import _typed_for_binary

    frame = _typed_for_binary(small_text)
    labels = ["Patientennummer" if c == "patient_id" else c for c in frame.columns]
    short = {c: f"V{i:02d}" for i, c in enumerate(frame.columns)}
    path = tmp_path / "short.sav"
    pyreadstat.write_sav(frame.rename(columns=short), str(path), column_labels=labels)
    code, out, err = run_main("crosswalk", str(path))
    assert code == 0, err
    assert '  centre: "centre"   # same name' in out  # renamed by its label on reading
    assert "# extract columns not mapped: V00 (label 'Patientennummer')" in out


def test_the_worked_example_reads_as_documented():
    from lenstop.ingest.dictionary import example_reading

    frame = example_reading()
    assert frame.to_dict("records") == [
        {"patient_id": "R-0001", "sex": "F", "stop_reason": "physician",
         "len_stop_date": "2013-09-26", "hb_at_stop_g_dl": "12.4", "anc_at_stop": "2.49",
         "ccyr_at_stop": "not_assessed", "ti_loss_date": "2018-06-01"},
        {"patient_id": "R-0002", "sex": "M", "stop_reason": "intolerance",
         "len_stop_date": "2013-10-27", "hb_at_stop_g_dl": "9.85", "anc_at_stop": None,
         "ccyr_at_stop": "yes", "ti_loss_date": None}]


def test_a_column_both_mapped_and_present_and_a_repeated_column(small_text, tmp_path):
    frame = small_text.assign(Geschlecht=small_text["sex"])
    frame = pd.concat([frame, frame[["centre"]]], axis=1)
    mapping = tmp_path / "cw.yml"
    mapping.write_text("columns: {sex: Geschlecht}\nvalues: {centre: {x: y}}\n",
                       encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), mapping=mapping, today=TODAY)
    assert [(p.row, p.column, p.rule) for p in info.value.problems] == [
        ("line 1", "sex", "crosswalk: one column each"),  # cw.yml sorts before x.csv
        ("header", "centre", "unique column names")]
