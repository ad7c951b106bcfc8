"""How every number is written: decimals, percentages, CIs, p-values, medians and counts.

The one writer of numbers: prose (manuscript variables), tables, figures and notebooks call
these, so a p-value reads the same in the abstract, in Table 2, on the forest plot and in the
notebook that computed it. What a withheld or missing number reads is written here too.
"""

from __future__ import annotations

import math

DASH = "\u2013"
"""En dash between CI limits."""

P_FLOOR = 0.001
"""The smallest p-value written as a number; smaller ones read '< 0.001'."""

WITHHELD_PCT = "percentage withheld under the minimum cell size"
WITHHELD_MEDIAN = "withheld under the minimum cell size"
WITHHELD_AT_RISK = "withheld, as fewer patients than the minimum cell size were at risk"
BEYOND = "not estimable (beyond the longest follow-up)"


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def num(x: float | None, digits: int = 1) -> str:
    """A number with fixed decimals; 'not reached' for None (an open median or limit)."""
    return "not reached" if _missing(x) else f"{x:.{digits}f}"


def pct(p: float, digits: int = 1) -> str:
    """'45.2%': a proportion (0 to 1) as a percentage with fixed decimals."""
    return f"{num(100 * p, digits)}%"


def ci(low: float | None, high: float | None, digits: int = 1, pct: bool = False) -> str:
    """'low–high' (percentages when `pct`), with 'not reached' for an open limit."""
    def one(v):
        return num(None if _missing(v) else (100 * v if pct else v), digits)

    return f"{one(low)}{DASH}{one(high)}"


def ci_band(low: float | None, high: float | None, pct: bool = False) -> str:
    """' (95% CI 78.7–91.7%)' after an estimate (percentages when `pct`), or '' when a limit
    is missing (the printed lines of the notebooks' landmark estimates)."""
    if low is None or high is None:
        return ""
    return f" (95% CI {ci(low, high, pct=pct)}{'%' if pct else ''})"


def _p(p: float) -> tuple[str, str]:
    """The comparison and the digits of a p-value: ('<', '0.001') or ('=', '0.012')."""
    return ("<", f"{P_FLOOR:g}") if p < P_FLOOR else ("=", f"{p:.3f}")


def pval(p: float | None, compact: bool = False) -> str:
    """'p < 0.001' or 'p = 0.012' (three decimals), as journals print them in prose;
    `compact` ('p<0.001', 'p=0.012') where space is short, as beside a forest plot's rows."""
    if _missing(p):
        return "p not available"
    op, digits = _p(p)
    return f"p{op}{digits}" if compact else f"p {op} {digits}"


def p_cell(p: float | None) -> str:
    """A p-value in a table cell: '<0.001', '0.012', or '-' when there is none."""
    if _missing(p):
        return "-"
    op, digits = _p(p)
    return digits if op == "=" else f"{op}{digits}"


def interval(value: float | None, low: float | None, high: float | None, digits: int = 1,
             missing: str = "not reached") -> str:
    """'19.7 (11.9–38.4)': a value with its interval (a CI, or an IQR in Table 1's cells);
    `missing` when there is no value."""
    if _missing(value):
        return missing
    return f"{value:.{digits}f} ({ci(low, high, digits)})"


def hr_ci(hr: float | None, low: float | None, high: float | None, digits: int = 2,
          missing: str = "not estimable") -> str:
    """'0.32 (0.18–0.57)': a hazard ratio with its CI; `missing` when there is none."""
    return interval(hr, low, high, digits, missing)


def median_ci(median: float | None, ci_limits, digits: int = 1,
              missing: str = "not reached") -> str:
    """'56.1 (41.5–not reached)': a median (months) with its CI; `missing` when none."""
    if _missing(median):
        return missing
    low, high = (list(ci_limits) + [None, None])[:2]
    return interval(median, low, high, digits)


