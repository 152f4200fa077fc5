"""Slow, independent reference projections and set-membership checks for tests.

Written for clarity, one row at a time, with different algorithms from the
library (bisection on the threshold instead of sorting), so that agreement
between the two is evidence about both.
"""

import numpy as np
from sklearn.isotonic import isotonic_regression


def simplex_ref(x, radius=1.0, iters=200):
    """Projection onto {p >= 0, sum p = radius} by bisection on the threshold."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = x.min() - radius, x.max()  # sum(max(x - lo, 0)) >= radius >= at hi
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if np.maximum(x - mid, 0).sum() > radius:
            lo = mid
        else:
            hi = mid
    return np.maximum(x - 0.5 * (lo + hi), 0)


def l1_ball_ref(x, radius=1.0):
    x = np.asarray(x, dtype=np.float64)
    if np.abs(x).sum() <= radius:
        return x.copy()
    return np.sign(x) * simplex_ref(np.abs(x), radius)


def _norm(x):
    """||x||_2 computed on x / max|x_i|: np.linalg.norm squares the entries,
    which underflows for |x| near 1e-162 (and overflows near 1e154)."""
    s = np.abs(x).max()
    return 0.0 if s == 0 else s * np.sqrt(np.sum((x / s) ** 2))


def l2_ball_ref(x, radius=1.0):
    x = np.asarray(x, dtype=np.float64)
    n = _norm(x)
    return x.copy() if n <= radius else x * (radius / n)


def l2_sphere_ref(x, radius=1.0):
    x = np.asarray(x, dtype=np.float64)
    return x * (radius / _norm(x))


REFERENCES = {
    "simplex": simplex_ref,
    "l1_ball": l1_ball_ref,
    "l2_ball": l2_ball_ref,
    "l2_sphere": l2_sphere_ref,
    "linf_ball": lambda x, radius=1.0: np.clip(x, -radius, radius),
    "nonneg": lambda x: np.maximum(x, 0),
    # scikit-learn's PAVA, one row at a time (ours is vectorised over rows)
    "ordered": lambda x: isotonic_regression(np.asarray(x, dtype=np.float64)),
    "box": lambda x, lower=None, upper=None: np.clip(x, lower, upper),
}


def violation(P, name, radius=1.0, lower=None, upper=None):
    """Largest violation of the set's constraints by any row of P (0 if feasible).

    Norm and sum violations are relative to ``radius``.
    """
    P = np.atleast_2d(np.asarray(P, dtype=np.float64))
    if P.size == 0:
        return 0.0
    if name == "l2_sphere":
        return np.abs(np.linalg.norm(P, axis=1) - radius).max() / radius
    if name == "l2_ball":
        return max(0.0, (np.linalg.norm(P, axis=1) - radius).max() / radius)
    if name == "l1_ball":
        return max(0.0, (np.abs(P).sum(axis=1) - radius).max() / radius)
    if name == "linf_ball":
        return max(0.0, (np.abs(P).max(axis=1) - radius).max() / radius)
    if name == "simplex":
        neg = max(0.0, -P.min())
        return max(neg, np.abs(P.sum(axis=1) - radius).max() / radius)
    if name == "nonneg":
        return max(0.0, -P.min())
    if name == "ordered":
        if P.shape[1] < 2:
            return 0.0
        return max(0.0, (P[:, :-1] - P[:, 1:]).max())
    if name == "box":
        lo = -np.inf if lower is None else lower
        hi = np.inf if upper is None else upper
        return max(0.0, (lo - P).max(), (P - hi).max())
    raise ValueError(name)
