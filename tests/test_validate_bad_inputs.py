"""Bad extracts are refused with every problem named: file, row, patient, column, rule, value."""

from __future__ import annotations

import pandas as pd
import pytest

from lenstop.problems import DataError
from lenstop.validate import load_cohort

from .conftest import TODAY, write_csv


def _set(row: int, **cells):
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        for col, value in cells.items():
            frame.loc[row, col] = value
        return frame
    return mutate


# (case id, change to 12 valid rows, [(file row, column, text in the message)])
# Row i of the frame is file row i + 2 (the header is row 1).
CASES = [
    ("missing required column", lambda f: f.drop(columns="hb_at_stop_g_dl"),
     [("header", "hb_at_stop_g_dl", "required column is missing")]),
    ("duplicate column", lambda f: pd.concat([f, f[["sex"]]], axis=1),
     [("header", "sex", "more than once")]),
    ("duplicate patient id", _set(3, patient_id="SYN-0001"),
     [("row 2", "patient_id", "duplicate patient id"), ("row 5", "patient_id", "duplicate")]),
    ("blank patient id", _set(4, patient_id=None), [("row 6", "patient_id", "must not be blank")]),
    ("unknown sex", _set(1, sex="X"), [("row 3", "sex", "one of F, M")]),
    ("unknown IPSS-R", _set(2, ipssr="high"), [("row 4", "ipssr", "very_low, low, intermediate")]),
    ("unknown karyotype", _set(2, karyotype="complex"), [("row 4", "karyotype", "one of")]),
    ("unknown stop reason", _set(5, stop_reason="cost"), [("row 7", "stop_reason", "one of")]),
    ("unknown CCyR status", _set(5, ccyr_at_stop="maybe"), [("row 7", "ccyr_at_stop", "one of")]),
    ("impossible date", _set(0, len_start_date="2023-02-30"),
     [("row 2", "len_start_date", "exists in the calendar")]),
    ("unparseable date", _set(0, last_followup_date="31/12/2021"),
     [("row 2", "last_followup_date", "YYYY-MM-DD")]),
    ("future date", _set(6, last_followup_date="2031-01-01"),
     [("row 8", "last_followup_date", "not in the future")]),
    ("text in a number", _set(7, hb_at_stop_g_dl="twelve"),
     [("row 9", "hb_at_stop_g_dl", "a number")]),
    ("Hb out of range", _set(7, hb_at_stop_g_dl="25.1"),
     [("row 9", "hb_at_stop_g_dl", "from 3 to 20 g/dL")]),
    ("age out of range", _set(7, age_at_len_stop="140"),
     [("row 9", "age_at_len_stop", "from 18 to 105")]),
    ("cycles out of range", _set(8, len_cycles="0"), [("row 10", "len_cycles", "from 1 to 200")]),
    ("cycles not whole", _set(8, len_cycles="12.5"), [("row 10", "len_cycles", "whole number")]),
    ("dose out of range", _set(8, len_dose_at_stop_mg="50"),
     [("row 10", "len_dose_at_stop_mg", "from 2.5 to 25")]),
    ("transfusion burden out of range", _set(8, tb_units_8wk_pre_len="-1"),
     [("row 10", "tb_units_8wk_pre_len", "from 0 to 20")]),
    ("TI before LEN start", _set(1, ti_start_date="2000-01-01"),
     [("row 3", "ti_start_date", "RBC-TI cannot start before LEN")]),
    ("stop before TI", _set(1, len_stop_date="2011-09-01"),
     [("row 3", "len_stop_date", "after TI began")]),
    ("loss of TI before stop", _set(0, ti_loss_date="2013-01-01"),
     [("row 2", "ti_loss_date", "cannot precede LEN discontinuation")]),
    ("re-treatment without loss of TI", _set(1, len_retreat_date="2019-01-01",
                                             retreat_ti_regained="no"),
     [("row 3", "len_retreat_date", "ti_loss_date is blank")]),
    ("re-treatment before loss of TI", _set(0, len_retreat_date="2018-05-01"),
     [("row 2", "len_retreat_date", "re-treatment follows loss of RBC-TI")]),
    ("regained TI without re-treatment", _set(1, retreat_ti_regained="yes"),
     [("row 3", "retreat_ti_regained", "needs a re-treatment date")]),
    ("regained yes without its date", _set(0, retreat_ti_date=None),
     [("row 2", "retreat_ti_date", "yes needs that date")]),
    ("regained before re-treatment", _set(0, retreat_ti_date="2018-07-01"),
     [("row 2", "retreat_ti_date", "only after re-treatment")]),
    ("CCyR loss without re-evaluation", _set(0, ccyr_lost="yes"),
     [("row 2", "ccyr_lost", "only with a cytogenetic re-evaluation")]),
    ("event after death", _set(1, death_date="2015-01-01", last_followup_date="2015-01-01"),
     [("row 3", "cyto_reeval_date", "nothing can happen after death")]),
    ("last follow-up is not the death date", _set(3, death_date="2016-01-01"),
     [("row 5", "last_followup_date", "last follow-up is the date of death")]),
]


