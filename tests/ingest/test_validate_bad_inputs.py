"""Bad extracts are refused with every problem named: file, row, patient, column, rule, value."""

from __future__ import annotations

import pandas as pd
import pytest

from lenstop import config
from lenstop.ingest.problems import DataError
from lenstop.ingest.schema import COLUMNS, DATE_COLUMNS, IMPUTED_FLAGS
from lenstop.ingest.validate import load_cohort, month_format
from tests.conftest import TODAY, write_csv


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
    # LEN restarted without a loss of RBC-TI (optional column retreat_without_loss_reason)
    ("restart reason without a restart date", _set(1, retreat_without_loss_reason="falling_hb"),
     [("row 3", "retreat_without_loss_reason", "needs the restart date (len_retreat_date)")]),
    ("restart reason after a loss of TI", _set(0, retreat_without_loss_reason="other"),
     [("row 2", "retreat_without_loss_reason", "ti_loss_date is on or before len_retreat_date"),
      ("row 2", "retreat_ti_regained", "regained only after it was lost")]),
    ("regained answer after a restart in TI",
     _set(6, len_retreat_date="2018-01-10", retreat_without_loss_reason="falling_hb",
          retreat_ti_regained="no"),
     [("row 8", "retreat_ti_regained", "leave retreat_ti_regained blank")]),
    ("unknown restart reason", _set(6, len_retreat_date="2018-01-10",
                                    retreat_without_loss_reason="relapse"),
     [("row 8", "retreat_without_loss_reason", "one of cytogenetic_relapse, falling_hb, other")]),
    # later disease-modifying therapy (optional columns dmt_type, dmt_start_date)
    ("later therapy without its date", _set(7, dmt_type="esa"),
     [("row 9", "dmt_start_date", "needs both its type (dmt_type) and its start date")]),
    ("later therapy date without its type", _set(7, dmt_start_date="2016-06-01"),
     [("row 9", "dmt_start_date", "needs both its type")]),
    ("unknown later therapy", _set(7, dmt_type="epo", dmt_start_date="2016-06-01"),
     [("row 9", "dmt_type", "one of esa, luspatercept, hma, allo_hsct, other")]),
    ("later therapy before discontinuation", _set(7, dmt_type="esa", dmt_start_date="2014-01-01"),
     [("row 9", "dmt_start_date", "cannot precede LEN discontinuation")]),
    ("later therapy after death", _set(9, dmt_type="hma", dmt_start_date="2020-01-01"),
     [("row 11", "dmt_start_date", "nothing can happen after death"),
      ("row 11", "last_followup_date", "last follow-up cannot precede a recorded event")]),
    # date precision
    ("year-only date", _set(2, aml_date="2021"),
     [("row 4", "aml_date", "a year alone cannot be placed in follow-up")]),
    ("day-unknown date with no such month", _set(0, ti_loss_date="2018-13"),
     [("row 2", "ti_loss_date", "or YYYY-MM when the day is unknown")]),
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


# ------------------------------------------------------------------ pointing at the real cause

def test_header_problems_do_not_hide_the_rest(small_text, tmp_path):
    frame = small_text.drop(columns="anc_at_stop")
    frame = pd.concat([frame, frame[["centre"]]], axis=1)
    frame.loc[2, "sex"] = "X"
    frame.loc[4, "hb_at_stop_g_dl"] = "99"
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    assert [(p.row, p.column, p.rule) for p in info.value.problems] == [
        ("header", "anc_at_stop", "required column"),
        ("header", "centre", "unique column names"),
        ("row 4", "sex", "one of F, M"),
        ("row 6", "hb_at_stop_g_dl", "a number from 3 to 20 g/dL")]


def test_unknown_columns_get_the_closest_dictionary_names(small_text, tmp_path):
    frame = small_text.rename(columns={"hb_at_stop_g_dl": "Hb_stop", "len_cycles": "cycles"})
    frame["comment"] = "ok"
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    messages = {p.column: p.message for p in info.value.problems}
    assert "the file has a column 'Hb_stop': rename it, or map them in a crosswalk" in \
        messages["hb_at_stop_g_dl"]
    assert "'cycles'" in messages["len_cycles"]
    notes = info.value.notes
    assert any("ignoring 3 column(s) not in the data dictionary: cycles, Hb_stop, comment; "
               "cycles looks like len_cycles, Hb_stop looks like hb_at_stop_g_dl: rename, or "
               "map them in a crosswalk" in n for n in notes), notes


