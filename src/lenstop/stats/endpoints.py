"""Summaries of the analysis table's endpoints (`lenstop.cohort.derive.ENDPOINTS`), one call each.

Kaplan-Meier endpoints (overall, RBC-TI-free and event-free survival) give a `KMSummary`:
median with CI and landmark rows (time, survival, ci_low, ci_high, at_risk), the shape of
`ti_rate_at_months`. Competing-risk endpoints (AML progression, re-treatment) give a
`CIFSummary`: Aalen-Johansen landmark rows (time, cif, se, ci_low, ci_high), the shape of
`cif_at_months`. A cumulative incidence has no median (R's survfit refuses one for
multi-state curves): report the landmarks. `by_month` keys landmark rows as results.json does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from lenstop.cohort.derive import CR_EVENT, ENDPOINTS
from lenstop.config import ALPHA, LANDMARK_MONTHS
from lenstop.stats.competing import CIFSummary, cumulative_incidence
from lenstop.stats.survival import KMSummary, km_summary


def endpoint_summary(a: pd.DataFrame, key: str, landmarks: Iterable[float] = LANDMARK_MONTHS,
                     alpha: float = ALPHA) -> KMSummary | CIFSummary:
    """The estimate of endpoint `key` of `ENDPOINTS` on the analysis table `a`."""
    if key not in ENDPOINTS:
        raise KeyError(f"unknown endpoint {key!r}; known: {sorted(ENDPOINTS)}")
    e = ENDPOINTS[key]
    if e.kind == "km":
        return km_summary(a, e.duration_col, e.event_col, landmarks=landmarks, alpha=alpha)
    return cumulative_incidence(a, e.duration_col, e.event_col, cause=CR_EVENT,
                                landmarks=landmarks, alpha=alpha)


def overall_survival(a: pd.DataFrame, landmarks: Iterable[float] = LANDMARK_MONTHS,
                     alpha: float = ALPHA) -> KMSummary:
    """Overall survival from LEN discontinuation (Kaplan-Meier)."""
    return endpoint_summary(a, "os", landmarks, alpha)


def ti_free_survival(a: pd.DataFrame, landmarks: Iterable[float] = LANDMARK_MONTHS,
                     alpha: float = ALPHA) -> KMSummary:
    """RBC-TI-free survival: loss of RBC-TI or death, whichever first (Kaplan-Meier)."""
    return endpoint_summary(a, "ti_free", landmarks, alpha)


def event_free_survival(a: pd.DataFrame, landmarks: Iterable[float] = LANDMARK_MONTHS,
                        alpha: float = ALPHA) -> KMSummary:
    """Event-free survival: first of loss of RBC-TI, AML progression or death (Kaplan-Meier)."""
    return endpoint_summary(a, "efs", landmarks, alpha)


def aml_incidence(a: pd.DataFrame, landmarks: Iterable[float] = LANDMARK_MONTHS,
                  alpha: float = ALPHA) -> CIFSummary:
    """Cumulative incidence of AML progression, death without AML competing (Aalen-Johansen)."""
    return endpoint_summary(a, "aml", landmarks, alpha)


def retreatment_incidence(a: pd.DataFrame, landmarks: Iterable[float] = LANDMARK_MONTHS,
                          alpha: float = ALPHA) -> CIFSummary:
    """Cumulative incidence of LEN re-treatment, death before it competing (Aalen-Johansen).

    Not 1 - Kaplan-Meier: death rules re-treatment out, so censoring deaths would estimate
    re-treatment in a world without death and overstate it.
    """
    return endpoint_summary(a, "retreatment", landmarks, alpha)


def by_month(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Landmark rows keyed by their time ('12', '24', ...), as `ti_rate_at_months` is."""
    return {f"{row['time']:g}": dict(row) for row in rows}
