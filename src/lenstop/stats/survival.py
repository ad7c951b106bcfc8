"""Kaplan-Meier summaries, reverse Kaplan-Meier follow-up and the log-rank test (lifelines).

Conventions (those of lifelines, R `survival` and statsmodels alike unless noted):
- survival at a landmark t is the right-continuous KM value S(t), so events at t count;
- pointwise CIs use the log(-log) ("exponential Greenwood") transform;
- the median is the first time with S(t) <= 0.5 and its CI is where the pointwise CI bands
  cross 0.5 (Brookmeyer-Crowley with the log(-log) transform). When S(t) equals 0.5 exactly
  on a plateau R takes the midpoint to the next event time and statsmodels the next event
  time; lifelines (used here) takes the start of the plateau. With censoring this is rare.
- a median or limit that is not reached is returned as None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test
from lifelines.utils import median_survival_times

from lenstop.config import ALPHA, LANDMARK_MONTHS
from lenstop.stats._util import (
    as_tuple,
    check_binary,
    check_durations,
    complete_cases,
    finite_or_none,
    value_at,
)


@dataclass(frozen=True)
class KMSummary:
    """Kaplan-Meier estimate in JSON-friendly form; `fitter` is kept for plotting."""

    n: int
    events: int
    n_dropped: int
    median: float | None
    median_ci: tuple[float | None, float | None]
    landmarks: list[dict[str, Any]]
    alpha: float
    fitter: KaplanMeierFitter = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Everything except the fitter, ready for json.dump."""
        return {
            "n": self.n,
            "events": self.events,
            "n_dropped": self.n_dropped,
            "median": self.median,
            "median_ci": list(self.median_ci),
            "landmarks": [dict(row) for row in self.landmarks],
            "alpha": self.alpha,
        }


def _fit_km(
    durations: np.ndarray, events: np.ndarray, alpha: float, label: str
) -> KaplanMeierFitter:
    return KaplanMeierFitter(alpha=alpha, label=label).fit(durations, events)


def _median_with_ci(kmf: KaplanMeierFitter) -> tuple[float | None, tuple[float | None, ...]]:
    """Median and its CI: the medians of the KM curve and of its two pointwise CI bands."""
    ci = median_survival_times(kmf.confidence_interval_)
    low, high = (finite_or_none(v) for v in np.asarray(ci, dtype=float).ravel())
    return finite_or_none(kmf.median_survival_time_), (low, high)


def _landmark_rows(
    kmf: KaplanMeierFitter, durations: np.ndarray, landmarks: tuple[float, ...]
) -> list[dict[str, Any]]:
    last = float(durations.max())
    rows = []
    for t in landmarks:
        at_risk = int((durations >= t).sum())
        if t > last:  # beyond the last follow-up time the curve is not estimated
            rows.append(
                {"time": t, "survival": None, "ci_low": None, "ci_high": None, "at_risk": at_risk}
            )
            continue
        s = float(value_at(kmf.survival_function_, t).iloc[0])
        band = np.sort(np.asarray(value_at(kmf.confidence_interval_, t), dtype=float))
        rows.append(
            {
                "time": t,
                "survival": s,
                "ci_low": finite_or_none(band[0]),
                "ci_high": finite_or_none(band[1]),
                "at_risk": at_risk,
            }
        )
    return rows


def km_summary(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    landmarks: Iterable[float] = LANDMARK_MONTHS,
    alpha: float = ALPHA,
) -> KMSummary:
    """Kaplan-Meier n, events, median (with CI) and survival at landmark times (with CI).

    Rows with a missing duration or event are dropped and counted in `n_dropped`.
    Each landmark row holds time, survival, ci_low, ci_high and at_risk (duration >= time);
    survival and CI are None beyond the last follow-up time.
    """
    data, dropped = complete_cases(df, [duration_col, event_col])
    durations = check_durations(data[duration_col], duration_col)
    events = check_binary(data[event_col], event_col)
    if len(durations) == 0:
        raise ValueError("no complete rows to estimate a survival curve")
    kmf = _fit_km(durations, events, alpha, label=event_col)
    median, median_ci = _median_with_ci(kmf)
    return KMSummary(
        n=len(durations),
        events=int(events.sum()),
        n_dropped=dropped,
        median=median,
        median_ci=median_ci,
        landmarks=_landmark_rows(kmf, durations, as_tuple(landmarks)),
        alpha=alpha,
        fitter=kmf,
    )


def reverse_km_median(
    df: pd.DataFrame, duration_col: str, event_col: str, alpha: float = ALPHA
) -> dict[str, Any]:
    """Median follow-up by reverse Kaplan-Meier (censoring is the event), with its CI.

    Pass the endpoint whose follow-up is described: `event_col` = 1 for rows whose follow-up
    ended by the event (e.g. death for overall follow-up; a death-or-loss indicator for the
    TI endpoint), 0 for rows still under observation at `duration_col`.
    Returns n, n_dropped, censored (the reverse-KM 'events'), median, ci_low, ci_high, alpha.
    """
    data, dropped = complete_cases(df, [duration_col, event_col])
    durations = check_durations(data[duration_col], duration_col)
    censored = 1 - check_binary(data[event_col], event_col)
    if len(durations) == 0:
        raise ValueError("no complete rows to estimate follow-up")
    kmf = _fit_km(durations, censored, alpha, label="reverse_km")
    median, (low, high) = _median_with_ci(kmf)
    return {
        "n": len(durations),
        "n_dropped": dropped,
        "censored": int(censored.sum()),
        "median": median,
        "ci_low": low,
        "ci_high": high,
        "alpha": alpha,
    }


def logrank(df: pd.DataFrame, duration_col: str, event_col: str, group_col: str) -> dict[str, Any]:
    """Log-rank test across the levels of `group_col` (k-sample, k-1 degrees of freedom).

    Returns statistic, df, p, n, n_dropped and per-group n / events.
    """
    data, dropped = complete_cases(df, [duration_col, event_col, group_col])
    durations = check_durations(data[duration_col], duration_col)
    events = check_binary(data[event_col], event_col)
    groups = data[group_col].to_numpy()
    levels = pd.unique(groups)
    if len(levels) < 2:
        raise ValueError(f"'{group_col}' needs at least two groups with data for a log-rank test")
    res = multivariate_logrank_test(durations, groups, events)
    per_group = {}
    for level in sorted(levels, key=str):
        in_group = groups == level
        per_group[str(level)] = {"n": int(in_group.sum()), "events": int(events[in_group].sum())}
    return {
        "statistic": float(res.test_statistic),
        "df": int(res.degrees_of_freedom),
        "p": float(res.p_value),
        "n": len(durations),
        "n_dropped": dropped,
        "groups": per_group,
    }
