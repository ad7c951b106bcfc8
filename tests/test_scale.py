"""The benchmark's analysis entry point computes what the notebooks computed (results.json)."""

from __future__ import annotations

import json

import pytest

from lenstop import config, scale


@pytest.fixture(scope="module")
def both():
    committed = json.loads(config.RESULTS_FILE.read_text(encoding="utf-8"))
    timer = scale.Timer()
    return scale.analyse(config.SYNTHETIC_COHORT, timer), committed, timer


def close(a, b):
    # results.json keeps 6 significant digits
    return a == pytest.approx(b, rel=5e-6, abs=1e-12)


def test_scale_matches_the_notebooks(both):
    got, res, _ = both
    ti = res["ti_duration"]
    assert got["n"] == res["cohort"]["n_patients"]
    assert got["cohort"]["reasons"] == {k: v["n"] for k, v in
                                        res["cohort"]["stop_reason_counts"].items()}
    g = got["ti_duration"]
    assert close(g["followup_median"], ti["followup_median_months"])
    assert close(g["ti_median"], ti["ti_median_months"])
    assert close(g["ph_min_p"], ti["ph_test"]["min_p"])
    for col, p in g["logrank_p"].items():
        assert close(p, ti["logrank_by_factor"][col]["p"])
    for term in ti["cox_multivariable"]["terms"]:
        assert close(g["cox_multivariable_hr"][term["term"]], term["hr"])
    for term in ti["fine_gray"]["terms"]:
        assert close(g["fine_gray_shr"][term["term"]], term["shr"])
    assert close(got["cytogenetics"]["ccyr_lost"], res["cytogenetics"]["ccyr_lost"]["proportion"])
    assert close(got["cytogenetics"]["fisher_p"], res["cytogenetics"]["ccyr_vs_ti"]["fisher_p"])
    assert close(got["retreatment"]["regained"],
                 res["retreatment"]["retreat_ti_regained"]["proportion"])


def test_scale_times_every_step(both):
    _, _, timer = both
    assert list(timer.steps)[0] == "read + validate"
    assert {"Fine-Gray", "Cox univariable (10 models)", "Aalen-Johansen (2 causes)"} <= set(
        timer.steps)
    assert all(v >= 0 for v in timer.steps.values())


def test_scale_command_line(capsys):
    assert scale.main([str(config.SYNTHETIC_COHORT), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 118 and out["total_s"] > 0 and "derive" in out["steps_s"]
