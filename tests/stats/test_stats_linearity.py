"""Spline linearity test of continuous Cox terms against R's coxph(Surv ~ ns(x, df) + ...)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from stats_testdata import R_DATASETS, load_r_dataset, load_snapshot_cohort

from lenstop.stats import dummies
from lenstop.stats.linearity import linearity_test, ns_knots, spline_basis

FOUR = ["ltb", "cycles_ge_cutoff", "age_per10", "hb"]


def with_grp(name: str) -> pd.DataFrame:
    df = load_r_dataset(name)
    return pd.concat([df, dummies(df, "grp", "a")], axis=1)


def check(out: dict, ref: dict) -> None:
    np.testing.assert_allclose(out["knots"], ref["knots"], rtol=1e-12)
    assert out["loglik_linear"] == pytest.approx(ref["loglik_linear"], abs=1e-7)
    assert out["loglik_spline"] == pytest.approx(ref["loglik_spline"], abs=1e-7)
    assert out["statistic"] == pytest.approx(ref["chisq"], abs=1e-7)
    assert out["df"] == ref["df"]
    assert out["p"] == pytest.approx(ref["p"], abs=1e-7)


@pytest.mark.parametrize("name", R_DATASETS)
def test_linearity_matches_r(name, r_reference):
    out = linearity_test(with_grp(name), "time", "loss", ["x1", "x2", "grp[b]", "grp[c]"], "x2")
    check(out, r_reference[name]["linearity_x2_ns3"])


@pytest.mark.parametrize("k", [3, 4])
def test_linearity_detects_a_u_shape(k, r_reference):
    # `age` has a planted quadratic log-hazard in the clustered fixture
    out = linearity_test(with_grp("clustered"), "time", "loss",
                         ["x1", "x2", "grp[b]", "grp[c]", "age"], "age", spline_df=k)
    check(out, r_reference["clustered"][f"linearity_age_ns{k}"])
    assert out["p"] < 0.05


@pytest.mark.parametrize(("term", "key"), [("age_per10", "linearity_age_ns3"),
                                           ("hb", "linearity_hb_ns3")])
def test_linearity_on_the_cohort_matches_r(term, key, r_reference):
    out = linearity_test(load_snapshot_cohort(), "ti_months", "ti_lost", FOUR, term)
    check(out, r_reference["cohort_snapshot"][key])


def test_spline_basis_is_linear_outside_the_boundary_knots():
    x = np.linspace(0.0, 10.0, 201)
    knots = ns_knots(x, 4)
    basis = spline_basis(np.linspace(-5.0, 15.0, 401), knots)
    second = np.diff(basis, n=2, axis=0)
    outside = np.r_[np.arange(0, 98), np.arange(303, 399)]  # both tails, clear of the knots
    assert np.abs(second[outside]).max() < 1e-9
    assert np.abs(second[150:250]).max() > 1e-6  # and curved inside
    assert basis.shape[1] == 4


def test_linearity_input_errors():
    df = with_grp("cr_continuous")
    with pytest.raises(ValueError, match="not among the model terms"):
        linearity_test(df, "time", "loss", ["x1"], "x2")
    with pytest.raises(ValueError, match="df >= 2"):
        ns_knots(df["x2"].to_numpy(), 1)
    with pytest.raises(ValueError, match="distinct"):
        spline_basis(np.arange(5.0), [1.0, 1.0, 2.0])
