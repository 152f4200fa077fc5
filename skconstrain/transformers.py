"""Project rows, or any regressor's predictions, onto a set: scikit-learn estimators.

:class:`NormProjector` is a stateless transformer (like
:class:`sklearn.preprocessing.Normalizer`) and :class:`ProjectedRegressor` a
meta-estimator (like :class:`sklearn.compose.TransformedTargetRegressor`) that fits
a clone of any regressor and projects its predictions, so that post-processing
lives inside ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and pickles.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    OneToOneFeatureMixin,
    RegressorMixin,
    TransformerMixin,
    _fit_context,  # private; scikit-learn's own estimators validate with it
    clone,
)
from sklearn.linear_model import LinearRegression
from sklearn.utils import get_tags

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from skconstrain._sets import (
    check_set,
    check_zero_norm,
    degenerate,
    document_sets,
    set_arguments,
)
from skconstrain.projections import check_sparse_input, project

__all__ = ["NormProjector", "ProjectedRegressor"]


@document_sets
class NormProjector(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Project each row onto a set: unit sphere, norm balls, simplex, box.

    Each row ``x`` becomes ``argmin_p ||x - p||_2`` over the set, computed
    exactly by :mod:`skconstrain.projections`. The transformer is stateless:
    ``fit`` only validates the parameters and records the number and names of
    the columns, as :class:`sklearn.preprocessing.Normalizer` does.

    Use it as a feature step of a Pipeline, or as the ``projector`` of a
    :class:`ProjectedRegressor` to project predictions.

    Parameters
    ----------
    set : str, default="l2_sphere"
        One of {SET_NAMES}.
        The set: ``||p||_2 = radius``, ``||p||_2 <= radius``, ``||p||_1 <= radius``,
        ``p >= 0 and sum(p) = radius``, ``max|p_i| <= radius``,
        ``lower <= p <= upper``, ``p >= 0`` or ``p_1 <= p_2 <= ... <= p_d``
        (the nearest ordered row: isotonic regression, which pools each run
        of decreasing values into its mean; ``transform`` warns when most
        rows decrease, as columns in reverse order do). Case-insensitive. ``fit``
        warns when the set is a point or two for rows of one column (the
        simplex, the sphere); a "box" needs ``lower``, ``upper`` or both.
    radius : float, default=1.0
        Radius of the norm sets, sum of the simplex. Ignored by "box" and
        "nonneg".
    lower, upper : None, float or array-like of shape (n_features,), default=None
        Bounds of the "box" (None: unbounded on that side). Ignored by the other
        sets, so a grid may search over ``set`` with all parameters given.
    zero_norm : {"keep", "error", "uniform"}, default="keep"
        What a zero row becomes on the sphere: left at zero, an error, or the
        point ``radius / sqrt(d) * ones(d)``.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Column names seen in ``fit``, when ``X`` was a DataFrame with string
        column names.

    See Also
    --------
    ProjectedRegressor : Project the predictions of any regressor.
    skconstrain.projections.project : The function behind ``transform``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain import NormProjector
    >>> NormProjector().fit_transform(np.array([[3.0, 4.0], [0.0, 2.0]]))
    array([[0.6, 0.8],
           [0. , 1. ]])
    >>> NormProjector("simplex").fit_transform(np.array([[0.0, 0.5, 1.0]]))
    array([[0.  , 0.25, 0.75]])
    """

    _parameter_constraints: dict = {
        # validated by skconstrain._sets.set_arguments, as everywhere else
        "set": "no_validation",
        "radius": "no_validation",
        "lower": "no_validation",
        "upper": "no_validation",
        "zero_norm": "no_validation",
    }

    def __init__(
        self, set="l2_sphere", *, radius=1.0, lower=None, upper=None, zero_norm="keep"
    ):
        self.set = set
        self.radius = radius
        self.lower = lower
        self.upper = upper
        self.zero_norm = zero_norm

    def _projection_params(self, n_features):
        params = set_arguments(
            self.set,
            radius=self.radius,
            lower=self.lower,
            upper=self.upper,
            n_features=n_features,
        )
        zero_norm = check_zero_norm(self.zero_norm)
        if check_set(self.set) == "l2_sphere":
            params["zero_norm"] = zero_norm
        return params

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and record the columns of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to project later (sparse: CSR or CSC, for the sets that keep
            zeros at zero).
        y : None
            Ignored.

        Returns
        -------
        self : NormProjector
        """
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], accept_sparse=["csr", "csc"]
        )
        params = self._projection_params(X.shape[1])
        if sp.issparse(X):
            check_sparse_input(self.set, params, X.shape[1])
        left = degenerate(self.set, X.shape[1], radius=params.get("radius", 1.0))
        if left is not None:
            warnings.warn(
                f"NormProjector(set={self.set!r}) is fitted on rows of 1 column, "
                f"where the set is only {left}: every row it projects becomes one "
                "of them. (ProjectedRegressor's default projector, NormProjector(), "
                "is the unit sphere, meant for y of several columns; for a 1-D y "
                "pass a projector such as NormProjector('box', lower=..., "
                "upper=...).)",
                UserWarning,
                stacklevel=2,
            )
        return self

    def transform(self, X):
        """Project each row of ``X`` onto the set.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to project. Sparse CSR or CSC input is taken, as by
            :class:`~sklearn.preprocessing.Normalizer`, for the sets that keep
            zeros at zero ("l2_sphere" unless ``zero_norm="uniform"``,
            "l2_ball", "l1_ball", "linf_ball", "nonneg", and "box" when
            ``lower <= 0 <= upper``); for the others it is refused.

        Returns
        -------
        X_projected : ndarray or CSR sparse matrix of shape (n_samples, n_features)
            float32 input stays float32; other input becomes float64. Sparse
            input gives CSR, without densifying.
        """
        if not hasattr(self, "n_features_in_"):
            # Stateless: transform without fit validates the parameters itself.
            self._validate_params()
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float64, np.float32],
            accept_sparse=["csr", "csc"],
        )
        if check_set(self.set) == "ordered" and not sp.issparse(X):
            _warn_reversed(X)
        return project(X, self.set, **self._projection_params(X.shape[1]))

    def _keeps_zeros(self):
        """Whether the projection keeps zeros at zero, so takes sparse input."""
        try:
            check_sparse_input(self.set, self._projection_params(None))
        except (TypeError, ValueError):  # bad parameters are reported elsewhere
            return False
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = self._keeps_zeros()
        return tags


def _warn_reversed(X):
    """Warn when most rows of ``X`` decrease (columns in the reverse order):
    the projection onto "ordered" pools each such row into its mean."""
    if X.shape[1] < 2 or not len(X):
        return
    steps = np.diff(X, axis=1)
    decreasing = (steps <= 0).all(axis=1) & (steps < 0).any(axis=1)
    share = float(decreasing.mean())
    if share > 0.5:
        warnings.warn(
            f"NormProjector(set='ordered'): {share:.0%} of the rows decrease "
            "from their first column to their last, so their projection onto "
            "the ordered set (y_1 <= y_2 <= ...) flattens each into its mean. "
            "Are the columns in reverse order (quantiles by decreasing level, "
            "say)? Reverse them first (X[:, ::-1]).",
            UserWarning,
            stacklevel=3,
        )


class ProjectedRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit any regressor and project its predictions onto a set.

    ``fit`` fits a clone of ``regressor`` on ``(X, y)``; ``predict`` returns
    ``projector.transform(regressor.predict(X))``, so every prediction lies in
    the set. ``score`` is the R^2 of the projected predictions. The
    post-processing becomes part of the estimator: it works inside ``Pipeline``,
    ``GridSearchCV`` (keys ``regressor__*`` and ``projector__*``),
    ``cross_val_score``, and pickles.

    Parameters
    ----------
    regressor : estimator, default=None
        Any scikit-learn regressor; ``None`` means
        :class:`~sklearn.linear_model.LinearRegression`. It is cloned in ``fit``.
    projector : transformer, default=None
        The projection applied to the predictions, usually a
        :class:`NormProjector`; ``None`` means ``NormProjector()`` (unit L2
        sphere). It is cloned and fitted on ``y`` (which, for a NormProjector,
        checks its parameters against the number of targets). For 1-D ``y``
        each prediction is projected as a row of length 1 (so "linf_ball",
        "box" and "nonneg" bound it, while "l2_sphere" keeps only its sign,
        and ``fit`` warns so).

    Attributes
    ----------
    regressor_ : estimator
        The fitted clone of ``regressor``.
    projector_ : transformer
        The fitted clone of ``projector``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of the features seen in ``fit``, when ``X`` was a DataFrame with
        string column names; ``predict`` checks them.

    See Also
    --------
    NormProjector : The default projector.
    sklearn.compose.TransformedTargetRegressor : Transforms ``y`` instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skconstrain import NormProjector, ProjectedRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(50, 3))
    >>> Y = np.abs(X) / np.abs(X).sum(axis=1, keepdims=True)  # proportions
    >>> model = ProjectedRegressor(Ridge(), NormProjector("simplex")).fit(X, Y)
    >>> P = model.predict(X)
    >>> bool((P >= 0).all()) and bool(np.allclose(P.sum(axis=1), 1.0))
    True
    """

    _parameter_constraints: dict = {
        "regressor": [HasMethods(["fit", "predict"]), None],
        "projector": [HasMethods(["fit", "transform"]), None],
    }

    def __init__(self, regressor=None, projector=None):
        self.regressor = regressor
        self.projector = projector

    def _check_X(self, X, reset):
        """Record (``reset``) or check the number and names of features of ``X``.

        ``X`` itself reaches the regressor untouched (a DataFrame stays one);
        values are the regressor's to validate.
        """
        ndim = getattr(X, "ndim", None)
        if ndim is None:  # a list, or another array-like
            ndim = np.asarray(X).ndim
        if ndim != 2:
            raise ValueError(
                f"Expected a 2D array for X, got {ndim}D instead. Reshape your "
                "data either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        validate_data(self, X, skip_check_array=True, reset=reset)

    def _regressor(self):
        return LinearRegression() if self.regressor is None else self.regressor

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit a clone of the regressor on ``(X, y)`` and prepare the projector.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, passed to the regressor as given (a DataFrame stays a
            DataFrame).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        **fit_params : dict
            Parameters for the regressor's ``fit``, such as ``sample_weight``
            (as :class:`~sklearn.compose.TransformedTargetRegressor` does, so
            regressors without sample weights remain usable).

        Returns
        -------
        self : ProjectedRegressor
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        self._check_X(X, reset=True)
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}.")
        self.regressor_ = clone(self._regressor()).fit(X, y, **fit_params)
        projector = NormProjector() if self.projector is None else self.projector
        self.projector_ = clone(projector).fit(y.reshape(y.shape[0], -1))
        return self

    def predict(self, X):
        """Predict with the regressor and project the predictions onto the set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Projected predictions; 1-D when ``y`` was 1-D in ``fit``.
        """
        check_is_fitted(self)
        self._check_X(X, reset=False)
        pred = np.asarray(self.regressor_.predict(X))
        out = np.asarray(self.projector_.transform(pred.reshape(pred.shape[0], -1)))
        return out.reshape(pred.shape)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._regressor())
        tags.target_tags.multi_output = inner.target_tags.multi_output
        tags.target_tags.single_output = inner.target_tags.single_output
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.categorical = inner.input_tags.categorical
        tags.input_tags.string = inner.input_tags.string
        tags.regressor_tags.poor_score = inner.regressor_tags.poor_score
        return tags
