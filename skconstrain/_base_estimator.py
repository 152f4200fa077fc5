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

import copy
import dataclasses
import inspect
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import keras
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import (
    _check_monotonic_cst,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from skconstrain import _networks, _training
from skconstrain._sets import (
    SET_NAMES,
    SETS,
    degenerate,
    vacuous,
)
from skconstrain.keras import constraints as _constraints
from skconstrain.keras import regularizers as _regularizers
from skconstrain.keras.layers import (
    TargetScaling,
    piecewise_linear_bins,
)
from skconstrain.keras.penalties import KINDS
from skconstrain.projections import distance, project

__all__ = ["BaseConstrainedRegressor"]

#: The registry's names, and scikit-learn's "elasticnet".
PENALTIES = tuple(sorted({*_regularizers.NAMES, "elasticnet"}))
STRATEGIES = ("project", "activation", "penalty", "post")
#: ``feature_encoding``'s names (None: the features as they are).
FEATURE_ENCODINGS = ("auto", "piecewise_linear")
#: Bins per feature of the piecewise-linear encoding (its quantiles).
PIECEWISE_LINEAR_BINS = 32
#: ``feature_encoding="auto"`` encodes from this many rows given to fit
#: (benchmarks/bench_quality.py: below it the encoding overfitted the small
#: sets that the plain MLP wins, above it it won from 4 694 training rows),
#: when the encoded rows take at most ``_training.DENSE_LIMIT`` as float32.
AUTO_ENCODING_ROWS = 4000
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _comparable(value):
    """A comparable copy of a hyperparameter value (objects by their params)."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return (type(value), repr(sorted(value.get_params().items())))
    if isinstance(value, dict):
        return ("dict", repr(sorted(value.items(), key=repr)))
    if isinstance(value, np.ndarray | list | tuple):
        return repr(np.asarray(value).tolist())
    return value


@dataclass
class _FitPlan:
    """What :meth:`BaseConstrainedRegressor._prepare_fit` hands the training
    and :meth:`BaseConstrainedRegressor._end_fit`."""

    X: np.ndarray
    data: _training.Data
    validation: _training.Data | None
    seed: int
    penalty_scale: float
    continuing: bool
    incremental: bool
    target_violation: dict | None


@dataclass(frozen=True)
class FitSpec:
    """What a new fit built, and how: set once per new fit (``_spec``), read
    by every later step, and the one thing a continued fit checks.

    Whether an estimator is fitted, its engine's cache key and what a
    continued fit may not change are derived from it; a failed new fit
    forgets it with every other fitted attribute (:meth:`_forget_fit`). The
    batch size, the shuffling and the learning rate are not in it: they are
    inputs of the compiled epoch, and a warm start or ``partial_fit`` may
    change them.

    Attributes
    ----------
    hyperparameters : tuple of (str, object)
        The structural hyperparameters (``_structural_params``), as comparable
        values: the architecture and the objective.
    fit_shape : tuple of int
        The shape of the training rows the network was built for.
    n_outputs : int
        The network's outputs.
    y_ndim : int
        The dimensions of the predictions (1: one column, raveled).
    output_set : dict or None
        ``{"set": name, **parameters}`` of the output constraint.
    monotonic_cst : tuple of int or None
        -1/0/1 per feature; None when no feature is constrained.
    loss_weight : float
        What the objective's gradient is multiplied by (1 / the targets'
        variance).
    input_bins : int
        The bins per feature of the network's piecewise-linear encoding
        (``feature_encoding``); 0: none.
    """

    hyperparameters: tuple
    fit_shape: tuple
    n_outputs: int
    y_ndim: int
    output_set: dict | None
    monotonic_cst: tuple | None
    loss_weight: float
    input_bins: int = 0  # a spec pickled by 0.4 has none

    def engine_key(self, hooks, model):
        """The key of the engines (and forward passes) that can train and
        predict ``model``, this spec's network: the estimator's ``hooks``
        that choose its loss and its head, the hyperparameters they read and
        the variables' shapes; None when a hyperparameter cannot be hashed
        (a callable that is not, say): no reuse."""
        key = (hooks, self.hyperparameters, _training.shapes_key(model))
        try:
            hash(key)
        except TypeError:
            return None
        return key


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


@dataclass(frozen=True)
class _Seeds:
    """A fit's seeds (see :meth:`BaseConstrainedRegressor._draw_seeds`)."""

    split: int | None
    network: int | None
    epochs: int


def _spec_of_old_state(state, structural_params):
    """The :class:`FitSpec` of a state pickled before it existed (0.3 and
    early 0.4 kept its parts as separate attributes), which are removed."""
    built = state.pop("_built_with")
    for name in ("_key", "_batch_size"):
        state.pop(name, None)
    signs = state.pop("_monotonic_cst")
    return FitSpec(
        hyperparameters=tuple(
            (name, built[name]) for name in structural_params if name in built
        ),
        fit_shape=tuple(state.pop("_fit_shape")),
        n_outputs=state["n_outputs_"],
        y_ndim=state.pop("_y_ndim"),
        output_set=state.pop("_output_set"),
        monotonic_cst=None if signs is None else tuple(signs),
        loss_weight=state.pop("_loss_weight"),
    )


def _loss_weight(data):
    """What the objective's gradient is multiplied by: 1 / the targets'
    variance (the loss of the best constant), 1 where it is 0."""
    scale = data.target_scale
    return 1.0 / scale if scale > 0 else 1.0


