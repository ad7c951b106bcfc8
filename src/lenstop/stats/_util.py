"""Shared helpers for the stats wrappers: input checks, complete cases, step-function lookup."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


def complete_cases(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Rows of `df` with no missing value in `columns`, and how many rows were dropped."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the data: {missing}")
    sub = df.loc[:, list(dict.fromkeys(columns))]
    keep = sub.notna().all(axis=1)
    return sub.loc[keep].copy(), int((~keep).sum())


def check_durations(durations: pd.Series, name: str) -> np.ndarray:
    """Durations as float, refusing negative or non-finite values (they signal a data error)."""
    values = pd.to_numeric(durations, errors="raise").to_numpy(dtype=float)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"'{name}' must hold finite, non-negative durations")
    return values


def check_binary(values: pd.Series, name: str) -> np.ndarray:
    """A 0/1 (or bool) indicator as int, refusing any other code."""
    arr = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(f"'{name}' must be coded 0/1 (or False/True)")
    return arr.astype(int)


def check_status(values: pd.Series, name: str) -> np.ndarray:
    """Competing-risk status codes as int: 0 = censored, 1, 2, ... = event types."""
    arr = pd.to_numeric(values, errors="raise").to_numpy(dtype=float)
    if (arr < 0).any() or (arr != np.round(arr)).any():
        raise ValueError(f"'{name}' must hold integer codes 0 (censored), 1, 2, ...")
    return arr.astype(int)


def value_at(step: pd.Series | pd.DataFrame, t: float):
    """Value of a right-continuous step function (indexed by time) at time `t`.

    Lifelines stores estimates on the sorted event/censoring timeline; the value at `t`
    is the last row whose time is <= t.
    """
    index = np.asarray(step.index, dtype=float)
    pos = int(np.searchsorted(index, t, side="right")) - 1
    if pos < 0:
        raise ValueError(f"time {t} lies before the start of the estimate")
    return step.iloc[pos]


def finite_or_none(x) -> float | None:
    """Float for JSON, with None standing for 'not reached / not estimable' (NaN or inf)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def as_tuple(values: Iterable[float]) -> tuple[float, ...]:
    """Landmark times as a tuple of floats."""
    return tuple(float(v) for v in values)
