"""Competing risks: Aalen-Johansen cumulative incidence and the Fine-Gray model.

Status coding throughout: 0 = censored, 1 = event of interest (loss of TI), 2 = competing
event (death without loss of TI); `cause` picks the event of interest.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from lifelines import AalenJohansenFitter, KaplanMeierFitter

from lenstop.config import ALPHA, LANDMARK_MONTHS
from lenstop.stats._efron import EfronFit
from lenstop.stats._util import (
    as_tuple,
    check_durations,
    check_status,
    complete_cases,
    finite_or_none,
    value_at,
)
from lenstop.stats.cox import _records, check_estimable, coef_table, fit_efron

AJ_SEED = 20240805
"""Seed handed to lifelines' AalenJohansenFitter; it only matters if lifelines still jitters."""


@dataclass(frozen=True)
class CIFSummary:
    """Aalen-Johansen cumulative incidence of `cause` at landmarks; `fitter` kept for plotting."""

    n: int
    n_dropped: int
    cause: int
    events: dict[int, int]
    censored: int
    landmarks: list[dict[str, Any]]
    alpha: float
    ties_separated: int
    """Competing events moved a hair earlier to break ties with the event of interest."""
    fitter: AalenJohansenFitter = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Everything except the fitter, ready for json.dump."""
        return {
            "n": self.n,
            "n_dropped": self.n_dropped,
            "cause": self.cause,
            "events": {str(k): v for k, v in self.events.items()},
            "censored": self.censored,
            "landmarks": [dict(row) for row in self.landmarks],
            "alpha": self.alpha,
            "ties_separated": self.ties_separated,
        }


def separate_tied_causes(
    durations: np.ndarray, status: np.ndarray, cause: int
) -> tuple[np.ndarray, int]:
    """Break ties between different event types deterministically, keeping the estimate exact.

    lifelines' Aalen-Johansen fitter refuses such ties and jitters every event time at random
    (by up to +-1e-4), which can also move an event past a censoring at the same time. Here
    only competing events tied with another event type move, and only earlier, by a tiny step
    (1e-6 of the smallest gap between distinct times), one step per other event type. The
    cumulative incidences at and after the tied time equal the tied-data (R) values, and
    censorings stay after events, as in R and statsmodels.
    """
    event = status > 0
    frame = pd.DataFrame({"t": durations[event], "s": status[event]})
    n_types = frame.groupby("t")["s"].nunique()
    tied_times = n_types.index[n_types > 1].to_numpy(dtype=float)
    if tied_times.size == 0:
        return durations, 0
    distinct = np.unique(durations)
    step = np.diff(distinct).min() * 1e-6
    others = sorted(set(status[event].tolist()) - {cause})
    offset = {code: rank + 1 for rank, code in enumerate(others)}
    moved = event & (status != cause) & np.isin(durations, tied_times)
    out = durations.astype(float).copy()
    out[moved] -= step * np.array([offset[s] for s in status[moved]], dtype=float)
    return out, int(moved.sum())


def cumulative_incidence(
    df: pd.DataFrame,
    duration_col: str,
    status_col: str,
    cause: int = 1,
    landmarks: Iterable[float] = LANDMARK_MONTHS,
    alpha: float = ALPHA,
) -> CIFSummary:
    """Aalen-Johansen cumulative incidence of `cause` at landmark times, with pointwise CI.

    The CI is lifelines' (Greenwood-type delta-method variance, log(-log) transform); R's
    survfit reports an infinitesimal-jackknife SE with a log transform instead, so CIs differ
    slightly. Landmarks beyond the last follow-up time give None.
    """
    data, dropped = complete_cases(df, [duration_col, status_col])
    durations = check_durations(data[duration_col], duration_col)
    status = check_status(data[status_col], status_col)
    if len(durations) == 0:
        raise ValueError("no complete rows to estimate a cumulative incidence")
    fit_durations, n_moved = separate_tied_causes(durations, status, cause)
    ajf = AalenJohansenFitter(alpha=alpha, seed=AJ_SEED)
    with warnings.catch_warnings():
        # after tie separation lifelines must not jitter; fail loudly if it would
        warnings.filterwarnings("error", message="Tied event times")
        ajf.fit(fit_durations, status, event_of_interest=cause, label=f"CIF_{cause}")
    last = float(durations.max())
    rows = []
    for t in as_tuple(landmarks):
        if t > last:
            rows.append({"time": t, "cif": None, "se": None, "ci_low": None, "ci_high": None})
            continue
        cif = float(value_at(ajf.cumulative_density_, t).iloc[0])
        var = float(value_at(ajf.variance_, t))
        # lifelines labels its two CI columns the wrong way round; sort them
        band = np.sort(np.asarray(value_at(ajf.confidence_interval_, t), dtype=float))
        rows.append(
            {
                "time": t,
                "cif": cif,
                "se": finite_or_none(np.sqrt(var)),
                "ci_low": finite_or_none(band[0]) if cif > 0 else 0.0,
                "ci_high": finite_or_none(band[1]) if cif > 0 else 0.0,
            }
        )
    codes = sorted(set(status.tolist()) - {0})
    return CIFSummary(
        n=len(durations),
        n_dropped=dropped,
        cause=cause,
        events={int(c): int((status == c).sum()) for c in codes},
        censored=int((status == 0).sum()),
        landmarks=rows,
        alpha=alpha,
        ties_separated=n_moved,
        fitter=ajf,
    )


def cif_median(summary: CIFSummary) -> dict[str, Any]:
    """The time at which the cumulative incidence of `summary.cause` reaches 0.5, with the
    times its pointwise CI band reaches 0.5 as limits (the band's upper curve gives the lower
    limit); None where it never does (death competing often keeps the CIF below 0.5)."""
    curve = summary.fitter.cumulative_density_.iloc[:, 0]
    band = np.sort(summary.fitter.confidence_interval_.to_numpy(dtype=float), axis=1)

    def first(values: np.ndarray) -> float | None:
        hit = np.flatnonzero(values >= 0.5 - 1e-12)
        return float(curve.index[hit[0]]) if len(hit) else None

    return {"median": first(curve.to_numpy(dtype=float)),
            "median_ci": [first(band[:, 1]), first(band[:, 0])],
            "max_cif": float(curve.max()) if len(curve) else None}


@dataclass(frozen=True)
class _Intervals:
    """R finegray's censoring intervals: interval j is (ct2[j-1], ct2[j]], G(t-) there cp2[j]."""

    zero: float
    ct2: np.ndarray
    cp2: np.ndarray
    keep: np.ndarray
    """Intervals holding an event of the cause (only those pieces are kept)."""

    def gm(self, t: np.ndarray) -> np.ndarray:
        """G(t-): the censoring KM just before t (censorings after events at tied times)."""
        return self.cp2[np.searchsorted(self.ct2, t, side="left")]


