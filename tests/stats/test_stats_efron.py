"""The vectorised Efron engine against row-based references: lifelines, the R-style sandwich."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy.stats.contingency import odds_ratio
from stats_testdata import simulate

from lenstop.stats import cox_fit, fine_gray, finegray_expand, ph_test
from lenstop.stats._sandwich import robust_covariance
from lenstop.stats.proportions import conditional_odds_ratio

TIGHT = {"precision": 1e-16, "r_precision": 1e-15}  # lifelines run to full convergence


def expanded_reference(res):
    """lifelines' weighted counting-process fit and the row-wise sandwich on R's rows."""
    long = res.data
    cols = ["fgstart", "fgstop", "fgstatus", "fgwt", *res.terms]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(long[cols], "fgstop", "fgstatus", entry_col="fgstart",
                                weights_col="fgwt", fit_options=TIGHT)
    cov = robust_covariance(long[res.terms].to_numpy(float), long["fgstart"].to_numpy(float),
                            long["fgstop"].to_numpy(float), long["fgstatus"].to_numpy(bool),
                            long["fgwt"].to_numpy(float), cph.params_.to_numpy(),
                            cph.variance_matrix_.to_numpy(), long["__id"].to_numpy())
    return cph, cov


@pytest.mark.parametrize(("seed", "decimals"), [(42, None), (7, 0), (3, 1)])
@pytest.mark.parametrize("cause", [1, 2])
def test_fine_gray_equals_the_expanded_fit(seed, decimals, cause):
    # decimals=0 gives many ties, also between the event of interest and the competing one
    df = simulate(seed, n=300, decimals=decimals)
    res = fine_gray(df, "time", "status", ["x1", "x2"], cause=cause)
    assert "data" not in res.__dict__  # the expansion is not built to fit the model
    cph, cov = expanded_reference(res)
    assert res.n_rows == len(res.data) > len(df)
    np.testing.assert_allclose(res.table["coef"], cph.params_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.fitter.standard_errors_, cph.standard_errors_, rtol=1e-9)
    np.testing.assert_allclose(res.fitter.log_likelihood_, cph.log_likelihood_, rtol=1e-12)
    np.testing.assert_allclose(res.table["se"], np.sqrt(np.diag(cov)), rtol=1e-9)


def test_finegray_expansion_counts_and_weights():
    df = simulate(7, n=300, decimals=0)
    long = finegray_expand(df, "time", "status", cause=1)
    competing = df["status"].to_numpy() == 2
    per_subject = long.groupby("id").size().to_numpy()
    assert (per_subject[~competing] == 1).all() and (per_subject[competing] >= 1).all()
    first = long.groupby("id").head(1)
    assert (first["fgwt"] == 1).all() and (first["fgstart"] == 0).all()
    ext = long[long.duplicated("id")]
    assert ((ext["fgwt"] > 0) & (ext["fgwt"] <= 1)).all()
    assert (ext.groupby("id")["fgwt"].diff().dropna() <= 1e-15).all()  # G only falls


@pytest.mark.parametrize("data", ["sim", "sim_ties"])
def test_cox_equals_lifelines(data, request):
    df = request.getfixturevalue(data)
    res = cox_fit(df, "time", "loss", ["x1", "x2"])
    ref = CoxPHFitter().fit(df[["time", "loss", "x1", "x2"]], "time", "loss",
                            fit_options=TIGHT)
    np.testing.assert_allclose(res.table["coef"], ref.params_, rtol=1e-9)
    np.testing.assert_allclose(res.table["se"], ref.standard_errors_, rtol=1e-9)
    assert res.fitter.log_likelihood_ == pytest.approx(ref.log_likelihood_, rel=1e-12)


def test_ph_test_rejects_an_unknown_transform(sim):
    with pytest.raises(ValueError, match="unknown time transform"):
        ph_test(cox_fit(sim, "time", "loss", ["x1"]), transform="squared")


@pytest.mark.parametrize("table", [
    [[3, 1], [1, 3]], [[0, 5], [3, 2]], [[5, 0], [2, 3]], [[12, 3], [10, 5]],
    [[22, 8], [20, 10]], [[100, 1], [2, 300]], [[900, 700], [120, 560]],
    [[0, 5], [0, 2]], [[4, 0], [0, 0]],
])
def test_conditional_odds_ratio_equals_scipy(table):
    arr = np.array(table)
    ref = odds_ratio(arr, kind="conditional")
    ci = ref.confidence_interval(confidence_level=0.95)
    got = conditional_odds_ratio(arr, 0.05)
    np.testing.assert_allclose(got, [ref.statistic, ci.low, ci.high], rtol=1e-9)


def test_large_cohort_fits_without_the_expansion():
    # 20,000 subjects on a day grid: R's expansion would have millions of rows
    rng = np.random.default_rng(1)
    n = 20_000
    x = rng.normal(size=(n, 2))
    t1 = rng.exponential(30 * np.exp(-x @ [0.5, -0.3]))
    t2 = rng.exponential(60, n)
    c = rng.uniform(5, 80, n)
    time = np.ceil(30 * np.minimum(np.minimum(t1, t2), c))  # days
    status = np.select([t1 <= np.minimum(t2, c), t2 <= c], [1, 2], 0)
    df = pd.DataFrame({"time": time, "status": status, "x1": x[:, 0], "x2": x[:, 1]})
    res = fine_gray(df, "time", "status", ["x1", "x2"])
    assert res.n_rows > 100 * n
    assert "data" not in res.__dict__
    assert res.table["coef"].between(-2, 2).all() and (res.table["se"] < 0.05).all()