def _column_scale(loss, y, sample_weight):
    """``loss.column_scale`` of the rows (None: the squared error's)."""
    if loss.column_scale is None:
        return None
    return loss.column_scale(y, sample_weight)


def _penalty_scale(alpha, n_samples, loss_weight):
    """``alpha / n``, times the targets' variance: the gradient is the
    objective's times ``loss_weight`` (1 / the variance), so alpha weighs the
    penalty against the squared error divided by the variance, whatever the
    units of y."""
    return float(alpha) / max(n_samples, 1) / loss_weight


def _copied(random_state):
    """``random_state``, a generator copied: each fit draws from the same
    state, as each of :class:`~sklearn.model_selection.GridSearchCV`'s clones
    does."""
    if isinstance(random_state, np.random.RandomState):
        return copy.deepcopy(random_state)
    return random_state


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
    #: subclass adds its own). A warm start or a further partial_fit
    #: continues the network built with them, so a change of one since then
    #: is an error (MLPRegressor does the same for the layer sizes); the
    #: engines' key holds them.
    _structural_params = (
        "model",
        "hidden_layer_sizes",
        "activation",
        "feature_encoding",
        "monotonic_cst",
        "penalty",
        "l1_ratio",
        "kernel_constraint",
        "bias_constraint",
        "output_strategy",
        "output_penalty",
        "output_penalty_strength",
        "ensemble_size",
    )

    #: Whether the training targets are rows in the output set's space (so
    #: their distance to it is reported, and a set degenerate for their
    #: width warned about).
    _targets_in_output_set = True

    #: What the loss that ``tol`` watches is divided by (said in warnings).
    _loss_scale_text = (
        "the loss of the best constant prediction, the targets' variance for "
        "the squared error"
    )

    _parameter_constraints: dict = {
        "model": [None, callable],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [str, callable],
        "feature_encoding": [StrOptions(set(FEATURE_ENCODINGS)), None],
        "monotonic_cst": ["array-like", dict, None],
        "penalty": [StrOptions(set(PENALTIES)), callable, None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "kernel_constraint": [str, callable, None],
        "bias_constraint": [str, callable, None],
        "output_strategy": [StrOptions(set(STRATEGIES))],
        "output_penalty": [StrOptions(set(KINDS))],
        "output_penalty_strength": [Interval(Real, 0, None, closed="left")],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

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

    #: The hyperparameters that take an object of ours or its registry name.
    _named_objects = ("kernel_constraint", "bias_constraint", "penalty")

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
        heads = {key.partition("__")[0] for key in params if "__" in key}
        for name in heads.intersection(self._named_objects):
            value = params.get(name, getattr(self, name, None))
            if not isinstance(value, str):
                continue
            if name == "penalty":
                params[name] = _named_penalty(
                    value, params.get("l1_ratio", self.l1_ratio)
                )
            else:
                params[name] = _constraints.get(value)
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

    def _fit(self, X, y, sample_weight, incremental):
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
                        learning_rate=self.learning_rate,
                        members=_networks.ensemble_size(self.model_),
                        shuffle=self.shuffle,
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
            self._check_hyperparameters()
            self._warn_ignored()
        if continuing:
            self._check_unchanged()
        X, y = self._validate_fit_data(X, y, reset=not continuing)
        if continuing:
            output_set = self._spec.output_set
        else:
            output_set = self._output_params(self.n_outputs_)
            monotonic_cst = self._check_monotonic_cst(output_set)
            self._warn_degenerate(output_set)
        if sample_weight is not None:
            # private helper, the one every scikit-learn estimator uses; there
            # is no public equivalent
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        target_violation = self._target_violation(y, output_set)
        seeds = self._draw_seeds(
            check_random_state(self.random_state),
            split=not incremental,
            build=not continuing,
        )
        input_bins = self._spec.input_bins if continuing else self._input_bins(X)
        X, data, validation, scaling = self._fit_data(
            X,
            y,
            sample_weight,
            seeds.split,
            continuing=continuing,
            loss=self._loss(output_set),
            input_bins=input_bins,
        )
        n_samples = X.shape[0]
        if not continuing:
            # the one place the fitted spec is set
            self._spec = FitSpec(
                hyperparameters=self._structural(),
                fit_shape=tuple(X.shape),
                n_outputs=self.n_outputs_,
                y_ndim=self._prediction_ndim(y),
                output_set=output_set,
                monotonic_cst=monotonic_cst,
                loss_weight=_loss_weight(data),
                input_bins=input_bins,
            )
            self._new_network(seeds.network, data, scaling)
        penalty_scale = _penalty_scale(self.alpha, n_samples, self._spec.loss_weight)
        self._set_penalty_scale(penalty_scale)
        self.model_.optimizer.learning_rate.assign(self.learning_rate)
        # a continued fit moves the epochs' seeds on
        seed = seeds.epochs + (self.n_iter_ if continuing else 0)
        return _FitPlan(
            X=X,
            data=data,
            validation=validation,
            seed=seed,
            penalty_scale=penalty_scale,
            continuing=continuing,
            incremental=incremental,
            target_violation=target_violation,
        )

    def _fit_data(self, X, y, sample_weight, split_seed, continuing, loss, input_bins):
        """The training rows (and, with a ``split_seed``, the validation
        rows it draws) as tensors, mapped by the default MLP's input scaling
        (and encoding, of ``input_bins`` per feature). Returns ``(X, data,
        validation, scaling)``: X the training rows."""
        validation = None
        if split_seed is not None:
            X, y, sample_weight, validation = self._split(
                X, y, sample_weight, split_seed
            )
        # the default MLP's fixed standardisation of X, done once on the data
        # (in float64): from the training rows, or kept from the first fit
        scaling = self._input_scaling(X, sample_weight, continuing, input_bins)
        data = _training.as_tensors(
            X,
            y,
            sample_weight,
            x_scaling=scaling,
            column_scale=_column_scale(loss, y, sample_weight),
        )
        _training.check_targets(data)
        if validation is not None:
            validation = _training.as_tensors(
                *validation,
                x_scaling=scaling,
                column_scale=_column_scale(loss, validation[1], validation[2]),
            )
        return X, data, validation, scaling

    def _member(self, X, y, sample_weight, alpha, random_state):
        """A new fit of the default MLP at ``alpha`` on validated rows, as
        :meth:`_prepare_fit` prepares it (same rows, seeds, scalings), but as
        a member of a stack: no network is built. The estimator must have
        been prepared for data of this kind (``_prepare_fit``); its seeds are
        drawn from ``random_state`` (a generator is copied, not advanced).

        Returns ``(plan, member, x_scaling)``: the :class:`_FitPlan`, the
        :class:`skconstrain._training.Member` and the input scaling.
        """
        seeds = self._draw_seeds(
            check_random_state(_copied(random_state)), split=True, build=True
        )
        target_violation = self._target_violation(y, self._spec.output_set)
        loss = self._fit_loss()
        X, data, validation, scaling = self._fit_data(
            X,
            y,
            sample_weight,
            seeds.split,
            continuing=False,
            loss=loss,
            input_bins=self._spec.input_bins,
        )
        model_seed, seed = seeds.network, seeds.epochs
        loss_weight = _loss_weight(data)
        n_samples = X.shape[0]
        offset, spread = self._score_start(data, loss)
        penalty_scale = _penalty_scale(alpha, n_samples, loss_weight)
        member = _training.Member(
            data=data,
            validation=validation,
            seed=seed,
            loss_weight=loss_weight,
            penalty_scale=penalty_scale,
            batch_size=self._batch_size_for(n_samples),
            weights=_networks.mlp_weights(
                X.shape[1] * (self._spec.input_bins + 1),
                self.n_outputs_,
                self._hidden_sizes(),
                model_seed,
            ),
            offset=np.asarray(offset, dtype=np.float64),
            scale=np.asarray(spread, dtype=np.float64),
            shuffle=self.shuffle,
        )
        plan = _FitPlan(
            X=X,
            data=data,
            validation=validation,
            seed=seed,
            penalty_scale=penalty_scale,
            continuing=False,
            incremental=False,
            target_violation=target_violation,
        )
        return plan, member, scaling

    def _fit_stack(self, first, members, random_state, score):
        """New fits of the default MLP, one per member, trained as one stack
        of networks (:class:`skconstrain._networks.Stack`; in chunks when
        they would take more than ``_training.STACK_MEMORY``), each as its
        own fit would train (the same seeds, rows and scalings: each drawn
        from ``random_state`` as given, a generator copied).

        The estimator is prepared as a fit on ``first`` (``(X, y,
        sample_weight)`` as given: its checks, warnings and network, the
        stack's template), then holds each member's fit in turn (its weights
        in ``model_``, its ``history_``, ``n_iter_`` and reports, ``alpha``)
        while ``score(k, self)`` scores member ``k``.

        Parameters
        ----------
        first : tuple
            ``(X, y, sample_weight)``: rows to prepare the estimator on.
        members : list of tuple
            ``(X, y, sample_weight, alpha)`` per member: validated rows.
        random_state : None, int or RandomState
        score : callable
            ``score(k, estimator)``: a score, or a dict of them.

        Returns
        -------
        results : list of tuple
            Per member: ``(score, fit_time, score_time, stopped)`` (``score``
            as ``score`` returned it), the fit
            time its stack's divided by its members (with its share of the
            preparation), ``stopped`` whether its stopping rule ended it.
        """
        start = time.perf_counter()
        # each member draws from random_state as given (the preparation
        # draws from the estimator's own, a generator advanced)
        random_state = _copied(random_state)
        self._prepare_fit(*first, False)
        prepared = [
            self._member(X, y, sample_weight, alpha, random_state)
            for X, y, sample_weight, alpha in members
        ]
        stacked = [member for _, member, _ in prepared]
        # the largest batch is the trace's (each member's own is an input)
        width = max(member.batch_size for member in stacked)
        loss = self._fit_loss()
        n_weights = sum(int(np.prod(w.shape)) for w in stacked[0].weights)
        units = sum(self._hidden_sizes()) + self.n_outputs_
        out = []
        prepare_time = time.perf_counter() - start
        for part in _training.chunks(stacked, n_weights, units):
            begin = time.perf_counter()
            size = len(stacked[part])
            key = self._engine_key()
            if key is not None:
                key = ("stack", size, width, *key)

            def make(size=size):
                return _training.StackEngine(
                    self._twin_network(), size, loss.row_loss, width
                )

            with _training.borrow(key, make) as engine:
                results = _training.train(
                    engine,
                    stacked[part],
                    epochs=self.epochs,
                    learning_rate=self.learning_rate,
                    tol=self.tol,
                    n_iter_no_change=self.n_iter_no_change,
                    output_map=loss.output_map,
                    verbose=self.verbose,
                )
                snapshot = engine.snapshot()
                fit_time = (time.perf_counter() - begin) / size
                fit_time += prepare_time / len(stacked)
                first_k = part.start
                for k, (plan, _, scaling) in enumerate(prepared[part]):
                    begin = time.perf_counter()
                    engine.write(k, self.model_, scaling, snapshot)
                    self.alpha = float(members[first_k + k][3])
                    history, stopped = results[k]
                    with warnings.catch_warnings():
                        # a search sums up its members' convergence itself
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        self._end_fit(plan, history, stopped)
                    value = score(first_k + k, self)
                    elapsed = time.perf_counter() - begin
                    out.append((value, fit_time, elapsed, stopped))
        return out

    def _end_fit(self, plan, history, stopped):
        """Record the training's ``history`` and report on the fit."""
        if not plan.continuing:
            self.history_ = {key: [] for key in history}
        for key, values in history.items():
            self.history_.setdefault(key, []).extend(values)
        self.loss_curve_ = list(self.history_["loss"])
        self.n_iter_ = len(self.loss_curve_)
        self._report_scores()
        self.target_violation_ = plan.target_violation
        self._predict_fn = _training.Predictor(self.model_, self._engine_key())
        self.constraint_violation_ = (
            None
            if self._spec.output_set is None
            else self._violation(self._finish(self._predict_fn(plan.X)))
        )
        if not plan.incremental and not stopped:
            warnings.warn(
                f"{type(self).__name__}: all {self.epochs} epochs ran and the "
                f"{'validation' if plan.validation is not None else 'training'} "
                f"loss still improved by more than tol={self.tol} (relative to "
                f"{self._loss_scale_text}) within the last "
                f"{self.n_iter_no_change} epochs: the fit has not converged. "
                "Raise 'epochs', or 'tol' to stop sooner.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return self

    def _report_scores(self):
        """``best_loss_``, ``validation_scores_`` and ``best_validation_score_``,
        with :class:`~sklearn.neural_network.MLPRegressor`'s meanings."""
        scores = self.history_.get("val_score")
        if scores:
            self.best_loss_ = None
            self.validation_scores_ = list(scores)
            self.best_validation_score_ = max(scores)
        else:
            self.best_loss_ = min(self.loss_curve_)
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _input_scaling(self, X, sample_weight, continuing, input_bins):
        """``(offset, scale, bins)`` of the default MLP's fixed first layers:
        its :class:`InputScaling`, ``(x - mean) / std`` of the training rows,
        and with ``input_bins`` the bins of its
        :class:`PiecewiseLinearEncoding`, the standardised rows' quantiles
        (None: no encoding); or the network's own when it is continued; None
        for a ``model`` callable (no such layers)."""
        if self.model is not None:
            return None
        if continuing:
            layer = self.model_.get_layer(_networks.INPUT_SCALING)
            offset, scale = (np.asarray(w, dtype=np.float64) for w in layer.weights)
            bins = None
            if input_bins:
                layer = self.model_.get_layer(_networks.INPUT_ENCODING)
                bins = tuple(np.asarray(w, dtype=np.float64) for w in layer.weights)
            return offset, scale, bins
        if sp.issparse(X):
            mean, std = _sparse_moments(X, sample_weight)
        else:
            mean, std = _training.moments(X, sample_weight)
        std = _networks.spread(mean, std, np.float64)
        offset, scale = -mean / std, 1.0 / std
        bins = None
        if input_bins:
            bins = piecewise_linear_bins(offset + scale * X, input_bins)
        return offset, scale, bins

    def _input_bins(self, X):
        """The bins per feature of a new fit's piecewise-linear encoding,
        for the rows ``X`` given to it (before a validation split;
        ``feature_encoding``); 0: none."""
        encoding = self.feature_encoding
        if self.model is not None or encoding is None:
            return 0
        n, d = X.shape
        encoded = 4 * n * d * (PIECEWISE_LINEAR_BINS + 1)  # bytes, as float32
        if encoding == "auto" and (
            sp.issparse(X) or n < AUTO_ENCODING_ROWS or encoded > _training.DENSE_LIMIT
        ):
            return 0
        if sp.issparse(X):
            raise ValueError(
                f"The 'feature_encoding' parameter of {type(self).__name__}: "
                "'piecewise_linear' encodes dense features; X is sparse. Pass "
                "feature_encoding=None (or 'auto', which does not encode "
                "sparse X), or a dense X."
            )
        return PIECEWISE_LINEAR_BINS

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
        if X.dtype == np.float64 and X.size and abs(X).max() > _FLOAT32_MAX:
            raise ValueError(
                "X has values beyond the float32 range (about 3.4e38), in which "
                "the Keras model computes; scale the features first."
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

    def _check_hyperparameters(self):
        """Checks beyond ``_parameter_constraints``: names and objects."""
        self._penalty_object()
        for name in ("kernel_constraint", "bias_constraint"):
            try:
                _constraints.get(getattr(self, name))
            except ValueError as exc:
                raise ValueError(
                    f"The {name!r} parameter of {type(self).__name__}: {exc}"
                ) from None
        self._check_output_hyperparameters()
        if isinstance(self.activation, str):
            try:
                keras.activations.get(self.activation)
            except ValueError:
                raise ValueError(
                    f"The 'activation' parameter of {type(self).__name__} must "
                    "be the name of a Keras activation (such as 'relu', 'tanh', "
                    "'gelu', 'silu' or 'elu'; see keras.activations) or a "
                    f"callable; got {self.activation!r}."
                ) from None
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if hidden.dtype.kind not in "iu" or (hidden < 1).any():
            raise ValueError(
                "The 'hidden_layer_sizes' parameter must be a tuple of positive "
                f"integers; got {self.hidden_layer_sizes!r}."
            )

    def _check_monotonic_cst(self, output_set):
        """The validated ``monotonic_cst`` as a tuple of -1/0/1 per feature,
        or None when no feature is constrained; errors where the guarantee
        cannot hold (under ``output_set``)."""
        if self.monotonic_cst is None:
            return None
        # private, and what HistGradientBoostingRegressor and the trees use:
        # the same rules and messages (pinned by tests/test_monotonic.py)
        signs = _check_monotonic_cst(self, self.monotonic_cst)
        if not np.any(signs):
            return None
        if self.model is not None:
            raise ValueError(
                "monotonic_cst builds its own monotone network; it cannot make "
                "a 'model' callable monotone. Use model=None (the network is "
                "set by hidden_layer_sizes), or build monotonicity into your "
                "model (e.g. with skconstrain.keras.LipschitzDense, GroupSort "
                "and MonotoneResidual)."
            )
        if output_set is not None and not SETS[output_set["set"]].keeps_order:
            kept = [name for name in SET_NAMES if SETS[name].keeps_order]
            raise ValueError(
                f"monotonic_cst cannot hold with output_constraint="
                f"{output_set['set']!r}: its projection mixes the outputs "
                "(raising one score can lower the other outputs), so outputs "
                "monotone before it may not be after. Use None or a set whose "
                f"head keeps each output's order: {kept}."
            )
        return tuple(int(s) for s in signs)

    def _check_unchanged(self):
        """A continued fit needs the hyperparameters the network was built with."""
        built = dict(self._spec.hyperparameters)
        changed = [
            name for name, value in self._structural() if value != built.get(name)
        ]
        if changed:
            raise ValueError(
                f"{type(self).__name__} continues the current network (warm_start="
                f"True or partial_fit), but {changed} changed since it was built. "
                "Fit with warm_start=False to build a new network."
            )

    def _engine_key(self):
        """The key of the engines that train ``model_`` (see
        :meth:`FitSpec.engine_key`): estimators whose loss and output set
        come from the same hooks (a search and its candidates) share them."""
        cls = type(self)
        return self._spec.engine_key((cls._loss, cls._output_params), self.model_)

    def _structural(self):
        """The structural hyperparameters (``_structural_params``), as
        ``(name, comparable value)`` pairs."""
        params = self.get_params(deep=False)
        # a subclass's signature may lack one the base sets (feature_encoding)
        return tuple(
            (name, _comparable(params.get(name, getattr(self, name, None))))
            for name in self._structural_params
        )

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
        (see :meth:`_warn_ignored`)."""
        return {}

    # ----------------------------------------------------------- the loss
    def _fit_loss(self):
        """The fitted network's :class:`Loss` (of its spec's output set)."""
        return self._loss(self._spec.output_set)

    def _score_start(self, data, loss):
        """Offset and scale of the default MLP's :class:`TargetScaling`: the
        predictions start where ``loss`` says (the targets' mean with their
        spread), through the output strategy's head."""
        if loss.score_start is None:
            mean, std = data.target_mean, data.target_std
        else:
            mean, std = loss.score_start(data)
        return _networks.score_start(
            self.output_strategy, self._spec.output_set, mean, std
        )

    # ------------------------------------------------------------- warnings
    def _warn_ignored(self):
        """Warn about each hyperparameter set away from its default that this
        configuration does not use (as ``LogisticRegression`` warns that
        ``penalty=None`` ignores ``C``): a grid over it would change nothing."""
        penalizes = (
            self._output_params() is not None and self.output_strategy == "penalty"
        )
        rules = {
            "alpha": (self.penalty is None, "penalty=None"),
            "l1_ratio": (
                not isinstance(self._penalty_object(), _regularizers.ElasticNet)
                or not isinstance(self.penalty, str),
                f"penalty={self.penalty!r} (it mixes the elastic-net names only)",
            ),
            "output_penalty": (not penalizes, "output_strategy other than 'penalty'"),
            "output_penalty_strength": (
                not penalizes,
                "output_strategy other than 'penalty'",
            ),
            "hidden_layer_sizes": (self.model is not None, "a 'model' callable"),
            "feature_encoding": (self.model is not None, "a 'model' callable"),
            "activation": (
                self.model is not None or _constrains_all(self.monotonic_cst),
                "a 'model' callable"
                if self.model is not None
                else "monotonic_cst constraining every feature (the monotone "
                "network uses GroupSort; activation is that of the "
                "unconstrained features' branch)",
            ),
            "validation_fraction": (not self.early_stopping, "early_stopping=False"),
            **self._ignored_rules(),
        }
        defaults = inspect.signature(type(self).__init__).parameters
        ignored = [
            f"{name}={getattr(self, name)!r} is ignored with {why}"
            for name, (unused, why) in rules.items()
            if unused
            and name in defaults
            and _comparable(getattr(self, name)) != _comparable(defaults[name].default)
        ]
        if ignored:
            warnings.warn(
                f"{type(self).__name__}: " + "; ".join(ignored) + ".",
                UserWarning,
                stacklevel=5,
            )

    def _warn_degenerate(self, output_set):
        """Warn when ``output_set`` is a point or two for y's width, or all
        of it."""
        if output_set is None or not self._targets_in_output_set:
            return
        if vacuous(output_set["set"], self.n_outputs_):
            warnings.warn(
                f"output_constraint={output_set['set']!r} on a y of 1 column "
                "constrains nothing: one number is always in order. It orders "
                "the columns of a y of several (quantiles by level, say).",
                UserWarning,
                stacklevel=5,
            )
            return
        left = degenerate(
            output_set["set"],
            self.n_outputs_,
            radius=output_set.get("radius", 1.0),
        )
        if left is not None:
            warnings.warn(
                f"output_constraint={output_set['set']!r} on a y of 1 column "
                f"is only {left}: every prediction will be one of them. To bound "
                "a single output, use 'box' (with output_lower/output_upper), "
                "'linf_ball' or 'nonneg'.",
                UserWarning,
                stacklevel=5,
            )

    def _target_violation(self, y, output_set):
        """How far the training targets lie from ``output_set``, and a warning
        when some are farther than a tolerance (the network can only predict
        inside the set, so such targets are never fitted)."""
        if output_set is None or not self._targets_in_output_set:
            return None
        name = output_set["set"]
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        found = _target_distance(Y, output_set)
        # a set of a point or two is warned about already (_warn_degenerate)
        if found["fraction"] > 0 and degenerate(name, Y.shape[1]) is None:
            hint = _suggest_output(Y, output_set)
            warnings.warn(
                f"{found['fraction']:.1%} of the training targets lie outside "
                f"output_constraint={name!r} ({SETS[name].formula}"
                + (
                    f", radius={output_set['radius']:g}"
                    if "radius" in output_set
                    else ""
                )
                + f") by more than {found['tol']:.3g} (the largest by "
                f"{found['max']:.3g}): predictions stay in the set, so these "
                f"targets cannot be fitted. {hint}",
                UserWarning,
                stacklevel=5,
            )
        return found

    def _draw_seeds(self, rng, *, split, build):
        """A fit's seeds, drawn from ``rng`` in one order, so that a single
        fit and a member of a stack draw the same: the validation split's
        (with ``early_stopping`` and ``split``; else None), the network's
        (with ``build``; else None), the epochs' orders'."""
        return _Seeds(
            split=int(rng.randint(2**31 - 1))
            if split and self.early_stopping
            else None,
            network=int(rng.randint(2**31 - 1)) if build else None,
            epochs=int(rng.randint(2**31 - 1)),
        )

    def _split(self, X, y, sample_weight, seed):
        parts = [X, y] + ([] if sample_weight is None else [sample_weight])
        split = train_test_split(
            *parts,
            test_size=self.validation_fraction,
            random_state=seed,
            shuffle=True,
        )
        X_train, X_val, y_train, y_val = split[:4]
        sw_train, sw_val = (
            (split[4], split[5]) if sample_weight is not None else (None, None)
        )
        return X_train, y_train, sw_train, (X_val, y_val, sw_val)

    def _forget_fit(self, before):
        """Remove everything a failed new fit left, so that no half-fitted
        state stays: what this fit added (the names not in ``before``, the
        instance's attributes when it began) and the fitted state of an
        earlier fit (:meth:`_is_fitted_state`). What was set on the instance
        from outside stays: the hyperparameters, and what scikit-learn stores
        there (``set_fit_request``'s metadata requests, ``set_output``'s
        config, the callback context a ``Pipeline`` sets on its step while
        it fits it and deletes afterwards)."""
        params = set(self.get_params(deep=False))
        for name in list(vars(self)):
            if name not in params and (
                name not in before or self._is_fitted_state(name)
            ):
                delattr(self, name)

    #: The fitted attributes that are private (the public ones end in "_").
    _private_fitted = ("_spec", "_predict_fn")

    @classmethod
    def _is_fitted_state(cls, name):
        """Whether the attribute ``name`` is a fit's: scikit-learn's
        convention for fitted attributes (a name ending in "_", as
        ``check_is_fitted`` reads them) or one of ``_private_fitted``."""
        return (
            name.endswith("_") and not name.startswith("__")
        ) or name in cls._private_fitted

    # ------------------------------------------------------------- building
    def _penalty_object(self):
        if self.penalty is None:
            return None
        if isinstance(self.penalty, str):
            return _named_penalty(self.penalty, self.l1_ratio)
        return clone(_regularizers.get(self.penalty), safe=False)

    def _batch_size_for(self, n_samples):
        """``batch_size``, or for None :func:`default_batch_size`."""
        return self.batch_size or default_batch_size(n_samples)

    def _hidden_sizes(self):
        return [int(h) for h in np.atleast_1d(np.asarray(self.hidden_layer_sizes))]

    def _architecture(self, meta, seed, scaling=None):
        """The default MLP (monotone with ``monotonic_cst``), or the user's
        model; ``scaling``: the default MLP's :class:`InputScaling` (None: an
        engine's copy, whose weights are loaded)."""
        n_features, n_outputs = meta["n_features_in_"], meta["n_outputs_"]
        if self.model is not None:
            return _networks.user_model(self.model, meta, seed)
        hidden = self._hidden_sizes()
        n_bins = self._spec.input_bins
        if self._spec.monotonic_cst is not None:
            return _networks.monotone_mlp(
                n_features,
                n_outputs,
                hidden,
                self.activation,
                self._spec.monotonic_cst,
                seed,
                scaling,
                n_bins,
            )
        return _networks.mlp(
            n_features, n_outputs, hidden, self.activation, seed, scaling, n_bins
        )

    def _network(self, seed, data, scaling):
        """The whole network for the spec's rows: one
        (:meth:`_member_network`), or with ``ensemble_size > 1`` an ensemble
        of members seeded from ``seed`` whose prediction is their mean
        (:func:`_networks.ensemble`), projected back onto the sphere when the
        head keeps outputs on it. ``data`` and ``scaling``: see
        :meth:`_member_network`."""
        size = int(self.ensemble_size)
        if size == 1:
            return self._member_network(seed, data, scaling)
        members = [
            self._member_network(_member_seed(seed, m), data, scaling)
            for m in range(size)
        ]
        reproject = None
        output_set = self._spec.output_set
        if (
            output_set is not None
            and output_set["set"] == "l2_sphere"
            and self.output_strategy in ("project", "activation")
            and not self._fit_loss().projects_after
        ):
            reproject = output_set
        return _networks.ensemble(members, reproject)

    def _member_network(self, seed, data, scaling):
        """One network (of :meth:`_architecture`, its weight settings, its
        target scaling and its head); ``seed`` seeds its initial weights.

        The default MLP starts with an :class:`InputScaling` (``scaling``)
        and its outputs go through a :class:`TargetScaling` onto the training
        targets' (``data``'s) mean and standard deviation per output
        (:meth:`_score_start`), before the head. ``data`` and ``scaling``
        None: a twin whose weights will be loaded (:meth:`_twin_network`).
        """
        X_shape = self._spec.fit_shape
        meta = {
            "n_features_in_": X_shape[1],
            "n_outputs_": self.n_outputs_,
            "X_shape_": X_shape,
        }
        net = self._architecture(meta, seed, scaling)
        _networks.apply_weight_settings(
            net, self._penalty_object(), self.kernel_constraint, self.bias_constraint
        )
        outputs = net.outputs[0]
        output_set = self._spec.output_set
        loss = self._fit_loss()
        if self.model is None:
            offset, scale = 0.0, 1.0  # an engine's copy: its weights are loaded
            if data is not None:
                offset, scale = self._score_start(data, loss)
            outputs = TargetScaling(offset, scale, name=_networks.TARGET_SCALING)(
                outputs
            )
        if output_set is not None and not loss.projects_after:
            head, name = _networks.HEADS[self.output_strategy]
            extra = {}
            if self.output_strategy == "penalty":
                extra = dict(
                    kind=self.output_penalty, strength=self.output_penalty_strength
                )
            name = _networks.free_name(net, name)
            outputs = head(**output_set, **extra, name=name)(outputs)
        return keras.Model(net.inputs[0], outputs, name="constrained_network")

    def _new_network(self, seed, data, scaling):
        """A new network (its weights seeded by ``seed``) and optimizer for
        the spec's data, as ``model_``.

        The objective's gradient is divided by the targets' variance
        (``FitSpec.loss_weight``); with Adam that is the same as scaling its
        ``epsilon`` by it, so the training, like the stopping, does not depend
        on the units of ``y``.
        """
        model = self._network(seed, data, scaling)
        optimizer = keras.optimizers.Adam(self.learning_rate, name="adam")
        # Compiled only so that the optimizer (and its state) is saved with the
        # network; training does not use Model.fit.
        model.compile(optimizer=optimizer)
        optimizer.build(model.trainable_variables)
        self.model_ = model

    def _twin_network(self):
        """A network of ``model_``'s architecture whose weights do not matter
        (an engine's, into which a fit's weights are loaded)."""
        return self._network(seed=0, data=None, scaling=None)

    def _new_engine(self, batch_size):
        """An engine with a network like ``model_`` (its weights do not
        matter); ``batch_size``: its default batch (each fit passes its own)."""
        model = self._twin_network()
        loss = self._fit_loss()
        size = _networks.ensemble_size(model)
        if size > 1:  # members trained each on its own loss; predictions: the mean
            tail = _networks.ensemble_tail(model)
            output_map = loss.output_map
            loss = dataclasses.replace(
                loss,
                row_loss=_networks.ensemble_row_loss(
                    loss.row_loss, size, self.n_outputs_
                ),
                output_map=tail
                if output_map is None
                else (lambda outputs: output_map(tail(outputs))),
            )
        return _training.Engine(
            model,
            keras.optimizers.Adam(self.learning_rate, name="adam"),
            batch_size=batch_size,
            penalties=list(_networks.penalties(model)),
            output_penalties=_networks.output_penalties(model),
            body=_networks.body(model),
            objective=loss,
        )

    def _set_penalty_scale(self, scale):
        """``alpha / n_samples`` into every kernel penalty of ``model_``.

        A network loaded from ``.keras`` bytes holds one ``Scaled`` per kernel
        (a fresh build shares one), so each is set. Training feeds the same
        value to the engine's network.
        """
        for regularizer in _networks.penalties(self.model_):
            regularizer.scale = scale

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

    def _violation(self, pred):
        """How far the predictions ``pred`` lie from the output set."""
        output_set = self._spec.output_set
        tol = 1e-5 * max(1.0, output_set.get("radius", 1.0))
        return _distances(pred, output_set, tol)

    # ---------------------------------------------------------- persistence
    def __getstate__(self):
        """The state, with the network (and optimizer) as ``.keras`` bytes."""
        state = dict(super().__getstate__())  # object.__getstate__ is no copy
        for name in ("_predict_fn",):
            state.pop(name, None)
        if "model_" in state:
            if callable(self.penalty) and not isinstance(
                self.penalty, keras.regularizers.Regularizer
            ):
                raise TypeError(
                    f"A fitted {type(self).__name__} whose 'penalty' is a plain "
                    f"callable ({self.penalty!r}) cannot be pickled: its network "
                    "is saved as a .keras file, which cannot hold the function. "
                    "Use a regularizer of skconstrain.keras.regularizers (or a "
                    "keras.regularizers.Regularizer registered with "
                    "keras.saving.register_keras_serializable)."
                )
            state["model_"] = _networks.to_bytes(state["model_"])
        if "_spec" in state:  # plain values: no type of ours to trust (skops)
            state["_spec"] = dataclasses.asdict(state["_spec"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("_spec"), dict):
            state["_spec"] = FitSpec(**state["_spec"])
        elif "_built_with" in state:  # pickled before the spec held them
            state["_spec"] = _spec_of_old_state(state, self._structural_params)
        # pickled by 0.4, before feature_encoding: its plain MLP, refits too
        state.setdefault("feature_encoding", None)
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


def _named_penalty(name, l1_ratio):
    """The regularizer that ``penalty=name`` trains with: the registry's,
    with ``factor=1`` (``alpha`` is the strength) and, for the elastic net,
    ``l1_ratio``."""
    named = _regularizers.get(name)
    if isinstance(named, _regularizers.ElasticNet):  # also Keras's l1_l2
        return _regularizers.ElasticNet(1.0, l1_ratio=l1_ratio)
    return named.set_params(factor=1.0)


def _member_seed(seed, m):
    """The seed of member ``m`` of an ensemble built from ``seed`` (member 0:
    ``seed`` itself, so an ensemble's first member is the single network)."""
    return (int(seed) + 7919 * m) % 2**31


def _sparse_moments(X, w=None):
    """The weighted mean and standard deviation of each column of a sparse
    ``X``, without densifying it (scikit-learn's ``mean_variance_axis``)."""
    X = sp.csr_matrix(X, dtype=np.float64)
    weights = None if w is None else np.asarray(w, dtype=np.float64)
    if X.shape[0] == 0 or (weights is not None and weights.sum() <= 0):
        return np.zeros(X.shape[1]), np.zeros(X.shape[1])
    mean, var = mean_variance_axis(X, axis=0, weights=weights)
    return mean, np.sqrt(np.maximum(var, 0.0))


def _constrains_all(monotonic_cst):
    """Whether a (not yet validated) array-like ``monotonic_cst`` constrains
    every feature (a dict's features are not known before the data)."""
    if monotonic_cst is None or isinstance(monotonic_cst, dict):
        return False
    values = np.ravel(np.asarray(monotonic_cst, dtype=object)).tolist()
    return bool(values) and all(v in (-1, 1) for v in values)


def _distances(P, output_set, tol):
    """``{"max", "fraction", "tol"}``: the largest Euclidean distance from a
    row of ``P`` to the set, and the fraction of rows farther than ``tol``."""
    P = P.reshape(len(P), -1)
    dist = distance(P, **output_set)
    return {
        "max": float(dist.max()) if dist.size else 0.0,
        "fraction": float((dist > tol).mean()) if dist.size else 0.0,
        "tol": tol,
    }


def _target_distance(Y, output_set):
    """:func:`_distances` of the targets ``Y``, with a tolerance of 1% of the
    set's radius (of the targets' spread for the sets without one): rounding,
    and noise of that size, are not reported."""
    scale = output_set.get("radius")
    if scale is None:
        spread = float(Y.std(axis=0).max()) if Y.size else 0.0
        scale = spread if spread > 0 else 1.0
    return _distances(Y, output_set, 1e-2 * scale)


_NORMS = {"l1_ball": 1, "l2_ball": 2, "linf_ball": np.inf, "l2_sphere": 2}


def _suggest_output(Y, output_set):
    """A sentence on what output set the targets ``Y`` suggest."""
    name = output_set["set"]
    if name == "simplex":
        if (Y < 0).any():
            return (
                "Some targets are negative, which the simplex excludes; 'l1_ball' "
                "or 'box' may suit them."
            )
        total = float(np.median(Y.sum(axis=1)))
        return f"Their rows sum to {total:.4g} (median): try output_radius={total:.4g}."
    if name in _NORMS:
        norms = np.linalg.norm(Y, ord=_NORMS[name], axis=1)
        if name == "l2_sphere":
            median = float(np.median(norms))
            return f"Their norms' median suggests output_radius={median:.4g}."
        return f"output_radius={float(norms.max()):.4g} would hold them all."
    if name == "nonneg":
        return "Some are negative: use 'box' with output_lower below them."
    if name == "ordered":
        share = float((np.diff(Y, axis=1) < 0).any(axis=1).mean())
        return (
            f"{share:.1%} of the rows decrease somewhere: put the columns in the "
            "order they should increase in (quantiles by level, say)."
        )
    return (
        f"They range over [{Y.min():.4g}, {Y.max():.4g}]: set output_lower and "
        "output_upper to hold them."
    )