def test_an_extract_with_other_names_lists_them_with_guesses(small_text, tmp_path):
    frame = small_text.rename(columns={c: c.upper().replace("_", "") for c in small_text})
    frame = frame.rename(columns={"PATIENTID": "PatNr"})
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    [p] = info.value.problems
    assert "26 of the 26 required columns are missing" in p.message
    assert "Not dictionary columns: PatNr, CENTRE (centre?), SEX (sex?)" in p.message
    assert "lenstop crosswalk FILE" in p.message


def test_day_first_dates_get_one_line(small_text, tmp_path):
    frame = small_text.copy()
    frame["len_start_date"] = pd.to_datetime(frame["len_start_date"]).dt.strftime("%d/%m/%Y")
    frame.loc[3, "len_start_date"] = "sometime"  # not a date at all: its own line
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    error = info.value
    hinted = [p for p in error.problems if p.rule == "date format"]
    assert len(hinted) == 11 and {p.column for p in hinted} == {"len_start_date"}
    lines = error.report().splitlines()[1:]
    dated = [line for line in lines if "column len_start_date" in line]
    assert len(dated) == 2, dated
    assert 'looks like a day-first date (dd/mm/yyyy), not ISO YYYY-MM-DD: add date_format: ' \
           '"%d/%m/%Y" to a crosswalk' in dated[0] and "in 11 rows" in dated[0]
    assert "if the month comes first" not in dated[0]  # some days are above 12
    assert "row 5 (patient SYN-0004), column len_start_date: must be an ISO date" in dated[1]


def test_a_single_odd_date_is_not_a_column_convention(small_text, tmp_path):
    small_text.loc[0, "last_followup_date"] = "31/12/2021"
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    [p] = info.value.problems
    assert p.rule.startswith("an ISO date") and p.value == "31/12/2021"


def test_decimal_commas_get_one_line(small_text, tmp_path):
    small_text["age_at_len_stop"] = small_text["age_at_len_stop"].str.replace(".", ",")
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(small_text, tmp_path / "x.csv", sep=";"), today=TODAY)
    assert {p.rule for p in info.value.problems} == {"decimal comma"}
    [line] = info.value.report().splitlines()[1:2]
    assert 'decimal comma: add decimal: "," to a crosswalk' in line and "in 12 rows" in line


@pytest.mark.parametrize("column,factor,unit", [
    ("hb_at_stop_g_dl", 10, "g/L"), ("hb_at_stop_g_dl", 1 / 1.611, "mmol/L"),
    ("plt_at_stop", 1000, "/µL"), ("anc_at_stop", 1000, "/µL")])
def test_lab_values_in_another_unit_are_refused_with_the_fix(small_text, tmp_path, column,
                                                             factor, unit):
    x = pd.to_numeric(small_text[column]) * factor
    small_text[column] = x.round(2).astype(str).where(x.notna(), None)
    path = write_csv(small_text, tmp_path / "x.csv")
    with pytest.raises(DataError) as info:
        load_cohort(path, today=TODAY)
    [p] = info.value.problems  # one line for the column, no row-by-row range errors
    assert p.column == column and p.row == ""
    assert f"the values look like {unit}, not" in p.message
    assert f"`units: {{{column}: {unit}}}`" in p.message
    mapping = tmp_path / "cw.yml"
    mapping.write_text(f"units:\n  {column}: {unit}\n", encoding="utf-8")
    cohort, _ = load_cohort(path, mapping=mapping, today=TODAY)
    expected = pd.to_numeric(x.round(2)) / factor
    assert (cohort[column].astype(float) - expected).abs().max() < 0.01


def test_hb_in_low_g_dl_is_kept_when_the_crosswalk_says_so(small_text, tmp_path):
    small_text["hb_at_stop_g_dl"] = ["6.5", "7.0", "7.4", "8.1", "6.9", "7.7", "8.8", "7.2",
                                     "6.6", "7.9", "8.0", "7.1"]
    path = write_csv(small_text, tmp_path / "x.csv")
    with pytest.raises(DataError, match="look like mmol/L.*if they are g/dL, write"):
        load_cohort(path, today=TODAY)
    mapping = tmp_path / "cw.yml"
    mapping.write_text("units: {hb_at_stop_g_dl: g/dL}\n", encoding="utf-8")
    cohort, _ = load_cohort(path, mapping=mapping, today=TODAY)
    assert cohort["hb_at_stop_g_dl"].iloc[0] == 6.5


