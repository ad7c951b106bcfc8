"""The calibrated synthetic cohort: a stand-in for the private registry extract.

Patients are simulated from a proportional-hazards model in which low transfusion burden,
>= 12 LEN cycles, younger age and higher Hb at withdrawal lengthen RBC-TI; deaths, AML and
censoring are simulated too. Three scale parameters are then calibrated by bisection so that
the published figures are met: the follow-up window (reverse-KM median 49 months), the baseline
hazard (50 losses of TI) and its Weibull shape (KM median 56 months). Counts the paper gives
exactly (reasons 70/38/9/1, 30 re-evaluations with 22 CCyR losses, 48 re-treated, 28 regained)
are assigned exactly. For the shipped 118 patients, seeds are tried in order from
`SYNTHETIC_SEED` until the multivariable Cox model also shows all four published factors
(p < 0.05, published direction); the seed kept is written in the data card.

The cohort meets the IWG definitions the analysis applies (`lenstop.cohort.derive`): every patient
stopped LEN at least 8 weeks (56 days) into RBC-TI, and every regained RBC-TI lasts at least 8
weeks of observation, so no patient is excluded and every recorded response counts. It also
exercises the optional columns of a real registry, drawn after everything the calibration
depends on (so they move no published figure): a few patients restarted LEN while still in
RBC-TI (with the reason), a few received a later disease-modifying therapy, and a few dates
have no day (written YYYY-MM in the CSV, read as the 15th and flagged).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lenstop.cohort.derive import MIN_TI_DAYS
from lenstop.config import DAYS_PER_MONTH, SYNTHETIC_SEED
from lenstop.ingest.schema import (
    COLUMNS,
    DATE_COLUMNS,
    DAY_UNKNOWN_DAY,
    IMPUTED_FLAGS,
    imputed_flag,
)


@dataclass(frozen=True)
class Targets:
    """Published figures the shipped cohort reproduces (scaled proportionally for other n)."""

    n: int = 118
    reasons: tuple[tuple[str, int], ...] = (
        ("intolerance", 70), ("physician", 38), ("patient", 9), ("unknown", 1))
    ti_lost: int = 50
    ti_median_months: float = 56.0
    followup_median_months: float = 49.0
    ccyr_reevaluated: int = 30
    ccyr_lost: int = 22
    retreated: int = 48
    regained: int = 28


TARGETS = Targets()

# Assumed (not published) data-generating values; the data card explains each.
CUTOFF_DATE = pd.Timestamp("2022-12-31")
"""Data cut-off of the synthetic registry (the paper was submitted in 2024)."""
P_FEMALE = 0.70
AGE_MEAN, AGE_SD = 73.0, 8.0
IPSSR = {"very_low": 0.25, "low": 0.60, "intermediate": 0.15}
P_ISOLATED = 0.85
P_LTB = 0.45
P_CCYR = {"yes": 0.45, "no": 0.20, "not_assessed": 0.35}
DOSES = {2.5: 0.15, 5.0: 0.55, 10.0: 0.30}
LOG_HR = {"ltb": -1.0, "cycles_ge_cutoff": -1.0, "age_per10": 0.55, "hb": -0.5}
"""True log hazard ratios of loss of TI: LTB, >= 12 cycles, per 10 years of age, per g/dL Hb."""
DEATH_RATE_PER_MONTH = 0.0065
"""Baseline monthly death hazard at age 73 (about 9 years median survival), x1.7 per decade."""
MAX_SEED_TRIES = 400
RESTARTS_IN_TI = {"cytogenetic_relapse": 2, "falling_hb": 1, "other": 1}
"""LEN restarted while still in RBC-TI, by reason (assumed), among patients who keep RBC-TI:
after a cytogenetic re-evaluation that found del(5q) again, or partway through follow-up."""
LATER_THERAPY = (
    # (dmt_type, who, date after which: anchor column, days from, days to)
    ("esa", "lost RBC-TI, not re-treated", "ti_loss_date", 14, 120, 2),
    ("luspatercept", "re-treated, RBC-TI not regained, no AML", "len_retreat_date", 112, 240,
     3),
    ("hma", "progressed to AML", "aml_date", 7, 45, 1),
    ("allo_hsct", "progressed to AML, under 70", "aml_date", 60, 150, 1),
    ("esa", "still in RBC-TI", "len_stop_date", 180, 1500, 1),
    ("other", "still in RBC-TI", "len_stop_date", 180, 1500, 1),
)
"""The first later disease-modifying therapy (assumed): type, the patients it is drawn from,
its start (days after the anchor date, within follow-up) and how many patients (at n = 118)."""
DAY_UNKNOWN = {"cyto_reeval_date": 2, "aml_date": 2, "dmt_start_date": 2}
"""Dates recorded without their day (assumed; at n = 118): outside results, progression and
treatment elsewhere are the dates registries most often hold only to the month."""
PLAIN_FIRST = 12
"""The earliest discontinuations (the first CSV rows) carry none of the optional features, so
that the first rows are a plain extract of the required columns (tests break them one rule at a
time)."""


def _exact_counts(total: int, parts: dict[str, int] | tuple, n: int) -> dict[str, int]:
    """Published counts for n = published total; proportional (largest remainder) otherwise."""
    parts = dict(parts)
    if n == total:
        return parts
    raw = {k: v * n / total for k, v in parts.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - out[k], reverse=True)[: n - sum(out.values())]:
        out[k] += 1
    return out


def _scaled(count: int, n: int, total: int = TARGETS.n) -> int:
    return count if n == total else round(count * n / total)


def _km_median(days: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median (lifelines), in months."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(days / DAYS_PER_MONTH, event)
    return float(kmf.median_survival_time_)


def _bisect(fn, lo: float, hi: float, target: float, steps: int = 60) -> float:
    """Smallest x in [lo, hi] with fn(x) >= target for a nondecreasing fn."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        if fn(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def _covariates(rng: np.random.Generator, n: int) -> pd.DataFrame:
    d = pd.DataFrame(index=range(n))
    reasons = _exact_counts(TARGETS.n, TARGETS.reasons, n)
    d["stop_reason"] = rng.permutation(np.repeat(list(reasons), list(reasons.values())))
    d["sex"] = np.where(rng.random(n) < P_FEMALE, "F", "M")
    d["age_at_len_stop"] = np.clip(rng.normal(AGE_MEAN, AGE_SD, n), 45, 95).round(1)
    d["ipssr"] = rng.choice(list(IPSSR), n, p=list(IPSSR.values()))
    d["karyotype"] = np.where(rng.random(n) < P_ISOLATED, "isolated_del5q", "del5q_plus1")
    ltb = rng.random(n) < P_LTB
    d["tb_units_8wk_pre_len"] = np.where(
        ltb, rng.choice([1.5, 2.0, 2.5, 3.0, 3.5], n),
        np.minimum(4.0 + rng.gamma(2.0, 1.0, n), 14.0)).round(1)
    d["len_cycles"] = np.clip(np.exp(rng.normal(math.log(20), 0.75, n)), 3, 150).round()
    d["len_cycles"] = d["len_cycles"].astype(int)
    d["len_dose_at_stop_mg"] = rng.choice(list(DOSES), n, p=list(DOSES.values()))
    d["hb_at_stop_g_dl"] = np.clip(rng.normal(12.3, 1.2, n), 9.0, 16.0).round(1)
    d["anc_at_stop"] = np.clip(np.exp(rng.normal(math.log(1.7), 0.45, n)), 0.3, 8).round(2)
    d["plt_at_stop"] = np.clip(np.exp(rng.normal(math.log(190), 0.45, n)), 20, 900).round()
    d["ccyr_at_stop"] = rng.choice(list(P_CCYR), n, p=list(P_CCYR.values()))
    d["centre"] = [f"Centre {c:02d}" for c in rng.integers(1, 25, n)]
    return d


