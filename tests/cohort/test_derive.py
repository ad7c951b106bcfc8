"""Analysis variables: months, events, competing events, categories, on hand-checkable rows."""

from __future__ import annotations

import pandas as pd
import pytest

from lenstop.cohort.derive import (
    CR_CENSORED,
    CR_DIED,
    CR_EVENT,
    DIED_IN_TI,
    ENDPOINTS,
    EXCLUSIONS,
    MIN_TI_DAYS,
    TI_CENSORED,
    TI_LOST,
    analysis_table,
    dose_category,
    eligibility,
    exclusion_counts,
    included,
    merge_sparse,
    retreatment_response,
)
from lenstop.ingest.validate import load_cohort
from tests.conftest import TODAY, write_csv


@pytest.fixture
def three(small_text, tmp_path):
    """Row 0: lost TI, re-treated, regained. Row 1: alive in TI. Row 2 made: died in TI."""
    frame = small_text.head(3).copy()
    frame.loc[2, ["ti_loss_date", "len_retreat_date", "retreat_ti_regained", "retreat_ti_date",
                  "retreat_ti_loss_date", "aml_date"]] = None
    frame.loc[2, ["death_date", "last_followup_date"]] = "2020-01-18"
    frame.loc[2, ["cyto_reeval_date", "ccyr_lost"]] = None
    cohort, _ = load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    return analysis_table(cohort), cohort


def test_ti_duration_and_status(three):
    a, c = three
    days_lost = (c.loc[0, "ti_loss_date"] - c.loc[0, "len_stop_date"]).days
    assert a.loc[0, "ti_months"] == pytest.approx(days_lost / 30.4375)
    days_alive = (c.loc[1, "last_followup_date"] - c.loc[1, "len_stop_date"]).days
    assert a.loc[1, "ti_months"] == pytest.approx(days_alive / 30.4375)
    assert list(a["ti_lost"]) == [1, 0, 0]
    assert list(a["ti_status"]) == [TI_LOST, TI_CENSORED, DIED_IN_TI]
    assert list(a["fu_reverse_event"]) == [1, 1, 0]
    assert a.loc[2, "fu_months"] == pytest.approx(a.loc[2, "ti_months"])


def test_categories_follow_cutoffs(three):
    a, c = three
    assert list(a["ltb"]) == [int(x < 4) for x in c["tb_units_8wk_pre_len"]]
    assert list(a["cycles_ge_cutoff"]) == [int(x >= 12) for x in c["len_cycles"]]
    a9 = analysis_table(c, cycles_cutoff=70, tb_cutoff=1.0)
    assert a9["cycles_ge_cutoff"].sum() == 0 and a9["ltb"].sum() == 0
    assert a.loc[0, "age_per10"] == pytest.approx(c.loc[0, "age_at_len_stop"] / 10)


def test_retreatment_and_cytogenetics(three):
    a, c = three
    assert list(a["retreated"]) == [1, 0, 0]
    assert a.loc[0, "regained"] == 1 and pd.isna(a.loc[1, "regained"])
    assert a.loc[0, "months_to_regain"] == pytest.approx(
        (c.loc[0, "retreat_ti_date"] - c.loc[0, "len_retreat_date"]).days / 30.4375)
    assert a.loc[1, "cyto_reevaluated"] == 1 and a.loc[1, "ccyr_lost_flag"] == 0
    assert pd.isna(a.loc[0, "ccyr_lost_flag"])


def test_missing_covariates_stay_missing(small_text, tmp_path):
    small_text.loc[0, ["tb_units_8wk_pre_len", "len_cycles"]] = None
    cohort, _ = load_cohort(write_csv(small_text, tmp_path / "x.csv"), today=TODAY)
    a = analysis_table(cohort)
    assert pd.isna(a.loc[0, "ltb"]) and pd.isna(a.loc[0, "cycles_ge_cutoff"])


