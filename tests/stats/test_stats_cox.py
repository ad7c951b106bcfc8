"""Cox wrappers vs statsmodels PHReg and R coxph; dummy coding; small-cohort guards."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from stats_testdata import R_DATASETS, load_r_dataset
from statsmodels.duration.hazard_regression import PHReg

from lenstop.stats import (
    MIN_EVENTS_PER_TERM,
    ModelNotEstimable,
    cox_fit,
    cox_univariable,
    dummies,
    ph_test,
)

TERMS = ["x1", "x2", "grp[b]", "grp[c]"]


def with_dummies(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, dummies(df, "grp", "a")], axis=1)


@pytest.mark.parametrize("data", ["sim", "sim_ties"])
def test_cox_matches_statsmodels_efron(data, request):
    df = with_dummies(request.getfixturevalue(data))
    res = cox_fit(df, "time", "loss", TERMS)
    ref = PHReg(df["time"], df[TERMS].to_numpy(float), status=df["loss"], ties="efron").fit()
    ci = np.exp(ref.conf_int())
    tab = res.table
    np.testing.assert_allclose(tab["coef"], ref.params, rtol=1e-6)
    np.testing.assert_allclose(tab["se"], ref.bse, rtol=1e-6)
    np.testing.assert_allclose(tab["hr"], np.exp(ref.params), rtol=1e-6)
    np.testing.assert_allclose(tab["ci_low"], ci[:, 0], rtol=1e-6)
    np.testing.assert_allclose(tab["ci_high"], ci[:, 1], rtol=1e-6)
    np.testing.assert_allclose(tab["p"], ref.pvalues, rtol=1e-5)
    assert tab["term"].tolist() == TERMS
    assert (res.n, res.events, res.n_dropped) == (len(df), int(df["loss"].sum()), 0)


@pytest.mark.parametrize("name", R_DATASETS)
def test_cox_matches_r(name, r_reference):
    ref = r_reference[name]["cox"]  # coxph(..., ties = "efron"), grp reference "a"
    res = cox_fit(with_dummies(load_r_dataset(name)), "time", "loss", TERMS)
    np.testing.assert_allclose(res.table["coef"], ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.table["se"], ref["se"], rtol=1e-6)
    np.testing.assert_allclose(res.table["p"], ref["p"], rtol=1e-5)
    assert (res.n, res.events) == (ref["n"], ref["events"])
    assert res.fitter.log_likelihood_ == pytest.approx(ref["loglik"], abs=1e-8)


def test_cox_complete_case_reports_dropped(sim):
    df = with_dummies(sim)
    df.loc[df.index[:5], "x2"] = np.nan
    df.loc[df.index[3:8], "grp[b]"] = np.nan
    res = cox_fit(df, "time", "loss", TERMS)
    ref = cox_fit(df.iloc[8:], "time", "loss", TERMS)
    assert res.n_dropped == 8 and res.n == len(df) - 8
    pd.testing.assert_frame_equal(res.table, ref.table)


def test_cox_to_dict_is_json(sim):
    out = cox_fit(with_dummies(sim), "time", "loss", TERMS).to_dict()
    text = json.dumps(out, allow_nan=False)
    assert [t["term"] for t in json.loads(text)["terms"]] == TERMS


def test_dummies_names_reference_and_missing():
    df = pd.DataFrame(
        {
            "ipssr": pd.Categorical(
                ["low", "very_low", None, "int", "low"], ["very_low", "low", "int"]
            )
        }
    )
    d = dummies(df, "ipssr", "very_low")
    assert d.columns.tolist() == ["ipssr[low]", "ipssr[int]"]  # categorical order kept
    assert d["ipssr[low]"].tolist()[:2] == [1.0, 0.0]
    assert d.iloc[2].isna().all()  # missing stays missing, not reference
    assert dummies(df, "ipssr", "low", prefix="r").columns.tolist() == ["r[very_low]", "r[int]"]
    with pytest.raises(ValueError, match="reference level"):
        dummies(df, "ipssr", "high")


def test_cox_univariable_rows_and_blocks(sim):
    df = with_dummies(sim)
    df.loc[df.index[:4], "x2"] = np.nan
    tab = cox_univariable(df, "time", "loss", ["x1", "x2", ["grp[b]", "grp[c]"]])
    assert tab["term"].tolist() == TERMS
    assert tab["model"].tolist() == ["x1", "x2", "grp[b] + grp[c]", "grp[b] + grp[c]"]
    assert tab.loc[tab["term"] == "x2", "n"].item() == len(df) - 4
    assert tab.loc[tab["term"] == "x1", "n"].item() == len(df)
    single = cox_fit(df, "time", "loss", ["x2"]).table
    assert tab.loc[1, "hr"] == pytest.approx(single.loc[0, "hr"], rel=1e-12)
    block = cox_fit(df, "time", "loss", ["grp[b]", "grp[c]"]).table
    np.testing.assert_allclose(tab.loc[2:3, "hr"], block["hr"], rtol=1e-12)


def test_cox_univariable_report_mode(sim):
    df = sim.assign(const=1.0)
    with pytest.raises(ModelNotEstimable):
        cox_univariable(df, "time", "loss", ["x1", "const"])
    tab = cox_univariable(df, "time", "loss", ["x1", "const"], not_estimable="report")
    assert tab.loc[0, "note"] is None and np.isfinite(tab.loc[0, "hr"])
    assert "no variation" in tab.loc[1, "note"] and np.isnan(tab.loc[1, "hr"])


def test_not_estimable_too_few_events():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"time": rng.uniform(1, 10, 30), "loss": 0, "a": rng.normal(size=30)})
    df["b"] = rng.binomial(1, 0.5, 30)
    df.loc[df.index[:3], "loss"] = 1  # 3 events, 2 terms
    with pytest.raises(ModelNotEstimable, match="3 events for 2 term") as err:
        cox_fit(df, "time", "loss", ["a", "b"])
    assert str(MIN_EVENTS_PER_TERM) in err.value.reason


def test_not_estimable_constant_term(sim):
    with pytest.raises(ModelNotEstimable, match="no variation"):
        cox_fit(sim.assign(const=1), "time", "loss", ["x1", "const"])


def test_not_estimable_no_events_in_one_group(sim):
    df = sim.assign(flag=0)
    df.loc[df["loss"] == 0, "flag"] = np.resize([0, 1], int((df["loss"] == 0).sum()))
    with pytest.raises(ModelNotEstimable, match="monotone likelihood"):
        cox_fit(df, "time", "loss", ["x2", "flag"])


def test_not_estimable_separation_in_fit():
    # every failing subject has the largest x in its risk set: the MLE is infinite.
    # The pre-checks pass (20 events, x varies, not 0/1), so the fit itself must be caught.
    df = pd.DataFrame({"time": np.arange(1.0, 21.0), "loss": 1, "x": -np.arange(1.0, 21.0)})
    with pytest.raises(ModelNotEstimable):
        cox_fit(df, "time", "loss", ["x"])


def test_ph_test_flags_non_proportional_hazards():
    # x doubles the hazard early and has no effect late: the rank-time test must see it
    rng = np.random.default_rng(11)
    n = 400
    x = rng.binomial(1, 0.5, n)
    early = rng.exponential(np.where(x == 1, 2.5, 10.0))
    time = np.where(early < 3, early, 3 + rng.exponential(10.0, n))
    df = pd.DataFrame({"time": time, "loss": 1, "x": x})
    res = ph_test(cox_fit(df, "time", "loss", ["x"]))
    assert res["terms"][0]["p"] < 0.01
