"""Linearity of a continuous Cox term: likelihood-ratio test of a natural cubic spline.

The spline model replaces the linear term by a natural (restricted) cubic spline with the
knots of R's `splines::ns(x, df)`: boundary knots at the range of x, df - 1 interior knots at
its quantiles. The truncated-power basis used here (Harrell's restricted cubic spline) spans
the same functions as R's B-spline basis, so the partial likelihood, and the LR chi-square
on df - 1 degrees of freedom, equal R's
`coxph(Surv ~ ns(x, df) + ...)` against `coxph(Surv ~ x + ...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from lenstop.config import ALPHA
from lenstop.stats._util import complete_cases
from lenstop.stats.cox import cox_fit


def ns_knots(x: np.ndarray, df: int = 3) -> np.ndarray:
    """Knots of R's `ns(x, df)` (no intercept): min, the quantiles at k/df, k = 1..df-1, max."""
    if df < 2:
        raise ValueError("a spline needs df >= 2 (df = 1 is the linear term)")
    x = np.asarray(x, dtype=float)
    inner = np.quantile(x, np.arange(1, df) / df)  # R's default quantile type 7
    return np.concatenate([[x.min()], inner, [x.max()]])


def spline_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted cubic spline basis: x and len(knots) - 2 non-linear columns, linear beyond
    the outer knots (scaled by (t_k - t_1)^2 so every column is on the scale of x)."""
    x = np.asarray(x, dtype=float)
    t = np.asarray(knots, dtype=float)
    k = t.size
    if k < 3 or np.any(np.diff(t) <= 0):
        raise ValueError("a natural spline needs at least 3 distinct, increasing knots")

    def cube(v):
        return np.clip(v, 0.0, None) ** 3

    last, before = t[-1], t[-2]
    cols = [x]
    for tj in t[:-2]:
        col = (cube(x - tj) - cube(x - before) * (last - tj) / (last - before)
               + cube(x - last) * (before - tj) / (last - before))
        cols.append(col / (last - t[0]) ** 2)
    return np.column_stack(cols)


def linearity_test(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    terms: Sequence[str],
    term: str,
    spline_df: int = 3,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """LR test of `term` entered as a natural cubic spline (`spline_df` df) against linear.

    Both Cox models have the other `terms` unchanged and are fitted on the same complete
    cases. Returns term, spline_df, knots, n, events, loglik_linear, loglik_spline,
    statistic (2 x loglik difference), df (spline_df - 1), p and a one-line method.
    Raises `ModelNotEstimable` if either model cannot be fitted.
    """
    terms = list(terms)
    if term not in terms:
        raise ValueError(f"'{term}' is not among the model terms {terms}")
    data, _ = complete_cases(df, [duration_col, event_col, *terms])
    x = data[term].to_numpy(dtype=float)
    knots = ns_knots(x, spline_df)
    basis = spline_basis(x, knots)
    names = [term] + [f"{term}__ns{j}" for j in range(1, basis.shape[1])]
    wide = data.drop(columns=[term]).assign(**dict(zip(names, basis.T, strict=True)))
    position = terms.index(term)
    spline_terms = terms[:position] + names + terms[position + 1:]
    linear = cox_fit(data, duration_col, event_col, terms, alpha=alpha)
    spline = cox_fit(wide, duration_col, event_col, spline_terms, alpha=alpha)
    stat = max(0.0, 2.0 * (spline.fitter.log_likelihood_ - linear.fitter.log_likelihood_))
    dof = spline_df - 1
    return {
        "term": term,
        "spline_df": spline_df,
        "knots": knots.tolist(),
        "n": linear.n,
        "events": linear.events,
        "loglik_linear": linear.fitter.log_likelihood_,
        "loglik_spline": spline.fitter.log_likelihood_,
        "statistic": stat,
        "df": dof,
        "p": float(chi2.sf(stat, dof)),
        "method": (f"likelihood-ratio test of a natural cubic spline with {spline_df} df "
                   f"(knots at the range and the {dof} inner quantiles, as R's ns()) against "
                   "the linear term"),
    }