@pytest.mark.parametrize("mutate,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_reported(small_text, tmp_path, mutate, expected):
    path = write_csv(mutate(small_text.copy()), tmp_path / "extract.csv")
    with pytest.raises(DataError) as info:
        load_cohort(path, today=TODAY)
    report = info.value.report()
    assert report.startswith("extract.csv: ")
    lines = report.splitlines()[1:]
    for row, column, text in expected:
        hits = [line for line in lines if f", {row}" in line and f"column {column}:" in line]
        assert hits, f"no problem for {row}/{column} in:\n{report}"
        assert any(text in line for line in hits), f"{text!r} not in {hits}"


def test_all_problems_reported_at_once(small_text, tmp_path):
    frame = small_text.copy()
    frame.loc[0, "sex"] = "X"
    frame.loc[5, "hb_at_stop_g_dl"] = "99"
    frame.loc[9, "len_start_date"] = "2023-02-30"
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    problems = info.value.problems
    assert [(p.row, p.column) for p in problems] == [
        ("row 2", "sex"), ("row 7", "hb_at_stop_g_dl"), ("row 11", "len_start_date")]
    assert problems[1].patient_id == "SYN-0006" and problems[1].value == "99"


def test_unparseable_cell_reported_once(small_text, tmp_path):
    frame = small_text.copy()
    frame.loc[0, "len_stop_date"] = "soon"
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    assert [p.column for p in info.value.problems] == ["len_stop_date"]


@pytest.mark.parametrize("content,text", [
    (b"", "the file is empty"),
    (b"patient_id,centre\n", "no patient rows"),
    (b"\x00\x01binary", "not a text file"),
    (b"patient_id,centre\nP1,\x81\x8d\n", "neither UTF-8 nor Windows-1252"),
])
def test_unreadable_files(tmp_path, content, text):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=text):
        load_cohort(path, today=TODAY)


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_cohort(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match="unknown file type"):
        load_cohort(tmp_path / "x.json")


def test_extra_column_warns_and_loads(small_text, tmp_path):
    small_text["favourite_colour"] = "blue"
    cohort, warnings = load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    assert "favourite_colour" not in cohort.columns
    assert any("favourite_colour" in w for w in warnings)


def test_categories_are_case_insensitive(small_text, tmp_path):
    small_text.loc[0, "sex"] = "f"
    small_text.loc[0, "stop_reason"] = "Physician"
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    assert (cohort.loc[0, "sex"], cohort.loc[0, "stop_reason"]) == ("F", "physician")


def test_excel_merged_header_and_ambiguous_sheets(small_text, tmp_path):
    import openpyxl

    path = tmp_path / "merged.xlsx"
    small_text.to_excel(path, index=False)
    book = openpyxl.load_workbook(path)
    book.active.merge_cells("A1:B1")
    book.save(path)
    with pytest.raises(DataError, match="merged header cells"):
        load_cohort(path, today=TODAY)
    path = tmp_path / "two.xlsx"
    with pd.ExcelWriter(path) as xl:
        small_text.to_excel(xl, sheet_name="site A", index=False)
        small_text.to_excel(xl, sheet_name="site B", index=False)
    with pytest.raises(DataError, match="name the sheet"):
        load_cohort(path, today=TODAY)
    cohort, _ = load_cohort(path, sheet="site B", today=TODAY)
    assert len(cohort) == 12