@pytest.fixture
def with_aml(small_text, tmp_path):
    """`three`, plus AML after the loss of TI (row 0) and AML while still in TI (row 1)."""
    frame = small_text.head(3).copy()
    frame.loc[2, ["ti_loss_date", "len_retreat_date", "retreat_ti_regained", "retreat_ti_date",
                  "retreat_ti_loss_date", "aml_date", "cyto_reeval_date", "ccyr_lost"]] = None
    frame.loc[2, ["death_date", "last_followup_date"]] = "2020-01-18"
    frame.loc[0, "aml_date"] = "2020-01-01"
    frame.loc[1, "aml_date"] = "2019-03-01"
    cohort, _ = load_cohort(write_csv(frame, tmp_path / "x.csv"), today=TODAY)
    return analysis_table(cohort), cohort


def months(c, row, col, start="len_stop_date"):
    return (c.loc[row, col] - c.loc[row, start]).days / 30.4375


def test_survival_endpoints(with_aml):
    a, c = with_aml
    assert list(a["os_event"]) == [0, 0, 1]
    assert a.loc[2, "os_months"] == pytest.approx(months(c, 2, "death_date"))
    assert a.loc[1, "os_months"] == pytest.approx(months(c, 1, "last_followup_date"))
    # RBC-TI-free survival: loss of TI (row 0) or death in TI (row 2)
    assert list(a["ti_free_event"]) == [1, 0, 1]
    assert a["ti_free_months"].tolist() == pytest.approx(a["ti_months"].tolist())
    # event-free: AML counts too, so row 1 has an event at its AML date and row 0 stays at
    # its loss of TI, which came first
    assert list(a["efs_event"]) == [1, 1, 1]
    assert a.loc[0, "efs_months"] == pytest.approx(months(c, 0, "ti_loss_date"))
    assert a.loc[1, "efs_months"] == pytest.approx(months(c, 1, "aml_date"))
    assert a.loc[2, "efs_months"] == pytest.approx(months(c, 2, "death_date"))


def test_competing_endpoints(with_aml):
    a, c = with_aml
    assert list(a["aml_status"]) == [CR_EVENT, CR_EVENT, CR_DIED]
    assert a.loc[0, "aml_cif_months"] == pytest.approx(months(c, 0, "aml_date"))
    assert a.loc[2, "aml_cif_months"] == pytest.approx(months(c, 2, "death_date"))
    assert list(a["retreat_status"]) == [CR_EVENT, CR_CENSORED, CR_DIED]
    assert a.loc[0, "retreat_cif_months"] == pytest.approx(months(c, 0, "len_retreat_date"))
    assert a.loc[1, "retreat_cif_months"] == pytest.approx(months(c, 1, "last_followup_date"))
    for e in ENDPOINTS.values():
        assert a[e.duration_col].notna().all() and a[e.event_col].notna().all()


def test_dose_category():
    dose = pd.Series([5.0, 10.0, None, 2.5, 5.0])
    cat = dose_category(dose)
    assert list(cat.cat.categories) == ["2.5 mg", "5 mg", "10 mg"] and cat.cat.ordered
    assert cat.tolist()[:2] == ["5 mg", "10 mg"] and pd.isna(cat[2])


def test_merge_sparse_omits_or_merges_with_a_stated_rule():
    reason = pd.Series(["intolerance"] * 6 + ["physician"] * 5 + ["patient"] * 3
                       + ["unknown"], name="stop_reason")
    omitted, rule = merge_sparse(reason, min_n=5)
    assert omitted.isna().sum() == 4 and "patient" not in omitted.cat.categories
    assert rule == ("Categories of stop_reason with fewer than 5 patients were left out "
                    "(complete-case): patient (n = 3), unknown (n = 1).")
    merged, rule = merge_sparse(reason, min_n=5, into="other")
    assert "other" not in merged.cat.categories and merged.isna().sum() == 4  # 4 < 5
    assert "with 4 patients 'other' was still too small" in rule
    merged, rule = merge_sparse(reason, min_n=4, into="other")
    assert merged.value_counts()["other"] == 4 and "'other': patient (n = 3)" in rule
    merged, rule = merge_sparse(reason, min_n=4, into="patient", label="the stop reason")
    assert merged.value_counts().to_dict() == {"intolerance": 6, "physician": 5, "patient": 4}
    assert rule.endswith("merged into 'patient': unknown (n = 1).") and "the stop reason" in rule
    same, rule = merge_sparse(reason, min_n=1)
    assert same.tolist() == reason.tolist() and rule.startswith("No category")
    alone, rule = merge_sparse(reason, min_n=2, into="unknown")  # the sparse one is the target
    assert alone.isna().sum() == 1 and "no other category" in rule and "left out" in rule


