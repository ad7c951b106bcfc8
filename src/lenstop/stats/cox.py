"""Cox proportional-hazards models (lifelines `CoxPHFitter`, Efron ties) with small-cohort guards.

Terms are columns that are already numeric (0/1 indicators or continuous); use `dummies` for
factors with more than two levels. Every fit is complete-case on the columns it uses and
reports how many rows it dropped. A model the data cannot support raises `ModelNotEstimable`
instead of returning meaningless hazard ratios.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from lifelines.statistics import proportional_hazard_test
from scipy.stats import norm

from lenstop.config import ALPHA
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

FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-14}
"""Newton-Raphson stopping rule passed to lifelines (its `fit_options`).

lifelines stops by default once the relative log-likelihood change is below 1e-9, which can
leave coefficients ~1e-4 from the maximum; with these options they agree with R and
statsmodels to ~1e-8.
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
    fitter: CoxPHFitter = field(repr=False, compare=False)
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


def fit_guarded(fitter: CoxPHFitter, frame: pd.DataFrame, **fit_kwargs) -> CoxPHFitter:
    """`fitter.fit(frame, ...)` turning convergence failures and warnings into ModelNotEstimable."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitter.fit(frame, fit_options=dict(FIT_OPTIONS), **fit_kwargs)
        except (ConvergenceError, np.linalg.LinAlgError) as err:
            raise ModelNotEstimable(f"the Cox fit did not converge: {err}") from err
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            msg = " ".join(str(w.message).split("See https")[0].split())
            raise ModelNotEstimable(f"the Cox fit reported a convergence problem: {msg}")
        if not issubclass(w.category, DeprecationWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    coef = fitter.params_.to_numpy(dtype=float)
    se = fitter.standard_errors_.to_numpy(dtype=float)
    sd = frame[list(fitter.params_.index)].std().to_numpy(dtype=float)
    if not (np.isfinite(coef).all() and np.isfinite(se).all()):
        raise ModelNotEstimable("the Cox fit returned non-finite coefficients or standard errors")
    worst = np.abs(coef * sd)
    if (worst > MAX_ABS_STD_LOG_HR).any():
        term = fitter.params_.index[int(np.argmax(worst))]
        raise ModelNotEstimable(
            f"term '{term}' has an implausibly large coefficient (monotone likelihood / separation)"
        )
    return fitter


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
    cph = fit_guarded(CoxPHFitter(alpha=alpha), frame, duration_col="__T", event_col="__E")
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
    fitter: CoxPHFitter,
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
    """Proportional-hazards check by scaled Schoenfeld residuals (lifelines, `transform` time).

    Per-term chi-square (1 df) and p. lifelines has no global test, so `global_p` is None and
    the smallest per-term p with its Bonferroni adjustment is reported instead. Note: R's
    `cox.zph` (survival >= 3.0) uses an exact score test and gives somewhat different values.
    """
    res = proportional_hazard_test(result.fitter, result.data, time_transform=transform)
    summary = res.summary
    names = [n[0] if isinstance(n, tuple) else n for n in summary.index]
    terms = [
        {"term": str(name), "statistic": float(stat), "p": float(p)}
        for name, stat, p in zip(names, summary["test_statistic"], summary["p"], strict=True)
    ]
    min_p = min(t["p"] for t in terms)
    return {
        "transform": transform,
        "terms": terms,
        "global_p": None,
        "min_p": min_p,
        "min_p_bonferroni": min(1.0, min_p * len(terms)),
        "note": "lifelines has no global test; min_p_bonferroni = min(1, k * smallest term p)",
    }
