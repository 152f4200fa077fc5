"""The base of the public estimators (as ``BaseMultilayerPerceptron`` carries
``MLPRegressor`` and ``MLPClassifier``).

``BaseConstrainedRegressor`` holds what :class:`~skconstrain.ConstrainedRegressor`
and :class:`~skconstrain.ConstrainedQuantileRegressor` share: the common
hyperparameters' constraints and tags, ``fit`` / ``partial_fit`` (validate ->
build or continue -> train -> report), predict and the projection after
predict, the violation report and persistence. A subclass supplies its output
set, its losses and its checks through the hooks marked below. Network
building is :mod:`skconstrain._networks`'s, training
:mod:`skconstrain._training`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from skconstrain import (
    _fit_data,
    _networks,
    _pickles,
    _reports,
    _training,
    _validation,
)
from skconstrain._networks import FitSpec
from skconstrain.projections import project

__all__ = ["BaseConstrainedRegressor"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Loss(_training.Objective):
    """One estimator's loss, in one object: what the engine trains on and
    evaluates with (:class:`skconstrain._training.Objective`'s ``row_loss``,
    ``output_map`` and ``column_loss``), and what the estimator derives from
    it. Each None: the squared error's.

    Attributes
    ----------
    column_scale : callable or None
        ``column_scale(y, sample_weight)``: the loss of the best constant
        per output column, which the monitored loss and ``tol`` are relative
        to; None: the variance of ``y``'s columns.
    score_start : callable or None
        ``score_start(data)``: ``(mean, std)`` where the predictions start
        (before the output head), per output; None: the targets' mean and
        standard deviation.
    projects_after : bool
        Whether predictions are the projection of the network's outputs onto
        the output set.
    """

    column_scale: object = None
    score_start: object = None
    projects_after: bool = False


class BaseConstrainedRegressor(RegressorMixin, BaseEstimator):
    """Base of the constrained network regressors; not for direct use.

    A subclass defines ``__init__`` (its explicit signature; the shared
    hyperparameters forwarded to this class's ``__init__``, which stores
    them, and its own stored) and ``_parameter_constraints`` (these, plus
    its own), and these hooks, every one of them (the rest of a fit is
    this class's: validate, spec, build or continue, train, report):

    - :meth:`_output_params` and :meth:`_check_output_hyperparameters`
      (required): the output set, and the checks of its own
      hyperparameters;
    - :meth:`_loss`: the :class:`Loss` (default: the squared error);
    - :meth:`_n_outputs` and :meth:`_prediction_ndim`: the network's outputs
      and the predictions' dimensions for the targets (default: y's
      columns);
    - :meth:`_ignored_rules`: its hyperparameters a configuration ignores;
    - ``_structural_params``: its hyperparameters that shape the network or
      its objective, added to the base's;
    - ``_targets_in_output_set``: False when the targets are not rows of the
      output set's space (quantile levels of one target), so that they are
      not checked against it;
    - ``_validate_fit_data`` may be extended (call it first) for checks of y
      of its own.
    """

    #: The hyperparameters that shape the network or its objective (a
    #: subclass adds its own; see :data:`_validation.STRUCTURAL_PARAMS`).
    _structural_params = _validation.STRUCTURAL_PARAMS

    #: Whether the training targets are rows in the output set's space (so
    #: their distance to it is reported, and a set degenerate for their
    #: width warned about).
    _targets_in_output_set = True

    #: What the loss that ``tol`` watches is divided by (said in warnings).
    _loss_scale_text = (
        "the loss of the best constant prediction, the targets' variance for "
        "the squared error"
    )

    _parameter_constraints: dict = dict(_validation.PARAMETER_CONSTRAINTS)

    def __init__(
        self,
        model,
        *,
        hidden_layer_sizes,
        activation,
        monotonic_cst,
        penalty,
        l1_ratio,
        kernel_constraint,
        bias_constraint,
        output_strategy,
        output_penalty,
        output_penalty_strength,
        ensemble_size,
        epochs,
        batch_size,
        learning_rate,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        tol,
        shuffle,
        warm_start,
        random_state,
        verbose,
        feature_encoding="auto",
    ):
        # every hyperparameter the estimators share, stored once; each
        # estimator's __init__ keeps its explicit signature (scikit-learn's
        # get_params reads it), stores its own and forwards these;
        # feature_encoding (new in 0.5) has a default, so an estimator written
        # against 0.4's base keeps working
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.feature_encoding = feature_encoding
        self.monotonic_cst = monotonic_cst
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.output_strategy = output_strategy
        self.output_penalty = output_penalty
        self.output_penalty_strength = output_penalty_strength
        self.ensemble_size = ensemble_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.shuffle = shuffle
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def set_params(self, **params):
        """Set the hyperparameters, nested keys of a named object included.

        As :meth:`sklearn.base.BaseEstimator.set_params`, and a nested key
        such as ``kernel_constraint__max_value`` works where the
        constraint or the penalty is given by its name: the name becomes
        the object it stands for (``"max_norm"``: ``MaxNorm()``; a
        ``penalty`` name: its regularizer with ``factor=1``, as a fit reads
        the name, so ``alpha`` stays the strength), whose parameter is then
        set. So a grid over ``kernel_constraint__max_value`` works in
        :class:`~sklearn.model_selection.GridSearchCV` and a ``Pipeline``.

        Parameters
        ----------
        **params
            Hyperparameters, and ``<name>__<parameter>`` keys.

        Returns
        -------
        self : estimator instance

        Examples
        --------
        >>> from skconstrain import ConstrainedRegressor
        >>> reg = ConstrainedRegressor(kernel_constraint="max_norm")
        >>> reg.set_params(kernel_constraint__max_value=3.0).kernel_constraint
        MaxNorm(max_value=3.0, axis=None)
        """
        params = _validation.resolve_named(self, params)
        return super().set_params(**params)

    def __sklearn_is_fitted__(self):
        """Fitted: a fit built a network (its spec and ``model_``)."""
        return hasattr(self, "_spec") and hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.non_deterministic = self.random_state is None
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None):
        """Build the network (unless ``warm_start``) and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (a DataFrame's column names are recorded).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets. Rows need not lie in the output set.
        sample_weight : array-like of shape (n_samples,), default=None
            Nonnegative weights of the rows in the loss.

        Returns
        -------
        self : ConstrainedRegressor
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, sample_weight=None):
        """One pass (one epoch) over ``(X, y)``; builds the network on first call.

        Continues the current network and its optimizer's state, as
        :meth:`sklearn.neural_network.MLPRegressor.partial_fit` does; outputs are
        constrained exactly as in :meth:`fit`. No early stopping. The penalty's
        ``alpha / n`` uses the rows of each call.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : ConstrainedRegressor
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def _fit(self, X, y, sample_weight, incremental, xla=None):
        continuing = (incremental or self.warm_start) and self.__sklearn_is_fitted__()
        before = set(vars(self))
        try:
            # float64 is float64 on every backend (JAX's x64 mode, scoped)
            with _training.precision():
                plan = self._prepare_fit(X, y, sample_weight, incremental)
                # this call's rows per step: batch_size now, or the default
                # for its rows (a warm start or a partial_fit may change it)
                batch_size = self._batch_size_for(plan.X.shape[0])
                with _training.borrow(
                    self._engine_key(),
                    lambda: self._new_engine(batch_size),
                ) as engine:
                    engine.load(self.model_)
                    history, stopped = _training.train(
                        engine,
                        plan.data,
                        epochs=1 if incremental else self.epochs,
                        validation=plan.validation,
                        tol=self.tol,
                        n_iter_no_change=None if incremental else self.n_iter_no_change,
                        seed=plan.seed,
                        verbose=self.verbose,
                        loss_weight=self._spec.loss_weight,
                        penalty_scale=plan.penalty_scale,
                        batch_size=batch_size,
                        learning_rate=_validation.learning_rate(self),
                        members=_networks.ensemble_size(self.model_),
                        shuffle=self.shuffle,
                        xla=xla,
                    )
                    engine.store(self.model_)
                return self._end_fit(plan, history, stopped)
        except BaseException:
            if not continuing:  # a new fit that failed: nothing of it stays
                self._forget_fit(before)
            raise

    def _prepare_fit(self, X, y, sample_weight, incremental):
        """Everything of a fit before the training: validation, the data as
        tensors, the network (built, or continued), the epochs' seed and the
        penalty's scale. Returns the plan that the training and
        :meth:`_end_fit` take."""
        _training.configure_runtime()
        continuing = (incremental or self.warm_start) and self.__sklearn_is_fitted__()
        if not (incremental and continuing):
            self._validate_params()
            _validation.check_hyperparameters(self)
            _reports.warn_ignored(self)
        if continuing:
            _validation.check_unchanged(self, self._spec.hyperparameters)
        X, y = self._validate_fit_data(X, y, reset=not continuing)
        if continuing:
            output_set = self._spec.output_set
        else:
            output_set = self._output_params(self.n_outputs_)
            monotonic_cst = _validation.check_monotonic_cst(self, output_set)
            _reports.warn_degenerate(self, output_set)
        if sample_weight is not None:
            # private helper, the one every scikit-learn estimator uses; there
            # is no public equivalent
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        seeds = _fit_data.draw_seeds(
            self,
            check_random_state(self.random_state),
            split=not incremental,
            build=not continuing,
        )
        if continuing:
            input_bins, free_encoding = self._spec.input_bins, None
        else:  # decided by the rows given, before a validation split
            input_bins = _validation.input_bins(
                self, X, _training.DENSE_LIMIT, monotonic_cst
            )
            free_encoding = _validation.free_encoding(self, X)
        X, data, validation, scaling = _fit_data.fit_data(
            self,
            X,
            y,
            sample_weight,
            seeds.split,
            continuing=continuing,
            loss=self._loss(output_set),
            input_bins=input_bins,
            encoding=None if continuing else (monotonic_cst, free_encoding),
        )
        # after the data's checks: targets that cannot be trained are an
        # error, not first a warning about where they lie
        target_violation = _reports.target_violation(self, y, output_set)
        n_samples = X.shape[0]
        if not continuing:
            # the one place the fitted spec is set
            self._spec = FitSpec(
                hyperparameters=_validation.structural(self),
                fit_shape=tuple(X.shape),
                n_outputs=self.n_outputs_,
                y_ndim=self._prediction_ndim(y),
                output_set=output_set,
                monotonic_cst=monotonic_cst,
                loss_weight=_fit_data.loss_weight(data),
                input_bins=input_bins,
                free_encoding=free_encoding,
                encoded_columns=scaling[3] if scaling else None,
            )
            if incremental:
                _reports.warn_flat_calibrators(self, scaling, monotonic_cst, len(X))
            self._new_network(seeds.network, data, scaling)
        penalty_scale = _fit_data.penalty_scale(
            _validation.alpha(self), n_samples, self._spec.loss_weight
        )
        _networks.set_penalty_scale(self.model_, penalty_scale)
        self.model_.optimizer.learning_rate.assign(_validation.learning_rate(self))
        # a continued fit moves the epochs' seeds on
        seed = seeds.epochs + (self.n_iter_ if continuing else 0)
        return _fit_data.FitPlan(
            X=X,
            data=data,
            validation=validation,
            seed=seed,
            penalty_scale=penalty_scale,
            continuing=continuing,
            incremental=incremental,
            target_violation=target_violation,
        )

    def _end_fit(self, plan, history, stopped):
        """Record the training's ``history`` and report on the fit."""
        if not plan.continuing:
            self.history_ = {key: [] for key in history}
        for key, values in history.items():
            self.history_.setdefault(key, []).extend(values)
        self.loss_curve_ = list(self.history_["loss"])
        self.n_iter_ = len(self.loss_curve_)
        _reports.report_scores(self)
        self.target_violation_ = plan.target_violation
        self._predict_fn = _training.Predictor(self.model_, self._engine_key())
        self.constraint_violation_ = (
            None
            if self._spec.output_set is None
            else _reports.violation(
                self._finish(self._predict_fn(plan.X)), self._spec.output_set
            )
        )
        if not plan.incremental and not stopped:
            _reports.warn_not_converged(self, plan.validation is not None)
        return self

    def _validate_fit_data(self, X, y, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float32, np.float64],
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
        )
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError("y has no columns.")
        for name, a, how in (
            (
                "y",
                y,
                "the targets first (e.g. with TransformedTargetRegressor and "
                "StandardScaler)",
            ),
            ("X", X, "the features first"),
        ):
            if a.dtype == np.float64 and a.size and abs(a).max() > _FLOAT32_MAX:
                raise ValueError(
                    f"{name} has values beyond the float32 range (about 3.4e38), "
                    f"in which the Keras model computes; scale {how}."
                )
        n_outputs = self._n_outputs(y)
        if not reset and n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} column(s), but {type(self).__name__} was "
                f"fitted with {self.n_outputs_}; a warm start or partial_fit "
                "needs the same targets."
            )
        if reset:
            self.n_outputs_ = n_outputs
        return X, y

    def _engine_key(self):
        """The key of the engines that train ``model_``: estimators whose
        loss and output set come from the same hooks (a search and its
        candidates) and whose structural hyperparameters are the same share
        them, with the same encoding's columns, which the variables' shapes
        do not tell (:func:`skconstrain._training.engine_key`)."""
        cls = type(self)
        hooks = (cls._loss, cls._output_params)
        spec = self._spec
        parts = (hooks, spec.hyperparameters, spec.encoded_columns)
        return _training.engine_key(parts, self.model_)

    # ---------------------------------------------------------------- hooks
    def _output_params(self, n_outputs=None):
        """The output set, ``{"set": registry name, **its validated
        parameters}`` (bounds' length checked against ``n_outputs`` when
        given), or None without an output constraint."""
        raise NotImplementedError

    def _check_output_hyperparameters(self):
        """Checks of the subclass's own hyperparameters (the output set's,
        the loss's), beyond ``_parameter_constraints``."""
        raise NotImplementedError

    def _n_outputs(self, y):
        """The network's outputs for the validated targets ``y``."""
        return 1 if y.ndim == 1 else y.shape[1]

    def _prediction_ndim(self, y):
        """The dimensions of the predictions for the validated targets ``y``
        (1: raveled)."""
        return y.ndim

    def _loss(self, output_set):
        """The estimator's :class:`Loss` under ``output_set`` (the squared
        error; the projection after predict with ``output_strategy="post"``)."""
        return Loss(projects_after=self.output_strategy == "post")

    def _ignored_rules(self):
        """``{name: (unused, why)}`` for the subclass's own hyperparameters
        (see :func:`skconstrain._reports.warn_ignored`)."""
        return {}

    # ----------------------------------------------------------- the loss
    def _fit_loss(self):
        """The fitted network's :class:`Loss` (of its spec's output set)."""
        return self._loss(self._spec.output_set)

    def _score_start(self, data, loss):
        """Offset and scale of the default MLP's :class:`TargetScaling`
        (:func:`skconstrain._fit_data.score_start`)."""
        return _fit_data.score_start(self, data, loss)

    def _forget_fit(self, before):
        """Remove everything a failed new fit left
        (:func:`skconstrain._fit_data.forget_fit`)."""
        _fit_data.forget_fit(self, before)

    #: The fitted attributes that are private (the public ones end in "_").
    _private_fitted = ("_spec", "_predict_fn")

    # ------------------------------------------------------------- building
    def _batch_size_for(self, n_samples):
        """``batch_size``, or for None :func:`default_batch_size`."""
        return self.batch_size or default_batch_size(n_samples)

    def _new_network(self, seed, data, scaling):
        """A new network (its weights seeded by ``seed``) and optimizer for
        the spec's data, as ``model_``.

        The objective's gradient is divided by the targets' variance
        (``FitSpec.loss_weight``); with Adam that is the same as scaling its
        ``epsilon`` by it, so the training, like the stopping, does not depend
        on the units of ``y``.
        """
        start = None if data is None else self._score_start(data, self._fit_loss())
        model = _networks.build_network(
            self._spec, self._settings(), seed, start, scaling
        )
        self.model_ = _networks.with_adam(model, _validation.learning_rate(self))

    def _twin_network(self):
        """A network of ``model_``'s architecture whose weights do not matter
        (an engine's, into which a fit's weights are loaded)."""
        return _networks.build_network(self._spec, self._settings(), seed=0)

    def _settings(self):
        """The network's settings (:class:`skconstrain._networks.Settings`)."""
        return _networks.Settings.of(
            self, _validation.penalty_object(self), self._fit_loss().projects_after
        )

    def _new_engine(self, batch_size):
        """An engine with a network like ``model_`` (its weights do not
        matter); ``batch_size``: its default batch (each fit passes its own)."""
        model = self._twin_network()
        return _training.Engine(
            model,
            keras.optimizers.Adam(_validation.learning_rate(self), name="adam"),
            batch_size=batch_size,
            **_networks.training_parts(model, self._fit_loss(), self.n_outputs_),
        )

    # -------------------------------------------------------------- predict
    def _predict_network(self, X):
        """Validated float X -> raw network output, float64 (n, n_outputs)."""
        return self._predict_fn(X)

    def predict(self, X):
        """Predict with the network (for ``output_strategy="post"``, then project).

        The forward pass runs in float64 with the network's (float32) weights,
        so a row's prediction does not depend on the rows predicted with it
        (its order, the batch, the CPU's instruction set) beyond float64
        rounding, and a projection head puts every prediction in its set to
        float64 rounding. (A ``model`` that Keras cannot rebuild from its
        config predicts in its own dtype.)

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            float64; 1-D when ``y`` was 1-D in ``fit``.
        """
        self._check_fitted()
        X = validate_data(
            self,
            X,
            reset=False,
            dtype=[np.float32, np.float64],
            accept_sparse=["csr", "csc"],
        )
        pred = self._finish(self._predict_network(X))
        return pred.ravel() if self._spec.y_ndim == 1 else pred

    def _check_fitted(self):
        """Raise :class:`~sklearn.exceptions.NotFittedError` unless a fit
        built a network (a subclass may say more)."""
        check_is_fitted(self)

    def _finish(self, pred):
        """Project the network's outputs where the loss says so
        (``Loss.projects_after``)."""
        output_set = self._spec.output_set
        if output_set is not None and self._fit_loss().projects_after:
            pred = project(pred, **output_set)
        return pred

    # ---------------------------------------------------------- persistence
    def __getstate__(self):
        """The state, with the network (and optimizer) as ``.keras`` bytes."""
        # object.__getstate__ is no copy
        return _pickles.state_to_pickle(self, dict(super().__getstate__()))

    def __setstate__(self, state):
        state = _pickles.state_from_pickle(state, self._structural_params)
        if isinstance(state.get("model_"), bytes):
            _training.configure_runtime()
            with _training.precision():
                state["model_"] = _networks.from_bytes(state["model_"])
        super().__setstate__(state)
        if "model_" in state:
            self._predict_fn = _training.Predictor(self.model_, self._engine_key())


