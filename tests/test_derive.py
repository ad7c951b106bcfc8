"""Analysis variables: months, events, competing events, categories, on hand-checkable rows."""

from __future__ import annotations

import pandas as pd
import pytest

from lenstop.derive import DIED_IN_TI, TI_CENSORED, TI_LOST, analysis_table
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
