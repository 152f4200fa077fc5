"""What a fit trains on, and with which seeds: the validation split, the
default MLP's fixed input map (standardisation, and the piecewise-linear
encoding), the rows as the engine's tensors, the seeds drawn in one order,
and the scales of the objective and the penalty.

One place, so that a single fit (the base's ``_prepare_fit``) and a member
of a stacked search (``_search._stack_member``) prepare their rows alike.
Every function reads the estimator's hyperparameters and sets nothing on it.
Imports ``_training``, ``_networks`` and ``skconstrain.keras``, never the
estimators.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils.sparsefuncs import mean_variance_axis

from skconstrain import _networks, _training
from skconstrain.keras.layers import piecewise_linear_bins


@dataclass
class FitPlan:
    """What the base's ``_prepare_fit`` (or a stack member's preparation)
    hands the training and ``_end_fit``."""

    X: np.ndarray
    data: _training.Data
    validation: _training.Data | None
    seed: int
    penalty_scale: float
    continuing: bool
    incremental: bool
    target_violation: dict | None


@dataclass(frozen=True)
class Seeds:
    """A fit's seeds (see :func:`draw_seeds`)."""

    split: int | None
    network: int | None
    epochs: int


def draw_seeds(estimator, rng, *, split, build):
    """A fit's seeds, drawn from ``rng`` in one order, so that a single
    fit and a member of a stack draw the same: the validation split's
    (with ``early_stopping`` and ``split``; else None), the network's
    (with ``build``; else None), the epochs' orders'."""
    return Seeds(
        split=int(rng.randint(2**31 - 1))
        if split and estimator.early_stopping
        else None,
        network=int(rng.randint(2**31 - 1)) if build else None,
        epochs=int(rng.randint(2**31 - 1)),
    )


def copied(random_state):
    """``random_state``, a generator copied: each fit draws from the same
    state, as each of :class:`~sklearn.model_selection.GridSearchCV`'s clones
    does."""
    if isinstance(random_state, np.random.RandomState):
        return copy.deepcopy(random_state)
    return random_state


def fit_data(
    estimator,
    X,
    y,
    sample_weight,
    split_seed,
    continuing,
    loss,
    input_bins,
    encoding=(None, True),
):
    """The training rows (and, with a ``split_seed``, the validation rows it
    draws, ``validation_fraction`` of them) as tensors, mapped by the
    default MLP's input scaling (and encoding, of ``input_bins`` per
    feature, for a network of ``encoding`` = ``(monotonic_cst,
    free_encoding)``; see :func:`input_scaling`). Returns ``(X, data,
    validation, scaling)``: X the training rows."""
    validation = None
    if split_seed is not None:
        parts = [X, y] + ([] if sample_weight is None else [sample_weight])
        split = train_test_split(
            *parts,
            test_size=estimator.validation_fraction,
            random_state=split_seed,
            shuffle=True,
        )
        X, X_val, y, y_val = split[:4]
        sample_weight, sw_val = split[4:] if sample_weight is not None else (None,) * 2
        validation = (X_val, y_val, sw_val)
    # the default MLP's fixed standardisation of X, done once on the data
    # (in float64): from the training rows, or kept from the first fit
    scaling = input_scaling(
        estimator, X, sample_weight, continuing, input_bins, encoding
    )
    data = _training.as_tensors(
        X,
        y,
        sample_weight,
        x_scaling=scaling,
        column_scale=_column_scale(loss, y, sample_weight),
    )
    # the rows of a step, whose losses it sums
    _training.check_targets(
        data,
        min(estimator._batch_size_for(len(y)), len(y)),
        weighted=sample_weight is not None,
    )
    if validation is not None:
        validation = _training.as_tensors(
            *validation,
            x_scaling=scaling,
            column_scale=_column_scale(loss, validation[1], validation[2]),
        )
    return X, data, validation, scaling