def _linear_predictor(d: pd.DataFrame) -> np.ndarray:
    x = {
        "ltb": (d["tb_units_8wk_pre_len"] < 4.0).astype(float),
        "cycles_ge_cutoff": (d["len_cycles"] >= 12).astype(float),
        "age_per10": (d["age_at_len_stop"] - AGE_MEAN) / 10,
        "hb": d["hb_at_stop_g_dl"] - 12.3,
    }
    return sum(LOG_HR[k] * x[k].to_numpy() for k in LOG_HR)


@dataclass
class _Draw:
    """One seed's random draws and the calibrated times (in days from discontinuation)."""

    cov: pd.DataFrame
    u_loss: np.ndarray
    death_days: np.ndarray
    window: np.ndarray
    potential_days: np.ndarray | None = None
    fu_days: np.ndarray | None = None
    died: np.ndarray | None = None
    loss_days: np.ndarray | None = None


def _draw(rng: np.random.Generator, n: int) -> _Draw:
    cov = _covariates(rng, n)
    age_factor = 1.7 ** ((cov["age_at_len_stop"].to_numpy() - AGE_MEAN) / 10)
    death_months = rng.exponential(1 / (DEATH_RATE_PER_MONTH * age_factor))
    return _Draw(cov, rng.random(n), np.round(death_months * DAYS_PER_MONTH) + 1,
                 rng.uniform(0.12, 1.0, n))


