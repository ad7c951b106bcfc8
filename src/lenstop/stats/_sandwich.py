"""Robust (sandwich) variance for a weighted counting-process Cox model, Efron ties, row by row.

The reference implementation on (start, stop] rows: the tests check `_efron`'s per-subject
Fine-Gray variance against it on R finegray's expanded rows. lifelines cannot give this
variance (`CoxPHFitter(robust=True)` ignores `entry_col`, `CoxTimeVaryingFitter` has no robust
option), so the score residuals are computed the way R's survival package does (`agscore3.c`,
Efron method; Lin & Wei 1989), then V_robust = D'D with D = the weighted dfbeta residuals
summed within each cluster (subject). Cost: rows x event times, for small data only.
"""

from __future__ import annotations

import numpy as np


def score_residuals(
    x: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    beta: np.ndarray,
) -> np.ndarray:
    """Per-row Efron score residuals (unweighted) of a counting-process Cox model at `beta`.

    A row is at risk at event time t when start < t <= stop. Tied events at t are handled as
    Efron's sequence of d pseudo-events with the tied rows down-weighted by k/d.
    """
    x = np.asarray(x, dtype=float)
    x = x - x.mean(axis=0)  # residuals are invariant to centring; avoids overflow in exp
    event = np.asarray(event, dtype=bool)
    risk = np.exp(x @ np.asarray(beta, dtype=float))
    wrisk = weights * risk
    resid = np.zeros_like(x)
    for t in np.unique(stop[event]):
        at_risk = (start < t) & (stop >= t)
        dead = at_risk & event & (stop == t)
        d = int(dead.sum())
        s0 = wrisk[at_risk].sum()
        s1 = wrisk[at_risk] @ x[at_risk]
        d0 = wrisk[dead].sum()
        d1 = wrisk[dead] @ x[dead]
        frac = np.arange(d) / d  # Efron down-weighting of the tied rows, 0, 1/d, ...
        denom = s0 - frac * d0
        xbar = (s1[None, :] - frac[:, None] * d1[None, :]) / denom[:, None]
        haz = weights[dead].mean() / denom
        # rows at risk that do not fail at t: -risk_i * sum_k haz_k (x_i - xbar_k)
        alive = at_risk & ~dead
        resid[alive] -= risk[alive, None] * (x[alive] * haz.sum() - haz @ xbar)
        # rows failing at t: (x_i - mean_k xbar_k) - risk_i * sum_k (1 - k/d) haz_k (x_i - xbar_k)
        h1 = haz * (1.0 - frac)
        own = risk[dead, None] * (x[dead] * h1.sum() - h1 @ xbar)
        resid[dead] += x[dead] - xbar.mean(axis=0) - own
    return resid


def robust_covariance(
    x: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray,
    beta: np.ndarray,
    naive_cov: np.ndarray,
    cluster: np.ndarray,
) -> np.ndarray:
    """Cluster-robust sandwich covariance D'D, D = sum over each cluster of w * U * naive_cov."""
    u = score_residuals(x, start, stop, event, weights, beta)
    dfbeta = (u * weights[:, None]) @ np.asarray(naive_cov, dtype=float)
    _, inverse = np.unique(np.asarray(cluster), return_inverse=True)
    collapsed = np.zeros((inverse.max() + 1, dfbeta.shape[1]))
    np.add.at(collapsed, inverse, dfbeta)
    return collapsed.T @ collapsed
