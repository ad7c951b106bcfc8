"""The planted-against-recovered simulation: faithful to the generator, deterministic, and
its summary statistics right by hand and plausible on a small run."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import chi2

from lenstop import config
from lenstop.analyses import simulation
from lenstop.ingest import synthetic
from lenstop.manuscript import results

ISSUE_KEYS = {"term", "planted_hr", "mean_hr", "bias", "empirical_se", "coverage", "power"}
"""Per-term keys results.json's `simulation.terms` must hold (issue 15)."""


@pytest.fixture(scope="module")
def small_run():
    return simulation.run(range(1, 21))


def test_replicate_is_deterministic_per_seed():
    first = simulation.replicate(11)
    assert simulation.replicate(11) == first
    assert simulation.replicate(12) != first
    assert [t["term"] for t in first["terms"]] == list(simulation.TERMS)
    assert first["seed"] == 11 and first["n"] == 118 and first["estimable"]
    for t in first["terms"]:
        assert t["ci_low"] < t["hr"] < t["ci_high"]
        assert math.isclose(t["hr"], math.exp(t["log_hr"]))


def test_without_calibration_search_the_wrapper_is_the_generator():
    """Given the scale parameters the generator calibrates for a seed, `simulate_cohort` is
    `synthetic.generate(search=False)` exactly: the replicates come from the same generator."""
    seed = config.SYNTHETIC_SEED + 3  # the shipped cohort's kept seed
    model = simulation.calibrate_planted(118, seed)
    cohort, _ = synthetic.generate(118, seed, search=False)
    assert simulation.simulate_cohort(seed, 118, model).equals(cohort)


def test_planted_model_meets_the_scaled_targets_on_its_calibration_draw():
    n = 100_000
    _rng, draw = simulation._draw_planted(config.SYNTHETIC_SEED, n, simulation.PLANTED)
    lost = ~np.isnan(draw.loss_days)
    assert lost.sum() == synthetic._scaled(synthetic.TARGETS.ti_lost, n)
    assert abs(synthetic._km_median(draw.fu_days, ~draw.died) - 49) < 0.05
    km = synthetic._km_median(np.where(lost, draw.loss_days, draw.fu_days), lost)
    assert abs(km - 56) < 0.5


def test_planted_median_is_the_median_of_the_planted_loss_times():
    planted = simulation.planted_values()
    assert planted["log_hr"] == {t: synthetic.LOG_HR[t] for t in simulation.TERMS}
    # the latent loss times themselves, on an independent draw: their sample median has an SE
    # of about 0.3 months at 200,000 patients
    _rng, draw = simulation._draw_planted(99, 200_000, simulation.PLANTED)
    hazard = np.exp(simulation.PLANTED.log_rate + synthetic._linear_predictor(draw.cov))
    months = (-np.log(draw.u_loss) / hazard) ** (1 / simulation.PLANTED.shape)
    assert abs(np.median(months) - planted["median_latent"]) < 1.0
    assert abs(planted["median"] - planted["median_latent"]) < 1.5 / config.DAYS_PER_MONTH
    # age raises both the loss and the death hazard, so the pooled KM median lies above it
    assert planted["median"] < planted["km_limit"] < planted["median"] + 4


def _rep(seed, log_hr, se, ci, p, median, estimable=True):
    terms = [{"term": "x", "log_hr": log_hr, "se": se, "hr": math.exp(log_hr),
              "ci_low": ci[0], "ci_high": ci[1], "p": p}] if estimable else []
    return {"seed": seed, "n": 100, "events": 40 + seed, "estimable": estimable, "note": None,
            "terms": terms,
            "median": dict(zip(("estimate", "ci_low", "ci_high"), median, strict=True))}


