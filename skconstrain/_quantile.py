"""``ConstrainedQuantileRegressor``: non-crossing quantiles, and
``QuantileLevel``, one of its levels as a regressor (public in
:mod:`skconstrain.estimators`)."""

from __future__ import annotations

import functools
import math
import warnings
from numbers import Real

import numpy as np
from keras import ops
from scipy.special import ndtr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import (
    DataConversionWarning,
)
from sklearn.model_selection import train_test_split
from sklearn.utils import (
    check_random_state,
)

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    _num_samples,
)

from skconstrain._base_estimator import (
    ENSEMBLE_SIZE,
    BaseConstrainedRegressor,
    Loss,
)
from skconstrain._conformal import (
    calibrated_quantiles,
    conformal_scores,
    min_calibration_rows,
)
from skconstrain._fit_data import copied as _copied
from skconstrain.metrics import multi_d2_pinball_score


class ConstrainedQuantileRegressor(BaseConstrainedRegressor):
    """Neural multi-quantile regressor whose quantiles never cross.

    One network predicts every level of ``quantiles`` at once, trained with
    the pinball loss averaged over the levels; its outputs are put in the
    "ordered" set (``q_1 <= q_2 <= ...``) by the exact projection onto it,
    isotonic regression (by default after the network; trained through with
    ``output_strategy="project"``), so the predicted quantiles never cross,
    on any row, far outside the training data too.
    Fitting one model per level (:class:`~sklearn.linear_model.
    QuantileRegressor`, :class:`~sklearn.ensemble.
    HistGradientBoostingRegressor` with ``loss="quantile"``) or a
    multi-output network without the head gives no such guarantee.

    Everything else is :class:`ConstrainedRegressor`'s: the default MLP
    (standardised inputs, the scores started at the targets' empirical
    quantiles), ``monotonic_cst``, weight penalties and constraints, a
    ``model`` callable, early stopping (on the pinball loss), ``warm_start``,
    ``partial_fit``, pandas, persistence.

    Training objective (``n`` rows, weights ``w``, levels ``tau_k``, ``K``
    of them; ``s``: the pinball loss of the best constant prediction of each
    level, the weighted empirical quantile, averaged over levels)::

        mean_i(w_i * mean_k rho_tau_k(y_i - q_k(x_i))) / s
                                   + (alpha / n) * sum_layers R(W)

    with ``rho_tau(u) = max(tau * u, (tau - 1) * u)``. Divided by ``s``, the
    loss does not depend on the units of ``y``, and ``alpha`` and ``tol``
    mean what they mean for :class:`ConstrainedRegressor`.

    Parameters
    ----------
    quantiles : float or array-like of float, default=(0.1, 0.5, 0.9)
        The levels, strictly increasing, in (0, 1): the columns of
        :meth:`predict`, in this order. A single float is one level whose
        predictions are 1-D, as those of
        :class:`~sklearn.linear_model.QuantileRegressor` (so
        ``make_scorer(mean_pinball_loss, alpha=q)`` scores it); a list of one
        level predicts one column.
    conformal : float or None, default=None
        The fraction of the rows of :meth:`fit` held out to calibrate the
        levels by split conformal prediction (:meth:`calibrate`); the network
        trains on the others. None: no calibration (or call :meth:`calibrate`
        with rows of your own).
    model, hidden_layer_sizes, activation, feature_encoding, monotonic_cst, \
penalty, alpha, l1_ratio, kernel_constraint, bias_constraint
        As in :class:`ConstrainedRegressor` (``monotonic_cst`` composes with
        the ordered head, which keeps each output's order).
    output_strategy : {"post", "project", "activation", "penalty"}, \
default="post"
        How the order is kept. "post": the network is trained on the
        pinball loss of its outputs, and its predictions are projected onto
        the ordered set exactly (isotonic regression of each row, which
        pools crossing quantiles into their mean); "project": the same
        projection ends the network and is trained through; "activation":
        the first score, then softplus increments (strictly increasing);
        "penalty": a penalty on crossings (approximate: crossings remain
        possible). "post" is the default by measurement
        (``benchmarks/bench_quantile.py``, nine levels, glucose data, two
        seeds): its pinball loss was 5.7476 and 5.7491 where "project" had
        5.7640 and 5.7489, at a quarter of the fit time; through the
        projection, crossing scores are pooled and get no gradient that
        would separate them. ``loss_curve_`` records the pinball loss of the
        network's outputs (before the projection, for "post").
    output_penalty, output_penalty_strength
        For ``output_strategy="penalty"``, as in :class:`ConstrainedRegressor`.
    ensemble_size, epochs, batch_size, learning_rate, early_stopping, \
validation_fraction, n_iter_no_change, tol, shuffle, warm_start, \
random_state, verbose
        As in :class:`ConstrainedRegressor` (the mean of ordered quantiles is
        ordered); early stopping and ``tol``
        watch the pinball loss divided by ``s``, and ``validation_scores_``
        are D^2 pinball scores (as :meth:`score`).

    Attributes
    ----------
    quantiles_ : ndarray of shape (n_quantiles,)
        The levels, as fitted.
    model_, history_, loss_curve_, best_loss_, validation_scores_, \
best_validation_score_, n_iter_, n_features_in_, feature_names_in_
        As in :class:`ConstrainedRegressor`.
    n_outputs_ : int
        The number of levels (the network's outputs).
    constraint_violation_ : dict
        How far the predictions on the training rows are from the ordered
        set (``{"max", "fraction", "tol"}``): 0 but for "penalty".
    conformal_levels_ : ndarray of shape (n_quantiles,)
        After calibration (``conformal``, or :meth:`calibrate`): the level
        of the network's quantile function that :meth:`predict` reads for
        each of ``quantiles_`` (0.93 for 0.9: the network's intervals were
        too narrow), non-decreasing.
    n_calibration_ : int
        The number of rows the calibration used.

    Notes
    -----
    **Conformal calibration.** The network's quantiles are estimates: on
    little data, or with a short training, their coverage can be far from
    their levels. Split conformal prediction recalibrates them on held-out
    rows: the levels of each row's quantiles define a quantile function
    (interpolated between the levels in normal scores, extended beyond
    them), each calibration target is placed on its row's function, and
    each level is read where the rank ``ceil((n + 1) tau)`` of those
    places falls (``floor`` below 0.5; distributional conformal
    prediction, Chernozhukov, Wüthrich and Zhu, PNAS 2021). For a new row
    exchangeable with the ``n`` calibration rows, whatever the network,
    ``P(y <= q_tau(x))`` then lies in ``[tau, tau + 1/(n+1))`` for
    ``tau >= 0.5`` and in ``(tau - 1/(n+1), tau]`` below, so the interval
    between levels ``lo < 0.5 <= hi`` covers at least ``hi - lo`` (the
    guarantee of conformalized quantile regression, Romano, Patterson and
    Candès, NeurIPS 2019, for every level). The calibrated levels grow with
    the level and each row's function is non-decreasing, so calibrated
    quantiles never cross. See :mod:`skconstrain._conformal` and the
    quantiles guide.

    See Also
    --------
    ConstrainedRegressor : The same network for targets in a set.
    skconstrain.NormProjector : ``NormProjector("ordered")`` puts anybody's
        crossing quantiles (nearest non-crossing rows).

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain import ConstrainedQuantileRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(300, 2))
    >>> y = X[:, 0] + (0.2 + np.abs(X[:, 1])) * rng.normal(size=300)
    >>> reg = ConstrainedQuantileRegressor(
    ...     quantiles=[0.1, 0.5, 0.9], hidden_layer_sizes=(16,), epochs=5,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> Q = reg.predict(X)
    >>> Q.shape, bool((np.diff(Q, axis=1) >= 0).all())
    ((300, 3), True)
    """

    # public in skconstrain.estimators: pickles, skops and the docs name it so
    __module__ = "skconstrain.estimators"

    _loss_scale_text = (
        "the pinball loss of the best constant quantiles, the training "
        "targets' empirical quantiles"
    )

    # one target, its levels ordered: no target lies outside the set, and
    # one level is median (or single-quantile) regression
    _targets_in_output_set = False
    _structural_params = (*BaseConstrainedRegressor._structural_params, "quantiles")
    _private_fitted = (*BaseConstrainedRegressor._private_fitted, "_conformal")

    _parameter_constraints: dict = {
        **BaseConstrainedRegressor._parameter_constraints,
        "quantiles": ["array-like", Real],
        "conformal": [Interval(Real, 0, 1, closed="neither"), None],
    }

    def __init__(
        self,
        quantiles=(0.1, 0.5, 0.9),
        *,
        conformal=None,
        model=None,
        hidden_layer_sizes=(100,),
        activation="relu",
        feature_encoding="auto",
        monotonic_cst=None,
        penalty="l2",
        alpha="auto",
        l1_ratio=0.5,
        kernel_constraint=None,
        bias_constraint=None,
        output_strategy="post",
        output_penalty="quadratic",
        output_penalty_strength=1.0,
        ensemble_size=ENSEMBLE_SIZE,
        epochs=200,
        batch_size=None,
        learning_rate="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            model=model,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            feature_encoding=feature_encoding,
            monotonic_cst=monotonic_cst,
            penalty=penalty,
            l1_ratio=l1_ratio,
            kernel_constraint=kernel_constraint,
            bias_constraint=bias_constraint,
            output_strategy=output_strategy,
            output_penalty=output_penalty,
            output_penalty_strength=output_penalty_strength,
            ensemble_size=ensemble_size,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            shuffle=shuffle,
            warm_start=warm_start,
            random_state=random_state,
            verbose=verbose,
        )
        self.quantiles = quantiles
        self.conformal = conformal
        self.alpha = alpha

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False
        return tags

    def _levels(self):
        """The validated ``quantiles`` as a float64 array."""
        levels = np.atleast_1d(np.asarray(self.quantiles))
        if (
            levels.ndim != 1
            or levels.size == 0
            or levels.dtype.kind not in "iuf"
            or not np.all((levels > 0) & (levels < 1))
            or np.any(np.diff(levels) <= 0)
        ):
            raise ValueError(
                "The 'quantiles' parameter must be strictly increasing levels in "
                f"(0, 1), such as (0.1, 0.5, 0.9); got {self.quantiles!r}."
            )
        return levels.astype(np.float64)

    # ------------------------------------------------------------- hooks
    def _check_output_hyperparameters(self):
        self._levels()

    def _output_params(self, n_outputs=None):
        return {"set": "ordered"}

    def _n_outputs(self, y):
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__} predicts quantiles of one target: y must "
                f"be 1-D; got {y.shape[1]} columns."
            )
        return len(self._levels())

    def _validate_fit_data(self, X, y, reset):
        X, y = super()._validate_fit_data(X, y, reset)
        if y.ndim == 2:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. "
                "Please change the shape of y to (n_samples,), for example "
                "using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
        if reset:
            self.quantiles_ = self._levels()
        return X, y.reshape(-1)

    def _prediction_ndim(self, y):
        # one column per level; a scalar level predicts 1-D, as
        # QuantileRegressor(quantile=q) does
        return 1 if np.ndim(self.quantiles) == 0 else 2

    def _loss(self, output_set):
        # the pinball loss of each level, relative to the best constant
        # quantiles', and the predictions start at those quantiles
        levels = self.quantiles_
        columns = functools.partial(_pinball, levels=tuple(levels))
        return Loss(
            row_loss=lambda y, q: ops.sum(columns(y, q), axis=-1),
            column_loss=columns,
            column_scale=functools.partial(_constant_pinball, levels=levels),
            score_start=functools.partial(_quantile_start, levels=levels),
            projects_after=self.output_strategy == "post",
        )

    # ---------------------------------------------------------- calibration
    def fit(self, X, y, sample_weight=None):
        """Build the network (unless ``warm_start``) and train it on ``(X, y)``;
        with ``conformal``, on all but a held-out share, then calibrate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training rows in the loss (the calibration counts
            its rows unweighted: its guarantee is for exchangeable rows).

        Returns
        -------
        self : ConstrainedQuantileRegressor
        """
        self._forget_calibration()
        if self.conformal is None:
            # the base's _fit, called at the depth of the base's fit, so that
            # its warnings point at the caller
            return self._fit(X, y, sample_weight, incremental=False)
        self._validate_params()
        levels = self._levels()
        rng = check_random_state(_copied(self.random_state))
        parts = [X, y] + ([] if sample_weight is None else [sample_weight])
        n_samples = _num_samples(X)
        # as train_test_split counts a float test_size
        n_calibration = math.ceil(self.conformal * n_samples)
        needed = min_calibration_rows(levels)
        if n_calibration < needed:
            raise ValueError(
                f"conformal={self.conformal} holds out {n_calibration} of "
                f"{n_samples} rows to calibrate, but the levels {levels.tolist()} "
                f"need at least {needed} (a level tau is calibrated by the "
                "ceil((n + 1) tau)-th of n residuals). Raise 'conformal', or "
                "give more rows."
            )
        if n_calibration >= n_samples:
            raise ValueError(
                f"conformal={self.conformal} holds out {n_calibration} of "
                f"{n_samples} rows to calibrate, which leaves none to train the "
                "network on. Lower 'conformal' (a share in (0, 1) of the rows), "
                "or give more rows."
            )
        split = train_test_split(
            *parts,
            test_size=n_calibration,
            random_state=rng.randint(2**31 - 1),
            shuffle=True,
        )
        fit_parts, calibration = split[0::2], split[1::2]
        weights = fit_parts[2] if sample_weight is not None else None
        self._fit(fit_parts[0], fit_parts[1], weights, incremental=False)
        return self.calibrate(calibration[0], calibration[1])

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, as :meth:`ConstrainedRegressor.partial_fit`.

        It does not calibrate (``conformal`` is for :meth:`fit`), and it drops
        an earlier calibration, which held for the network before this epoch:
        call :meth:`calibrate` again.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : ConstrainedQuantileRegressor
        """
        if hasattr(self, "conformal_levels_"):
            warnings.warn(
                f"{type(self).__name__}.partial_fit changes the calibrated "
                "network: its conformal calibration no longer holds and is "
                "dropped. Call calibrate(X_cal, y_cal) after the last "
                "partial_fit.",
                UserWarning,
                stacklevel=2,
            )
        elif self.conformal is not None and not self.__sklearn_is_fitted__():
            warnings.warn(
                f"{type(self).__name__}: conformal={self.conformal} is ignored "
                "by partial_fit, which trains on every row it is given; call "
                "calibrate(X_cal, y_cal) with rows held out.",
                UserWarning,
                stacklevel=2,
            )
        self._forget_calibration()
        return self._fit(X, y, sample_weight, incremental=True)

    def calibrate(self, X, y):
        """Calibrate every level on held-out rows (split conformal prediction).

        Sets ``conformal_levels_``: for each level, the level of the
        network's quantile function to read so that the coverage on new
        rows exchangeable with ``(X, y)`` lies within ``1 / (n + 1)`` of the
        level, on its conservative side (see Notes); :meth:`predict` reads
        them. The rows must not have been used to train. A new call
        replaces the calibration.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows held out from training.
        y : array-like of shape (n_samples,)

        Returns
        -------
        self : ConstrainedQuantileRegressor
        """
        self._check_fitted()
        Q = self._uncalibrated(X)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or len(y) != len(Q):
            raise ValueError(
                f"calibrate takes y of shape ({len(Q)},), one target per row of "
                f"X; got {y.shape}."
            )
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
        needed = min_calibration_rows(self.quantiles_)
        if len(y) < needed:
            raise ValueError(
                f"calibrate got {len(y)} rows, but the levels "
                f"{self.quantiles_.tolist()} need at least {needed}."
            )
        calibrated, floor = conformal_scores(y, Q.reshape(len(Q), -1), self.quantiles_)
        self._conformal = (calibrated, floor)
        self.conformal_levels_ = ndtr(calibrated)
        self.n_calibration_ = len(y)
        return self

    def _forget_calibration(self):
        for name in ("conformal_levels_", "n_calibration_", "_conformal"):
            self.__dict__.pop(name, None)

    def _uncalibrated(self, X):
        return super().predict(X)

    def predict(self, X):
        """The quantiles of each row, one column per level, never crossing.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_quantiles) or (n_samples,)
            float64, in increasing level (1-D for a scalar ``quantiles``);
            calibrated when ``conformal_levels_`` is set.
        """
        pred = self._uncalibrated(X)
        calibration = getattr(self, "_conformal", None)
        if calibration is None:
            return pred
        Q = calibrated_quantiles(
            pred.reshape(len(pred), -1), self.quantiles_, *calibration
        )
        return Q.reshape(pred.shape)

    def level_estimator(self, quantile):
        """A fitted regressor that predicts one level of this model (1-D).

        For tools that take one model per quantile, such as MAPIE's
        ``ConformalizedQuantileRegressor(prefit=True)``, which takes the
        lower, upper and median levels' models (see the quantiles guide).
        It predicts through this model (so the levels stay ordered); its
        ``fit`` does nothing, as :class:`sklearn.frozen.FrozenEstimator`'s.
        Give MAPIE an uncalibrated model (``conformal=None``): MAPIE
        calibrates the levels itself.

        Parameters
        ----------
        quantile : float
            One of ``quantiles_``.

        Returns
        -------
        estimator : QuantileLevel

        Examples
        --------
        >>> import numpy as np
        >>> from skconstrain import ConstrainedQuantileRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(60, 2))
        >>> y = X[:, 0] + rng.normal(size=60)
        >>> model = ConstrainedQuantileRegressor(
        ...     [0.05, 0.5, 0.95], hidden_layer_sizes=(8,), epochs=3,
        ...     random_state=0).fit(X, y)
        >>> model.level_estimator(0.95).predict(X).shape
        (60,)
        """
        self._check_fitted()
        found = np.flatnonzero(np.isclose(self.quantiles_, quantile, rtol=0))
        if not found.size:
            raise ValueError(
                f"quantile={quantile!r} is not one of the fitted levels "
                f"{self.quantiles_.tolist()}; fit with it among 'quantiles'."
            )
        return QuantileLevel(self, int(found[0]))

    # ------------------------------------------------------------- scoring
    def score(self, X, y, sample_weight=None):
        """Mean over the levels of :func:`sklearn.metrics.d2_pinball_score`.

        The share of the pinball loss of the best constant quantile that the
        predictions remove, averaged over ``quantiles`` (1 is perfect, 0 no
        better than the constant, as R^2 for the mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        self._check_fitted()
        y = np.asarray(y)
        if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            raise ValueError(
                f"{type(self).__name__}.score takes the targets y as one column "
                f"(its quantiles are those of one target); got y of shape "
                f"{y.shape}. To score quantiles predicted elsewhere, use "
                "skconstrain.metrics.multi_d2_pinball_score."
            )
        Q = self.predict(X)
        Q = Q.reshape(len(Q), -1)
        return multi_d2_pinball_score(
            y.reshape(-1), Q, quantiles=self.quantiles_, sample_weight=sample_weight
        )


class QuantileLevel(RegressorMixin, BaseEstimator):
    """One level of a fitted :class:`ConstrainedQuantileRegressor`, as a
    regressor of its own (made by
    :meth:`ConstrainedQuantileRegressor.level_estimator`).

    ``predict`` returns that level's column of the model's predictions;
    ``fit`` does nothing (the model is fitted already), as
    :class:`sklearn.frozen.FrozenEstimator`'s.

    Parameters
    ----------
    estimator : ConstrainedQuantileRegressor
        Fitted.
    column : int
        The index of the level in ``estimator.quantiles_``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain import ConstrainedQuantileRegressor
    >>> X = np.linspace(0, 1, 40).reshape(-1, 1)
    >>> model = ConstrainedQuantileRegressor(
    ...     [0.1, 0.9], hidden_layer_sizes=(4,), epochs=2, random_state=0
    ... ).fit(X, X.ravel())
    >>> upper = model.level_estimator(0.9)
    >>> upper.quantile, upper.predict(X[:2]).shape
    (0.9, (2,))
    """

    # public in skconstrain.estimators: pickles, skops and the docs name it so
    __module__ = "skconstrain.estimators"

    def __init__(self, estimator, column):
        self.estimator = estimator
        self.column = column

    @property
    def quantile(self):
        """The level this regressor predicts."""
        return float(self.estimator.quantiles_[self.column])

    @property
    def n_features_in_(self):
        """The number of features of the model."""
        return self.estimator.n_features_in_

    def fit(self, X=None, y=None, **params):
        """Do nothing: the model is fitted already.

        Returns
        -------
        self : QuantileLevel
        """
        return self

    def predict(self, X):
        """The level's quantile of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        pred = self.estimator.predict(X)
        return pred.reshape(len(pred), -1)[:, self.column]

    def __sklearn_is_fitted__(self):
        return True


def _constant_pinball(y, sample_weight, levels):
    """The pinball loss of each level's best constant (the weighted
    quantile of ``y``)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight)
    constant = _weighted_quantiles(y, w, levels)
    u = y[:, None] - constant[None, :]
    losses = np.maximum(levels[None, :] * u, (levels[None, :] - 1) * u)
    return (w @ losses) / max(len(y), 1)