def test_repeated_problems_are_grouped_in_the_report(small_text, tmp_path):
    small_text["sex"] = small_text["sex"].map({"F": "2", "M": "1"})
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    error = info.value
    assert len(error.problems) == 12  # the full list, for a data-quality report
    head, *lines = error.report().splitlines()
    assert head == "x.csv: 12 problems in 12 rows; nothing was built."
    assert lines == [
        "  x.csv, column sex: must be one of F, M in 12 rows: row 2 (patient SYN-0001) "
        "[value: 2], row 3 (patient SYN-0002) [value: 1], row 4 (patient SYN-0003) "
        "[value: 2] and 9 more"]
    assert len(error.report(grouped=False).splitlines()) == 13


# ------------------------------------------------------------------ the optional registry columns

def test_a_restart_in_ti_with_its_reason_loads(small_text, tmp_path):
    small_text.loc[6, ["len_retreat_date", "retreat_without_loss_reason"]] = [
        "2018-01-10", "Cytogenetic_Relapse"]
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    assert cohort.loc[6, "retreat_without_loss_reason"] == "cytogenetic_relapse"
    assert cohort.loc[6, "len_retreat_date"] == pd.Timestamp("2018-01-10")


def test_a_loss_of_ti_after_a_restart_in_ti_loads(small_text, tmp_path):
    small_text.loc[6, ["len_retreat_date", "retreat_without_loss_reason", "ti_loss_date"]] = [
        "2018-01-10", "falling_hb", "2019-03-01"]
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    assert cohort.loc[6, "ti_loss_date"] > cohort.loc[6, "len_retreat_date"]


def test_an_extract_without_the_optional_columns_is_still_valid(small_text, tmp_path):
    optional = [c.name for c in COLUMNS if not c.required]
    assert set(optional) == {"retreat_without_loss_reason", "retreat_ti_loss_date", "dmt_type",
                             "dmt_start_date"}
    cohort, warnings = load_cohort(write_csv(small_text.drop(columns=optional),
                                             tmp_path / "x.csv"), today=TODAY)
    assert list(cohort.columns) == [*(c.name for c in COLUMNS), *IMPUTED_FLAGS]
    assert cohort[optional].isna().all().all() and not cohort[list(IMPUTED_FLAGS)].any().any()
    assert not warnings


def test_rules_of_absent_optional_columns_still_apply(small_text, tmp_path):
    frame = small_text.drop(columns=["retreat_without_loss_reason"])
    frame.loc[1, ["len_retreat_date", "retreat_ti_regained"]] = ["2019-01-01", "no"]
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    [p] = [p for p in info.value.problems if p.rule == "re-treatment needs loss of TI"]
    assert "give the reason in retreat_without_loss_reason" in p.message
    assert p.value == ("ti_loss_date=(blank), len_retreat_date=2019-01-01, "
                       "retreat_without_loss_reason=(blank)")


# ------------------------------------------------------------------ day-unknown dates

def test_day_unknown_dates_are_set_to_the_15th_flagged_and_counted(small_text, tmp_path):
    small_text.loc[[0, 2], "ti_loss_date"] = ["2018-06", "2020-01"]
    small_text.loc[1, "cyto_reeval_date"] = "2018-01"
    cohort, warnings = load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    assert cohort.loc[0, "ti_loss_date"] == pd.Timestamp("2018-06-15")
    assert cohort.loc[2, "ti_loss_date"] == pd.Timestamp("2020-01-15")
    assert cohort["ti_loss_date_imputed"].tolist()[:4] == [True, False, True, False]
    assert cohort["ti_loss_date_imputed"].sum() == 2
    assert cohort["cyto_reeval_date_imputed"].sum() == 1
    assert cohort["ti_loss_date_imputed"].dtype == bool
    assert warnings == [  # in the dictionary's column order
        "x.csv: 1 date of cyto_reeval_date had no day: set to the 15th "
        "(cyto_reeval_date_imputed is True for it)",
        "x.csv: 2 dates of ti_loss_date had no day: set to the 15th (ti_loss_date_imputed is "
        "True for them)"]


def test_a_rule_broken_by_a_day_unknown_date_says_how_it_was_read(small_text, tmp_path):
    small_text.loc[5, "death_date"] = "2016-11"  # last follow-up 2016-11-11: not the 15th
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    [p] = info.value.problems
    assert (p.row, p.column, p.rule) == ("row 7", "last_followup_date",
                                         "death_date = last_followup_date")
    assert p.message.endswith("(day unknown, read death_date as 2016-11-15)")
    assert p.value == "death_date=2016-11, last_followup_date=2016-11-11"  # as in the file