#: The default batch sizes: the smallest that gives an epoch at most
#: STEPS_PER_EPOCH steps (a few sizes, so that folds of slightly different
#: sizes share a compiled epoch on TensorFlow). On small data an epoch of one
#: or two steps would make ``epochs`` and ``n_iter_no_change`` count too few
#: updates to converge.
BATCH_SIZES = (16, 24, 32, 48, 64, 96, 128, 200)
STEPS_PER_EPOCH = 10


def default_batch_size(n_samples):
    """The rows per step for ``batch_size=None``: ``min(200, n)`` as in
    :class:`~sklearn.neural_network.MLPRegressor` from 2 000 rows, and
    below that the smallest of :data:`BATCH_SIZES` that is at least ``n /
    10`` (at most ``n``), so an epoch has 7 to 10 steps (fewer under 160
    rows, where a batch keeps 16 rows).

    Examples
    --------
    >>> [default_batch_size(n) for n in (10, 100, 300, 1000, 5000)]
    [10, 16, 32, 128, 200]
    """
    n = max(int(n_samples), 1)
    wanted = -(-n // STEPS_PER_EPOCH)
    return min(n, next((b for b in BATCH_SIZES if b >= wanted), BATCH_SIZES[-1]))


#: ``ensemble_size``'s default.
ENSEMBLE_SIZE = 1