def _censoring_intervals(time: np.ndarray, status: np.ndarray, cause: int) -> _Intervals:
    """The censoring KM's steps and the intervals R's finegray splits at (exactly as R)."""
    zero = 0.0 if time.min() > 0 else 2 * time.min() - 1.0
    utime = np.unique(np.concatenate([[zero], time]))
    # censoring KM on the rank scale, events pulled 0.2 earlier so censoring follows them
    rank_stop = np.searchsorted(utime, time) + 1.0 - 0.2 * (status != 0)
    cens_km = KaplanMeierFitter().fit(rank_stop, (status == 0).astype(int))
    table = cens_km.event_table
    jumps = table.index[(table["observed"] > 0).to_numpy()].to_numpy(dtype=float)
    ctime = utime[np.rint(jumps).astype(int) - 1]
    cprob = cens_km.survival_function_.loc[jumps].to_numpy(dtype=float).ravel()
    ct2 = np.append(ctime, time.max())  # interval j is (ct2[j-1], ct2[j]]
    cp2 = np.append(1.0, cprob)  # G just before any time in interval j
    event_times = np.unique(time[status == cause])
    keep = np.zeros(ct2.size, dtype=bool)
    keep[np.searchsorted(ct2, event_times, side="left")] = True  # intervals holding events
    return _Intervals(zero, ct2, cp2, keep)


