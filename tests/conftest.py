"""Shared fixtures: the shipped cohort as text, and writers for small test extracts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from lenstop import config

TODAY = dt.date(2026, 1, 1)
"""Fixed validation date so 'future date' rules do not depend on when tests run."""


@pytest.fixture(scope="session")
def shipped_text() -> pd.DataFrame:
    """The shipped synthetic cohort, every cell as text (blanks as None)."""
    frame = pd.read_csv(config.SYNTHETIC_COHORT, dtype=str, keep_default_na=False)
    return frame.replace({"": None})


@pytest.fixture
def small_text(shipped_text) -> pd.DataFrame:
    """Twelve valid patients, as text, to break one rule at a time."""
    return shipped_text.head(12).copy()


def write_csv(frame: pd.DataFrame, path: Path, **kw) -> Path:
    """Write a text frame as the CSV a registry would export."""
    frame.to_csv(path, index=False, na_rep="", lineterminator="\n", **kw)
    return path
