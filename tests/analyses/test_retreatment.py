"""LEN re-treatment (notebook 04's helpers): responses and the evaluable rule against a direct
count, what the minimum cell size withholds, a cohort nobody of which was re-treated, and the
results section the report quotes."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from lenstop import config
from lenstop.analyses import retreatment as rt
from lenstop.cohort.derive import analysis_table
from lenstop.disclosure.suppression import Cells
from lenstop.ingest.validate import load_cohort
from lenstop.manuscript.results import clean
from lenstop.stats import exact_ci

ALPHA = config.ALPHA
LANDMARKS = list(config.LANDMARK_MONTHS)
ALL = Cells(0)


@pytest.fixture(scope="module")
def a() -> pd.DataFrame:
    return analysis_table(load_cohort(config.SYNTHETIC_COHORT)[0])


def _all(a, cells=ALL, min_cell=0):
    r = rt.response(a, cells, ALPHA)
    fig, second = rt.second_ti_figure(r, LANDMARKS, ALPHA, "test data", min_cell)
    plt.close(fig)
    return r, second, rt.course(a, r, second, cells, LANDMARKS, ALPHA, min_cell)


def test_responses_and_the_evaluable_rule(a):
    r = rt.response(a, ALL, ALPHA)
    retreated = a[a["retreated"] == 1]
    assert (r.n_lost, r.n_retreated) == (int(a["ti_lost"].sum()), len(retreated))
    k = int(retreated["regained_iwg"].sum())
    assert (r.regained["k"], r.regained["n"]) == (k, len(retreated))
    assert r.regained["ci_low"] == pytest.approx(exact_ci(k, len(retreated), ALPHA)["ci_low"])
    # evaluable: followed >= 16 weeks after restarting LEN, or a response before that
    days = (retreated["end_date"] - retreated["len_retreat_date"]).dt.days
    assert r.n_evaluable == int(((days >= 112) | (retreated["regained_iwg"] == 1)).sum())
    assert r.regained_evaluable["k"] == k  # every responder is evaluable
    lines = rt.response_lines(r)
    assert lines[1].startswith(f"Regained RBC-TI: {k}/{len(retreated)} = ")


def test_min_cell_withholds_the_few_and_draws_no_single_course(a):
    k = 30  # more than the responders (28): their second RBC-TI would be their own times
    _, second, course = _all(a, Cells(k), min_cell=k)
    assert second.n < k
    assert course.second_shown["median"] is None and course.second_shown["landmarks"] == []
    assert course.second_shown["withheld"] == f"fewer than {k} patients"
    assert course.first is None
    assert rt.course_lines(course)[0] == (f"Second TI: {course.second_shown['events']} losses "
                                          f"among {course.second_shown['n']}; median withheld; "
                                          "deaths in the second RBC-TI are censored")
    fig = rt.swimmer_figure(rt.response(a, Cells(k), ALPHA), Cells(k), "test data", k)
    assert "not drawn" in fig.axes[0].texts[0].get_text()
    plt.close(fig)


def test_a_cohort_nobody_of_which_was_retreated(a):
    none = a.assign(retreated=0, regained_iwg=0, regained_short=0)
    r, second, course = _all(none)
    assert second is None and not course.any_regained
    assert rt.response_lines(r)[1] == "Regained RBC-TI: no patient was re-treated"
    assert rt.course_lines(course)[0] == "Second TI: no patient regained RBC-TI"
    assert rt.interval_lines(rt.intervals(r, ALL)) == [
        "loss of TI -> re-treatment: no patient", "re-treatment -> regained TI: no patient"]
    fig = rt.swimmer_figure(r, ALL, "test data", 0)
    assert any("No patient was re-treated" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_section_is_the_committed_results_section(a):
    """results/sections/retreatment.json is what `make report` wrote from notebook 04 (the
    manuscript quotes it): the module must rebuild it from the shipped cohort."""
    r, _, course = _all(a)
    s = rt.section(r, rt.intervals(r, ALL), course)
    committed = json.loads((config.RESULTS_DIR / "sections" / "retreatment.json").read_text())
    assert committed.pop("meta")["parameters"]["min_cell"] == 0
    assert clean(s) == committed
    assert (s["retreat_ti_regained"]["k"], s["retreat_ti_regained"]["n"]) == (28, 48)