def _calibrate_followup(draw: _Draw, target_months: float) -> None:
    """Scale the follow-up window so the reverse-KM median follow-up meets the target."""

    def fu(scale: float):
        potential = np.round(draw.window * scale * DAYS_PER_MONTH)
        days = np.minimum(potential, draw.death_days)
        return days, draw.death_days <= potential

    def median(scale: float) -> float:
        days, died = fu(scale)
        m = _km_median(days, ~died)
        return m if math.isfinite(m) else 1e9

    scale = _bisect(median, 10, 400, target_months)
    draw.fu_days, draw.died = fu(scale)
    draw.potential_days = np.round(draw.window * scale * DAYS_PER_MONTH)


def _loss_days(draw: _Draw, lp: np.ndarray, shape: float, log_rate: float) -> np.ndarray:
    # Weibull PH: S(t) = exp(-exp(log_rate + lp) t^shape), t in months
    months = (-np.log(draw.u_loss) / np.exp(log_rate + lp)) ** (1 / shape)
    return np.round(months * DAYS_PER_MONTH) + 1


def _calibrate_loss(draw: _Draw, events: int, median_target: float) -> float:
    """Pick the Weibull shape (grid) and rate (bisection) giving `events` and the KM median."""
    lp = _linear_predictor(draw.cov)
    best = None
    for shape in np.arange(0.55, 1.80, 0.025):
        def n_events(log_rate: float, shape=shape) -> float:
            return float(np.sum(_loss_days(draw, lp, shape, log_rate) <= draw.fu_days))

        log_rate = _bisect(n_events, -20, 5, events)
        loss = _loss_days(draw, lp, shape, log_rate)
        lost = loss <= draw.fu_days
        if lost.sum() != events:
            continue
        median = _km_median(np.where(lost, loss, draw.fu_days), lost)
        gap = abs(median - median_target) if math.isfinite(median) else math.inf
        if best is None or gap < best[0]:
            best = (gap, shape, log_rate)
    _gap, shape, log_rate = best
    loss = _loss_days(draw, lp, shape, log_rate)
    draw.loss_days = np.where(loss <= draw.fu_days, loss, np.nan)
    return best[0]


def _pick(rng: np.random.Generator, pool: np.ndarray, k: int,
          weights: np.ndarray | None = None) -> np.ndarray:
    """k distinct indices from `pool` (weighted); all of them if the pool is smaller."""
    if k >= len(pool):
        return pool
    p = None if weights is None else weights / weights.sum()
    return np.sort(rng.choice(pool, size=k, replace=False, p=p))


def _pool(strict: np.ndarray, loose: np.ndarray, k: int) -> np.ndarray:
    """Indices meeting `strict`, or `loose` where fewer than k meet it (large cohorts)."""
    idx = np.flatnonzero(strict)
    return idx if len(idx) >= k else np.flatnonzero(loose)


