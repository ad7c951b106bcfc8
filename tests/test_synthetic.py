"""The shipped synthetic cohort is reproducible and reproduces every published figure."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter

from lenstop import config, synthetic
from lenstop.derive import analysis_table
from lenstop.validate import load_cohort


@pytest.fixture(scope="module")
def shipped():
    cohort, _ = load_cohort(config.SYNTHETIC_COHORT)
    return analysis_table(cohort)


def test_generator_rewrites_the_committed_file_byte_for_byte():
    cohort, seed = synthetic.generate()
    assert synthetic.to_csv_text(cohort).encode() == config.SYNTHETIC_COHORT.read_bytes()
    card = (config.SYNTHETIC_COHORT.parent / "README.md").read_text()
    assert f"kept seed is **{seed}**" in card


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
    assert list(cohort.columns) == list(synthetic.COLUMN_ORDER)
    assert a["ti_lost"].sum() == round(50 * 2000 / 118)
    assert a["retreated"].sum() == round(48 * 2000 / 118)
    assert cohort["patient_id"].is_unique
    km = KaplanMeierFitter().fit(a["ti_months"], a["ti_lost"])
    assert np.isfinite(km.median_survival_time_)