# ------------------------------------------------------------------ IWG definitions

def _load(frame, tmp_path, name="x.csv"):
    cohort, warnings = load_cohort(write_csv(frame, tmp_path / name), today=TODAY)
    return cohort, warnings


def test_ti_under_8_weeks_at_stop_is_an_exclusion_not_an_error(small_text, tmp_path):
    """Row 0 stopped LEN 55 days into RBC-TI (excluded), row 1 exactly 56 days (eligible)."""
    frame = small_text.copy()
    frame.loc[0, "ti_start_date"] = "2013-08-02"  # len_stop_date 2013-09-26: 55 days
    frame.loc[1, "ti_start_date"] = "2013-09-01"  # len_stop_date 2013-10-27: 56 days
    cohort, _ = _load(frame, tmp_path)  # valid data: not refused
    flags = eligibility(cohort)
    assert list(flags.columns) == [*EXCLUSIONS, "excluded_for", "eligible"]
    assert flags["ti_under_8_weeks"].tolist()[:3] == [True, False, False]
    assert flags.loc[0, "excluded_for"] == "ti_under_8_weeks" and pd.isna(
        flags.loc[1, "excluded_for"])
    assert flags["eligible"].sum() == 11
    counts = exclusion_counts(cohort)
    assert counts[["reason", "n", "n_any", "remaining"]].to_dict("records") == [
        {"reason": "ti_under_8_weeks", "n": 1, "n_any": 1, "remaining": 11}]
    assert counts.loc[0, "label"] == EXCLUSIONS["ti_under_8_weeks"].label
    assert "56 days" in counts.loc[0, "definition"]
    assert included(cohort)["patient_id"].tolist() == cohort["patient_id"].tolist()[1:]
    a = analysis_table(cohort)
    assert a.loc[0, "ti_before_stop_days"] == 55 and a.loc[1, "ti_before_stop_days"] == 56
    assert a["eligible"].tolist()[:2] == [0, 1]
    assert a.loc[0, "excluded_for"] == "ti_under_8_weeks"
    assert MIN_TI_DAYS == 56


def test_regained_ti_under_8_weeks_is_no_response(small_text, tmp_path):
    """Row 0 regained RBC-TI on 2018-09-10 and lost it 55 days later (no response); row 2 on
    2020-03-02, lost 56 days later (a response); row 3 regained 2014-06-02 and died 56 days
    later in RBC-TI (a response, observed to death)."""
    frame = small_text.copy()
    frame.loc[0, "retreat_ti_loss_date"] = "2018-11-04"
    frame.loc[2, "retreat_ti_loss_date"] = "2020-04-27"
    cohort, _ = _load(frame, tmp_path)
    a = analysis_table(cohort)
    assert [a.loc[i, "regained_days"] for i in (0, 2, 3)] == [55, 56, 56]
    assert pd.isna(a.loc[1, "regained_days"])
    assert a["regained"].tolist()[:5] == [1, pd.NA, 1, 1, 0]
    assert a.loc[0, "regained_iwg"] == 0 and a.loc[0, "regained_short"] == 1
    assert a.loc[2, "regained_iwg"] == 1 and a.loc[3, "regained_iwg"] == 1
    assert a.loc[4, "regained_iwg"] == 0 and a.loc[4, "regained_short"] == 0  # answered no
    assert pd.isna(a.loc[1, "regained_iwg"])  # not re-treated
    assert retreatment_response(cohort) == {
        "retreated": 5, "regained_recorded": 3, "regained": 2, "regained_short": 1,
        "restarted_in_ti": 0}
    assert retreatment_response(a) == retreatment_response(cohort)