def _assemble(rng: np.random.Generator, draw: _Draw, n: int) -> pd.DataFrame:
    d = draw.cov.copy()
    # Discontinuation dates: each patient's follow-up window ends at the last contact before
    # the data cut-off (up to 8 months before it: visits are not all on the cut-off day).
    last_contact_gap = rng.integers(0, 240, n)
    stop = pd.Series(CUTOFF_DATE - pd.to_timedelta(draw.potential_days + last_contact_gap,
                                                   unit="D"), index=d.index)
    d["len_stop_date"] = stop
    on_len_days = d["len_cycles"].to_numpy() * 28 * rng.uniform(1.0, 1.25, n)
    d["len_start_date"] = stop - pd.to_timedelta(np.round(on_len_days), unit="D")
    # RBC-TI began 5-21 weeks into LEN, and at least 8 weeks before LEN was stopped (IWG)
    to_ti = np.minimum(rng.uniform(35, 150, n), on_len_days - MIN_TI_DAYS)
    d["ti_start_date"] = d["len_start_date"] + pd.to_timedelta(np.round(to_ti), unit="D")
    end = stop + pd.to_timedelta(draw.fu_days, unit="D")
    d["death_date"] = end.where(draw.died)
    d["last_followup_date"] = end
    lost = ~np.isnan(draw.loss_days)
    loss = stop + pd.to_timedelta(np.nan_to_num(draw.loss_days), unit="D")
    d["ti_loss_date"] = loss.where(lost)
    fu_after_loss = (end - loss).dt.days.to_numpy()

    # Re-treatment with LEN: among losses with time to start it, prefer longer remaining follow-up
    n_retreat = _scaled(TARGETS.retreated, n)
    pool = _pool(lost & (fu_after_loss >= 120), lost & (fu_after_loss >= 8), n_retreat)
    retreated = _pick(rng, pool, n_retreat, weights=np.minimum(fu_after_loss[pool], 720.0))
    gap = np.minimum(np.round(rng.gamma(2.0, 20.0, n)) + 7, np.maximum(fu_after_loss - 1, 0))
    retreat = loss + pd.to_timedelta(gap, unit="D")
    is_re = np.zeros(n, bool)
    is_re[retreated] = True
    d["len_retreat_date"] = retreat.where(is_re)
    n_regain = _scaled(TARGETS.regained, n)
    room = (end - retreat).dt.days.to_numpy()
    regain_pool = retreated[_pool(room[retreated] >= 100, room[retreated] > MIN_TI_DAYS,
                                  n_regain)]
    regained = _pick(rng, regain_pool, n_regain)
    is_rg = np.zeros(n, bool)
    is_rg[regained] = True
    d["retreat_ti_regained"] = pd.Series(np.where(is_rg, "yes", "no")).where(is_re)
    # the regained RBC-TI is observed for at least 8 weeks: it starts 8 weeks or more before
    # the end of follow-up and is not lost within 8 weeks (IWG)
    to_regain = np.minimum(np.round(rng.uniform(30, 120, n)),
                           np.maximum(room - MIN_TI_DAYS, 0))
    regain = retreat + pd.to_timedelta(to_regain, unit="D")
    d["retreat_ti_date"] = regain.where(is_rg)
    second = np.round(rng.exponential(22 * DAYS_PER_MONTH, n)) + MIN_TI_DAYS
    second_loss = regain + pd.to_timedelta(second, unit="D")
    d["retreat_ti_loss_date"] = second_loss.where(is_rg & (second_loss <= end))

    # Cytogenetic re-evaluation of patients in CCyR at withdrawal; CCyR loss likelier after TI loss
    in_ccyr = np.flatnonzero((d["ccyr_at_stop"] == "yes").to_numpy() & (draw.fu_days >= 240))
    n_reeval = _scaled(TARGETS.ccyr_reevaluated, n)
    reeval = _pick(rng, in_ccyr, n_reeval)
    reeval_days = np.round(rng.uniform(180, np.maximum(np.minimum(draw.fu_days, 1800), 181)))
    reeval_date = stop + pd.to_timedelta(reeval_days, unit="D")
    is_ev = np.zeros(n, bool)
    is_ev[reeval] = True
    d["cyto_reeval_date"] = reeval_date.where(is_ev)
    lost_before = (lost & (loss <= reeval_date)).to_numpy()
    n_ccyr_lost = _scaled(TARGETS.ccyr_lost, n)
    ccyr_lost = _pick(rng, reeval, n_ccyr_lost, weights=np.where(lost_before[reeval], 4.0, 1.0))
    d["ccyr_lost"] = pd.Series(np.where(np.isin(np.arange(n), ccyr_lost), "yes", "no")).where(
        is_ev)

    # AML progression: about 8%, mostly after loss of TI, before the end of follow-up
    aml_pool = np.flatnonzero(lost & (fu_after_loss >= 60))
    aml = _pick(rng, aml_pool, round(0.08 * n))
    aml_days = np.round(rng.uniform(0.2, 0.9, n) * np.maximum(fu_after_loss, 0))
    aml_date = loss + pd.to_timedelta(aml_days, unit="D")
    is_aml = np.zeros(n, bool)
    is_aml[aml] = True
    d["aml_date"] = aml_date.where(is_aml)

    # The optional columns, drawn last from the same stream so that nothing above changes
    plain = np.zeros(n, bool)
    plain[np.argsort(stop.to_numpy(), kind="stable")[:PLAIN_FIRST]] = True
    restarted = _restarts_in_ti(rng, d, end, lost, plain, n)
    _later_therapy(rng, d, end, plain | restarted, n)
    _day_unknown(rng, d, plain, n)
    return d


