"""Cox proportional-hazards models (Efron ties) with small-cohort guards.

Fitted by `_efron` (vectorised Newton-Raphson, O(n log n)); estimates equal R's coxph,
statsmodels' PHReg and lifelines' CoxPHFitter (the tests check all three), but 100,000
patients take a fraction of a second instead of seconds.

Terms are columns that are already numeric (0/1 indicators or continuous); use `dummies` for
factors with more than two levels. Every fit is complete-case on the columns it uses and
reports how many rows it dropped. A model the data cannot support raises `ModelNotEstimable`
instead of returning meaningless hazard ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lifelines.statistics import TimeTransformers
from scipy.stats import chi2, norm

from lenstop.config import ALPHA
from lenstop.stats import _efron
from lenstop.stats._efron import EfronFit
from lenstop.stats._util import check_binary, check_durations, complete_cases

MIN_EVENTS_PER_TERM = 5
"""Fewest events per model coefficient for which a Cox (or Fine-Gray) model is fitted.

Below 5 events per coefficient the estimates are badly biased and the confidence intervals
unreliable (Vittinghoff & McCulloch, Am J Epidemiol 2007;165:710-8); such a model raises
`ModelNotEstimable`.
"""

MAX_ABS_STD_LOG_HR = 10.0
"""Largest |log hazard ratio per SD of the term| accepted as a finite estimate.

Larger values mean the likelihood is monotone (separation: e.g. no events in one group) and
the fit stopped on a plateau; the model raises `ModelNotEstimable`.
"""

class ModelNotEstimable(Exception):
    """The data cannot support the requested model; `reason` says why in plain words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


TABLE_COLUMNS = ["term", "coef", "se", "hr", "ci_low", "ci_high", "p", "n", "events"]


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model: tidy `table` (one row per term) plus sample sizes and the fitter."""

    table: pd.DataFrame
    n: int
    events: int
    n_dropped: int
    terms: list[str]
    alpha: float
    fitter: EfronFit = field(repr=False, compare=False)
    data: pd.DataFrame = field(repr=False, compare=False)
    """The complete-case rows the model was fitted on (needed by `ph_test`)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: n, events, n_dropped, alpha and one dict per term."""
        return {
            "n": self.n,
            "events": self.events,
            "n_dropped": self.n_dropped,
            "alpha": self.alpha,
            "terms": _records(self.table),
        }


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Table rows as plain dicts with NaN turned into None."""

    def clean(v):
        return None if isinstance(v, float) and np.isnan(v) else v

    return [{k: clean(v) for k, v in row.items()} for row in table.to_dict(orient="records")]


def dummies(df: pd.DataFrame, col: str, reference: Any, prefix: str | None = None) -> pd.DataFrame:
    """Indicator columns `prefix[level]` for every observed level of `col` except `reference`.

    Level order follows the categorical order when `col` is categorical, otherwise sorted
    order. Rows with `col` missing get NaN in every indicator, so complete-case fitting drops
    them rather than counting them as the reference.
    """
    series = df[col]
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().unique())
        levels = [lv for lv in series.cat.categories if lv in present]
    else:
        levels = sorted(series.dropna().unique(), key=str)
    if reference not in levels:
        raise ValueError(f"reference level {reference!r} not among the levels of '{col}': {levels}")
    name = prefix or col
    missing = series.isna()
    out = {}
    for level in levels:
        if level == reference:
            continue
        ind = (series == level).astype(float)
        ind[missing] = np.nan
        out[f"{name}[{level}]"] = ind
    return pd.DataFrame(out, index=df.index)


def check_estimable(data: pd.DataFrame, event: np.ndarray, terms: Sequence[str]) -> None:
    """Raise `ModelNotEstimable` when the data cannot support a model with these terms.

    Checks: enough events per term (`MIN_EVENTS_PER_TERM`), every term varies, and no 0/1 term
    has all or none of the events in one of its levels (monotone likelihood).
    """
    n_events = int(event.sum())
    needed = MIN_EVENTS_PER_TERM * len(terms)
    if n_events < needed:
        raise ModelNotEstimable(
            f"{n_events} events for {len(terms)} term(s); at least {MIN_EVENTS_PER_TERM} events "
            f"per term ({needed}) are needed"
        )
    for term in terms:
        x = data[term].to_numpy(dtype=float)
        if np.unique(x).size < 2:
            raise ModelNotEstimable(f"term '{term}' has no variation (a single value)")
        if np.isin(x, (0.0, 1.0)).all():
            in_level = event[x == 1].sum()
            if in_level == 0 or in_level == n_events:
                side = "none" if in_level == 0 else "all"
                raise ModelNotEstimable(
                    f"{side} of the events are in the '{term}' = 1 group; the hazard ratio "
                    "is infinite or zero (monotone likelihood)"
                )


