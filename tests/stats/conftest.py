"""Fixtures for the stats tests: seeded simulations, a hand-checkable set, R references."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from stats_testdata import R_FIXTURES, simulate


@pytest.fixture(scope="session")
def sim() -> pd.DataFrame:
    """150 rows, continuous times (no ties)."""
    return simulate(42)


@pytest.fixture(scope="session")
def sim_ties() -> pd.DataFrame:
    """150 rows, times rounded to whole units (many ties)."""
    return simulate(7, decimals=0)


@pytest.fixture(scope="session")
def tiny() -> pd.DataFrame:
    """Six subjects, checkable by hand.

    KM: S(1) = 5/6, S(3) = 5/6 * 3/4 = 0.625, S(4) = 0.625 * 2/3 = 5/12, S(6) = 0.
    """
    return pd.DataFrame({"time": [1.0, 2, 3, 4, 5, 6], "event": [1, 0, 1, 1, 0, 1]})


@pytest.fixture(scope="session")
def r_reference() -> dict:
    """Reference values written by tests/fixtures/r/make_fixtures.R (R survival 3.5-3)."""
    return json.loads((R_FIXTURES / "reference.json").read_text())