def with_ci(value: float | None, low: float | None, high: float | None, level: str,
            digits: int = 1, pct: bool = False) -> str | None:
    """'45.2% (95% CI 33.1–58.0%)'; None if no value.

    The CI is left out when a limit is missing or both equal the estimate (no event yet).
    """
    if value is None:
        return None
    unit = "%" if pct else ""
    scale = 100 if pct else 1
    text = f"{num(scale * value, digits)}{unit}"
    if low is not None and high is not None and not low == high == value:
        text += f" ({level} CI {ci(low, high, digits, pct=pct)}{unit})"
    return text


def missing_estimate(row: dict) -> str:
    """Why a landmark estimate is missing: withheld under the minimum cell size, or beyond
    the follow-up."""
    return WITHHELD_AT_RISK if row.get("withheld") else BEYOND


def median_text(median: float | None, low: float | None, high: float | None, level: str,
                events: int, what: str) -> str:
    """'56.3 months (95% CI 45.1–70.2)', or why the median was not reached."""
    if median is not None:
        return f"{num(median)} months ({level} CI {ci(low, high)})"
    if events == 0:
        return f"not reached (no patient had {what})"
    if low is not None:
        return f"not reached (lower {level} confidence limit {num(low)} months)"
    return f"not reached (fewer than half of the patients had {what})"


def withheld(d: dict) -> bool:
    """True when a results entry was withheld under the minimum cell size."""
    return bool(d.get("withheld")) or isinstance(d.get("n"), str) and \
        str(d["n"]).startswith("<")


def median_iqr(s: dict, digits: int = 1) -> str:
    """'19.7 (IQR 11.9–38.4)' from a results {'median', 'q1', 'q3'} entry, or why not."""
    if s.get("median") is None:
        return WITHHELD_MEDIAN if withheld(s) else "not available"
    return f"{num(s['median'], digits)} (IQR {ci(s['q1'], s['q3'], digits)})"


def prop_ci(p: dict, digits: int = 1) -> str:
    """'58.3%; 95% CI 43.2–72.4%' from an exact_ci dict (reads right in parentheses)."""
    if p.get("proportion") is None:
        return (WITHHELD_PCT if withheld(p) or isinstance(p.get("k"), str) else
                "not estimable")
    level = round(100 * (1 - p["alpha"]))
    return (f"{pct(p['proportion'], digits)}; {level}% CI "
            f"{ci(p['ci_low'], p['ci_high'], digits, pct=True)}%")


def ratio(t: dict, key: str = "hr") -> str:
    """'0.32 (95% CI 0.17–0.61; p < 0.001)' for one model term, or why it is missing."""
    if t.get(key) is None:
        if str(t.get("note") or "").startswith("withheld"):  # under the minimum cell size
            return str(t["note"]).replace("withheld: ", "withheld (") + ")"
        return "not estimable" + (f" ({t['note']})" if t.get("note") else "")
    return f"{num(t[key], 2)} (95% CI {ci(t['ci_low'], t['ci_high'], 2)}; {pval(t['p'])})"


def count(n: int | str, noun: str) -> str:
    """'1 patient', '50 patients', '<5 patients'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def percent(n: int | str, total: int) -> str:
    """'42%' of `total`, or 'not shown' for a count hidden under the minimum cell size."""
    if isinstance(n, str):
        return "not shown"
    return f"{num(100 * n / total, 0)}%" if total else "0%"


def n_pct(n: int, total: int) -> str:
    """'70 (59%)': a count and its percentage of `total` (the count alone when total is 0)."""
    return f"{n} ({percent(n, total)})" if total else f"{n}"


def n_pct_patients(n: int | str, total: int) -> str:
    """'50 patients (42%)', or '<5 patients' for a hidden count."""
    return count(n, "patient") + ("" if isinstance(n, str) else f" ({percent(n, total)})")


def share(d: dict) -> str:
    """'70 (59%)' from a results {'n', 'pct'} pair; the count alone when pct is withheld."""
    return f"{d['n']}" if d.get("pct") is None else f"{d['n']} ({num(d['pct'], 0)}%)"