TOY = [  # planted log-HR -1 (HR 0.368), planted median 50 months
    _rep(4, -0.6, 0.2, (0.40, 0.90), 0.05, (52.0, 20.0, 49.0)),     # misses; p not < 0.05
    _rep(2, -1.2, 0.5, (0.10, 0.30), 0.20, (None, 45.0, None)),     # misses; median open
    _rep(3, -1.0, 0.4, (0.30, 0.40), 0.04, (70.0, 55.0, None)),     # covers; median misses
    _rep(1, -0.8, 0.3, (0.20, 0.50), 0.01, (40.0, 30.0, 60.0)),     # covers
    _rep(5, 0.0, 0.0, (0, 0), 1.0, (30.0, 25.0, 52.0), estimable=False),
]


def test_summarise_against_hand_computed_toy_replicates():
    s = simulation.summarise(TOY, {"log_hr": {"x": -1.0}, "median": 50.0, "km_limit": 55.0})
    assert (s["replicates"], s["estimable"], s["seeds"], s["n"]) == (5, 4, [1, 5], 100)
    assert s["mean_events"] == pytest.approx(43)
    (t,) = s["terms"]
    sd = math.sqrt((0.1**2 + 0.3**2 + 0.1**2 + 0.3**2) / 3)  # log-HRs -0.8 -1.2 -1.0 -0.6
    assert t["term"] == "x" and t["estimable"] == 4
    assert t["planted_hr"] == pytest.approx(math.exp(-1))
    assert t["mean_log_hr"] == pytest.approx(-0.9)
    assert t["mean_hr"] == pytest.approx(math.exp(-0.9))  # geometric mean, not mean of HRs
    assert t["bias_log_hr"] == pytest.approx(0.1)
    assert t["bias"] == pytest.approx(-0.1)  # 10% shrunk towards the null
    assert t["empirical_se"] == pytest.approx(sd)
    assert t["empirical_se_mcse"] == pytest.approx(sd / math.sqrt(6))
    assert t["bias_mcse"] == pytest.approx(sd / 2)
    assert t["mean_model_se"] == pytest.approx(0.35)
    assert t["coverage"] == 0.5 and t["coverage_mcse"] == pytest.approx(0.25)
    assert t["power"] == 0.5 and t["power_mcse"] == pytest.approx(0.25)
    m = s["median"]
    # medians 30 40 52 70 and one not reached (+inf): the middle one is 52
    assert m["median_months"] == 52.0 and m["not_reached"] == 1
    assert m["bias"] == pytest.approx(52 / 50 - 1)
    assert m["bias_vs_km_limit"] == pytest.approx(52 / 55 - 1)
    assert m["median_months_ci"] == [30.0, None] and m["bias_mcse"] is None
    assert m["mean_months_reached"] == pytest.approx(48.0)
    assert m["empirical_se"] == pytest.approx(np.std([30, 40, 52, 70], ddof=1))
    assert m["coverage"] == pytest.approx(3 / 5)  # seeds 1, 2 (open upper limit) and 5
    assert m["coverage_mcse"] == pytest.approx(math.sqrt(0.6 * 0.4 / 5))


def test_summary_does_not_depend_on_replicate_order_and_refuses_repeated_seeds():
    planted = {"log_hr": {"x": -1.0}, "median": 50.0}
    assert simulation.summarise(TOY, planted) == simulation.summarise(TOY[::-1], planted)
    with pytest.raises(ValueError, match="same seed"):
        simulation.summarise([*TOY, TOY[0]], planted)


def test_median_of_replicate_medians_counts_not_reached_as_infinite():
    assert simulation._middle([1.0, 2.0, 3.0, math.inf]) == 2.5
    assert simulation._middle([1.0, 2.0, math.inf, math.inf]) is None
    assert simulation._middle([]) is None


