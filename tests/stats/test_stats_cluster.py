"""Centre effects: cluster-robust SEs (R coxph(..., cluster = centre)), stratification by centre
(R strata(centre)) and Breslow ties, against R and statsmodels PHReg."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from stats_testdata import load_r_dataset, load_snapshot_cohort
from statsmodels.duration.hazard_regression import PHReg

from lenstop.stats import ModelNotEstimable, cox_fit, dummies
from lenstop.stats._sandwich import robust_covariance

TERMS = ["x1", "x2", "grp[b]", "grp[c]", "age"]
FOUR = ["ltb", "cycles_ge_cutoff", "age_per10", "hb"]


@pytest.fixture(scope="module")
def clustered() -> pd.DataFrame:
    df = load_r_dataset("clustered")
    return pd.concat([df, dummies(df, "grp", "a")], axis=1)


def check_robust(res, ref: dict) -> None:
    """Coefficient, naive and robust SE, robust p and CI equal R's summary(coxph(cluster=))."""
    tab = res.table
    np.testing.assert_allclose(tab["coef"], ref["coef"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tab["se"], ref["robust_se"], rtol=1e-6)
    np.testing.assert_allclose(tab["naive_se"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(tab["coef"] / tab["se"], ref["z"], rtol=1e-6)
    np.testing.assert_allclose(tab["p"], ref["p"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(tab["ci_low"], ref["lower"], rtol=1e-6)
    np.testing.assert_allclose(tab["ci_high"], ref["upper"], rtol=1e-6)
    assert (res.n, res.events) == (ref["n"], ref["events"])


@pytest.mark.parametrize(("ties", "key"), [("efron", "cox_cluster"),
                                           ("breslow", "cox_cluster_breslow")])
def test_cluster_robust_matches_r(clustered, ties, key, r_reference):
    res = cox_fit(clustered, "time", "loss", TERMS, cluster="centre", ties=ties)
    check_robust(res, r_reference["clustered"][key])
    assert res.n_clusters == r_reference["clustered"]["n_centres"] == 24
    out = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert out["cluster"] == "centre" and out["n_clusters"] == 24 and out["ties"] == ties


def test_cluster_robust_on_the_cohort_matches_r(r_reference):
    res = cox_fit(load_snapshot_cohort(), "ti_months", "ti_lost", FOUR, cluster="centre")
    check_robust(res, r_reference["cohort_snapshot"]["cox_cluster"])


def test_cluster_robust_matches_statsmodels(clustered):
    # a second implementation: PHReg's grouped sandwich (Breslow ties; it has no Efron one)
    res = cox_fit(clustered, "time", "loss", TERMS, cluster="centre", ties="breslow")
    fit = PHReg(clustered["time"], clustered[TERMS].to_numpy(float), status=clustered["loss"],
                ties="breslow").fit(groups=clustered["centre"].to_numpy())
    np.testing.assert_allclose(res.table["coef"], fit.params, rtol=1e-6)
    np.testing.assert_allclose(res.table["se"], fit.bse, rtol=1e-6)


@pytest.mark.parametrize("cluster", ["centre", "id"])
def test_cluster_robust_equals_the_row_wise_sandwich(clustered, cluster):
    # `_sandwich` recomputes R's Efron score residuals row by row, event time by event time
    res = cox_fit(clustered, "time", "loss", TERMS, cluster=cluster)
    n = len(clustered)
    cov = robust_covariance(clustered[TERMS].to_numpy(float), np.zeros(n),
                            clustered["time"].to_numpy(float), clustered["loss"].to_numpy(bool),
                            np.ones(n), res.fitter.params_.to_numpy(),
                            res.fitter.variance_matrix_.to_numpy(),
                            clustered[cluster].to_numpy())
    np.testing.assert_allclose(res.fitter.robust_variance_.to_numpy(), cov, rtol=1e-9,
                               atol=1e-15)


def test_cluster_changes_only_the_standard_errors(clustered):
    plain = cox_fit(clustered, "time", "loss", TERMS)
    robust = cox_fit(clustered, "time", "loss", TERMS, cluster="centre")
    np.testing.assert_allclose(robust.table["coef"], plain.table["coef"], rtol=1e-12)
    np.testing.assert_allclose(robust.table["naive_se"], plain.table["se"], rtol=1e-12)
    z = norm.ppf(0.975)
    np.testing.assert_allclose(robust.table["ci_high"],
                               np.exp(robust.table["coef"] + z * robust.table["se"]))
    # a shared frailty makes centre-level residuals correlated: the robust SE must differ
    assert np.abs(robust.table["se"] / plain.table["se"] - 1).max() > 0.05
    # one cluster per subject is the ordinary (Lin-Wei) robust variance
    per_subject = cox_fit(clustered, "time", "loss", TERMS, cluster="id")
    assert not np.allclose(per_subject.table["se"], robust.table["se"], rtol=1e-3)
    assert plain.n_clusters is None and plain.to_dict()["cluster"] is None


@pytest.mark.parametrize("dataset", ["clustered", "cohort"])
def test_stratified_matches_r(clustered, dataset, r_reference):
    if dataset == "clustered":
        df, duration, event, terms = clustered, "time", "loss", TERMS
        ref = r_reference["clustered"]["cox_strata"]
    else:
        df, duration, event, terms = load_snapshot_cohort(), "ti_months", "ti_lost", FOUR
        ref = r_reference["cohort_snapshot"]["cox_strata"]
    res = cox_fit(df, duration, event, terms, strata="centre")
    np.testing.assert_allclose(res.table["coef"], ref["coef"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(res.table["se"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(res.table["p"], ref["p"], rtol=1e-6)
    assert res.fitter.log_likelihood_ == pytest.approx(ref["loglik"], abs=1e-8)
    assert (res.n, res.events) == (ref["n"], ref["events"])
    assert res.n_strata == df["centre"].nunique()


def test_stratified_and_clustered_matches_r(clustered, r_reference):
    res = cox_fit(clustered, "time", "loss", TERMS, strata="centre", cluster="centre")
    check_robust(res, r_reference["clustered"]["cox_strata_cluster"])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_stratified_matches_statsmodels(clustered, ties):
    res = cox_fit(clustered, "time", "loss", TERMS, strata="centre", ties=ties)
    fit = PHReg(clustered["time"], clustered[TERMS].to_numpy(float), status=clustered["loss"],
                strata=clustered["centre"].to_numpy(), ties=ties).fit()
    np.testing.assert_allclose(res.table["coef"], fit.params, rtol=1e-6)
    np.testing.assert_allclose(res.table["se"], fit.bse, rtol=1e-6)


def test_breslow_matches_r(r_reference):
    for name in ("cr_continuous", "cr_ties"):
        ref = r_reference[name]["cox_breslow"]
        df = load_r_dataset(name)
        df = pd.concat([df, dummies(df, "grp", "a")], axis=1)
        res = cox_fit(df, "time", "loss", TERMS[:4], ties="breslow")
        # R stops iterating at a relative log-likelihood change of 1e-9
        np.testing.assert_allclose(res.table["coef"], ref["coef"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(res.table["se"], ref["se"], rtol=1e-6)
        assert res.fitter.log_likelihood_ == pytest.approx(ref["loglik"], abs=1e-8)


def test_strata_and_cluster_columns_count_in_complete_cases(clustered):
    df = clustered.copy()
    df.loc[df.index[:7], "centre"] = None
    res = cox_fit(df, "time", "loss", TERMS, cluster="centre")
    assert res.n_dropped == 7 and res.n == len(df) - 7
    with pytest.raises(ValueError, match="ties must be"):
        cox_fit(clustered, "time", "loss", TERMS, ties="exact")


def test_a_stratum_without_events_contributes_nothing(clustered):
    # a centre without events adds no term to the stratified likelihood
    base = cox_fit(clustered, "time", "loss", TERMS, strata="centre")
    extra = clustered.iloc[:6].assign(centre="new", loss=0)
    res = cox_fit(pd.concat([clustered, extra], ignore_index=True), "time", "loss", TERMS,
                  strata="centre")
    np.testing.assert_allclose(res.table["coef"], base.table["coef"], rtol=1e-10)
    assert res.n == base.n + 6


def test_stratified_model_still_refuses_separation(clustered):
    df = clustered.assign(flag=0.0)
    df.loc[df["loss"] == 0, "flag"] = np.resize([0.0, 1.0], int((df["loss"] == 0).sum()))
    with pytest.raises(ModelNotEstimable, match="monotone likelihood"):
        cox_fit(df, "time", "loss", ["x2", "flag"], strata="centre")