def _after(anchor: pd.Series, end: pd.Series, lo: int, hi: int, u: np.ndarray
           ) -> tuple[pd.Series, np.ndarray]:
    """A date `lo` to `hi` days after `anchor` and not after `end` (u uniform in [0, 1)), and
    where there is room for it."""
    room = (end - anchor).dt.days.to_numpy(dtype=float)
    fits = np.nan_to_num(room, nan=-1) >= lo
    span = np.maximum(np.minimum(hi, np.nan_to_num(room, nan=lo)) - lo, 0)
    days = lo + np.floor(u * (span + 1))
    return anchor + pd.to_timedelta(days, unit="D"), fits


def _restarts_in_ti(rng: np.random.Generator, d: pd.DataFrame, end: pd.Series,
                    lost: np.ndarray, plain: np.ndarray, n: int) -> np.ndarray:
    """LEN restarted without a loss of RBC-TI (`RESTARTS_IN_TI`); returns who."""
    stop = d["len_stop_date"]
    d["retreat_without_loss_reason"] = pd.Series(np.nan, index=d.index, dtype=object)
    fu = (end - stop).dt.days.to_numpy()
    free = ~lost & ~plain & (fu >= 400)
    after_reeval, room = _after(d["cyto_reeval_date"], end, 14, 60, rng.random(n))
    relapsed = free & d["ccyr_lost"].eq("yes").to_numpy() & room
    midway = stop + pd.to_timedelta(np.round(rng.uniform(0.3, 0.7, n) * fu), unit="D")
    taken = np.zeros(n, bool)
    for reason, count in RESTARTS_IN_TI.items():
        cytogenetic = reason == "cytogenetic_relapse"
        chosen = _pick(rng, np.flatnonzero((relapsed if cytogenetic else free) & ~taken),
                       _scaled(count, n))
        taken[chosen] = True
        d.loc[chosen, "len_retreat_date"] = (after_reeval if cytogenetic else midway)[chosen]
        d.loc[chosen, "retreat_without_loss_reason"] = reason
    return taken


def _later_therapy(rng: np.random.Generator, d: pd.DataFrame, end: pd.Series,
                   barred: np.ndarray, n: int) -> None:
    """The first later disease-modifying therapy of a few patients (`LATER_THERAPY`)."""
    d["dmt_type"] = pd.Series(np.nan, index=d.index, dtype=object)
    d["dmt_start_date"] = pd.Series(pd.NaT, index=d.index, dtype="datetime64[ns]")
    lost = d["ti_loss_date"].notna().to_numpy()
    retreated = d["len_retreat_date"].notna().to_numpy() & ~d[
        "retreat_without_loss_reason"].notna().to_numpy()
    pools = {
        "lost RBC-TI, not re-treated": lost & ~retreated,
        "re-treated, RBC-TI not regained, no AML": retreated & d["retreat_ti_regained"].eq(
            "no").to_numpy() & d["aml_date"].isna().to_numpy(),
        "progressed to AML": d["aml_date"].notna().to_numpy(),
        "progressed to AML, under 70": d["aml_date"].notna().to_numpy()
        & (d["age_at_len_stop"] < 70).to_numpy(),
        "still in RBC-TI": ~lost & ~d["len_retreat_date"].notna().to_numpy(),
    }
    taken = barred.copy()
    for kind, who, anchor, lo, hi, count in LATER_THERAPY:
        start, fits = _after(d[anchor], end, lo, hi, rng.random(n))
        chosen = _pick(rng, np.flatnonzero(pools[who] & fits & ~taken), _scaled(count, n))
        taken[chosen] = True
        d.loc[chosen, "dmt_type"] = kind
        d.loc[chosen, "dmt_start_date"] = start[chosen]