def test_small_run_recovers_the_planted_effects(small_run):
    """20 replicates: bounds of about 4 Monte Carlo SEs, so that the test fails for a wrong
    statistic, not by chance (the seeds are fixed anyway)."""
    s = small_run
    assert s["replicates"] == s["estimable"] == 20 and s["seeds"] == [1, 20]
    assert abs(s["mean_events"] - 50) < 5  # SD of the loss count is about 5 per replicate
    # 19 (empirical SE / true SE)^2 is chi-square on 19 df: a two-sided 0.1% band for the ratio
    low, high = (math.sqrt(19 / chi2.ppf(q, 19)) for q in (0.9995, 0.0005))
    covered = 0
    for t in s["terms"]:
        beta = synthetic.LOG_HR[t["term"]]
        assert abs(t["mean_log_hr"] - beta) < 4 * t["empirical_se"] / math.sqrt(20), t
        assert low < t["mean_model_se"] / t["empirical_se"] < high, t
        assert t["coverage"] >= 0.70, t  # >= 6 misses of 20 at 95%: p < 0.001
        assert t["power"] >= 0.5, t
        covered += t["coverage"] * 20
    assert covered / 80 >= 0.85  # pooled 95% coverage: MC SE 0.024
    m = s["median"]
    assert m["coverage"] >= 0.70 and m["not_reached"] < 10
    assert abs(m["median_months"] / m["planted_months"] - 1) < 0.3


def test_summary_goes_into_results_json(small_run):
    s = small_run
    assert {"replicates", "terms", "median"} <= set(s)
    assert [t["term"] for t in s["terms"]] == list(simulation.TERMS)
    for t in s["terms"]:
        assert ISSUE_KEYS <= set(t)
    assert s["model"]["shape"] == simulation.PLANTED.shape
    assert results.clean(s)["replicates"] == 20  # plain JSON values throughout
    results.dumps({"simulation": s})
    shown = simulation.table(s)
    assert list(shown["term"]) == [*simulation.TERMS, "km_median_months"]


def test_batches_cover_every_seed_once():
    assert simulation.batches(45, 3, 20) == [(3, 22), (23, 42), (43, 47)]
    assert simulation.batches(200) == [(s, s + 49) for s in range(1, 201, 50)]


def test_jobs_give_the_same_summary_however_the_seeds_are_split(tmp_path):
    """The workflow's batches and summary step give `run()`'s numbers, and the same bytes
    whichever batches made them."""
    outs = []
    for split in ([(1, 4), (5, 8)], [(1, 2), (3, 8)]):
        folder = tmp_path / f"split{len(outs)}"
        files = []
        for first, last in split:
            files.append(folder / "batches" / f"seeds-{first}-{last}.json")
            simulation.write_batch(first, last, files[-1])
        simulation.write_summary(files, folder)
        outs.append(folder)
    assert (outs[0] / "summary.json").read_bytes() == (outs[1] / "summary.json").read_bytes()
    summary = json.loads((outs[0] / "summary.json").read_text())
    whole = simulation.run(range(1, 9))
    assert results.clean({k: v for k, v in summary.items() if k != "code_sha256"}) == \
        results.clean(whole)
    assert summary["code_sha256"] == simulation.code_sha256()


def test_a_stored_summary_is_used_only_for_the_same_code_and_seeds(tmp_path, monkeypatch):
    monkeypatch.setattr(simulation, "results_dir", lambda r, s=1: tmp_path / f"R{r}")
    files = [tmp_path / "b.json"]
    simulation.write_batch(1, 3, files[0])
    stored = simulation.write_summary(files, tmp_path / "R3")
    assert simulation.load(3)[0] == json.loads(json.dumps(stored))
    summary = json.loads((tmp_path / "R3" / "summary.json").read_text())
    summary["mean_events"] = -1.0  # as if made by other code: then it must not be shown
    summary["code_sha256"] = "0" * 64
    (tmp_path / "R3" / "summary.json").write_text(json.dumps(summary))
    recomputed, reps = simulation.load(3)
    assert recomputed["mean_events"] > 0 and [r["seed"] for r in reps] == [1, 2, 3]


def test_simulate_command_runs_the_batches_as_workflow_jobs(tmp_path):
    out = tmp_path / "sim"
    run = subprocess.run([sys.executable, "-m", "lenstop.cli", "simulate", "--replicates", "4",
                          "--out", str(out)], capture_output=True, text=True, cwd=config.ROOT)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "simulation: 4 replicates" in run.stdout
    assert sorted(p.name for p in (out / "batches").iterdir()) == ["seeds-1-4.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["replicates"] == 4 and summary["seeds"] == [1, 4]
