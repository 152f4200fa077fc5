"""Split-conformal calibration of several quantile levels at once (NumPy only).

The model's quantiles ``q_1 <= ... <= q_K`` at levels ``tau_1 < ... < tau_K``
of a row define a whole quantile function ``Q_x(z)`` of the normal score
``z = Phi^-1(tau)``: linear between the knots ``(z_k, q_k)``, and linear
beyond the first and last knots with the slopes of the end segments. The
conformity score of a calibration row is where its target falls on that
function, ``s_i = Q_{x_i}^-1(y_i)`` (the probability integral transform of
the model's predicted distribution, in normal scores; distributional
conformal prediction, Chernozhukov, Wüthrich and Zhu, PNAS 2021, one-sided).
A level ``tau`` is calibrated to the score ``z*`` of rank
``ceil((n + 1) tau)`` among the ``n`` calibration rows (``floor`` for
``tau < 1/2``), and predicted as ``Q_x(z*)``. For a new row exchangeable
with the calibration rows, ``P(y <= Q_x(z*)) = rank / (n + 1)`` (continuous
targets), so

- ``tau <= P(y <= q~_tau(x)) < tau + 1 / (n + 1)`` for ``tau >= 1/2``,
- ``tau - 1 / (n + 1) < P(y <= q~_tau(x)) <= tau`` below,

and an interval between levels ``lo < 1/2 <= hi`` covers at least ``hi - lo``,
whatever the network (conformalized quantile regression, Romano, Patterson
and Candès, NeurIPS 2019, gives the same guarantee for one interval by
shifting its two ends). The calibrated scores grow with the level and
``Q_x`` is non-decreasing, so calibrated quantiles never cross; where the
model is already calibrated, ``z*`` is close to ``z_k`` and little changes.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

__all__ = [
    "calibrated_quantiles",
    "conformal_scores",
    "min_calibration_rows",
    "scores",
]


def _rank(level, n):
    """The 1-based rank of the score that calibrates ``level`` on ``n`` rows
    (0: no finite lower bound, ``n + 1``: no finite upper bound)."""
    # a small slack so that (n + 1) * tau landing on an integer in exact
    # arithmetic is not moved by the rounding of the product
    product = (n + 1) * level
    if level >= 0.5:
        return math.ceil(product - 1e-9)
    return math.floor(product + 1e-9)


def min_calibration_rows(levels):
    """The fewest calibration rows that give every level a finite calibration.

    Examples
    --------
    >>> min_calibration_rows([0.1, 0.5, 0.9])
    9
    >>> min_calibration_rows([0.05, 0.95])
    19
    """
    n = 1
    while any(not 1 <= _rank(tau, n) <= n for tau in levels):
        n += 1
    return n


def _function(Q, levels, floor):
    """The knots ``z`` (K,), the rows' quantiles sorted (n, K), and the
    slopes ``dq/dz`` of the two tails (n,), at least ``floor``."""
    z = ndtri(np.asarray(levels, dtype=np.float64))
    Q = np.sort(np.asarray(Q, dtype=np.float64), axis=1)
    if len(z) == 1:  # one knot: a unit slope (the result does not depend on it)
        ones = np.ones(len(Q))
        return z, Q, ones, ones
    low = (Q[:, 1] - Q[:, 0]) / (z[1] - z[0])
    high = (Q[:, -1] - Q[:, -2]) / (z[-1] - z[-2])
    return z, Q, np.maximum(low, floor), np.maximum(high, floor)


def scores(y, Q, levels, floor):
    """Where each ``y`` falls on its row's quantile function, in normal
    scores: ``Q_x^-1(y)`` (see the module's docstring)."""
    y = np.asarray(y, dtype=np.float64)
    z, Q, low, high = _function(Q, levels, floor)
    K = len(z)
    at = (y[:, None] >= Q).sum(axis=1) - 1  # the knot at or below y: -1..K-1
    out = np.empty(len(y))
    below, above = at < 0, at == K - 1
    out[below] = z[0] + (y[below] - Q[below, 0]) / low[below]
    out[above] = z[-1] + (y[above] - Q[above, -1]) / high[above]
    inside = ~(below | above)
    rows, k = np.flatnonzero(inside), at[inside]
    left, right = Q[rows, k], Q[rows, k + 1]  # left <= y < right
    out[inside] = z[k] + (y[inside] - left) * (z[k + 1] - z[k]) / (right - left)
    return out


def calibrated_quantiles(Q, levels, calibrated, floor):
    """Each row's quantile function read at the calibrated scores:
    ``Q_x(z*)``, shape (n, len(calibrated)); ordered along each row."""
    z, Q, low, high = _function(Q, levels, floor)
    out = np.empty((len(Q), len(calibrated)))
    for j, t in enumerate(np.asarray(calibrated, dtype=np.float64)):
        if np.isinf(t):
            out[:, j] = t
        elif t < z[0]:
            out[:, j] = Q[:, 0] + (t - z[0]) * low
        elif t >= z[-1]:
            out[:, j] = Q[:, -1] + (t - z[-1]) * high
        else:
            k = int(np.searchsorted(z, t, side="right")) - 1
            step = (Q[:, k + 1] - Q[:, k]) / (z[k + 1] - z[k])
            out[:, j] = Q[:, k] + (t - z[k]) * step
    return out


def conformal_scores(y, Q, levels):
    """Calibrate every level on held-out rows.

    Parameters
    ----------
    y : ndarray of shape (n,)
        The calibration rows' targets.
    Q : ndarray of shape (n, k)
        The model's quantiles of those rows, a column per level.
    levels : ndarray of shape (k,)
        Increasing levels in (0, 1).

    Returns
    -------
    calibrated : ndarray of shape (k,)
        The normal score each level is read at (non-decreasing; ``-inf`` or
        ``inf`` for a level too extreme for ``n`` rows, see
        :func:`min_calibration_rows`).
    floor : float
        The smallest slope of the tails (keeps the quantile function
        strictly increasing where the model's end quantiles tie).

    Examples
    --------
    >>> y = np.arange(9.0)
    >>> Q = np.tile([2.0, 6.0], (9, 1))  # the model: 2 and 6 on every row
    >>> levels = np.array([0.2, 0.8])
    >>> calibrated, floor = conformal_scores(y, Q, levels)
    >>> calibrated_quantiles(Q[:1], levels, calibrated, floor).round(6).tolist()
    [[1.0, 7.0]]
    """
    y = np.asarray(y, dtype=np.float64)
    floor = 1e-9 * (float(np.abs(y).max(initial=0.0)) + float(np.std(y)) + 1e-300)
    s = np.sort(scores(y, Q, levels, floor))
    n = len(y)
    calibrated = np.empty(len(levels))
    for k, tau in enumerate(levels):
        rank = _rank(tau, n)
        calibrated[k] = -np.inf if rank < 1 else np.inf if rank > n else s[rank - 1]
    return calibrated, floor