def _quantile_start(data, levels):
    """Where the quantiles start: the weighted quantiles of the training
    targets, with their standard deviation as the spread."""
    y = np.asarray(data.y, dtype=np.float64).reshape(-1)
    w = np.asarray(data.sample_weight, dtype=np.float64)
    start = _weighted_quantiles(y, w, levels)
    return start, np.full(len(start), float(data.target_std[0]))


def _pinball(y, q, levels):
    """The pinball loss of each row and level: ``max(tau u, (tau - 1) u)``
    with ``u = y - q``; ``y`` of shape (n, 1), ``q`` (n, k)."""
    tau = ops.cast(np.asarray(levels), q.dtype)
    u = ops.cast(y, q.dtype) - q
    return ops.maximum(tau * u, (tau - 1.0) * u)


def _weighted_quantiles(y, w, levels):
    """The weighted empirical quantiles of ``y`` at ``levels`` (the smallest
    value whose cumulative weight reaches ``tau`` of the total)."""
    if not len(y) or w.sum() <= 0:
        return np.zeros(len(levels))
    order = np.argsort(y, kind="stable")
    cumulative = np.cumsum(w[order])
    at = np.searchsorted(cumulative, np.asarray(levels) * cumulative[-1], side="left")
    return y[order][np.minimum(at, len(y) - 1)]
