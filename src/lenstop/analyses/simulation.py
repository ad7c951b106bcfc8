"""Planted against recovered: the analysis re-run on many cohorts drawn from the planted model.

The synthetic generator (`lenstop.ingest.synthetic`) simulates loss of RBC-TI from a Weibull
proportional-hazards model with known ("planted") log hazard ratios for the four published
factors (`synthetic.LOG_HR`: low transfusion burden -1.0, >= 12 LEN cycles -1.0, age +0.55 per
10 years, Hb -0.5 per g/dL). For the shipped cohort it also calibrates three scale parameters
on the one sample it keeps (follow-up window, Weibull rate and shape) and searches seeds until
the Cox model shows the published factors. Neither may happen in a simulation study: the
calibration would make the number of losses (50) and the KM median (56 months) targets instead
of estimates, and the seed search keeps only samples in which every factor is significant.

So the planted model here is the generator's model with its three scale parameters FIXED at the
values the generator's own calibration reaches on one very large draw (`calibrate_planted`,
100,000 patients, seed `config.SYNTHETIC_SEED`, targets scaled in proportion): the values at
which a cohort of 118 shows the published figures in expectation (49.8 losses of TI on average
over 200 replicates; in large samples reverse-KM follow-up 48.9 and KM median 56.1 months).
The shipped cohort's own calibration (its one sample of 118: shape 1.5 against 0.6) is not a
population model: drawn afresh it gives 54 losses, follow-up 59 and a KM median of 46 months.
Each replicate draws a fresh cohort from that
model with its own seed (`simulate_cohort`), derives the analysis table as the notebooks do
(`derive.analysis_table`), and fits what notebook 02 fits: the multivariable Cox model of the
four factors (`stats.cox_fit`, Efron ties, Wald CIs) and the Kaplan-Meier median RBC-TI duration
(`stats.km_summary`, log(-log) Brookmeyer-Crowley CI). `summarise` computes bias, empirical and
model SEs, coverage and power with their Monte Carlo SEs (Morris, White & Crowther, Stat Med
2019;38:2074-2102).

Everything is a plain function of the seeds (no kernel, no notebook, no file I/O), so a
workflow job can run a batch of seeds and a merge step can summarise them; the same seeds give
identical numbers, in any order.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lenstop.cohort.derive import analysis_table
from lenstop.config import ALPHA, DAYS_PER_MONTH, SYNTHETIC_SEED
from lenstop.files import write_json
from lenstop.ingest import synthetic
from lenstop.stats import ModelNotEstimable, cox_fit, km_summary
from lenstop.workflow.simulation_plan import (
    BATCH_SIZE,
    DEFAULT_REPLICATES,
    FIRST_SEED,
    batches,
    code_files,
    results_dir,
)

TERMS = ("ltb", "cycles_ge_cutoff", "age_per10", "hb")
"""The four published factors of the multivariable model, as `derive.analysis_table` names
them (the same names as `synthetic.LOG_HR`)."""

PLANTED_MEDIAN_DRAW = 1_000_000
"""Patients drawn (covariates, censoring) to integrate the planted median and the KM limit."""


@dataclass(frozen=True)
class PlantedModel:
    """The generator's model with fixed scale parameters (months): loss of TI has
    S(t | x) = exp(-exp(log_rate + x'beta) t^shape), beta = `synthetic.LOG_HR`; a patient's
    potential follow-up is `followup_scale` x U(0.12, 1) months, cut short by death."""

    followup_scale: float
    shape: float
    log_rate: float
    calibration: str = ""
    """How the values were obtained."""


PLANTED = PlantedModel(
    followup_scale=87.3432607548999,
    shape=0.6000000000000001,
    log_rate=-1.6242450581262513,
    calibration=(f"synthetic.py's calibration on one draw of 100,000 patients (seed "
                 f"{SYNTHETIC_SEED}, targets scaled in proportion): reverse-KM median follow-up "
                 "49 months, 42,373 losses of TI (50 per 118), KM median 56 months"),
)
"""The planted model of the simulation study: `calibrate_planted()` recomputes it (about 13 s);
the values are kept here so that a replicate does not pay that calibration."""


# --- the planted model ----------------------------------------------------------------------

def calibrate_planted(n: int = 100_000, seed: int = SYNTHETIC_SEED) -> PlantedModel:
    """The three scale parameters `synthetic.generate(n, seed, search=False)` calibrates.

    It repeats the generator's own calibration (`synthetic._calibrate_followup` and
    `synthetic._calibrate_loss`, which keep the values to themselves) step for step with the
    generator's helpers, and returns the values instead of only the times they give.
    """
    draw = synthetic._draw(np.random.default_rng(seed), n)
    targets = synthetic.TARGETS

    def follow_up(scale: float) -> tuple[np.ndarray, np.ndarray]:
        potential = np.round(draw.window * scale * DAYS_PER_MONTH)
        return np.minimum(potential, draw.death_days), draw.death_days <= potential

    def fu_median(scale: float) -> float:
        days, died = follow_up(scale)
        m = synthetic._km_median(days, ~died)
        return m if math.isfinite(m) else 1e9

    scale = synthetic._bisect(fu_median, 10, 400, targets.followup_median_months)
    draw.fu_days, draw.died = follow_up(scale)
    lp = synthetic._linear_predictor(draw.cov)
    events = synthetic._scaled(targets.ti_lost, n)
    best = None
    for shape in np.arange(0.55, 1.80, 0.025):
        def n_events(log_rate: float, shape=shape) -> float:
            return float(np.sum(synthetic._loss_days(draw, lp, shape, log_rate) <= draw.fu_days))

        log_rate = synthetic._bisect(n_events, -20, 5, events)
        loss = synthetic._loss_days(draw, lp, shape, log_rate)
        lost = loss <= draw.fu_days
        if lost.sum() != events:
            continue
        median = synthetic._km_median(np.where(lost, loss, draw.fu_days), lost)
        gap = abs(median - targets.ti_median_months) if math.isfinite(median) else math.inf
        if best is None or gap < best[0]:
            best = (gap, float(shape), float(log_rate))
    if best is None:
        raise RuntimeError(f"no Weibull shape met {events} losses of TI (n = {n}, seed {seed})")
    return PlantedModel(float(scale), best[1], best[2],
                        calibration=f"synthetic.py's calibration on n = {n}, seed {seed}")


def _draw_planted(seed: int | Sequence[int], n: int, model: PlantedModel
                  ) -> tuple[np.random.Generator, synthetic._Draw]:
    """The generator's random draws for `seed`, with times from `model` (no calibration)."""
    rng = np.random.default_rng(seed)
    draw = synthetic._draw(rng, n)
    draw.potential_days = np.round(draw.window * model.followup_scale * DAYS_PER_MONTH)
    draw.fu_days = np.minimum(draw.potential_days, draw.death_days)
    draw.died = draw.death_days <= draw.potential_days
    lp = synthetic._linear_predictor(draw.cov)
    loss = synthetic._loss_days(draw, lp, model.shape, model.log_rate)
    draw.loss_days = np.where(loss <= draw.fu_days, loss, np.nan)
    return rng, draw


def simulate_cohort(seed: int, n: int = synthetic.TARGETS.n,
                    model: PlantedModel = PLANTED) -> pd.DataFrame:
    """One registry-shaped cohort from the planted model: `synthetic.generate`'s steps for one
    seed, with the calibration replaced by `model`'s fixed values and no seed search.

    With `model = calibrate_planted(n, seed)` this is exactly `synthetic.generate(n, seed,
    search=False)[0]` (the tests check it).
    """
    rng, draw = _draw_planted(seed, n, model)
    cohort = synthetic._finish(synthetic._assemble(rng, draw, n))
    return synthetic._blank_some(cohort, np.random.default_rng([seed, 1]))


def _planted_median_latent(hazard: np.ndarray, shape: float) -> float:
    """Months at which the marginal planted survival of loss of TI, the mean over patients of
    exp(-hazard t^shape), is 1/2 (bisection to 1e-9 months)."""

    def survival(t: float) -> float:
        return float(np.mean(np.exp(-hazard * t ** shape)))

    lo, hi = 0.0, 1.0
    while survival(hi) > 0.5:
        hi *= 2
    while hi - lo > 1e-9:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if survival(mid) > 0.5 else (lo, mid)
    return hi


PLANTED_CHUNK = 100_000
"""The planted draw is made in chunks of this many patients (seeds [seed, 0], [seed, 1], ...)
to keep memory low (about 200 MB above the interpreter's, against 550 MB in one piece)."""


def planted_values(model: PlantedModel = PLANTED, n_draw: int = PLANTED_MEDIAN_DRAW,
                   seed: int = SYNTHETIC_SEED) -> dict[str, Any]:
    """What the planted model implies: the log-HRs, and the median RBC-TI duration.

    - `log_hr`, `hr`: `synthetic.LOG_HR` per term.
    - `median`: the planted median, semi-analytic: the Weibull survival given covariates is
      exact, averaged over `n_draw` covariate draws of the generator (`synthetic._draw`), and
      solved for 1/2; then put on the analysis scale (the generator records loss on day
      round(t x 30.4375) + 1, so the median becomes (round(m x 30.4375) + 1) / 30.4375).
      This is the median of the latent time to loss of TI (no death, no censoring).
    - `km_limit`: what the Kaplan-Meier median converges to under the generator's censoring
      (by simulation: the KM median of the same `n_draw` patients' simulated times). It differs
      from `median` because death, which censors, is likelier in older patients, who also
      lose TI sooner (age is in both hazards): censoring is independent given age, not
      marginally, so the pooled KM is biased for the marginal median even in large samples.
    """
    return copy.deepcopy(_planted_values(model, n_draw, seed))


@lru_cache(maxsize=4)
def _planted_values(model: PlantedModel, n_draw: int, seed: int) -> dict[str, Any]:
    hazard, days, lost = [], [], []
    for i, start in enumerate(range(0, n_draw, PLANTED_CHUNK)):
        _rng, draw = _draw_planted([seed, i], min(PLANTED_CHUNK, n_draw - start), model)
        hazard.append(np.exp(model.log_rate + synthetic._linear_predictor(draw.cov)))
        lost.append(~np.isnan(draw.loss_days))
        days.append(np.where(lost[-1], draw.loss_days, draw.fu_days))
    latent = _planted_median_latent(np.concatenate(hazard), model.shape)
    median = (round(latent * DAYS_PER_MONTH) + 1) / DAYS_PER_MONTH
    km_limit = synthetic._km_median(np.concatenate(days), np.concatenate(lost))
    return {
        "log_hr": {t: float(synthetic.LOG_HR[t]) for t in TERMS},
        "hr": {t: math.exp(synthetic.LOG_HR[t]) for t in TERMS},
        "median": float(median),
        "median_latent": float(latent),
        "km_limit": float(km_limit),
        "n_draw": n_draw,
    }


# --- one replicate --------------------------------------------------------------------------

def analyse(cohort: pd.DataFrame, alpha: float = ALPHA) -> dict[str, Any]:
    """The estimates the simulation study compares with the planted values, for one cohort:
    notebook 02's multivariable Cox model of the four factors and KM median RBC-TI duration.

    Returns `n`, `events`, `estimable`, `note` (why the model could not be fitted, else None),
    `terms` (per term: term, log_hr, se, hr, ci_low, ci_high, p; empty if not estimable) and
    `median` (estimate, ci_low, ci_high in months; None where not reached).
    """
    a = analysis_table(cohort)
    km = km_summary(a, "ti_months", "ti_lost", landmarks=(), alpha=alpha)
    out: dict[str, Any] = {"n": km.n, "events": km.events, "estimable": True, "note": None,
                           "terms": []}
    try:
        fit = cox_fit(a, "ti_months", "ti_lost", list(TERMS), alpha=alpha)
    except ModelNotEstimable as err:
        out.update(estimable=False, note=err.reason)
    else:
        out["terms"] = [
            {"term": r["term"], "log_hr": float(r["coef"]), "se": float(r["se"]),
             "hr": float(r["hr"]), "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
             "p": float(r["p"])}
            for r in fit.table.to_dict("records")]
    out["median"] = {"estimate": km.median, "ci_low": km.median_ci[0],
                     "ci_high": km.median_ci[1]}
    return out


def replicate(seed: int, n: int = synthetic.TARGETS.n, model: PlantedModel = PLANTED,
              alpha: float = ALPHA) -> dict[str, Any]:
    """Draw one cohort of `n` from the planted model with `seed` and analyse it (`analyse`).

    Deterministic: the same seed, n and model give identical numbers. The result (plain
    JSON-friendly values) carries its `seed`.
    """
    return {"seed": int(seed), **analyse(simulate_cohort(seed, n, model), alpha=alpha)}


# --- summary --------------------------------------------------------------------------------

def _mean(values: Sequence[float]) -> float:
    """Exactly rounded mean (math.fsum): independent of the order of the values."""
    return math.fsum(values) / len(values)


def _sd(values: Sequence[float]) -> float | None:
    """Sample SD (n - 1), order-independent; None for fewer than two values."""
    if len(values) < 2:
        return None
    m = _mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def _share(flags: Sequence[bool]) -> tuple[float | None, float | None]:
    """Share of True and its Monte Carlo SE sqrt(p (1 - p) / R)."""
    if not flags:
        return None, None
    p = sum(flags) / len(flags)
    return p, math.sqrt(p * (1 - p) / len(flags))


def _term_summary(term: str, beta: float, rows: list[dict], alpha: float) -> dict[str, Any]:
    r = len(rows)
    est = [row["log_hr"] for row in rows]
    se = [row["se"] for row in rows]
    out: dict[str, Any] = {"term": term, "planted_log_hr": beta, "planted_hr": math.exp(beta),
                           "estimable": r}
    if r == 0:
        return {**out, **dict.fromkeys(
            ("mean_log_hr", "mean_hr", "bias_log_hr", "bias", "bias_mcse", "empirical_se",
             "empirical_se_mcse", "mean_model_se", "coverage", "coverage_mcse", "power",
             "power_mcse"))}
    mean = _mean(est)
    emp = _sd(est)
    coverage, coverage_mcse = _share([row["ci_low"] <= math.exp(beta) <= row["ci_high"]
                                      for row in rows])
    power, power_mcse = _share([row["p"] < alpha for row in rows])
    return {
        **out,
        "mean_log_hr": mean,
        "mean_hr": math.exp(mean),
        "bias_log_hr": mean - beta,
        "bias": (mean - beta) / beta if beta else None,
        "bias_mcse": (emp / math.sqrt(r) / abs(beta) if beta and emp is not None else None),
        "empirical_se": emp,
        "empirical_se_mcse": None if emp is None else emp / math.sqrt(2 * (r - 1)),
        "mean_model_se": _mean(se),
        "coverage": coverage,
        "coverage_mcse": coverage_mcse,
        "power": power,
        "power_mcse": power_mcse,
    }


def _middle(values: Sequence[float]) -> float | None:
    """Median of sorted `values` (+inf allowed); None when it is not finite."""
    r = len(values)
    if r == 0:
        return None
    mid = values[r // 2] if r % 2 else (values[r // 2 - 1] + values[r // 2]) / 2
    return mid if math.isfinite(mid) else None


def _median_summary(planted: float, km_limit: float | None, rows: list[dict]) -> dict[str, Any]:
    # a median (or CI limit) that is not reached lies beyond the follow-up: +infinity
    values = sorted(math.inf if row["estimate"] is None else row["estimate"] for row in rows)
    reached = [v for v in values if math.isfinite(v)]
    r, n_reached = len(values), len(reached)
    middle = _middle(values)
    # distribution-free 95% interval of that median (order statistics), and MC SE from it
    half = 1.959964 * math.sqrt(r) / 2
    lo_rank, hi_rank = max(1, math.floor(r / 2 - half)), min(r, math.ceil(1 + r / 2 + half))
    band = (values[lo_rank - 1], values[hi_rank - 1]) if r else (math.inf, math.inf)
    mcse = (band[1] - band[0]) / (2 * 1.959964) if r > 1 and math.isfinite(band[1]) else None
    mean = _mean(reached) if reached else None
    emp = _sd(reached)
    coverage, coverage_mcse = _share([
        row["ci_low"] is not None and row["ci_low"] <= planted
        and (row["ci_high"] is None or planted <= row["ci_high"]) for row in rows])
    return {
        "planted_months": planted,
        "km_limit_months": km_limit,
        "replicates": r,
        "not_reached": r - n_reached,
        "median_months": middle,
        "median_months_ci": [None if not math.isfinite(v) else v for v in band] if r else
        [None, None],
        "bias": None if middle is None else middle / planted - 1,
        "bias_mcse": None if mcse is None else mcse / planted,
        "bias_vs_km_limit": None if middle is None or not km_limit else middle / km_limit - 1,
        "mean_months_reached": mean,
        "empirical_se": emp,
        "empirical_se_mcse": None if emp is None or n_reached < 2 else
        emp / math.sqrt(2 * (n_reached - 1)),
        "coverage": coverage,
        "coverage_mcse": coverage_mcse,
    }


DEFINITIONS = {
    "mean_hr": "exp(mean of the estimated log-HRs): the geometric mean HR",
    "bias": "relative bias of the log-HR: (mean estimated log-HR - planted log-HR) / planted "
            "log-HR; positive = estimates further from HR 1 than planted",
    "bias_log_hr": "mean estimated log-HR - planted log-HR",
    "empirical_se": "SD (n - 1) of the estimated log-HRs across replicates",
    "mean_model_se": "mean of the model (Wald) SEs of the log-HR",
    "coverage": "share of replicates whose 95% CI contains the planted HR",
    "power": "share of replicates with p < 0.05",
    "mcse": "Monte Carlo SEs (Morris et al. 2019): coverage and power sqrt(p (1 - p) / R); "
            "bias empirical_se / sqrt(R) / |planted log-HR|; empirical SE "
            "empirical_se / sqrt(2 (R - 1))",
    "median": "KM median RBC-TI duration. median_months: median over replicates of the KM "
              "median (one not reached counts as +infinity), with a distribution-free 95% "
              "interval (order statistics) and bias = median_months / planted - 1 (bias_mcse "
              "from that interval); mean_months_reached and empirical_se (SD, months) only "
              "over replicates where the median was reached; coverage of the "
              "Brookmeyer-Crowley 95% CI (an upper limit not reached counts as +infinity); "
              "planted = median of the latent time to loss of TI under the planted model; "
              "km_limit = the KM median's large-sample value under the generator's censoring",
}
"""What each summary key means (goes into results.json with the numbers)."""


def summarise(replicates: Iterable[Mapping[str, Any]], planted: Mapping[str, Any],
              alpha: float = ALPHA) -> dict[str, Any]:
    """Bias, SEs, coverage and power of the replicates against the planted values.

    `replicates`: results of `replicate` (in any order: they are sorted by seed and summed
    exactly, so the summary does not depend on the order a workflow gathers them in).
    `planted`: `planted_values()` or any mapping with `log_hr` (term -> planted log-HR),
    `median` (planted median, months) and optionally `km_limit`.

    Per term (`terms`, in the order of `planted["log_hr"]`), over the replicates whose model
    was estimable (`estimable` of them):
    - `planted_hr` = exp(planted log-HR); `mean_hr` = exp(mean estimated log-HR), the
      geometric mean HR (not the mean of the HRs, which exceeds it by Jensen's inequality);
    - `bias` = relative bias of the log-HR, (mean log-HR - planted) / planted: +0.10 means
      the estimates are on average 10% further from HR = 1 than planted (away from the null),
      -0.10 shrunk towards it; `bias_log_hr` = mean log-HR - planted log-HR;
    - `empirical_se` = SD (n - 1) of the log-HR estimates; `mean_model_se` = mean Wald SE;
    - `coverage` = share of 95% CIs containing the planted HR; `power` = share with p < alpha;
    - Monte Carlo SEs: `coverage_mcse`, `power_mcse` = sqrt(p (1 - p) / R); `bias_mcse` =
      empirical_se / sqrt(R) / |planted log-HR|; `empirical_se_mcse` = empirical_se /
      sqrt(2 (R - 1)).
    `median`: the KM median against the planted median. A replicate's median is often not
    reached (the planted median is beyond the median follow-up), so a mean over the reached
    ones is biased downwards; the summary is the median over replicates instead:
    `median_months` (not reached counts as +infinity; None if that is the middle value), its
    distribution-free 95% interval `median_months_ci` (order statistics R/2 -+ 1.96 sqrt(R)/2),
    `bias` = median_months / planted - 1 with `bias_mcse` = interval width / 3.92 / planted,
    `bias_vs_km_limit` against the KM median's large-sample value `km_limit_months`;
    `not_reached` counts, `mean_months_reached` and `empirical_se` (SD, months) describe the
    replicates where it was reached; `coverage` of the 95% CI (an upper limit not reached
    counts as +infinity) with `coverage_mcse`.
    """
    reps = sorted(replicates, key=lambda r: r["seed"])
    seeds = [r["seed"] for r in reps]
    if len(set(seeds)) != len(seeds):
        raise ValueError("replicates with the same seed: each seed must be run once")
    log_hr = dict(planted["log_hr"])
    fitted = [r for r in reps if r["estimable"]]
    terms = []
    for term, beta in log_hr.items():
        rows = [next(t for t in r["terms"] if t["term"] == term) for r in fitted]
        terms.append(_term_summary(term, float(beta), rows, alpha))
    return {
        "replicates": len(reps),
        "estimable": len(fitted),
        "seeds": [seeds[0], seeds[-1]] if seeds else [],
        "n": reps[0]["n"] if reps and len({r["n"] for r in reps}) == 1 else None,
        "mean_events": _mean([r["events"] for r in reps]) if reps else None,
        "alpha": alpha,
        "terms": terms,
        "median": _median_summary(float(planted["median"]), planted.get("km_limit"),
                                  [r["median"] for r in reps]),
        "definitions": DEFINITIONS,
    }


def run(seeds: Iterable[int] | None = None, n: int = synthetic.TARGETS.n,
        model: PlantedModel = PLANTED, alpha: float = ALPHA) -> dict[str, Any]:
    """Replicate every seed (default: `DEFAULT_REPLICATES` seeds from `FIRST_SEED`) and
    summarise them against `planted_values(model)`; the planted model goes along as `model`."""
    seeds = range(FIRST_SEED, FIRST_SEED + DEFAULT_REPLICATES) if seeds is None else seeds
    reps = [replicate(s, n, model, alpha) for s in seeds]
    summary = summarise(reps, planted_values(model), alpha)
    return {**summary, "model": {**asdict(model), "log_hr": dict(synthetic.LOG_HR)}}


# --- as workflow jobs ---------------------------------------------------------------------

def code_sha256() -> str:
    """One hash of `code_files()`: a stored summary is current only for the code that made
    it (a notebook run by hand recomputes rather than show a stale one)."""
    digest = hashlib.sha256()
    for path in code_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def write_batch(first: int, last: int, path: str | Path, alpha: float = ALPHA) -> None:
    """Run the replicates of seeds first..last (one workflow job) into `path`."""
    write_json(path, [replicate(s, alpha=alpha) for s in range(first, last + 1)], indent=1,
               allow_nan=False)


def _summary(reps: list[dict[str, Any]], alpha: float) -> dict[str, Any]:
    """`summarise` against the planted values, with the planted model and the code's hash:
    what summary.json holds."""
    return {**summarise(reps, planted_values(), alpha),
            "model": {**asdict(PLANTED), "log_hr": dict(synthetic.LOG_HR)},
            "code_sha256": code_sha256()}


def write_summary(batch_files: Iterable[str | Path], out: str | Path,
                  alpha: float = ALPHA) -> dict[str, Any]:
    """Summarise the batches into `out`/summary.json (`run`'s result plus the code hash)
    and `out`/replicates.json (every replicate, by seed); return the summary."""
    reps = [r for path in batch_files for r in json.loads(Path(path).read_text())]
    summary = _summary(reps, alpha)
    out = Path(out)
    write_json(out / "replicates.json", sorted(reps, key=lambda r: r["seed"]), indent=1,
               allow_nan=False)
    write_json(out / "summary.json", summary, indent=1, allow_nan=False)
    return summary


def load(replicates: int = DEFAULT_REPLICATES, first_seed: int = FIRST_SEED,
         alpha: float = ALPHA) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary, replicates) of the study: the workflow's, where it made them with this code,
    these seeds and alpha; otherwise computed here (a notebook run by hand)."""
    folder = results_dir(replicates, first_seed)
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        reps = json.loads((folder / "replicates.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary, reps = None, None
    wanted = {"replicates": replicates, "alpha": alpha, "code_sha256": code_sha256(),
              "seeds": [first_seed, first_seed + replicates - 1]}
    if summary is None or {k: summary.get(k) for k in wanted} != wanted:
        reps = [replicate(s, alpha=alpha) for s in range(first_seed, first_seed + replicates)]
        summary = _summary(reps, alpha)
    return summary, reps


def table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The summary as an appendix table: one row per term (HRs; `recovered` = geometric mean
    HR, `bias` = relative bias of the log-HR) and one for the KM median (months; `recovered` =
    median over replicates, `bias` = relative bias of that median)."""
    rows = [{"term": t["term"], "planted": t["planted_hr"], "recovered": t["mean_hr"],
             "bias": t["bias"], "empirical_se": t["empirical_se"],
             "mean_model_se": t["mean_model_se"], "coverage": t["coverage"],
             "power": t["power"]} for t in summary["terms"]]
    m = summary["median"]
    rows.append({"term": "km_median_months", "planted": m["planted_months"],
                 "recovered": m["median_months"], "bias": m["bias"],
                 "empirical_se": m["empirical_se"], "mean_model_se": None,
                 "coverage": m["coverage"], "power": None})
    return pd.DataFrame(rows)


__all__ = [
    "BATCH_SIZE", "DEFAULT_REPLICATES", "PLANTED", "TERMS", "PlantedModel", "analyse",
    "batches", "calibrate_planted", "code_sha256", "load", "planted_values", "replicate",
    "results_dir", "run", "simulate_cohort", "summarise", "table", "write_batch",
    "write_summary",
]