def _extension_counts(iv: _Intervals, time: np.ndarray, competing: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per subject: its own interval j0, where its kept later intervals start, and how many."""
    kept = np.flatnonzero(iv.keep)
    j0 = np.searchsorted(iv.ct2, time, side="left")
    first = np.searchsorted(kept, j0, side="right")
    counts = np.where(competing, kept.size - first, 0)
    return j0, first, counts


def finegray_expand(
    df: pd.DataFrame,
    duration_col: str,
    status_col: str,
    cause: int = 1,
    id_col: str | None = None,
) -> pd.DataFrame:
    """Counting-process data with IPCW weights for a Fine-Gray fit, as R's `survival::finegray`.

    Subjects with a competing event stay in the risk set after their event time T_i with weight
    G(t-)/G(T_i-), G the Kaplan-Meier of censoring (censorings after events at tied times);
    the extension is split at the censoring times (only pieces that contain an event of
    interest are kept). Everyone else has one row (0, T_i] with weight 1. Returns all columns
    of `df` plus fgstart, fgstop, fgstatus, fgwt, and `id_col` (or the row position as 'id').
    `fine_gray` does not need these rows (their number grows like n x event times); they are
    for inspection and for fitting elsewhere.
    """
    time = check_durations(df[duration_col], duration_col)
    status = check_status(df[status_col], status_col)
    if time.size == 0:
        raise ValueError("no rows to expand")
    iv = _censoring_intervals(time, status, cause)
    competing = (status != 0) & (status != cause)
    j0, first, counts = _extension_counts(iv, time, competing)
    kept = np.flatnonzero(iv.keep)
    per_row = 1 + counts
    rows_arr = np.repeat(np.arange(time.size), per_row)
    pos = np.arange(rows_arr.size) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    ext = pos > 0  # piece `pos` of an extension: kept interval first + pos - 1
    idx = np.clip(first[rows_arr] + pos - 1, 0, max(kept.size - 1, 0))
    j = np.where(ext, kept[idx], 0) if kept.size else np.zeros(rows_arr.size, dtype=int)
    own = j0[rows_arr]
    starts = np.where(ext, iv.ct2[np.maximum(j - 1, 0)], iv.zero)
    stops = np.where(ext, iv.ct2[j], np.where(competing[rows_arr], iv.ct2[own], time[rows_arr]))
    wts = np.where(ext, iv.cp2[j] / iv.cp2[own], 1.0)

    base = df.reset_index(drop=True)
    ids = base[id_col].to_numpy() if id_col else np.arange(1, len(base) + 1)
    out = base.iloc[rows_arr].reset_index(drop=True)
    out["id" if id_col is None else id_col] = ids[rows_arr]
    out["fgstart"] = starts.astype(float)
    out["fgstop"] = stops.astype(float)
    out["fgstatus"] = (status[rows_arr] == cause).astype(int)
    out["fgwt"] = wts.astype(float)
    return out


@dataclass(frozen=True)
class FineGrayResult:
    """A Fine-Gray fit: tidy `table` (subdistribution HRs, robust CIs) plus counts and fitter."""

    table: pd.DataFrame
    n: int
    events: int
    competing: int
    n_dropped: int
    n_rows: int
    """Rows of R's finegray expansion (weight > 0), the size of the equivalent weighted fit."""
    terms: list[str]
    alpha: float
    fitter: EfronFit = field(repr=False, compare=False)
    frame: pd.DataFrame = field(repr=False, compare=False)
    """The complete-case rows (one per subject) the model was fitted on."""
    cause: int = 1

    @cached_property
    def data(self) -> pd.DataFrame:
        """The expanded counting-process rows (R finegray, weight > 0), built on first use.

        They have `n_rows` rows, so this can be large (n x event times) for big cohorts.
        """
        long = finegray_expand(self.frame, "__T", "__S", cause=self.cause, id_col="__id")
        return long.loc[long["fgwt"] > 0].reset_index(drop=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: counts, alpha and one dict per term."""
        return {
            "n": self.n,
            "events": self.events,
            "competing": self.competing,
            "n_dropped": self.n_dropped,
            "n_rows": self.n_rows,
            "alpha": self.alpha,
            "terms": _records(self.table),
        }


def fine_gray(
    df: pd.DataFrame,
    duration_col: str,
    status_col: str,
    terms: Sequence[str],
    cause: int = 1,
    alpha: float = ALPHA,
) -> FineGrayResult:
    """Fine-Gray subdistribution hazard model, with the estimates of R's finegray + coxph.

    R expands the data (`finegray_expand`) and fits a weighted counting-process Cox model
    (Efron ties, SEs clustered by subject). The same likelihood and robust variance are computed
    here from one row per subject (`_efron`), in O(n log n) time. Table columns: term,
    coef, se (robust), shr, ci_low, ci_high, p, n, events. Complete-case; raises
    `ModelNotEstimable` like `cox_fit` (events of `cause` count towards the threshold).
    """
    terms = list(terms)
    if not terms:
        raise ValueError("at least one term is needed")
    data, dropped = complete_cases(df, [duration_col, status_col, *terms])
    status = check_status(data[status_col], status_col)
    time = check_durations(data[duration_col], duration_col)
    frame = pd.DataFrame({"__T": time, "__S": status,
                          **{t: data[t].to_numpy(dtype=float) for t in terms}})
    frame["__id"] = np.arange(len(frame))
    event = (status == cause).astype(int)
    check_estimable(frame, event, terms)
    iv = _censoring_intervals(time, status, cause)
    competing = (status != 0) & (status != cause)
    fit = fit_efron(frame, terms, alpha, what="Fine-Gray", cause=cause, gm=iv.gm(time),
                    robust=True)
    robust_se = pd.Series(np.sqrt(np.diag(fit.robust_variance_)), index=terms)
    table = coef_table(fit, terms, n=len(frame), events=int(event.sum()), ratio="shr",
                       se=robust_se)
    return FineGrayResult(
        table=table,
        n=len(frame),
        events=int(event.sum()),
        competing=int(competing.sum()),
        n_dropped=dropped,
        n_rows=_n_rows(iv, time, competing),
        terms=terms,
        alpha=alpha,
        fitter=fit,
        frame=frame,
        cause=cause,
    )


def _n_rows(iv: _Intervals, time: np.ndarray, competing: np.ndarray) -> int:
    """Rows with weight > 0 that `finegray_expand` would give, counted without building them."""
    positive = np.flatnonzero(iv.keep & (iv.cp2 > 0))
    j0 = np.searchsorted(iv.ct2, time[competing], side="left")
    return int(time.size + (positive.size - np.searchsorted(positive, j0, side="right")).sum())