def test_len_restart_in_ti_and_later_therapy(small_text, tmp_path):
    """Row 6 (alive in RBC-TI) restarts LEN for falling Hb; row 7 (in RBC-TI) gets an ESA;
    row 4 (lost RBC-TI 2016-10-31) got luspatercept before the loss (censored there) and row 2
    (lost 2020-01-03) an HMA after it (not censored)."""
    frame = small_text.copy()
    frame.loc[6, ["len_retreat_date", "retreat_without_loss_reason"]] = ["2018-01-10",
                                                                         "falling_hb"]
    frame.loc[7, ["dmt_type", "dmt_start_date"]] = ["esa", "2016-06-01"]
    frame.loc[4, ["dmt_type", "dmt_start_date"]] = ["luspatercept", "2016-05-02"]
    frame.loc[2, ["dmt_type", "dmt_start_date"]] = ["hma", "2020-06-01"]
    cohort, _ = _load(frame, tmp_path)
    a = analysis_table(cohort)
    assert a.loc[6, "restarted_in_ti"] == 1 and a.loc[6, "retreated"] == 0
    assert pd.isna(a.loc[6, "regained"]) and a["retreated"].sum() == 5
    assert a["later_dmt"].tolist()[:8] == [0, 0, 1, 0, 1, 0, 0, 1]
    assert a.loc[7, "dmt_months"] == pytest.approx(months(cohort, 7, "dmt_start_date"))
    assert a["ti_censored_at_dmt"].tolist()[:8] == [0, 0, 0, 0, 1, 0, 1, 1]
    for row, col in ((6, "len_retreat_date"), (7, "dmt_start_date"), (4, "dmt_start_date")):
        assert a.loc[row, "ti_months_censor_dmt"] == pytest.approx(months(cohort, row, col))
        assert a.loc[row, "ti_lost_censor_dmt"] == 0
    assert a.loc[2, "ti_lost_censor_dmt"] == 1  # HMA after the loss: the loss counts
    assert a.loc[2, "ti_months_censor_dmt"] == pytest.approx(a.loc[2, "ti_months"])
    assert a.loc[4, "ti_lost"] == 1  # the main analysis is unchanged
    e = ENDPOINTS["ti_duration_censor_dmt"]
    assert (e.duration_col, e.event_col) == ("ti_months_censor_dmt", "ti_lost_censor_dmt")


def test_day_unknown_dates_are_counted_per_patient(small_text, tmp_path):
    frame = small_text.copy()
    frame.loc[1, "cyto_reeval_date"] = "2018-01"
    frame.loc[0, "ti_loss_date"] = "2018-06"
    cohort, _ = _load(frame, tmp_path)
    a = analysis_table(cohort)
    assert a["n_dates_imputed"].tolist()[:3] == [1, 1, 0]
    assert cohort.loc[0, "ti_loss_date"] == pd.Timestamp("2018-06-15")
    assert a.loc[0, "ti_months"] == pytest.approx(months(cohort, 0, "ti_loss_date"))


def test_a_frame_without_the_optional_columns_still_derives(small_text, tmp_path):
    cohort, _ = _load(small_text, tmp_path)
    bare = cohort.drop(columns=["retreat_without_loss_reason", "dmt_type", "dmt_start_date",
                                *[c for c in cohort.columns if c.endswith("_imputed")]])
    a = analysis_table(bare)
    assert a["restarted_in_ti"].sum() == 0 and a["later_dmt"].sum() == 0
    assert a["ti_months_censor_dmt"].tolist() == pytest.approx(a["ti_months"].tolist())
    assert a["n_dates_imputed"].sum() == 0