def fit_efron(frame: pd.DataFrame, terms: Sequence[str], alpha: float, what: str = "Cox",
              **kwargs) -> EfronFit:
    """`_efron.fit` on `frame` (columns __T, __E or status), non-convergence as ModelNotEstimable.

    Also refuses non-finite or separation-sized estimates (`check_plausible`).
    """
    terms = list(terms)
    x = frame[terms].to_numpy(dtype=float)
    status = frame["__E"].to_numpy() if "__E" in frame else frame["__S"].to_numpy()
    try:
        fit = _efron.fit(x, frame["__T"].to_numpy(dtype=float), status, terms, alpha, **kwargs)
    except (_efron.NotConverged, np.linalg.LinAlgError) as err:
        raise ModelNotEstimable(f"the {what} fit did not converge: {err}") from err
    check_plausible(fit.params_, fit.standard_errors_, x.std(axis=0, ddof=1))
    return fit


def check_plausible(coef: pd.Series, se: pd.Series, sd: np.ndarray) -> None:
    """Raise `ModelNotEstimable` for non-finite estimates or a separation-sized coefficient.

    `sd` is each term's standard deviation in the data; |coef * sd| above `MAX_ABS_STD_LOG_HR`
    means the fit stopped on a plateau of a monotone likelihood.
    """
    c = coef.to_numpy(dtype=float)
    s = se.to_numpy(dtype=float)
    if not (np.isfinite(c).all() and np.isfinite(s).all()):
        raise ModelNotEstimable("the Cox fit returned non-finite coefficients or standard errors")
    worst = np.abs(c * np.asarray(sd, dtype=float))
    if (worst > MAX_ABS_STD_LOG_HR).any():
        term = coef.index[int(np.argmax(worst))]
        raise ModelNotEstimable(
            f"term '{term}' has an implausibly large coefficient (monotone likelihood / separation)"
        )


def cox_fit(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    terms: Sequence[str],
    alpha: float = ALPHA,
) -> CoxResult:
    """Multivariable Cox model; hazard ratios with Wald CIs and p-values, one row per term.

    Complete-case on duration, event and terms (`n_dropped` counts the rows left out).
    Raises `ModelNotEstimable` for too few events per term, a constant term, separation or
    non-convergence.
    """
    terms = list(terms)
    if not terms:
        raise ValueError("at least one term is needed")
    data, dropped = complete_cases(df, [duration_col, event_col, *terms])
    durations = check_durations(data[duration_col], duration_col)
    event = check_binary(data[event_col], event_col)
    frame = pd.DataFrame(
        {"__T": durations, "__E": event, **{t: data[t].to_numpy(dtype=float) for t in terms}},
        index=data.index,
    )
    check_estimable(frame, event, terms)
    cph = fit_efron(frame, terms, alpha)
    table = coef_table(cph, terms, n=len(frame), events=int(event.sum()), ratio="hr")
    return CoxResult(
        table=table,
        n=len(frame),
        events=int(event.sum()),
        n_dropped=dropped,
        terms=terms,
        alpha=alpha,
        fitter=cph,
        data=frame,
    )


def coef_table(
    fitter: EfronFit,
    terms: Sequence[str],
    n: int,
    events: int,
    ratio: str,
    se: pd.Series | None = None,
) -> pd.DataFrame:
    """Tidy per-term table from a fitted lifelines model (optionally with replacement SEs)."""
    coef = fitter.params_.loc[list(terms)].to_numpy(dtype=float)
    se_ = (fitter.standard_errors_ if se is None else se).loc[list(terms)].to_numpy(dtype=float)
    z = norm.ppf(1 - fitter.alpha / 2)
    table = pd.DataFrame(
        {
            "term": list(terms),
            "coef": coef,
            "se": se_,
            ratio: np.exp(coef),
            "ci_low": np.exp(coef - z * se_),
            "ci_high": np.exp(coef + z * se_),
            "p": 2 * norm.sf(np.abs(coef / se_)),
            "n": n,
            "events": events,
        }
    )
    return table


def cox_univariable(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    terms: Sequence[str | Sequence[str]],
    alpha: float = ALPHA,
    not_estimable: str = "raise",
) -> pd.DataFrame:
    """One Cox model per term, stacked; each row carries its own n, events and n_dropped.

    An item of `terms` may be a list of columns fitted together (the dummies of one factor).
    `not_estimable="report"` keeps going past a ModelNotEstimable and writes its reason in the
    `note` column (estimates NaN); the default re-raises it.
    """
    if not_estimable not in ("raise", "report"):
        raise ValueError("not_estimable must be 'raise' or 'report'")
    rows = []
    for item in terms:
        block = [item] if isinstance(item, str) else list(item)
        model = item if isinstance(item, str) else " + ".join(block)
        try:
            res = cox_fit(df, duration_col, event_col, block, alpha=alpha)
        except ModelNotEstimable as err:
            if not_estimable == "raise":
                raise
            sub, dropped = complete_cases(df, [duration_col, event_col, *block])
            rows.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "term": block,
                        "n": len(sub),
                        "events": int(sub[event_col].sum()),
                        "n_dropped": dropped,
                        "note": err.reason,
                    }
                )
            )
            continue
        table = res.table.assign(model=model, n_dropped=res.n_dropped, note=None)
        rows.append(table)
    out = pd.concat(rows, ignore_index=True)
    return out.reindex(columns=["model", *TABLE_COLUMNS, "n_dropped", "note"])


