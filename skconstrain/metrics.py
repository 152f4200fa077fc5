"""Metrics and scorers for predictions of several quantile levels.

scikit-learn's quantile metrics (:func:`sklearn.metrics.mean_pinball_loss`,
:func:`sklearn.metrics.d2_pinball_score`) score one level against one column.
A model of several levels (:class:`~skconstrain.ConstrainedQuantileRegressor`)
predicts a column per level, so its predictions need the levels to be scored:
the functions here take them (``quantiles``), and the scorers read them from
the fitted estimator, so they work as ``scoring=`` in ``cross_val_score``,
``cross_validate``, ``GridSearchCV`` and ``ConstrainedRegressorCV``.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import d2_pinball_score, mean_pinball_loss
from sklearn.utils.validation import check_array, check_consistent_length

__all__ = [
    "QuantileScorer",
    "coverage_scorer",
    "interval_coverage",
    "interval_width",
    "make_quantile_scorer",
    "multi_d2_pinball_score",
    "multi_d2_pinball_scorer",
    "multi_pinball_loss",
    "neg_interval_width_scorer",
    "neg_multi_pinball_scorer",
]


def _levels(quantiles):
    levels = np.atleast_1d(np.asarray(quantiles, dtype=np.float64))
    if levels.ndim != 1 or not levels.size or not np.all((levels > 0) & (levels < 1)):
        raise ValueError(
            "The 'quantiles' parameter must be levels in (0, 1), such as "
            f"(0.1, 0.5, 0.9); got {quantiles!r}."
        )
    return levels


def _columns(y_true, y_pred, quantiles):
    """``y_true`` as (n,), ``y_pred`` as (n, k) and the k levels, checked."""
    levels = _levels(quantiles)
    y_true = np.asarray(y_true, dtype=np.float64)
    if y_true.ndim == 2 and y_true.shape[1] == 1:
        y_true = y_true[:, 0]
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be one target (1-D); got shape {y_true.shape}.")
    Q = np.asarray(y_pred, dtype=np.float64)
    Q = Q.reshape(len(Q), -1) if Q.ndim == 1 else Q
    if Q.ndim != 2 or Q.shape[1] != len(levels):
        raise ValueError(
            f"y_pred must have one column per level of quantiles ({len(levels)}); "
            f"got shape {np.shape(y_pred)}."
        )
    check_consistent_length(y_true, Q)
    return y_true, Q, levels


def multi_pinball_loss(y_true, y_pred, *, quantiles, sample_weight=None):
    """Mean pinball loss over several quantile levels (lower is better).

    ``mean_k mean_pinball_loss(y_true, y_pred[:, k], alpha=quantiles[k])``,
    with :func:`sklearn.metrics.mean_pinball_loss`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples, n_quantiles)
        One column per level (1-D for a single level).
    quantiles : array-like of shape (n_quantiles,)
        The level of each column of ``y_pred``, in (0, 1).
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    loss : float

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain.metrics import multi_pinball_loss
    >>> y = np.array([0.0, 1.0, 2.0])
    >>> Q = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    >>> round(multi_pinball_loss(y, Q, quantiles=[0.1, 0.9]), 4)
    0.2167
    """
    y, Q, levels = _columns(y_true, y_pred, quantiles)
    return float(
        np.mean(
            [
                mean_pinball_loss(y, Q[:, k], alpha=tau, sample_weight=sample_weight)
                for k, tau in enumerate(levels)
            ]
        )
    )


def multi_d2_pinball_score(y_true, y_pred, *, quantiles, sample_weight=None):
    """Mean D² pinball score over several quantile levels (higher is better).

    ``mean_k d2_pinball_score(y_true, y_pred[:, k], alpha=quantiles[k])``
    with :func:`sklearn.metrics.d2_pinball_score`: the share of the pinball
    loss of the best constant quantile that the predictions remove (1 is
    perfect, 0 no better than the constant), the analogue of R² for
    quantiles. :meth:`ConstrainedQuantileRegressor.score
    <skconstrain.ConstrainedQuantileRegressor.score>` returns it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples, n_quantiles)
    quantiles : array-like of shape (n_quantiles,)
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain.metrics import multi_d2_pinball_score
    >>> y = np.arange(10.0)
    >>> Q = np.column_stack([y - 1, y + 1])  # close to y
    >>> round(multi_d2_pinball_score(y, Q, quantiles=[0.25, 0.75]), 2)
    0.73
    """
    y, Q, levels = _columns(y_true, y_pred, quantiles)
    return float(
        np.mean(
            [
                d2_pinball_score(y, Q[:, k], alpha=tau, sample_weight=sample_weight)
                for k, tau in enumerate(levels)
            ]
        )
    )


def _vector(values, name):
    """``values`` as a finite float64 vector of at least one entry."""
    v = check_array(values, ensure_2d=False, dtype=np.float64, input_name=name)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{name} must be one column (1-D); got shape {v.shape}.")
    return v


def _bounds(y_lower, y_upper):
    lower = _vector(y_lower, "y_lower")
    upper = _vector(y_upper, "y_upper")
    check_consistent_length(lower, upper)
    return lower, upper


def _mean(values, sample_weight):
    """The mean of ``values``, weighted as scikit-learn's metrics weigh: one
    weight per row, not all zero."""
    if sample_weight is None:
        return float(np.mean(values))
    w = check_array(
        sample_weight, ensure_2d=False, dtype=np.float64, input_name="sample_weight"
    )
    if w.shape != values.shape:
        raise ValueError(
            f"sample_weight must have one weight per row, shape {values.shape}; "
            f"got shape {w.shape}."
        )
    if not np.any(w):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return float(np.average(values, weights=w))


def interval_coverage(y_true, y_lower, y_upper, *, sample_weight=None):
    """The share of ``y_true`` inside ``[y_lower, y_upper]`` (bounds included).

    For the levels ``lo < hi`` of a quantile model, the nominal coverage is
    ``hi - lo``.

    Parameters
    ----------
    y_true, y_lower, y_upper : array-like of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    coverage : float
        In [0, 1].

    Examples
    --------
    >>> from skconstrain.metrics import interval_coverage
    >>> interval_coverage([0.0, 1.0, 5.0], [-1, -1, -1], [2, 2, 2])
    0.6666666666666666
    """
    lower, upper = _bounds(y_lower, y_upper)
    y = _vector(y_true, "y_true")
    check_consistent_length(y, lower)
    return _mean(((lower <= y) & (y <= upper)).astype(np.float64), sample_weight)


def interval_width(y_lower, y_upper, *, sample_weight=None):
    """The mean width ``y_upper - y_lower`` of prediction intervals.

    Parameters
    ----------
    y_lower, y_upper : array-like of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    width : float

    Examples
    --------
    >>> from skconstrain.metrics import interval_width
    >>> interval_width([0.0, 1.0], [1.0, 4.0])
    2.0
    """
    lower, upper = _bounds(y_lower, y_upper)
    return _mean(upper - lower, sample_weight)


_METRICS = ("neg_pinball", "d2_pinball", "coverage", "neg_width")


def _fitted_levels(estimator):
    """The levels of a fitted quantile model: ``quantiles_`` (ours), or the
    ``quantile`` of a single-level scikit-learn model; looked for through a
    Pipeline's last step and a search's ``best_estimator_``."""
    seen = estimator
    while True:
        if hasattr(seen, "quantiles_"):
            return np.atleast_1d(seen.quantiles_)
        params = seen.get_params(deep=False) if hasattr(seen, "get_params") else {}
        if isinstance(params.get("quantile"), float) and (
            params.get("loss", "quantile") == "quantile"
        ):
            return np.array([params["quantile"]])
        if hasattr(seen, "steps"):
            seen = seen.steps[-1][1]
        elif hasattr(seen, "best_estimator_"):
            seen = seen.best_estimator_
        else:
            raise ValueError(
                f"Cannot tell the quantile levels of {type(estimator).__name__}: "
                "it has no 'quantiles_' (as ConstrainedQuantileRegressor) nor a "
                "'quantile' parameter. Give them: make_quantile_scorer(..., "
                "quantiles=[...])."
            )


class QuantileScorer:
    """A scorer of quantile predictions, as ``scoring=`` takes it.

    Called as scikit-learn calls scorers, ``scorer(estimator, X, y,
    sample_weight=None)``: it predicts ``X`` and returns a score where
    greater is better. Make one with :func:`make_quantile_scorer`.

    Parameters
    ----------
    metric : {"neg_pinball", "d2_pinball", "coverage", "neg_width"}
        See :func:`make_quantile_scorer`.
    quantiles : array-like or None, default=None
        The levels of the prediction's columns; None reads them from the
        fitted estimator.
    interval : (float, float) or None, default=None
        The two levels bounding the interval of "coverage" and "neg_width";
        None: the lowest and the highest.

    Examples
    --------
    >>> from skconstrain.metrics import QuantileScorer
    >>> QuantileScorer("coverage", interval=(0.05, 0.95))
    make_quantile_scorer('coverage', interval=(0.05, 0.95))
    """

    def __init__(self, metric, *, quantiles=None, interval=None):
        if metric not in _METRICS:
            raise ValueError(
                f"The 'metric' parameter must be one of {list(_METRICS)}; got "
                f"{metric!r}."
            )
        if quantiles is not None:
            quantiles = tuple(float(q) for q in _levels(quantiles))
        if interval is not None:
            interval = tuple(float(q) for q in np.ravel(interval))
            if len(interval) != 2 or not 0 < interval[0] < interval[1] < 1:
                raise ValueError(
                    "The 'interval' parameter must be two levels lo < hi in "
                    f"(0, 1); got {interval!r}."
                )
        self.metric = metric
        self.quantiles = quantiles
        self.interval = interval

    def __repr__(self):
        args = [repr(self.metric)]
        if self.quantiles is not None:
            args.append(f"quantiles={self.quantiles!r}")
        if self.interval is not None:
            args.append(f"interval={self.interval!r}")
        return f"make_quantile_scorer({', '.join(args)})"

    def _column(self, levels, level):
        found = np.flatnonzero(np.isclose(levels, level, rtol=0, atol=1e-9))
        if not found.size:
            raise ValueError(
                f"The interval's level {level} is not one of the model's "
                f"quantiles {levels.tolist()}."
            )
        return int(found[0])

    def __call__(self, estimator, X, y_true, sample_weight=None):
        levels = (
            _fitted_levels(estimator)
            if self.quantiles is None
            else np.asarray(self.quantiles)
        )
        Q = np.asarray(estimator.predict(X), dtype=np.float64)
        y, Q, levels = _columns(y_true, Q, levels)
        if self.metric == "neg_pinball":
            return -multi_pinball_loss(
                y, Q, quantiles=levels, sample_weight=sample_weight
            )
        if self.metric == "d2_pinball":
            return multi_d2_pinball_score(
                y, Q, quantiles=levels, sample_weight=sample_weight
            )
        if self.interval is None:
            lo, hi = levels.min(), levels.max()
        else:
            lo, hi = self.interval
        if lo == hi:
            raise ValueError(f"An interval needs two levels; the model has one ({lo}).")
        lower = Q[:, self._column(levels, lo)]
        upper = Q[:, self._column(levels, hi)]
        if self.metric == "coverage":
            return interval_coverage(y, lower, upper, sample_weight=sample_weight)
        return -interval_width(lower, upper, sample_weight=sample_weight)


def make_quantile_scorer(metric, *, quantiles=None, interval=None):
    """A scorer for quantile models, usable as ``scoring=`` anywhere.

    Parameters
    ----------
    metric : {"neg_pinball", "d2_pinball", "coverage", "neg_width"}
        "neg_pinball": minus :func:`multi_pinball_loss`; "d2_pinball":
        :func:`multi_d2_pinball_score`; "coverage": :func:`interval_coverage`
        of the interval between two levels (to report, not to rank models:
        more is not better beyond the nominal ``hi - lo``); "neg_width":
        minus :func:`interval_width` of that interval.
    quantiles : array-like or None, default=None
        The levels of the prediction's columns; None reads them from the
        fitted estimator (``quantiles_``, through a Pipeline's last step).
    interval : (float, float) or None, default=None
        The levels ``(lo, hi)`` of "coverage" and "neg_width"; None: the
        lowest and the highest level.

    Returns
    -------
    scorer : QuantileScorer

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import cross_validate
    >>> from skconstrain import ConstrainedQuantileRegressor
    >>> from skconstrain.metrics import make_quantile_scorer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(90, 2))
    >>> y = X[:, 0] + rng.normal(size=90)
    >>> model = ConstrainedQuantileRegressor(
    ...     quantiles=[0.1, 0.5, 0.9], hidden_layer_sizes=(8,), epochs=5,
    ...     random_state=0,
    ... )
    >>> scoring = {
    ...     "pinball": make_quantile_scorer("neg_pinball"),
    ...     "coverage": make_quantile_scorer("coverage", interval=(0.1, 0.9)),
    ... }
    >>> result = cross_validate(model, X, y, cv=3, scoring=scoring)
    >>> sorted(k for k in result if k.startswith("test_"))
    ['test_coverage', 'test_pinball']
    """
    return QuantileScorer(metric, quantiles=quantiles, interval=interval)


#: Minus the mean pinball loss over the model's levels (greater is better).
neg_multi_pinball_scorer = make_quantile_scorer("neg_pinball")
#: The mean D² pinball score over the model's levels.
multi_d2_pinball_scorer = make_quantile_scorer("d2_pinball")
#: The coverage of the interval between the model's lowest and highest level.
coverage_scorer = make_quantile_scorer("coverage")
#: Minus the mean width of that interval.
neg_interval_width_scorer = make_quantile_scorer("neg_width")
