"""The shipped synthetic cohort is reproducible and reproduces every published figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter

from lenstop import config
from lenstop.cohort.derive import (
    MIN_TI_DAYS,
    analysis_table,
    eligibility,
    exclusion_counts,
    retreatment_response,
)
from lenstop.ingest import synthetic
from lenstop.ingest.schema import IMPUTED_FLAGS, RESTART_REASONS
from lenstop.ingest.validate import load_cohort


@pytest.fixture(scope="module")
def loaded():
    return load_cohort(config.SYNTHETIC_COHORT)


@pytest.fixture(scope="module")
def shipped(loaded):
    return analysis_table(loaded[0])


@pytest.fixture(scope="module")
def generated():
    return synthetic.generate()


def test_generator_rewrites_the_committed_file_byte_for_byte(generated):
    cohort, seed = generated
    assert synthetic.to_csv_text(cohort).encode() == config.SYNTHETIC_COHORT.read_bytes()
    card = (config.SYNTHETIC_COHORT.parent / "README.md").read_text()
    assert f"kept seed is **{seed}**" in card
    again, _ = synthetic.generate()
    assert synthetic.to_csv_text(again) == synthetic.to_csv_text(cohort)


def test_generated_cohort_is_what_validation_reads_back(generated, loaded):
    cohort, _ = generated
    typed, _ = loaded
    assert list(cohort.columns) == list(typed.columns)
    for col in typed.columns:
        a, b = cohort[col].astype(object), typed[col].astype(object)
        assert a.isna().equals(b.isna()), col
        assert a[a.notna()].tolist() == b[b.notna()].tolist(), col


def test_every_patient_meets_the_iwg_definitions(shipped):
    """Every patient stopped LEN at least 8 weeks into RBC-TI; every regained RBC-TI is
    observed for at least 8 weeks (issue 13, item 4)."""
    assert shipped["ti_before_stop_days"].min() >= MIN_TI_DAYS
    assert eligibility(shipped)["eligible"].all()
    counts = exclusion_counts(shipped)
    assert counts["n"].sum() == 0 and counts["remaining"].iloc[-1] == 118
    regained = shipped[shipped["regained"] == 1]
    assert regained["regained_days"].min() >= MIN_TI_DAYS
    assert retreatment_response(shipped) == {
        "retreated": 48, "regained_recorded": 28, "regained": 28, "regained_short": 0,
        "restarted_in_ti": 4}


def test_optional_registry_columns_are_exercised(shipped, loaded):
    _cohort, warnings = loaded
    restarted = shipped[shipped["restarted_in_ti"] == 1]
    assert len(restarted) == 4 and restarted["ti_lost"].eq(0).all()
    assert set(restarted["retreat_without_loss_reason"]) == set(RESTART_REASONS)
    assert restarted["retreat_ti_regained"].isna().all()
    assert shipped["later_dmt"].sum() == 8
    assert set(shipped["dmt_type"].dropna()) == {"esa", "luspatercept", "hma", "allo_hsct",
                                                 "other"}
    censored = shipped[shipped["ti_censored_at_dmt"] == 1]
    assert len(censored) == 6  # 4 LEN restarts and 2 therapies while still in RBC-TI
    assert (censored["ti_months_censor_dmt"] < censored["ti_months"]).all()
    assert shipped["ti_lost_censor_dmt"].sum() == 50  # none of them had lost RBC-TI
    assert shipped["n_dates_imputed"].sum() == 6
    for column in ("cyto_reeval_date", "aml_date", "dmt_start_date"):
        assert shipped[f"{column}_imputed"].sum() == 2
        assert shipped.loc[shipped[f"{column}_imputed"], column].dt.day.eq(15).all()
        assert any(w.endswith(f"2 dates of {column} had no day: set to the 15th "
                              f"({column}_imputed is True for them)") for w in warnings)
    # the first rows, which tests use as a small plain extract, have none of them
    head = shipped.head(synthetic.PLAIN_FIRST)
    assert head["n_dates_imputed"].eq(0).all() and head["later_dmt"].eq(0).all()
    assert head["restarted_in_ti"].eq(0).all()


def test_day_unknown_dates_are_written_year_month():
    text = config.SYNTHETIC_COHORT.read_text(encoding="utf-8")
    frame = pd.read_csv(config.SYNTHETIC_COHORT, dtype=str, keep_default_na=False)
    months = {c: int(frame[c].str.fullmatch(r"\d{4}-\d{2}").sum()) for c in frame.columns
              if c.endswith("_date")}
    assert {c: k for c, k in months.items() if k} == {
        "cyto_reeval_date": 2, "aml_date": 2, "dmt_start_date": 2}
    assert not any(f in text.splitlines()[0] for f in IMPUTED_FLAGS)


def test_counts(shipped):
    assert len(shipped) == 118
    assert shipped["stop_reason"].value_counts().to_dict() == {
        "intolerance": 70, "physician": 38, "patient": 9, "unknown": 1}
    assert shipped["ti_lost"].sum() == 50
    in_ccyr = shipped[shipped["ccyr_at_stop"] == "yes"]
    assert in_ccyr["cyto_reevaluated"].sum() == 30
    assert shipped["ccyr_lost_flag"].sum() == 22
    assert shipped["retreated"].sum() == 48
    assert shipped.loc[shipped["retreated"] == 1, "ti_lost"].eq(1).all()
    assert shipped["regained"].sum() == 28


def test_medians(shipped):
    ti = KaplanMeierFitter().fit(shipped["ti_months"], shipped["ti_lost"])
    assert abs(ti.median_survival_time_ - 56) <= 1.5
    fu = KaplanMeierFitter().fit(shipped["fu_months"], shipped["fu_reverse_event"])
    assert abs(fu.median_survival_time_ - 49) <= 1.5


def test_multivariable_cox_reproduces_published_factors(shipped):
    terms = ["ltb", "cycles_ge_cutoff", "age_per10", "hb"]
    frame = shipped[["ti_months", "ti_lost", *terms]].astype(float)
    s = CoxPHFitter().fit(frame, "ti_months", "ti_lost").summary
    assert s.loc["ltb", "exp(coef)"] < 1 and s.loc["cycles_ge_cutoff", "exp(coef)"] < 1
    assert s.loc["age_per10", "exp(coef)"] > 1 and s.loc["hb", "exp(coef)"] < 1
    assert (s["p"] < 0.05).all()


def test_large_cohort_has_same_structure_and_scaled_targets():
    cohort, _ = synthetic.generate(n=2000, seed=7)
    a = analysis_table(cohort)
    assert list(cohort.columns) == [*synthetic.COLUMN_ORDER, *IMPUTED_FLAGS]
    assert a["ti_lost"].sum() == round(50 * 2000 / 118)
    assert a["retreated"].sum() == round(48 * 2000 / 118)
    assert a["ti_before_stop_days"].min() >= MIN_TI_DAYS and a["eligible"].all()
    assert a.loc[a["regained"] == 1, "regained_days"].min() >= MIN_TI_DAYS
    assert a["restarted_in_ti"].sum() == round(4 * 2000 / 118)
    assert a["n_dates_imputed"].sum() > 0 and a["later_dmt"].sum() > 0
    assert cohort["patient_id"].is_unique
    km = KaplanMeierFitter().fit(a["ti_months"], a["ti_lost"])
    assert np.isfinite(km.median_survival_time_)
