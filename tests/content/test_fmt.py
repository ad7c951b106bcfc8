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


def test_ci_band_after_an_estimate_or_nothing():
    assert fmt.ci_band(0.787, 0.917, pct=True) == " (95% CI 78.7\u201391.7%)"
    assert fmt.ci_band(9.8, 31.0) == " (95% CI 9.8\u201331.0)"
    assert fmt.ci_band(None, 0.9, pct=True) == ""


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


def test_one_p_value_rule_for_prose_cells_and_figures():
    for p, prose, cell, compact in [(0.0004, "p < 0.001", "<0.001", "p<0.001"),
                                    (0.001, "p = 0.001", "0.001", "p=0.001"),
                                    (0.0123, "p = 0.012", "0.012", "p=0.012"),
                                    (0.9996, "p = 1.000", "1.000", "p=1.000")]:
        assert (fmt.pval(p), fmt.p_cell(p), fmt.pval(p, compact=True)) == (prose, cell, compact)
    assert fmt.pval(math.nan, compact=True) == "p not available"


def test_percentages_of_proportions_and_of_counts():
    assert fmt.pct(0.4567) == "45.7%"
    assert fmt.pct(0.4567, 0) == "46%"
    for x in (0.125, 0.4567, 0.995, 1 / 3):  # the same digits as Python's own '%' format
        assert fmt.pct(x) == f"{x:.1%}" and fmt.pct(x, 0) == f"{x:.0%}"
    assert fmt.percent(50, 118) == "42%"
    assert fmt.percent("<5", 118) == "not shown"
    assert fmt.percent(0, 0) == "0%"
    assert fmt.n_pct(70, 118) == "70 (59%)"
    assert fmt.n_pct(3, 0) == "3"
    assert fmt.n_pct_patients(50, 118) == "50 patients (42%)"
    assert fmt.n_pct_patients("<5", 118) == "<5 patients"
    assert fmt.share({"n": 70, "pct": 59.3}) == "70 (59%)"
    assert fmt.share({"n": "<5", "pct": None}) == "<5"


def test_counts_take_the_plural_except_for_one():
    assert fmt.count(1, "patient") == "1 patient"
    assert fmt.count(0, "event") == "0 events"
    assert fmt.count("<5", "patient") == "<5 patients"


def test_interval_is_the_one_value_with_limits():
    """Table 1's median (IQR), a hazard ratio and a median with CI are written alike."""
    assert fmt.interval(19.73, 11.9, 38.44) == "19.7 (11.9\u201338.4)"
    assert fmt.interval(20.0, 12.0, 32.0, 0) == "20 (12\u201332)"
    assert fmt.interval(None, 1, 2, missing="-") == "-"
    assert fmt.hr_ci(0.321, 0.18, 0.574) == fmt.interval(0.321, 0.18, 0.574, 2)
    assert fmt.median_ci(None, None) == "not reached"  # no limits needed without a median


def test_median_iqr_and_why_it_is_missing():
    assert fmt.median_iqr({"median": 19.73, "q1": 11.9, "q3": 38.44}) == \
        "19.7 (IQR 11.9\u201338.4)"
    assert fmt.median_iqr({"median": 20, "q1": 12, "q3": 32}, 0) == "20 (IQR 12\u201332)"
    assert fmt.median_iqr({"median": None, "n": "<5"}) == fmt.WITHHELD_MEDIAN
    assert fmt.median_iqr({"median": None, "withheld": "fewer than 5"}) == fmt.WITHHELD_MEDIAN
    assert fmt.median_iqr({"median": None, "n": 0}) == "not available"


def test_withheld_entries():
    assert fmt.withheld({"n": "<5"})
    assert fmt.withheld({"n": 12, "withheld": "fewer than 5 patients"})
    assert not fmt.withheld({"n": 12})
    assert not fmt.withheld({"n": ">=5"})  # shown as a bound, not hidden below the minimum


def test_proportion_with_exact_ci():
    p = {"k": 21, "n": 36, "proportion": 21 / 36, "ci_low": 0.4, "ci_high": 0.745,
         "alpha": 0.05}
    assert fmt.prop_ci(p) == "58.3%; 95% CI 40.0\u201374.5%"
    assert fmt.prop_ci(dict(p, alpha=0.01), 0).startswith("58%; 99% CI 40")
    assert fmt.prop_ci({"k": "<5", "n": 36, "proportion": None}) == fmt.WITHHELD_PCT
    assert fmt.prop_ci({"k": 0, "n": 0, "proportion": None}) == "not estimable"


def test_estimate_with_ci_and_landmarks_without_one():
    assert fmt.with_ci(0.452, 0.331, 0.58, "95%", pct=True) == \
        "45.2% (95% CI 33.1\u201358.0%)"
    assert fmt.with_ci(12.34, 10.0, 15.0, "90%") == "12.3 (90% CI 10.0\u201315.0)"
    assert fmt.with_ci(1.0, 1.0, 1.0, "95%", pct=True) == "100.0%"  # no event yet: no CI
    assert fmt.with_ci(0.5, None, 0.6, "95%", pct=True) == "50.0%"
    assert fmt.with_ci(None, 0.1, 0.2, "95%") is None
    assert fmt.missing_estimate({"withheld": True}) == fmt.WITHHELD_AT_RISK
    assert fmt.missing_estimate({"survival": None}) == fmt.BEYOND


def test_median_months_or_why_not_reached():
    assert fmt.median_text(56.26, 45.1, 70.24, "95%", 50, "lost RBC-TI") == \
        "56.3 months (95% CI 45.1\u201370.2)"
    assert fmt.median_text(56.26, 45.1, None, "95%", 50, "x").endswith("45.1\u2013not reached)")
    assert fmt.median_text(None, None, None, "95%", 0, "lost RBC-TI") == \
        "not reached (no patient had lost RBC-TI)"
    assert fmt.median_text(None, 40.0, None, "95%", 9, "x") == \
        "not reached (lower 95% confidence limit 40.0 months)"
    assert fmt.median_text(None, None, None, "95%", 9, "an event") == \
        "not reached (fewer than half of the patients had an event)"


def test_model_term_ratio_or_why_missing():
    t = {"hr": 0.3214, "ci_low": 0.171, "ci_high": 0.6049, "p": 0.0004}
    assert fmt.ratio(t) == "0.32 (95% CI 0.17\u20130.60; p < 0.001)"
    assert fmt.ratio({"shr": 1.5, "ci_low": 1.0, "ci_high": 2.25, "p": 0.04}, "shr") == \
        "1.50 (95% CI 1.00\u20132.25; p = 0.040)"
    assert fmt.ratio({"hr": None, "note": "withheld: fewer than 5 events"}) == \
        "withheld (fewer than 5 events)"
    assert fmt.ratio({"hr": None, "note": "no variation"}) == "not estimable (no variation)"
    assert fmt.ratio({}) == "not estimable"
