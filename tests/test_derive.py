"""Analysis variables: months, events, competing events, categories, on hand-checkable rows."""

from __future__ import annotations

import pandas as pd
import pytest

from lenstop.derive import (
    CR_CENSORED,
    CR_DIED,
    CR_EVENT,
    DIED_IN_TI,
    ENDPOINTS,
    TI_CENSORED,
    TI_LOST,
    analysis_table,
    dose_category,
    merge_sparse,
)
from lenstop.validate import load_cohort

from .conftest import TODAY, write_csv


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