def ph_test(result: CoxResult, transform: str = "rank") -> dict[str, Any]:
    """Proportional-hazards test on scaled Schoenfeld residuals (lifelines', `transform` time).

    Per-term chi-square (1 df): (sum g(t_k) s*_k)^2 / (d var(beta) sum g(t_k)^2), g the
    centred transformed event times, s* the scaled residuals (`scaled_schoenfeld`), exactly
    as lifelines' `proportional_hazard_test` (whose residual loop is quadratic in n). There is
    no global test, so `global_p` is None and the smallest per-term p with its Bonferroni
    adjustment is reported instead. Note: R's `cox.zph` (survival >= 3.0) uses an exact score
    test and gives somewhat different values.
    """
    data = result.data.sort_values(by=["__T", "__E"])
    durations = data["__T"].astype(float)
    events = data["__E"].astype(bool)
    transformer = TimeTransformers().get(transform)
    if not callable(transformer):
        raise ValueError(f"unknown time transform {transform!r}")
    times = np.asarray(transformer(durations, events, pd.Series(1.0, index=data.index)),
                       dtype=float)[events.to_numpy()]
    g = times - times.mean()
    scaled = scaled_schoenfeld(result).to_numpy()
    se = result.fitter.standard_errors_.to_numpy(dtype=float)
    stats = (g @ scaled) ** 2 / (events.sum() * se**2 * (g**2).sum())
    terms = sorted(  # sorted by name, the order of lifelines' summary
        ({"term": str(name), "statistic": float(stat), "p": float(chi2.sf(stat, 1))}
         for name, stat in zip(result.fitter.params_.index, stats, strict=True)),
        key=lambda t: t["term"],
    )
    min_p = min(t["p"] for t in terms)
    return {
        "transform": transform,
        "terms": terms,
        "global_p": None,
        "min_p": min_p,
        "min_p_bonferroni": min(1.0, min_p * len(terms)),
        "note": "lifelines has no global test; min_p_bonferroni = min(1, k * smallest term p)",
    }


def scaled_schoenfeld(result: CoxResult) -> pd.DataFrame:
    """Scaled Schoenfeld residuals of the events, as lifelines computes them, in O(n log n).

    Rows are the events in lifelines' order (sorted by duration, then event), which its
    rank time transform relies on; residual = x_i minus the Efron-averaged risk-set mean at
    the event's time, scaled by events x the model's covariance.
    """
    fitter = result.fitter
    terms = list(fitter.params_.index)
    data = result.data.sort_values(by=["__T", "__E"])
    time = data["__T"].to_numpy(dtype=float)
    event = data["__E"].to_numpy(dtype=bool)
    x = data[terms].to_numpy(dtype=float)
    x = x - x.mean(axis=0)  # the means are invariant to centring; avoids overflow in exp
    r = np.exp(x @ fitter.params_.to_numpy(dtype=float))
    rx = r[:, None] * x
    ev_time = time[event]
    te, first, counts = np.unique(ev_time, return_index=True, return_counts=True)
    k = np.repeat(np.arange(te.size), counts)
    frac = (np.arange(ev_time.size) - np.repeat(first, counts)) / counts[k]
    at_risk = np.searchsorted(time, te, side="left")  # rows with T >= t start here
    back0 = np.append(np.cumsum(r[::-1])[::-1], 0.0)[at_risk]
    back1 = np.vstack([np.cumsum(rx[::-1], axis=0)[::-1], np.zeros((1, x.shape[1]))])[at_risk]
    tie0 = np.bincount(k, weights=r[event], minlength=te.size)
    tie1 = np.zeros((te.size, x.shape[1]))
    np.add.at(tie1, k, rx[event])
    piece = (back1[k] - frac[:, None] * tie1[k]) / (back0[k] - frac * tie0[k])[:, None]
    mean = np.zeros((te.size, x.shape[1]))
    np.add.at(mean, k, piece)
    resid = x[event] - mean[k] / counts[k][:, None]
    scaled = event.sum() * resid @ fitter.variance_matrix_.loc[terms, terms].to_numpy(dtype=float)
    return pd.DataFrame(scaled, columns=terms, index=data.index[event])
