"""Exact binomial CIs vs scipy and closed forms; Fisher's exact test vs hand and R values."""

from __future__ import annotations

from math import comb

import pytest
from scipy.optimize import brentq
from scipy.stats import binomtest

from lenstop.stats import exact_ci, fisher_2x2


@pytest.mark.parametrize(("k", "n"), [(28, 48), (22, 30), (50, 118), (0, 10), (10, 10), (1, 1)])
def test_exact_ci_matches_scipy(k, n):
    res = exact_ci(k, n)
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert res["proportion"] == pytest.approx(k / n)
    assert res["ci_low"] == pytest.approx(ref.low, abs=1e-10)
    assert res["ci_high"] == pytest.approx(ref.high, abs=1e-10)


def test_exact_ci_closed_form_at_zero():
    # k = 0: the Clopper-Pearson upper limit is 1 - (alpha/2)^(1/n)
    res = exact_ci(0, 10)
    assert res["ci_low"] == 0.0
    assert res["ci_high"] == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)


def test_exact_ci_edge_and_bad_input():
    assert exact_ci(0, 0)["proportion"] is None
    with pytest.raises(ValueError):
        exact_ci(5, 4)


def tea_weights(psi: float) -> list[float]:
    """Fisher's noncentral hypergeometric weights of a = 0..4 for margins 4/4, odds ratio psi."""
    return [comb(4, a) * comb(4, 4 - a) * psi**a for a in range(5)]


def test_fisher_tea_tasting_by_hand():
    # Fisher's tea-tasting table; margins 4/4, so P(a = k) = C(4,k) C(4,4-k) / C(8,4)
    table = [[3, 1], [1, 3]]
    probs = [w / comb(8, 4) for w in tea_weights(1.0)]
    p_hand = sum(p for p in probs if p <= probs[3] * (1 + 1e-7))  # = 34/70
    res = fisher_2x2(table)
    assert res["p"] == pytest.approx(p_hand, abs=1e-12)
    assert res["p"] == pytest.approx(34 / 70, abs=1e-12)
    assert res["odds_ratio"] == pytest.approx(9.0)  # (3*3)/(1*1)

    # conditional MLE: E[a; psi] = 3; exact CI: P(a >= 3; lo) = 0.025, P(a <= 3; hi) = 0.025
    def mean(psi):
        w = tea_weights(psi)
        return sum(a * wa for a, wa in enumerate(w)) / sum(w)

    def upper_tail(psi):
        w = tea_weights(psi)
        return sum(w[3:]) / sum(w)

    cmle = brentq(lambda psi: mean(psi) - 3, 1, 100, xtol=1e-14)
    lo = brentq(lambda psi: upper_tail(psi) - 0.025, 1e-6, 10, xtol=1e-14)
    hi = brentq(
        lambda psi: 1 - upper_tail(psi) + tea_weights(psi)[3] / sum(tea_weights(psi)) - 0.025,
        1,
        1e5,
        xtol=1e-10,
    )
    assert res["odds_ratio_cmle"] == pytest.approx(cmle, rel=1e-6)
    assert res["ci_low"] == pytest.approx(lo, rel=1e-8)
    assert res["ci_high"] == pytest.approx(hi, rel=1e-8)
    # R's fisher.test reports 6.408309 (0.2117329, 621.9337505): its uniroot tolerance leaves
    # the upper limit 0.7% short of the exact root, so R is matched only loosely here.
    assert res["odds_ratio_cmle"] == pytest.approx(6.40830886700579, rel=1e-5)
    assert res["ci_high"] == pytest.approx(621.933750545417, rel=1e-2)


def test_fisher_rejects_non_2x2():
    with pytest.raises(ValueError):
        fisher_2x2([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError):
        fisher_2x2([[1, -2], [3, 4]])
