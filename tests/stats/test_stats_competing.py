"""Aalen-Johansen and Fine-Gray vs R (survival, cmprsk) and statsmodels; the robust variance."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy.stats import norm
from stats_testdata import R_DATASETS, R_FIXTURES, load_r_dataset, step_value
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import CumIncidenceRight

from lenstop.stats import (
    ModelNotEstimable,
    cox_fit,
    cumulative_incidence,
    fine_gray,
    finegray_expand,
)
from lenstop.stats._sandwich import robust_covariance

LANDMARKS = (5.0, 12.0, 24.0, 36.0)


def loglog_cif_ci(f: np.ndarray, se: np.ndarray, alpha: float = 0.05):
    """log(-log) CI for a cumulative incidence from its SE, as lifelines builds it."""
    z = norm.ppf(1 - alpha / 2)
    theta = se / (f * np.abs(np.log(f)))
    return f ** np.exp(z * theta), f ** np.exp(-z * theta)


@pytest.mark.parametrize("name", R_DATASETS)
@pytest.mark.parametrize("cause", [1, 2])
def test_cif_matches_r(name, cause, r_reference):
    ref = r_reference[name]["aalen_johansen"]
    key = {1: "loss", 2: "death"}[cause]
    res = cumulative_incidence(load_r_dataset(name), "time", "status", cause, ref["landmarks"])
    got = pd.DataFrame(res.landmarks)
    np.testing.assert_allclose(got["cif"], ref[f"cif_{key}"], atol=1e-10)
    # lifelines' delta-method SE equals R's infinitesimal-jackknife SE for the plain AJ estimate
    np.testing.assert_allclose(got["se"], ref[f"se_{key}"], atol=1e-10)
    # CI: same SE, lifelines uses the log(-log) transform (R's default is "log")
    low, high = loglog_cif_ci(np.asarray(ref[f"cif_{key}"]), np.asarray(ref[f"se_{key}"]))
    np.testing.assert_allclose(got["ci_low"], low, atol=1e-10)
    np.testing.assert_allclose(got["ci_high"], high, atol=1e-10)
    assert (res.ties_separated > 0) == (name == "cr_ties")


@pytest.mark.parametrize("data", ["sim", "sim_ties"])
def test_cif_matches_statsmodels(data, request):
    df = request.getfixturevalue(data)
    ci = CumIncidenceRight(df["time"].to_numpy(), df["status"].to_numpy())
    for cause in (1, 2):
        res = cumulative_incidence(df, "time", "status", cause=cause, landmarks=LANDMARKS)
        for row in res.landmarks:
            t = row["time"]
            assert row["cif"] == pytest.approx(
                step_value(ci.times, ci.cinc[cause - 1], t, 0.0), abs=1e-10
            )
            assert row["se"] == pytest.approx(
                step_value(ci.times, ci.cinc_se[cause - 1], t, 0.0), abs=1e-10
            )


def test_cif_ties_are_deterministic_and_silent(sim_ties):
    assert sim_ties.loc[sim_ties["status"] > 0].groupby("time")["status"].nunique().max() > 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = cumulative_incidence(sim_ties, "time", "status")
        b = cumulative_incidence(sim_ties, "time", "status")
    assert a.ties_separated > 0
    assert a.landmarks == b.landmarks
    json.dumps(a.to_dict(), allow_nan=False)


def test_cif_hand_example():
    # t=1 loss, t=2 death, t=2 loss (tied), t=3 censored, t=4 loss
    df = pd.DataFrame({"time": [1.0, 2, 2, 3, 4], "status": [1, 2, 1, 0, 1]})
    res = cumulative_incidence(df, "time", "status", landmarks=(1, 2, 3.5, 4, 5))
    # S(1) = 4/5; at t=2 two of four fail: CIF1 += 4/5 * 1/4; S(2) = 4/5 * 2/4 = 2/5;
    # t=4: one of one at risk fails: CIF1 += 2/5
    expected = [0.2, 0.4, 0.4, 0.8, None]
    got = [row["cif"] for row in res.landmarks]
    assert got[:4] == pytest.approx(expected[:4], abs=1e-12) and got[4] is None
    assert res.events == {1: 3, 2: 1} and res.censored == 1


@pytest.mark.parametrize("name", R_DATASETS)
def test_finegray_expansion_matches_r_rows(name):
    ref = pd.read_csv(R_FIXTURES / f"finegray_{name}.csv")
    got = finegray_expand(load_r_dataset(name), "time", "status", cause=1, id_col="id")
    assert len(got) == len(ref)
    assert got["id"].tolist() == ref["id"].tolist()
    assert got["fgstatus"].tolist() == ref["fgstatus"].tolist()
    for col in ("fgstart", "fgstop", "fgwt"):
        np.testing.assert_allclose(got[col], ref[col], atol=1e-12)


@pytest.mark.parametrize("name", R_DATASETS)
def test_fine_gray_matches_r_finegray_coxph(name, r_reference):
    ref = r_reference[name]["fine_gray"]  # coxph(..., weights = fgwt, cluster = id), Efron
    res = fine_gray(load_r_dataset(name), "time", "status", ["x1", "x2"])
    np.testing.assert_allclose(res.table["coef"], ref["coef"], atol=1e-8)
    np.testing.assert_allclose(res.table["se"], ref["robust_se"], atol=1e-8)
    np.testing.assert_allclose(res.fitter.standard_errors_, ref["naive_se"], atol=1e-8)
    np.testing.assert_allclose(res.table["p"], ref["p"], rtol=1e-6)
    assert res.n_rows == ref["n_rows"]
    assert res.data["fgwt"].sum() == pytest.approx(ref["sum_wt"], rel=1e-12)
    json.dumps(res.to_dict(), allow_nan=False)


def test_fine_gray_vs_cmprsk_crr(r_reference):
    # Untied data: crr's estimating equation is the same, so coefficients agree exactly.
    # crr's SE also accounts for estimating the censoring distribution, so it differs a little.
    ref = r_reference["cr_continuous"]["crr"]
    res = fine_gray(load_r_dataset("cr_continuous"), "time", "status", ["x1", "x2"])
    np.testing.assert_allclose(res.table["coef"], ref["coef"], atol=1e-8)
    np.testing.assert_allclose(res.table["se"], ref["se"], rtol=2e-3)
    # Tied data: crr handles ties Breslow-style, finegray + coxph (and we) Efron-style.
    ref_t = r_reference["cr_ties"]["crr"]
    res_t = fine_gray(load_r_dataset("cr_ties"), "time", "status", ["x1", "x2"])
    gap = np.abs(res_t.table["coef"].to_numpy() - ref_t["coef"])
    assert 1e-4 < gap.max() < 0.1 * res_t.table["se"].max()


def test_fine_gray_without_competing_events_is_cox(sim):
    # No competing events: every weight is 1 and Fine-Gray reduces to the Cox model
    df = sim.assign(status=np.where(sim["status"] == 2, 0, sim["status"]))
    fg = fine_gray(df, "time", "status", ["x1", "x2"])
    cox = cox_fit(df.assign(loss=(df["status"] == 1).astype(int)), "time", "loss", ["x1", "x2"])
    np.testing.assert_allclose(fg.table["coef"], cox.table["coef"], rtol=1e-8)
    assert fg.n_rows == len(df) and fg.competing == 0
    # and the robust SE is the ordinary Cox robust SE (lifelines, untied data)
    frame = df.assign(loss=(df["status"] == 1).astype(int))[["time", "loss", "x1", "x2"]]
    robust = CoxPHFitter().fit(frame, "time", "loss", robust=True)
    np.testing.assert_allclose(fg.table["se"], robust.standard_errors_, rtol=1e-6)


def test_robust_covariance_with_entry_matches_statsmodels():
    # (start, stop] rows, two per subject, unweighted and untied: statsmodels PHReg supports
    # entry times and a cluster-robust covariance, a second implementation of the sandwich.
    rng = np.random.default_rng(5)
    n = 120
    x = np.column_stack([rng.binomial(1, 0.5, n), rng.normal(size=n)])
    t = rng.exponential(10 * np.exp(-x @ [0.4, 0.3]))
    c = rng.uniform(2, 25, n)
    stop = np.minimum(t, c)
    event = (t <= c).astype(int)
    cut = stop * rng.uniform(0.2, 0.8, n)
    start = np.r_[np.zeros(n), cut]
    stop2 = np.r_[cut, stop]
    event2 = np.r_[np.zeros(n, int), event]
    ids = np.r_[np.arange(n), np.arange(n)]
    x2 = np.r_[x, x]
    # statsmodels gives NaN residuals to rows never at risk at a failure time (they are 0):
    # leave those rows out, they contribute nothing to either estimate
    fail = np.unique(stop2[event2 == 1])
    used = ((start[:, None] < fail) & (stop2[:, None] >= fail)).any(axis=1)
    start, stop2, event2, ids, x2 = start[used], stop2[used], event2[used], ids[used], x2[used]
    model = PHReg(stop2, x2, status=event2, entry=start, ties="breslow")
    fit = model.fit(groups=ids)
    naive = np.linalg.inv(-model.hessian(fit.params))
    cov = robust_covariance(x2, start, stop2, event2, np.ones(len(ids)), fit.params, naive, ids)
    np.testing.assert_allclose(cov, fit.cov_params(), rtol=1e-8)


def test_fine_gray_not_estimable(sim):
    few = sim.copy()
    keep_events = few.index[few["status"] == 1][:4]
    few.loc[(few["status"] == 1) & ~few.index.isin(keep_events), "status"] = 0
    with pytest.raises(ModelNotEstimable, match="4 events for 2 term"):
        fine_gray(few, "time", "status", ["x1", "x2"])
    with pytest.raises(ModelNotEstimable, match="no variation"):
        fine_gray(sim.assign(const=2.0), "time", "status", ["x1", "const"])
