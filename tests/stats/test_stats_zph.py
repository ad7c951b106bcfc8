"""The proportional-hazards test against R's cox.zph (survival 3.5-3): terms, transforms, ties,
strata, factors; and its behaviour on data built to violate proportional hazards."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from stats_testdata import R_DATASETS, load_r_dataset, load_snapshot_cohort

from lenstop.stats import cox_fit, dummies, ph_test, term_groups
from lenstop.stats.zph import transformed_time

TRANSFORMS = ("km", "rank", "identity", "log")
TOL = 1e-6  # R stops Newton-Raphson at its own tolerance; the chi-squares agree to ~1e-8


def model(name: str, ties: str = "efron", **kw):
    """The fixture model of R's make_fixtures.R: x1 + x2 + grp (+ age on `clustered`)."""
    df = load_r_dataset(name)
    df = pd.concat([df, dummies(df, "grp", "a")], axis=1)
    terms = ["x1", "x2", "grp[b]", "grp[c]"] + (["age"] if name == "clustered" else [])
    return cox_fit(df, "time", "loss", terms, ties=ties, **kw)


def check(out: dict, ref: dict, names: list[str] | None = None) -> None:
    """Per-term and global chi-square, df and p equal R's table (GLOBAL is its last row)."""
    assert [t["term"] for t in out["terms"]] == (names or ref["term"][:-1])
    got = [t["statistic"] for t in out["terms"]] + [out["global_statistic"]]
    np.testing.assert_allclose(got, ref["chisq"], rtol=TOL, atol=TOL)
    assert [t["df"] for t in out["terms"]] + [out["global_df"]] == ref["df"]
    np.testing.assert_allclose([t["p"] for t in out["terms"]] + [out["global_p"]], ref["p"],
                               rtol=TOL, atol=TOL)


@pytest.mark.parametrize("name", [*R_DATASETS, "clustered"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("transform", TRANSFORMS)
def test_zph_matches_r_per_term_and_global(name, ties, transform, r_reference):
    key = "cox_zph" if ties == "efron" else "cox_zph_breslow"
    if key not in r_reference[name]:
        pytest.skip(f"no {ties} fixture for {name}")
    res = model(name, ties)
    out = ph_test(res, transform)
    check(out, r_reference[name][key][transform])  # grp (2 dummies) is one 2-df term
    assert out["transform"] == transform and out["ties"] == ties


@pytest.mark.parametrize("name", [*R_DATASETS, "clustered"])
def test_zph_per_column_matches_r_terms_false(name, r_reference):
    res = model(name)
    out = ph_test(res, "km", terms="columns")
    check(out, r_reference[name]["cox_zph"]["km_columns"], names=res.terms)
    assert all(t["df"] == 1 for t in out["terms"])


@pytest.mark.parametrize("name", R_DATASETS)
def test_zph_rank_matches_the_first_fixture(name, r_reference):
    ref = r_reference[name]["cox_zph_rank"]  # cox.zph(fit, "rank", terms = FALSE)
    out = ph_test(model(name), "rank", terms="columns")
    got = [t["statistic"] for t in out["terms"]] + [out["global_statistic"]]
    np.testing.assert_allclose(got, ref["chisq"], rtol=TOL)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_zph_stratified_matches_r(transform, r_reference):
    ref = r_reference["clustered"]["cox_strata_zph"][transform]
    check(ph_test(model("clustered", strata="centre"), transform), ref)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_zph_on_the_cohort_models_matches_r(transform, r_reference):
    ref = r_reference["cohort_snapshot"]
    a = load_snapshot_cohort()
    four = ["ltb", "cycles_ge_cutoff", "age_per10", "hb"]
    check(ph_test(cox_fit(a, "ti_months", "ti_lost", four), transform),
          ref["cox_zph"][transform])
    reason = dummies(a, "stop_reason", "intolerance")[
        ["stop_reason[physician]", "stop_reason[patient]", "stop_reason[unknown]"]]
    res = cox_fit(pd.concat([a, reason], axis=1), "ti_months", "ti_lost",
                  [*four, *reason.columns])
    out = ph_test(res, transform)
    check(out, ref["cox_reason_zph"][transform])
    assert out["terms"][-1]["columns"] == list(reason.columns) and out["terms"][-1]["df"] == 3


def test_zph_explicit_groups_equal_auto(r_reference):
    res = model("cr_ties")
    auto = ph_test(res)
    explicit = ph_test(res, terms={"grp": ["grp[b]", "grp[c]"]})
    assert explicit["terms"] == auto["terms"]
    assert explicit["global_statistic"] == auto["global_statistic"]
    assert auto["min_p"] == min(t["p"] for t in auto["terms"])
    assert auto["min_p_bonferroni"] == pytest.approx(min(1.0, 3 * auto["min_p"]))
    json.dumps(auto, allow_nan=False)


def test_zph_user_transform_equals_named_one():
    res = model("cr_continuous")
    assert ph_test(res, np.log)["global_statistic"] == pytest.approx(
        ph_test(res, "log")["global_statistic"], rel=1e-12)
    assert ph_test(res, np.log)["transform"] == "user"


def test_term_groups():
    cols = ["age", "reason[b]", "hb", "reason[c]", "dose[5 mg]"]
    assert term_groups(cols) == {"age": ["age"], "reason": ["reason[b]", "reason[c]"],
                                 "hb": ["hb"], "dose": ["dose[5 mg]"]}
    assert list(term_groups(cols, "columns")) == cols
    assert term_groups(cols, {"both": ["age", "hb"]})["both"] == ["age", "hb"]
    with pytest.raises(ValueError, match="not in the model"):
        term_groups(cols, {"x": ["weight"]})
    with pytest.raises(ValueError, match="distinct"):
        term_groups(cols, {"x": ["age"], "y": ["age"]})
    with pytest.raises(ValueError, match="terms must be"):
        term_groups(cols, "factor")


def test_km_transform_is_left_continuous():
    # S(t-) = 1 before the first event; at tied times every row gets the same value
    time = np.array([1.0, 2, 2, 3, 4])
    event = np.array([1, 1, 0, 1, 0])
    g = transformed_time(time, event, "km")
    # KM: S(1) = 4/5, S(2) = 4/5 * 3/4 = 3/5, S(3) = 3/5 * 1/2 = 3/10
    np.testing.assert_allclose(g, 1 - np.array([1, 0.8, 0.8, 0.6, 0.3]))
    np.testing.assert_allclose(transformed_time(time, event, "rank"), [1, 2.5, 2.5, 4, 5])


def test_zph_rejects_an_unknown_transform():
    with pytest.raises(ValueError, match="unknown time transform"):
        ph_test(model("cr_continuous"), transform="squared")


def test_zph_detects_a_fading_effect():
    # x doubles the hazard early and has no effect late; a proportional x2 stays quiet
    rng = np.random.default_rng(11)
    n = 400
    x = rng.binomial(1, 0.5, n)
    x2 = rng.normal(size=n)
    early = rng.exponential(np.where(x == 1, 2.5, 10.0) * np.exp(-0.3 * x2))
    time = np.where(early < 3, early, 3 + rng.exponential(10.0 * np.exp(-0.3 * x2)))
    df = pd.DataFrame({"time": time, "loss": 1, "x": x, "x2": x2})
    out = ph_test(cox_fit(df, "time", "loss", ["x", "x2"]))
    by_term = {t["term"]: t["p"] for t in out["terms"]}
    assert by_term["x"] < 0.001 and by_term["x2"] > 0.01 and out["global_p"] < 0.001