@pytest.mark.parametrize("fmt,month", [
    ("%d.%m.%Y", "%m.%Y"), ("%d/%m/%Y", "%m/%Y"), ("%m/%d/%Y", "%m/%Y"), ("%Y%m%d", "%Y%m"),
    ("%d %b %Y", "%b %Y"), ("%Y-%m-%d", "%Y-%m"), ("%Y", None), (None, None)])
def test_month_format_drops_the_day(fmt, month):
    assert month_format(fmt) == month


def test_day_unknown_dates_through_a_date_format_crosswalk(small_text, tmp_path):
    frame = small_text.copy()
    for col in DATE_COLUMNS:
        frame[col] = frame[col].map(lambda v: None if v is None else
                                    pd.Timestamp(v).strftime("%d.%m.%Y"))
    frame.loc[0, "ti_loss_date"] = "06.2018"  # the crosswalk's form without the day
    frame.loc[1, "cyto_reeval_date"] = "2018-01"  # ISO year-month is read as well
    frame.loc[2, "aml_date"] = "2021"  # a year alone: refused
    mapping = tmp_path / "cw.yml"
    mapping.write_text('date_format: "%d.%m.%Y"\n', encoding="utf-8")
    path = write_csv(frame, tmp_path / "x.csv")
    with pytest.raises(DataError) as info:
        load_cohort(path, mapping=mapping, today=TODAY)
    [p] = info.value.problems
    assert (p.row, p.column, p.value) == ("row 4", "aml_date", "2021")
    assert "a year alone" in p.message
    frame.loc[2, "aml_date"] = None
    cohort, warnings = load_cohort(write_csv(frame, path), mapping=mapping, today=TODAY)
    assert cohort.loc[0, "ti_loss_date"] == pd.Timestamp("2018-06-15")
    assert cohort.loc[1, "cyto_reeval_date"] == pd.Timestamp("2018-01-15")
    assert cohort["ti_loss_date_imputed"].sum() == 1
    assert any("1 date of ti_loss_date had no day" in w for w in warnings)
    frame.loc[2, "aml_date"] = "13.2021"  # no such month: the format's rule is named
    with pytest.raises(DataError) as info:
        load_cohort(write_csv(frame, path), mapping=mapping, today=TODAY)
    [p] = info.value.problems
    assert p.column == "aml_date" and "a date without its day as %m.%Y" in p.message


def test_the_shipped_cohort_written_dd_mm_yyyy_loads_through_the_example_crosswalk(
        shipped_text, tmp_path):
    """The registry-shaped export of tests/ingest/test_crosswalk.py, with day-unknown dates
    written as the crosswalk's month form (mm.yyyy): the shipped cohort again, flags and all."""
    import datetime as dt
    from decimal import Decimal

    from lenstop.ingest.crosswalk import EXAMPLE, load_crosswalk
    from lenstop.ingest.schema import COLUMN_BY_NAME

    example = tmp_path / "crosswalk.yml"
    example.write_text(EXAMPLE, encoding="utf-8")
    cw = load_crosswalk(example).check()
    frame = shipped_text.copy()
    for name, codes in cw.values.items():
        inverse = {target: code for code, target in codes.items()}
        frame[name] = frame[name].map(lambda v, inverse=inverse: None if v is None
                                      else inverse[v])
    frame["hb_at_stop_g_dl"] = frame["hb_at_stop_g_dl"].map(
        lambda v: None if v is None else f"{(Decimal(v) * 10).normalize():f}")
    month = month_format(cw.date_format)

    def written(v):
        if v is None:
            return None
        if len(v) == 7:  # day unknown
            return dt.datetime.strptime(v, "%Y-%m").strftime(month)
        return dt.date.fromisoformat(v).strftime(cw.date_format)

    for col in frame.columns:
        spec = COLUMN_BY_NAME.get(col)
        if spec is not None and spec.kind == "float":
            frame[col] = frame[col].map(lambda v: None if v is None else v.replace(".", ","))
        elif spec is not None and spec.kind == "date":
            frame[col] = frame[col].map(written)
    path = tmp_path / "reg.csv"
    frame.rename(columns=cw.columns).to_csv(path, sep=cw.delimiter, index=False, na_rep="",
                                            lineterminator="\r\n", encoding="cp1252")
    assert ";08.2018;" in path.read_text(encoding="cp1252")
    shipped, _ = load_cohort(config.SYNTHETIC_COHORT, today=TODAY)
    cohort, _ = load_cohort(path, mapping=example, today=TODAY)
    pd.testing.assert_frame_equal(cohort, shipped)
    assert cohort[list(IMPUTED_FLAGS)].sum().sum() == 6