def input_scaling(
    estimator, X, sample_weight, continuing, input_bins, encoding=(None, True)
):
    """``(offset, scale, bins, columns)`` of the default MLP's fixed first
    layers: its :class:`~skconstrain.keras.InputScaling`, ``(x - mean) /
    std`` of the training rows, and with ``input_bins`` the bins of its
    :class:`~skconstrain.keras.PiecewiseLinearEncoding`, the standardised
    rows' quantiles, with the columns it keeps (:func:`encoded_columns`;
    ``bins`` None: no encoding); or the network's own when it is
    continued; None for a ``model`` callable (no such layers)."""
    if estimator.model is not None:
        return None
    if continuing:
        return _networks.fitted_input_scaling(estimator.model_, input_bins)
    if sp.issparse(X):
        mean, std = _sparse_moments(X, sample_weight)
    else:
        mean, std = _training.moments(X, sample_weight)
    std = _networks.spread(mean, std, np.float64)
    std = np.maximum(std, indicator_spread(X, mean, sample_weight))
    offset, scale = -mean / std, 1.0 / std
    bins = columns = None
    if input_bins:
        monotonic_cst, free = encoding
        calibrated = [] if monotonic_cst is None else np.flatnonzero(monotonic_cst)
        free = free or monotonic_cst is None  # an MLP's features are all free
        encoded = None if free else calibrated
        bins = piecewise_linear_bins(offset + scale * X, input_bins, features=encoded)
        columns = encoded_columns(bins, calibrated, free)
    return offset, scale, bins, columns


#: How far from its mean, in its scaled units, the default network's input
#: scaling puts a value of a column of two values (an indicator, a one-hot
#: column) at most. Standardised, the value of a column that is 1 in ``k``
#: of ``n`` rows lies about ``sqrt(n / k)`` standard deviations out: a rare
#: column then fits its few rows alone, and a new row that has it is
#: predicted far off. Measured (5 000 rows of 20 000 sparse indicators, 10
#: per row, 50 of them informative, 2 seeds: held-out R² 0.16 -> 0.51 at 1,
#: 2 or 5, 0.50 at 10; 500 Zipf-distributed levels one-hot, 3 seeds: test
#: MSE 0.190 -> 0.184 at 5, 0.247 at 2; bench_quality's sets within 0.007).
INDICATOR_REACH = 5.0


def indicator_spread(X, mean, sample_weight=None):
    """The least scale of each column of ``X`` that keeps a column of two
    values within :data:`INDICATOR_REACH` of its ``mean``: its largest
    distance from the mean / ``INDICATOR_REACH``; 0 for the other columns.

    The values are those of the rows of positive weight, a sparse matrix's
    implicit zeros included: sparse and dense rows get the same scale.

    Examples
    --------
    >>> X = np.zeros((100, 2)); X[0] = 1.0; X[:50, 1] = 1.0
    >>> indicator_spread(X, X.mean(axis=0)).round(3)  # 1 in 100 rows; half
    array([0.198, 0.1  ])
    """
    if sample_weight is not None and not np.all(np.asarray(sample_weight) > 0):
        X = X[np.asarray(sample_weight) > 0]
    if X.shape[0] == 0:
        return np.zeros(X.shape[1])
    if sp.issparse(X):
        lo, hi, two = _sparse_two_values(sp.csc_matrix(X, dtype=np.float64))
    else:
        lo, hi, two = _dense_two_values(np.asarray(X))
    reach = np.maximum(hi - mean, mean - lo)
    return np.where(two, reach / INDICATOR_REACH, 0.0)


