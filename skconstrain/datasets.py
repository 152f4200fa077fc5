"""Synthetic regression problems whose targets lie in a set of the registry."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from skconstrain._sets import check_radius, check_set
from skconstrain.projections import project

__all__ = ["make_constrained_regression"]


def _check_int(value, name, low):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
    ):
        raise ValueError(
            f"The '{name}' parameter must be an int >= {low}; got {value!r}."
        )
    return int(value)


def make_constrained_regression(
    n_samples=1000,
    n_features=10,
    n_targets=5,
    set="simplex",
    radius=1.0,
    noise=0.1,
    random_state=None,
    as_frame=False,
):
    """Generate a nonlinear regression problem with targets in a set.

    ``X`` is standard normal. The signal is a random one-hidden-layer network of
    ``X`` (``tanh(X W1) W2``, scaled so that its rows have norms of the order of
    ``radius``), Gaussian noise of standard deviation ``noise * radius`` is added,
    and each row is then projected onto the set, so every target is feasible
    (up to rounding) and noise does not push targets out of it. The simplex and
    L1-ball targets are sparse, as projections onto them are.

    Parameters
    ----------
    n_samples : int, default=1000
    n_features : int, default=10
    n_targets : int, default=5
    set : str, default="simplex"
        A registry name: "simplex", "l1_ball", "l2_ball", "l2_sphere",
        "linf_ball", "box" (the box ``[-radius, radius]``), "nonneg".
    radius : float, default=1.0
        Radius of the set (sum of the simplex).
    noise : float, default=0.1
        Standard deviation of the noise, relative to ``radius``, >= 0.
    random_state : int, RandomState or None, default=None
        Seed; the same seed gives the same data.
    as_frame : bool, default=False
        If True, return DataFrames with columns ``x0, x1, ...`` and
        ``y0, y1, ...`` (a Series for one target).

    Returns
    -------
    X : ndarray or DataFrame of shape (n_samples, n_features)
    y : ndarray or DataFrame of shape (n_samples, n_targets)
        1-D (or a Series) when ``n_targets == 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain.datasets import make_constrained_regression
    >>> X, Y = make_constrained_regression(100, 4, 3, set="simplex", random_state=0)
    >>> X.shape, Y.shape
    ((100, 4), (100, 3))
    >>> bool(np.allclose(Y.sum(axis=1), 1.0) and (Y >= 0).all())
    True
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    n_targets = _check_int(n_targets, "n_targets", 1)
    check_set(set)
    radius = check_radius(radius)
    if (
        isinstance(noise, bool)
        or not isinstance(noise, numbers.Real)
        or not 0 <= noise < np.inf
    ):
        raise ValueError(
            f"The 'noise' parameter must be a real number >= 0; got {noise!r}."
        )
    rng = check_random_state(random_state)
    hidden = 16
    X = rng.standard_normal((n_samples, n_features))
    W1 = rng.standard_normal((n_features, hidden)) / np.sqrt(n_features)
    W2 = rng.standard_normal((hidden, n_targets)) / np.sqrt(hidden)
    signal = np.tanh(2.0 * X @ W1) @ W2
    signal *= radius / np.sqrt(np.mean(np.sum(signal**2, axis=1)))  # norms ~ radius
    Z = signal + noise * radius * rng.standard_normal((n_samples, n_targets))
    if set == "simplex":
        Z += radius / n_targets  # centre on the simplex: several positive shares
    if set == "box":
        params = {"lower": -radius, "upper": radius}
    elif set == "nonneg":
        params = {}
    else:
        params = {"radius": radius}
    Y = project(Z, set, **params)
    if as_frame:
        X = pd.DataFrame(X, columns=[f"x{i}" for i in range(n_features)])
        Y = pd.DataFrame(Y, columns=[f"y{j}" for j in range(n_targets)])
        return X, (Y.iloc[:, 0] if n_targets == 1 else Y)
    return X, (Y[:, 0] if n_targets == 1 else Y)
