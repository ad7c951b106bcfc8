"""One way to write each number: decimals, CIs, p-values, hazard ratios and medians."""

from __future__ import annotations

import math

from lenstop.content import fmt


def test_num_and_open_limits():
    assert fmt.num(1.25, 1) == "1.2"  # round half to even, as Python's format does
    assert fmt.num(2.0, 2) == "2.00"
    assert fmt.num(None) == fmt.num(math.nan) == "not reached"


def test_ci_with_percentages_and_open_limit():
    assert fmt.ci(0.123, 0.456, pct=True) == "12.3\u201345.6"
    assert fmt.ci(41.5, None) == "41.5\u2013not reached"


def test_p_values_in_prose_and_in_cells():
    assert fmt.pval(0.0004) == "p < 0.001"
    assert fmt.pval(0.0123) == "p = 0.012"
    assert fmt.pval(None) == "p not available"
    assert fmt.p_cell(0.0004) == "<0.001"
    assert fmt.p_cell(0.5) == "0.500"
    assert fmt.p_cell(math.nan) == "-"


def test_hazard_ratio_and_median_with_ci():
    assert fmt.hr_ci(0.321, 0.18, 0.574) == "0.32 (0.18\u20130.57)"
    assert fmt.hr_ci(None, None, None) == "not estimable"
    assert fmt.median_ci(56.1, [41.5, None]) == "56.1 (41.5\u2013not reached)"
    assert fmt.median_ci(None, []) == "not reached"
