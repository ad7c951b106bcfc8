"""Data helpers for the stats tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

R_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "r"
R_DATASETS = ("cr_continuous", "cr_ties")
COHORT_SNAPSHOT = R_FIXTURES / "cohort_snapshot.csv"


def simulate(seed: int, n: int = 150, decimals: int | None = None) -> pd.DataFrame:
    """Exponential times with two covariates, a 3-level group, competing deaths, censoring.

    `decimals` rounds the times, which creates ties (None keeps them continuous).
    """
    rng = np.random.default_rng(seed)
    x1 = rng.binomial(1, 0.5, n)
    x2 = rng.normal(size=n)
    grp = rng.choice(np.array(["a", "b", "c"]), size=n)
    t1 = rng.exponential(30.0 * np.exp(-(0.5 * x1 + 0.3 * x2)))
    t2 = rng.exponential(90.0, n)
    cens = rng.uniform(5.0, 80.0, n)
    time = np.minimum(np.minimum(t1, t2), cens)
    status = np.select([time == t1, time == t2], [1, 2], default=0)
    if decimals is not None:
        time = np.maximum(np.round(time, decimals), 10.0**-decimals)
    return pd.DataFrame(
        {
            "time": time,
            "status": status,
            "loss": (status == 1).astype(int),
            "x1": x1,
            "x2": x2,
            "grp": grp,
        }
    )


def load_r_dataset(name: str) -> pd.DataFrame:
    """A committed fixture dataset with a loss-of-TI indicator added."""
    df = pd.read_csv(R_FIXTURES / f"{name}.csv")
    df["loss"] = (df["status"] == 1).astype(int)
    df["any_event"] = (df["status"] != 0).astype(int)
    return df


def step_value(times: np.ndarray, values: np.ndarray, t: float, before: float = 1.0) -> float:
    """Right-continuous step function through (times, values) evaluated at t."""
    pos = np.searchsorted(times, t, side="right") - 1
    return before if pos < 0 else float(values[pos])


def load_snapshot_cohort() -> pd.DataFrame:
    """The frozen copy of the shipped cohort, dates parsed (no validation: its rules may
    change, the fixture must not), with the analysis variables of `derive` added."""
    from lenstop.cohort.derive import analysis_table
    from lenstop.ingest.schema import COLUMNS, DATE_COLUMNS

    header = pd.read_csv(COHORT_SNAPSHOT, nrows=0).columns
    cohort = pd.read_csv(COHORT_SNAPSHOT, parse_dates=[c for c in DATE_COLUMNS if c in header])
    for col in (c.name for c in COLUMNS if c.name not in cohort.columns):  # optional columns
        cohort[col] = pd.Series(pd.NaT if col in DATE_COLUMNS else pd.NA, index=cohort.index,
                                dtype="datetime64[ns]" if col in DATE_COLUMNS else object)
    return analysis_table(cohort)