def _dense_two_values(X):
    """Each column's least and largest value, and whether it has no other."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    two = np.empty(X.shape[1], dtype=bool)
    step = max(1, 2**22 // max(X.shape[0], 1))  # columns a block, ~4 M entries
    for j in range(0, X.shape[1], step):
        block = X[:, j : j + step]
        two[j : j + step] = (
            (block == lo[j : j + step]) | (block == hi[j : j + step])
        ).all(axis=0)
    return lo.astype(np.float64), hi.astype(np.float64), two


def _sparse_two_values(X):
    """:func:`_dense_two_values` of a CSC matrix, implicit zeros included."""
    n, d = X.shape
    lo = X.min(axis=0).toarray().ravel()
    hi = X.max(axis=0).toarray().ravel()
    counts = np.diff(X.indptr)
    column = np.repeat(np.arange(d), counts)
    other = (X.data != lo[column]) & (X.data != hi[column])
    two = np.bincount(column[other], minlength=d) == 0
    # implicit zeros are a value too: a third one unless 0 is the least or
    # the largest
    two &= (counts == n) | (lo == 0) | (hi == 0)
    return lo, hi, two


def encoded_columns(bins, calibrated, free):
    """The columns of its encoding (``j * n_bins + k``) that a default
    network with ``bins`` keeps: every bin of the ``calibrated`` features
    (their calibrators read them all), and with ``free`` each other
    feature's bins of positive width, not those that are zero for every
    input (a feature of a few values has a few bins; a one-hot column one,
    which the network also reads as the column itself), as a tuple; None:
    all of them. Dropping a zero column leaves the network's function and
    training as they were (its first kernel starts on the rows it keeps
    of the wide one's: ``_networks._kept_rows``)."""
    inv_width = np.asarray(bins[1])
    d, b = inv_width.shape
    calibrated = set(int(j) for j in calibrated)
    columns = []
    for j in range(d):
        if j in calibrated:
            columns += range(j * b, (j + 1) * b)
        elif free:
            columns += (j * b + np.flatnonzero(inv_width[j] > 0)).tolist()
    return None if len(columns) == d * b else tuple(int(c) for c in columns)


def loss_weight(data):
    """What the objective's gradient is multiplied by: 1 / the targets'
    variance (the loss of the best constant), 1 where it is 0."""
    scale = data.target_scale
    return 1.0 / scale if scale > 0 else 1.0


def penalty_scale(alpha, n_samples, loss_weight):
    """``alpha / n``, times the targets' variance: the gradient is the
    objective's times ``loss_weight`` (1 / the variance), so alpha weighs the
    penalty against the squared error divided by the variance, whatever the
    units of y."""
    return float(alpha) / max(n_samples, 1) / loss_weight


def score_start(estimator, data, loss):
    """Offset and scale of the default MLP's ``TargetScaling``: the
    predictions start where ``loss`` says (``Loss.score_start``; None: the
    targets' mean with their spread), through the output strategy's head."""
    if loss.score_start is None:
        mean, std = data.target_mean, data.target_std
    else:
        mean, std = loss.score_start(data)
    return _networks.score_start(
        estimator.output_strategy, estimator._spec.output_set, mean, std
    )


def forget_fit(estimator, before):
    """Remove everything a failed new fit left on ``estimator``, so that no
    half-fitted state stays: what this fit added (the names not in
    ``before``, the instance's attributes when it began) and the fitted
    state of an earlier fit (:func:`is_fitted_state`). What was set on the
    instance from outside stays: the hyperparameters, and what scikit-learn
    stores there (``set_fit_request``'s metadata requests, ``set_output``'s
    config, the callback context a ``Pipeline`` sets on its step while it
    fits it and deletes afterwards)."""
    params = set(estimator.get_params(deep=False))
    for name in list(vars(estimator)):
        if name not in params and (
            name not in before or is_fitted_state(type(estimator), name)
        ):
            delattr(estimator, name)


def is_fitted_state(cls, name):
    """Whether the attribute ``name`` is a fit's on an estimator of class
    ``cls``: scikit-learn's convention for fitted attributes (a name ending
    in "_", as ``check_is_fitted`` reads them) or one of the class's
    ``_private_fitted``."""
    return (name.endswith("_") and not name.startswith("__")) or (
        name in cls._private_fitted
    )


def _column_scale(loss, y, sample_weight):
    """``loss.column_scale`` of the rows (None: the squared error's)."""
    if loss.column_scale is None:
        return None
    return loss.column_scale(y, sample_weight)


def _sparse_moments(X, w=None):
    """The weighted mean and standard deviation of each column of a sparse
    ``X``, without densifying it (scikit-learn's ``mean_variance_axis``)."""
    X = sp.csr_matrix(X, dtype=np.float64)
    weights = None if w is None else np.asarray(w, dtype=np.float64)
    if X.shape[0] == 0 or (weights is not None and weights.sum() <= 0):
        return np.zeros(X.shape[1]), np.zeros(X.shape[1])
    mean, var = mean_variance_axis(X, axis=0, weights=weights)
    return mean, np.sqrt(np.maximum(var, 0.0))
