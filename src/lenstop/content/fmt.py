"""How every number is written: decimals, CIs, p-values and hazard ratios, one way each.

Prose (manuscript variables), tables and notebooks call these, so a p-value reads the same
in the abstract, in Table 2 and in the notebook that computed it.
"""

from __future__ import annotations

import math

DASH = "\u2013"
"""En dash between CI limits."""


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(x: float | None, digits: int = 1) -> str:
    """A number with fixed decimals; 'not reached' for None (an open median or limit)."""
    return "not reached" if _missing(x) else f"{x:.{digits}f}"


def ci(low: float | None, high: float | None, digits: int = 1, pct: bool = False) -> str:
    """'low–high' (percentages when `pct`), with 'not reached' for an open limit."""
    def one(v):
        return num(None if _missing(v) else (100 * v if pct else v), digits)

    return f"{one(low)}{DASH}{one(high)}"


def pval(p: float | None) -> str:
    """'p < 0.001' or 'p = 0.012' (three decimals), as journals print them in prose."""
    if _missing(p):
        return "p not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def p_cell(p: float | None) -> str:
    """A p-value in a table cell: '<0.001', '0.012', or '-' when there is none."""
    if _missing(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def hr_ci(hr: float | None, low: float | None, high: float | None, digits: int = 2,
          missing: str = "not estimable") -> str:
    """'0.32 (0.18–0.57)': a hazard ratio with its CI; `missing` when there is none."""
    if _missing(hr):
        return missing
    return f"{hr:.{digits}f} ({ci(low, high, digits)})"


def median_ci(median: float | None, ci_limits, digits: int = 1,
              missing: str = "not reached") -> str:
    """'56.1 (41.5–not reached)': a median (months) with its CI; `missing` when none."""
    if _missing(median):
        return missing
    low, high = (list(ci_limits) + [None, None])[:2]
    return f"{median:.{digits}f} ({ci(low, high, digits)})"