def _day_unknown(rng: np.random.Generator, d: pd.DataFrame, plain: np.ndarray, n: int) -> None:
    """Set a few dates (`DAY_UNKNOWN`) to the 15th of their month, flagged as the validated
    cohort flags a YYYY-MM date, choosing only dates whose move keeps their order with every
    other date of the patient (so no rule, definition or published count changes)."""
    flags = {c: np.zeros(n, bool) for c in DATE_COLUMNS}
    for column, count in DAY_UNKNOWN.items():
        s = d[column]
        mid = s.dt.to_period("M").dt.to_timestamp() + pd.Timedelta(days=DAY_UNKNOWN_DAY - 1)
        ok = s.notna().to_numpy() & ~plain & (s != mid).to_numpy()
        for other in DATE_COLUMNS:
            if other != column:
                o = d[other]
                keeps = np.sign((mid - o).dt.days) == np.sign((s - o).dt.days)
                ok &= (keeps | o.isna()).to_numpy()
        chosen = _pick(rng, np.flatnonzero(ok), _scaled(count, n))
        d.loc[chosen, column] = mid[chosen]
        flags[column][chosen] = True
    for column in DATE_COLUMNS:
        d[imputed_flag(column)] = flags[column]


COLUMN_ORDER = tuple(c.name for c in COLUMNS)
"""The CSV's columns: the data dictionary's, in its order."""


def _finish(d: pd.DataFrame) -> pd.DataFrame:
    order = np.argsort(d["len_stop_date"].to_numpy(), kind="stable")
    d = d.iloc[order].reset_index(drop=True)
    width = max(4, len(str(len(d))))
    d["patient_id"] = [f"SYN-{i + 1:0{width}d}" for i in range(len(d))]
    return d[[*COLUMN_ORDER, *IMPUTED_FLAGS]]


MISSING_SHARE = {"anc_at_stop": 0.04, "plt_at_stop": 0.03, "len_dose_at_stop_mg": 0.03}
"""Share of blanks in laboratory values and dose, as registries have (not in model terms)."""


def _blank_some(d: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Blank a few non-model values so that missing-data handling is exercised."""
    d = d.copy()
    for col, share in MISSING_SHARE.items():
        d.loc[rng.random(len(d)) < share, col] = np.nan
    return d


def _acceptable(d: pd.DataFrame) -> bool:
    """Four published factors significant in the published direction (multivariable Cox)."""
    from lifelines import CoxPHFitter

    from lenstop.cohort.derive import analysis_table

    a = analysis_table(d)
    terms = ["ltb", "cycles_ge_cutoff", "age_per10", "hb"]
    frame = a[["ti_months", "ti_lost", *terms]].astype(float)
    fit = CoxPHFitter().fit(frame, "ti_months", "ti_lost")
    signs = {"ltb": -1, "cycles_ge_cutoff": -1, "age_per10": 1, "hb": -1}
    s = fit.summary
    return all(np.sign(s.loc[t, "coef"]) == signs[t] and s.loc[t, "p"] < 0.05 for t in terms)


def generate(n: int = TARGETS.n, seed: int = SYNTHETIC_SEED,
             search: bool | None = None) -> tuple[pd.DataFrame, int]:
    """Simulate `n` patients; return (cohort with date columns as Timestamps, seed used).

    The cohort has the validated cohort's columns: the dictionary's, then the
    `<column>_imputed` flags (a flagged date is on the 15th and written YYYY-MM in the CSV).

    With `search` (default: only for the published n = 118) seeds are tried from `seed` upwards
    until the calibration is within 0.5 month of both medians and the Cox model shows the four
    published factors; otherwise `seed` is used as it is.
    """
    search = (n == TARGETS.n) if search is None else search
    events = _scaled(TARGETS.ti_lost, n)
    for s in range(seed, seed + (MAX_SEED_TRIES if search else 1)):
        rng = np.random.default_rng(s)
        draw = _draw(rng, n)
        _calibrate_followup(draw, TARGETS.followup_median_months)
        gap = _calibrate_loss(draw, events, TARGETS.ti_median_months)
        d = _finish(_assemble(rng, draw, n))
        if not search or (gap <= 0.5 and _acceptable(d)):
            return _blank_some(d, np.random.default_rng([s, 1])), s
    raise RuntimeError(f"no seed in {seed}..{seed + MAX_SEED_TRIES - 1} met the targets")


def to_csv_text(d: pd.DataFrame) -> str:
    """The cohort as CSV text: ISO dates (YYYY-MM where `<column>_imputed` says the day is
    unknown), blanks for missing, fixed float formatting; the flags are not written."""
    out = d.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            text = out[col].dt.strftime("%Y-%m-%d")
            flag = imputed_flag(col)
            if flag in out.columns:
                text = text.where(~out[flag].astype(bool), out[col].dt.strftime("%Y-%m"))
            out[col] = text
    out = out.drop(columns=[f for f in IMPUTED_FLAGS if f in out.columns])
    return out.to_csv(index=False, lineterminator="\n", na_rep="")
