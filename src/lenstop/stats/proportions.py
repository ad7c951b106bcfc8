"""Proportions with exact (Clopper-Pearson) CIs and Fisher's exact test for 2x2 tables."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import fisher_exact
from scipy.stats.contingency import odds_ratio
from statsmodels.stats.proportion import proportion_confint

from lenstop.config import ALPHA


def exact_ci(k: int, n: int, alpha: float = ALPHA) -> dict[str, Any]:
    """k/n with its Clopper-Pearson (exact binomial) CI, e.g. patients regaining TI on re-treatment.

    Returns k, n, proportion, ci_low, ci_high, alpha (proportion and limits None when n = 0).
    """
    k, n = int(k), int(n)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return {"k": 0, "n": 0, "proportion": None, "ci_low": None, "ci_high": None, "alpha": alpha}
    low, high = proportion_confint(k, n, alpha=alpha, method="beta")
    return {
        "k": k,
        "n": n,
        "proportion": k / n,
        "ci_low": float(low),
        "ci_high": float(high),
        "alpha": alpha,
    }


def fisher_2x2(table, alpha: float = ALPHA) -> dict[str, Any]:
    """Fisher's exact test (two-sided) for a 2x2 table of counts [[a, b], [c, d]].

    Returns the sample odds ratio ad/bc (`odds_ratio`, as scipy's fisher_exact), the
    conditional maximum-likelihood odds ratio with its exact CI (`odds_ratio_cmle`, `ci_low`,
    `ci_high`, as R's fisher.test) and the two-sided p.
    """
    arr = np.asarray(table)
    if arr.shape != (2, 2) or (arr < 0).any() or (arr != np.round(arr)).any():
        raise ValueError("table must be a 2x2 array of non-negative integer counts")
    arr = arr.astype(np.int64)
    res = fisher_exact(arr, alternative="two-sided")
    cond = odds_ratio(arr, kind="conditional")
    ci = cond.confidence_interval(confidence_level=1 - alpha)
    return {
        "table": arr.tolist(),
        "odds_ratio": float(res.statistic),
        "odds_ratio_cmle": float(cond.statistic),
        "ci_low": float(ci.low),
        "ci_high": float(ci.high),
        "p": float(res.pvalue),
        "alpha": alpha,
    }
