"""The sensitivity grid: a checked grid file, points that re-make notebook 02's analysis under
one changed definition, and results in the shape results.json promises."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lenstop import config
from lenstop.analyses import sensitivity
from lenstop.cohort.derive import included
from lenstop.ingest.validate import load_cohort
from lenstop.stats import cif_median, cumulative_incidence
from lenstop.workflow import sensitivity_grid

RESULTS_PRECISION = 1e-5
"""results.json keeps 6 significant digits."""


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return load_cohort(config.SYNTHETIC_COHORT)[0]


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads((config.ROOT / "results" / "results.json").read_text())


def test_the_grid_file_starts_with_the_published_definitions():
    points = sensitivity.load_grid()
    assert points[0].name == "published" and points[0].parameters == {}
    assert len({p.name for p in points}) == len(points) >= 10
    moved = {k for p in points for k in p.parameters}
    assert moved == set(sensitivity.DEFAULTS)  # every definition is moved by some point
    assert {p.resolved()["cycles_cutoff"] for p in points} == {6, 12, 18, 24}


def test_a_bad_grid_names_every_problem_with_file_and_point(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "points:\n"
        "  - {name: a, label: A, cycle_cutoff: 6}\n"
        "  - {name: a, label: B}\n"
        "  - {name: c, label: C, tb_cutoff: high, cycles_cutoff: true}\n"
        "  - {name: d, label: D, estimator: cox}\n"
        "  - {name: e, label: E, estimator: competing, censor_later_treatment: true}\n"
        "  - {name: 'f/g', label: F, ti_min_weeks: 4}\n")
    with pytest.raises(sensitivity.GridError) as err:
        sensitivity.load_grid(grid)
    text = str(err.value)
    for expected in ("point 1 (a): unknown key 'cycle_cutoff'", "point 2 (a): the name 'a' is "
                     "used twice", "point 3 (c): tb_cutoff = 'high' is not a int or float",
                     "point 4 (d): estimator must be one of km, competing",
                     "point 5 (e): censor_later_treatment and estimator: competing",
                     "point 3 (c): cycles_cutoff = True is not a int or float",
                     "point 6 (f/g): `name` must be", "ti_min_weeks must be at least 8"):
        assert expected in text
    assert text.count(str(grid)) == 8  # one line per problem, each naming the file
    # the keys shared with the build parameters go through the build's own checker
    assert "cycles_cutoff" in sensitivity_grid.BUILD_KEYS


def test_the_published_point_is_notebook_02s_model(cohort, committed):
    result = sensitivity.analyse_point(cohort, sensitivity.point("published"))
    ti = committed["ti_duration"]
    expected = {t["term"]: t for t in ti["cox_multivariable"]["terms"]}
    assert [t["term"] for t in result["terms"]] == list(sensitivity.TERMS)
    for t in result["terms"]:
        for key in ("hr", "ci_low", "ci_high", "p"):
            assert t[key] == pytest.approx(expected[t["term"]][key], rel=RESULTS_PRECISION)
    assert result["n"] == ti["cox_multivariable"]["n"]
    assert result["events"] == ti["cox_multivariable"]["events"]
    assert result["median_months"] == pytest.approx(ti["ti_median_months"], rel=RESULTS_PRECISION)


def test_the_competing_point_is_notebook_02s_fine_gray(cohort, committed):
    result = sensitivity.analyse_point(cohort, sensitivity.point("competing_risks"))
    expected = {t["term"]: t for t in committed["ti_duration"]["fine_gray"]["terms"]}
    assert result["model"] == "Fine-Gray"
    for t in result["terms"]:
        assert t["hr"] == pytest.approx(expected[t["term"]]["shr"], rel=RESULTS_PRECISION)


def test_sixteen_weeks_excludes_exactly_the_patients_under_112_days(cohort):
    base = included(cohort)
    days = (base["len_stop_date"] - base["ti_start_date"]).dt.days
    result = sensitivity.analyse_point(cohort, sensitivity.point("ti_16_weeks"))
    assert result["n_patients"] == int((days >= 112).sum()) < len(base)
    assert result["excluded_beyond_published"] == int((days < 112).sum())


def test_a_moved_cut_off_changes_its_factor_and_is_recorded(cohort):
    published = sensitivity.analyse_point(cohort, sensitivity.point("published"))
    moved = sensitivity.analyse_point(cohort, sensitivity.point("cycles_18"))
    hr = {r["name"]: {t["term"]: t["hr"] for t in r["terms"]} for r in (published, moved)}
    assert hr["cycles_18"]["cycles_ge_cutoff"] != hr["published"]["cycles_ge_cutoff"]
    assert moved["parameters"]["cycles_cutoff"] == 18
    assert published["parameters"] == sensitivity.DEFAULTS


def test_a_point_that_cannot_be_fitted_says_why(cohort):
    assert int((cohort["len_cycles"] < 6).sum()) < 5  # (the synthetic cohort: all but one)
    result = sensitivity.analyse_point(cohort, sensitivity.point("cycles_6"))
    assert result["terms"] == [] and result["events"] == 50  # (the endpoint's own events)
    assert "cycles_ge_cutoff" in result["note"]
    assert result["median_months"] is not None  # the median does not need the model


def test_gather_keeps_grid_order_and_refuses_a_missing_point(tmp_path):
    points = sensitivity.load_grid()
    files = []
    for p in reversed(points[:3]):
        path = tmp_path / f"{p.name}.json"
        sensitivity.write_point({"name": p.name}, path)
        files.append(path)
    assert [r["name"] for r in sensitivity.gather(files, points[:3])] == \
        [p.name for p in points[:3]]
    with pytest.raises(sensitivity.GridError, match=points[3].name):
        sensitivity.gather(files, points[:4])


def test_cif_median_by_hand():
    """Without censoring the Aalen-Johansen estimate is the share of patients with the event
    by t: 5 of 10 by t = 6, so the median is 6."""
    df = pd.DataFrame({"t": np.arange(1.0, 11.0), "s": [1, 1, 2, 1, 1, 1, 2, 1, 0, 0]})
    med = cif_median(cumulative_incidence(df, "t", "s", cause=1, landmarks=()))
    assert med["median"] == 6.0 and med["max_cif"] == pytest.approx(0.6)
    low, high = med["median_ci"]
    assert low is not None and low <= 6.0 and high is None  # the band's lower curve < 0.5
    never = cif_median(cumulative_incidence(df.assign(s=[1, 2, 2, 2, 2, 2, 2, 2, 0, 0]), "t",
                                            "s", cause=1, landmarks=()))
    assert never["median"] is None


def test_results_json_holds_the_points_as_promised(committed):
    sens = committed["sensitivity"]
    assert sens["run"] is True
    names = [p.name for p in sensitivity.load_grid()]
    assert [p["name"] for p in sens["points"]] == names
    for p in sens["points"]:
        assert set(p["parameters"]) == set(sensitivity.DEFAULTS)
        assert {"median_months", "median_ci", "terms", "label", "n", "events"} <= set(p)
        for t in p["terms"]:
            assert t["ci_low"] < t["hr"] < t["ci_high"]
