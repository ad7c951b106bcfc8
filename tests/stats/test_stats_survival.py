"""Kaplan-Meier, reverse KM and log-rank wrappers vs statsmodels, R and hand calculation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from stats_testdata import R_DATASETS, load_r_dataset, step_value
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from lenstop.stats import km_summary, logrank, reverse_km_median

LANDMARKS = (5.0, 12.0, 24.0, 36.0)


def loglog_ci(s: float, se: float, alpha: float = 0.05) -> tuple[float, float]:
    """Pointwise log(-log) CI for S from the Greenwood SE of S (delta method)."""
    z = norm.ppf(1 - alpha / 2)
    theta = se / (s * abs(np.log(s)))
    return s ** np.exp(z * theta), s ** np.exp(-z * theta)


@pytest.mark.parametrize("data", ["sim", "sim_ties"])
def test_km_matches_statsmodels(data, request):
    df = request.getfixturevalue(data)
    res = km_summary(df, "time", "loss", landmarks=LANDMARKS)
    sf = SurvfuncRight(df["time"], df["loss"])

    # median: identical unless S hits exactly 0.5 on a plateau (not the case here)
    assert res.median == pytest.approx(sf.quantile(0.5), abs=1e-8)
    lb, ub = sf.quantile_ci(0.5, method="cloglog")
    assert res.median_ci[0] == pytest.approx(lb, abs=1e-8)
    assert res.median_ci[1] == pytest.approx(ub, abs=1e-8)

    for row in res.landmarks:
        s = step_value(sf.surv_times, sf.surv_prob, row["time"])
        se = step_value(sf.surv_times, sf.surv_prob_se, row["time"], before=0.0)
        low, high = loglog_ci(s, se)
        assert row["survival"] == pytest.approx(s, abs=1e-8)
        assert row["ci_low"] == pytest.approx(low, abs=1e-8)
        assert row["ci_high"] == pytest.approx(high, abs=1e-8)
        assert row["at_risk"] == int((df["time"] >= row["time"]).sum())
    assert res.n == len(df) and res.events == int(df["loss"].sum()) and res.n_dropped == 0


@pytest.mark.parametrize("name", R_DATASETS)
def test_km_matches_r(name, r_reference):
    ref = r_reference[name]["km"]
    res = km_summary(load_r_dataset(name), "time", "loss", landmarks=ref["landmarks"])
    assert (res.n, res.events) == (ref["n"], ref["events"])
    assert res.median == pytest.approx(ref["median"], abs=1e-10)
    assert res.median_ci == pytest.approx((ref["median_lower"], ref["median_upper"]), abs=1e-10)
    got = pd.DataFrame(res.landmarks)
    np.testing.assert_allclose(got["survival"], ref["surv"], atol=1e-10)
    np.testing.assert_allclose(got["ci_low"], ref["lower"], atol=1e-10)  # R conf.type="log-log"
    np.testing.assert_allclose(got["ci_high"], ref["upper"], atol=1e-10)
    assert got["at_risk"].tolist() == ref["n_risk"]


def test_km_hand_example(tiny):
    res = km_summary(tiny, "time", "event", landmarks=(0.5, 1, 3, 4.5, 6, 7))
    surv = [row["survival"] for row in res.landmarks]
    assert surv[:5] == pytest.approx([1.0, 5 / 6, 0.625, 5 / 12, 0.0], abs=1e-12)
    assert surv[5] is None  # beyond the last follow-up time
    assert res.median == 4.0  # first time with S(t) <= 0.5
    assert (res.n, res.events) == (6, 4)
    # Greenwood SE at t=3: S * sqrt(1/(6*5) + 1/(4*3)); log(-log) CI from it
    se = 0.625 * np.sqrt(1 / 30 + 1 / 12)
    low, high = loglog_ci(0.625, se)
    assert res.landmarks[2]["ci_low"] == pytest.approx(low, abs=1e-12)
    assert res.landmarks[2]["ci_high"] == pytest.approx(high, abs=1e-12)


def test_km_median_on_exact_half_plateau():
    # 10 uncensored subjects: S = 0.5 exactly on [5, 6). lifelines (used here) reports 5,
    # R reports the midpoint 5.5 and statsmodels (SAS rule, S < 0.5) reports 6.
    df = pd.DataFrame({"time": np.arange(1.0, 11.0), "event": 1})
    assert km_summary(df, "time", "event").median == 5.0
    assert SurvfuncRight(df["time"], df["event"]).quantile(0.5) == 6.0


def test_km_median_not_reached_is_none():
    df = pd.DataFrame({"time": [1.0, 2, 3, 4, 5, 6], "event": [1, 0, 0, 0, 0, 0]})
    res = km_summary(df, "time", "event")
    assert res.median is None
    assert res.median_ci[1] is None
    json.dumps(res.to_dict(), allow_nan=False)  # None, never NaN/inf, in the JSON form


def test_km_drops_and_counts_missing(sim):
    df = sim.copy()
    df.loc[df.index[:7], "time"] = np.nan
    df.loc[df.index[7:10], "loss"] = np.nan
    res = km_summary(df, "time", "loss")
    ref = km_summary(sim.iloc[10:], "time", "loss")
    assert res.n_dropped == 10 and res.n == len(sim) - 10
    assert res.landmarks == ref.landmarks


def test_km_rejects_bad_codes(tiny):
    bad = tiny.assign(event=[1, 2, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="0/1"):
        km_summary(bad, "time", "event")
    with pytest.raises(ValueError, match="non-negative"):
        km_summary(tiny.assign(time=-tiny["time"]), "time", "event")


@pytest.mark.parametrize("data", ["sim", "sim_ties"])
def test_reverse_km_matches_statsmodels(data, request):
    df = request.getfixturevalue(data)
    res = reverse_km_median(df, "time", "loss")
    sf = SurvfuncRight(df["time"], 1 - df["loss"])
    lb, ub = sf.quantile_ci(0.5, method="cloglog")
    assert res["median"] == pytest.approx(sf.quantile(0.5), abs=1e-8)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((lb, ub), abs=1e-8)
    assert res["censored"] == int((1 - df["loss"]).sum())


@pytest.mark.parametrize("name", R_DATASETS)
def test_reverse_km_matches_r(name, r_reference):
    ref = r_reference[name]["reverse_km"]  # R: survfit(Surv(time, status == 0) ~ 1)
    res = reverse_km_median(load_r_dataset(name), "time", "any_event")
    assert res["median"] == pytest.approx(ref["median"], abs=1e-10)
    assert res["ci_low"] == pytest.approx(ref["median_lower"], abs=1e-10)
    assert res["ci_high"] == pytest.approx(ref["median_upper"], abs=1e-10)


@pytest.mark.parametrize("data", ["sim", "sim_ties"])
@pytest.mark.parametrize("group", ["grp", "x1"])
def test_logrank_matches_statsmodels(data, group, request):
    df = request.getfixturevalue(data)
    res = logrank(df, "time", "loss", group)
    chisq, p = survdiff(df["time"].to_numpy(), df["loss"].to_numpy(), df[group].to_numpy())
    assert res["statistic"] == pytest.approx(chisq, rel=1e-8)
    assert res["p"] == pytest.approx(p, rel=1e-8)
    assert res["df"] == df[group].nunique() - 1
    assert sum(g["n"] for g in res["groups"].values()) == len(df)


@pytest.mark.parametrize("name", R_DATASETS)
@pytest.mark.parametrize("group", ["grp", "x1"])
def test_logrank_matches_r(name, group, r_reference):
    ref = r_reference[name][f"logrank_{group}"]
    res = logrank(load_r_dataset(name), "time", "loss", group)
    assert res["statistic"] == pytest.approx(ref["chisq"], rel=1e-10)
    assert res["p"] == pytest.approx(ref["p"], rel=1e-8)
    assert res["df"] == ref["df"]


def test_logrank_needs_two_groups(tiny):
    with pytest.raises(ValueError, match="two groups"):
        logrank(tiny.assign(g="a"), "time", "event", "g")
