"""``ConstrainedRegressor``: a Keras regressor with weight and output constraints.

Every constraint and penalty is an ordinary hyperparameter, so ``Pipeline``,
``GridSearchCV``, ``clone``, pickling and pandas work as with any scikit-learn
regressor. The estimator stands on scikit-learn's base classes; this module
validates, builds the network and its output head, and hands training to the
engine in :mod:`skconstrain._training`.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import Interval, StrOptions
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
    check_bounds,
    check_radius,
    check_set,
    degenerate,
    set_params,
    vacuous,
)
from skconstrain.keras import constraints as _constraints
from skconstrain.keras import ops as _keras_ops
from skconstrain.keras import regularizers as _regularizers
from skconstrain.keras.layers import (
    TargetScaling,
)
from skconstrain.keras.losses import fenchel_young
from skconstrain.keras.penalties import KINDS
from skconstrain.projections import distance, project

__all__ = ["ConstrainedRegressor"]

#: The registry's names, and scikit-learn's "elasticnet".
PENALTIES = tuple(sorted({*_regularizers.NAMES, "elasticnet"}))
STRATEGIES = ("project", "activation", "penalty", "post")
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# Hyperparameters that shape the network or its training objective. A warm
# start or a further partial_fit continues the network built with them, so a
# change of one of them since then is an error (MLPRegressor does the same for
# the layer sizes).
_STRUCTURAL = (
    "model",
    "hidden_layer_sizes",
    "activation",
    "monotonic_cst",
    "penalty",
    "l1_ratio",
    "kernel_constraint",
    "bias_constraint",
    "output_constraint",
    "output_radius",
    "output_lower",
    "output_upper",
    "output_strategy",
    "output_penalty",
    "output_penalty_strength",
    "loss",
    "batch_size",
    "shuffle",
)


def _snapshot(value):
    """A comparable copy of a hyperparameter value (objects by their params)."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return (type(value), repr(sorted(value.get_params().items())))
    if isinstance(value, dict):
        return ("dict", repr(sorted(value.items(), key=repr)))
    if isinstance(value, np.ndarray | list | tuple):
        return repr(np.asarray(value).tolist())
    return value


class ConstrainedRegressor(RegressorMixin, BaseEstimator):
    """Neural-network regressor with weight and output constraints as hyperparameters.

    By default an MLP (like :class:`sklearn.neural_network.MLPRegressor`) trained
    with Adam on the mean squared error. Optionally:

    - a **weight penalty** (``penalty``, strength ``alpha``) and **weight
      constraints** (``kernel_constraint``, ``bias_constraint``) on every layer
      that has a kernel, for the default MLP or for the user's model;
    - an **output constraint** (``output_constraint``: a set of the registry),
      enforced by one of four ``output_strategy``:

      ============ ============================================ =================
      strategy     how                                          guarantee
      ============ ============================================ =================
      "project"    the network ends in an exact, differentiable every prediction
                   projection (:class:`~skconstrain.keras.      in the set;
                   OutputProjection`), trained through it       exact boundary
      "activation" the network ends in a smooth map into the    every prediction
                   set: softmax, radial tanh, sigmoid...        in the set; every
                   (:class:`~skconstrain.keras.                 score keeps
                   OutputActivation`)                           learning
      "penalty"    a penalty on violations is added to the loss approximate; see
                   (:class:`~skconstrain.keras.                 ``constraint_
                   OutputPenaltyLayer`)                         violation_``
      "post"       the network is trained unconstrained and     every prediction
                   its predictions are projected exactly        in the set
      ============ ============================================ =================

    Training objective (``n``: number of training rows; the sum runs over the
    kernels of every kernel-bearing layer; ``w``: the sample weights, 1 by
    default; ``s``: the targets' weighted variance, averaged over columns)::

        mean(w * mean_k (y - f(X))**2) / s + (alpha / n) * sum_layers R(W)
                            + output_penalty_strength * mean_rows OutputPenalty / s

    where ``R`` is the ``penalty`` at unit strength for a name (e.g.
    ``sum(W**2)`` for "l2", the default). The squared error is divided by the
    targets' variance, so ``alpha`` means the same whatever the units of ``y``:
    with ``penalty="l2"`` this is twice
    :class:`~sklearn.neural_network.MLPRegressor`'s objective for the same
    ``alpha`` on standardised targets with ``solver="lbfgs"`` (``alpha=1e-4``
    is its default too). Its mini-batch solvers ("adam", "sgd") divide
    ``alpha`` by the rows of each batch instead of all ``n``, a penalty
    ``n / batch_size`` times stronger at the same ``alpha``. The last term
    exists only for ``output_strategy="penalty"``.
    ``loss_curve_`` reports ``s`` times the objective (the squared error in
    the units of ``y``).

    Training runs one compiled TensorFlow call per epoch on data held as tensors
    (:mod:`skconstrain._training`), not ``keras.Model.fit``.

    Parameters
    ----------
    model : None or callable, default=None
        None builds an MLP with ``hidden_layer_sizes`` and ``activation``.
        Its inputs first go through a :class:`~skconstrain.keras.InputScaling`
        that standardises each feature with the training rows' mean and
        standard deviation, in float64 (as a ``StandardScaler`` before it
        would; no need for one), and its outputs through a
        :class:`~skconstrain.keras.TargetScaling` set from the training
        targets' mean and standard deviation per column (for "activation",
        to the scores that the map sends to them): the network starts at the
        targets' scale, as a ``TransformedTargetRegressor`` with a
        ``StandardScaler`` would. So the fit does not depend on the units of
        ``X`` or ``y`` (an income in dollars is learned as well as one in
        thousands, targets of size 1e-3 as well as targets of size 1). Both
        are fixed at the first fit and kept by ``warm_start`` and
        ``partial_fit``.
        A callable builds your Keras model (a built model, e.g. starting with
        ``keras.Input``, with one input and one output of ``n_outputs`` units and
        no output constraint); it receives whichever of the keyword arguments
        ``n_features_in``, ``n_outputs``, ``meta`` (a dict with
        ``"n_features_in_"``, ``"n_outputs_"`` and ``"X_shape_"``) and
        ``seed`` (an int drawn from ``random_state``) it accepts. Initializers
        without a seed are seeded from ``random_state`` through Python's
        ``random``; pass ``seed`` to them for runs that are reproducible even
        when other threads draw from ``random`` meanwhile (e.g. on dask).
        The penalty and constraints are then applied to every layer of it that
        has a kernel, and the output strategy to its output, on the scale that
        your model gives (no ``InputScaling`` or ``TargetScaling``: scale ``X``
        yourself, e.g. with a ``StandardScaler`` in a ``Pipeline``). Custom layers must
        be registered with ``keras.saving.register_keras_serializable`` for the
        estimator to pickle.
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of the hidden layers of the default MLP.
    activation : str, default="relu"
        Keras activation of the hidden layers of the default MLP (not used
        with ``monotonic_cst``).
    monotonic_cst : array-like of int of shape (n_features,), dict or None, \
default=None
        Monotonic constraints, as in :class:`~sklearn.ensemble.
        HistGradientBoostingRegressor`: per feature, 1 (predictions never
        decrease when the feature increases and the others stay fixed), -1
        (never increase) or 0 (no constraint); a dict maps feature names (of a
        DataFrame ``X``) to those values, the others being 0. It holds for
        every output, everywhere in input space (far outside the training
        data too), for any weights: by construction, not by a penalty. The
        default MLP then becomes the sum of a Lipschitz monotonic network
        (Kitouni et al., ICLR 2023) and an MLP of the unconstrained features:
        ``lam * (h(x) + sum_i c_i x_i) + u(x_free)`` on the standardised
        features, where ``h`` is made of
        :class:`~skconstrain.keras.LipschitzDense` layers (kernels rescaled in
        each forward pass so that ``h``'s slope in each constrained feature is
        at most 1) with :class:`~skconstrain.keras.GroupSort` activations,
        sized by ``hidden_layer_sizes`` (a single layer is repeated: one
        GroupSort layer cannot bend both ways), ``lam > 0`` is trained per
        output (:class:`~skconstrain.keras.MonotoneResidual`), and ``u`` is an
        ordinary MLP (``hidden_layer_sizes``, ``activation``) that sees only
        the unconstrained features. It can represent any function monotone in
        the constrained features with slopes up to ``2 lam`` (S-shapes and
        steps, not only convex ones). Works with the output sets whose head
        keeps the order of each coordinate (None, "box", "nonneg",
        "linf_ball"); the other sets (whose projection mixes the outputs),
        and a ``model`` callable, are an error.
    penalty : {"l1", "l2", "elasticnet", "orthogonality", "clip", \
"group_lasso", ...}, regularizer, callable or None, default="l2"
        Weight penalty of every kernel (see the objective above), by default
        the L2 penalty of :class:`~sklearn.neural_network.MLPRegressor`; None
        for none (``alpha`` is then ignored, with a warning if set): a name of
        :data:`skconstrain.keras.regularizers.NAMES` or "elasticnet" (the
        elastic-net names, Keras's "l1_l2" among them, mix by ``l1_ratio``), or
        an object of :mod:`skconstrain.keras.regularizers`, grid-searchable
        through nested keys (``penalty__mode``).
    alpha : float, default=1e-4
        Strength of the penalty, >= 0 (see the objective above).
    l1_ratio : float, default=0.5
        Mix of "elasticnet": ``l1_ratio * sum|W| + (1 - l1_ratio) * sum W**2``.
    kernel_constraint, bias_constraint : str, constraint or None, default=None
        Weight constraints, a name of :mod:`skconstrain.keras.constraints`
        ("max_norm", "unit_norm", "non_neg", "min_max_norm", "l1_ball", "box",
        "simplex") or an object of it (grid keys such as
        ``kernel_constraint__max_value`` work), applied after every step. The
        constraint decides its axes: by default (``axis=None``) each unit's
        incoming weights, of a Dense kernel as of a convolution's filters (all
        axes but the last); an explicit ``axis`` is used as given.
    output_constraint : str or None, default=None
        A set of the registry ("l2_sphere", "l2_ball", "l1_ball", "simplex",
        "linf_ball", "box", "nonneg") that every output row must lie in.
    output_radius : float, default=1.0
        Radius (or sum, for the simplex) of the output set.
    output_lower, output_upper : None, float or list of float, default=None
        Bounds of the "box" output set.
    output_strategy : {"project", "activation", "penalty", "post"}, \
default="project"
        How the output constraint is enforced (table above).
    output_penalty : {"quadratic", "log_barrier", "reciprocal"}, \
default="quadratic"
        Kind of penalty for ``output_strategy="penalty"``.
    output_penalty_strength : float, default=1.0
        Its strength.
    loss : {"squared_error", "fenchel_young"}, default="squared_error"
        The data term. "fenchel_young" (with ``output_strategy="project"``)
        trains the network's raw scores ``theta`` with the Fenchel-Young loss
        of the projection, ``<theta, P(theta)> - ||P(theta)||^2 / 2 -
        <theta, y> + ||y||^2 / 2`` (divided by the number of outputs), whose
        gradient is ``P(theta) - y``: scores outside the projection's support
        keep learning, where squared error through the projection gives them
        no gradient (:class:`skconstrain.keras.losses.ProjectionLoss`).
        Predictions are ``P(theta)``, projected exactly in float64.
        ``loss_curve_`` records this loss; early stopping monitors the squared
        error of the projected predictions. Best on sets with faces (simplex,
        L1 ball, box); on the sphere, which is not convex, the loss has no
        curvature and trains poorly (see the README's comparison).
    epochs : int, default=200
        Maximum number of passes over the training data in one ``fit``.
    batch_size : int or None, default=None
        Rows per step; None means ``min(200, n_samples)`` as in MLPRegressor.
    learning_rate : float, default=1e-3
        Adam's learning rate. (The gradient is that of the objective divided by
        the variance of the targets, so that the training does not depend on
        their units; with Adam this only rescales its ``epsilon``.)
    early_stopping : bool, default=False
        If False, stop when the training loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (as MLPRegressor does). If True, hold out
        ``validation_fraction`` of the rows, stop on their loss and restore the
        weights of the best epoch.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of the early stopping, in epochs.
    tol : float, default=1e-4
        Least improvement that counts, **on the scale of R²**: the monitored
        loss is divided by the (weighted) variance of the monitored targets,
        so the same ``tol`` stops at the same epoch whatever the units of
        ``y`` (shares of a composition or amounts in dollars).
    shuffle : bool, default=True
        Shuffle the rows every epoch.
    warm_start : bool, default=False
        If True, ``fit`` continues training the current network (and its
        optimizer's state) instead of building a new one; ``loss_curve_``,
        ``history_`` and ``n_iter_`` go on accumulating. The hyperparameters
        that shape the network must be unchanged.
    random_state : int, RandomState or None, default=None
        Seed of the weights, the shuffling and the validation split; with an
        int, two fits give identical predictions. Python's and NumPy's global
        random states are left as they were.
    verbose : int, default=0
        1 shows the progress per epoch with the loss (and the validation
        loss): a bar redrawn in place on a terminal or in a notebook, one plain
        line per epoch elsewhere (a log file, CI output, a pipe); 2 or more
        always writes lines.

    Attributes
    ----------
    model_ : keras.Model
        The trained network (save it with ``model_.save("m.keras")``).
    history_ : dict
        ``"loss"`` per epoch (the training objective, penalties included) and,
        with early stopping, ``"val_loss"`` (the weighted squared error on the
        held-out rows) and ``"val_score"`` (their R^2, averaged over outputs).
    loss_curve_ : list of float
        Training loss per epoch.
    best_loss_ : float or None
        The least training loss reached (``min(loss_curve_)``); None with
        ``early_stopping=True``, as in :class:`~sklearn.neural_network.
        MLPRegressor`.
    validation_scores_ : list of float or None
        With ``early_stopping=True``, the R^2 of the held-out rows after each
        epoch (averaged over outputs, as ``score``); else None.
    best_validation_score_ : float or None
        The best of ``validation_scores_`` (that epoch's weights are the ones
        kept); None without early stopping.
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit`` (DataFrame ``X``); checked at predict.
    n_outputs_ : int
        Number of target columns.
    constraint_violation_ : dict or None
        For an output constraint: ``{"max": ..., "fraction": ..., "tol": ...}``,
        the largest Euclidean distance from a prediction on the training rows to
        the set, and the fraction of rows farther than ``tol`` (1e-5 times the
        radius, or 1e-5). None without an output constraint.
    target_violation_ : dict or None
        The same for the training targets, with ``tol`` 1% of the set's radius
        (of the targets' spread for "box" and "nonneg"). When some targets lie
        farther than that, ``fit`` warns: predictions stay in the set, so those
        targets cannot be fitted (shares in percent under a simplex of radius
        1, say; the warning suggests an ``output_radius``). None without an
        output constraint.

    See Also
    --------
    ProjectedRegressor : Project the predictions of any regressor.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain import ConstrainedRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> Y = rng.dirichlet(np.ones(3), size=200)
    >>> reg = ConstrainedRegressor(
    ...     hidden_layer_sizes=(16,), output_constraint="simplex", epochs=5,
    ...     random_state=0,
    ... ).fit(X, Y)
    >>> P = reg.predict(X)
    >>> bool(np.allclose(P.sum(axis=1), 1, atol=1e-5) and (P >= 0).all())
    True
    >>> reg = reg.partial_fit(X[:50], Y[:50])  # one more pass over 50 rows
    >>> reg.n_iter_
    6
    """

    _parameter_constraints: dict = {
        "model": [None, callable],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [str, callable],
        "monotonic_cst": ["array-like", dict, None],
        "penalty": [StrOptions(set(PENALTIES)), callable, None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "kernel_constraint": [str, callable, None],
        "bias_constraint": [str, callable, None],
        # the output set: validated by skconstrain._sets, as everywhere else
        "output_constraint": "no_validation",
        "output_radius": "no_validation",
        "output_lower": "no_validation",
        "output_upper": "no_validation",
        "output_strategy": [StrOptions(set(STRATEGIES))],
        "output_penalty": [StrOptions(set(KINDS))],
        "output_penalty_strength": [Interval(Real, 0, None, closed="left")],
        "loss": [StrOptions({"squared_error", "fenchel_young"})],
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
        model=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        monotonic_cst=None,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.5,
        kernel_constraint=None,
        bias_constraint=None,
        output_constraint=None,
        output_radius=1.0,
        output_lower=None,
        output_upper=None,
        output_strategy="project",
        output_penalty="quadratic",
        output_penalty_strength=1.0,
        loss="squared_error",
        epochs=200,
        batch_size=None,
        learning_rate=1e-3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.monotonic_cst = monotonic_cst
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.output_constraint = output_constraint
        self.output_radius = output_radius
        self.output_lower = output_lower
        self.output_upper = output_upper
        self.output_strategy = output_strategy
        self.output_penalty = output_penalty
        self.output_penalty_strength = output_penalty_strength
        self.loss = loss
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
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
        _training.configure_runtime()
        continuing = (incremental or self.warm_start) and hasattr(self, "model_")
        if not (incremental and continuing):
            self._validate_params()
            self._check_hyperparameters()
            self._warn_ignored()
        if continuing:
            self._check_unchanged()
        X, y = self._validate_fit_data(X, y, reset=not continuing)
        if not continuing:
            self._output_set = self._output_params(self.n_outputs_)
            self._monotonic_cst = self._check_monotonic_cst()
            self._warn_degenerate()
        if sample_weight is not None:
            # private helper, the one every scikit-learn estimator uses; there
            # is no public equivalent
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        target_violation = self._target_violation(y)
        rng = check_random_state(self.random_state)
        validation = None
        if self.early_stopping and not incremental:
            X, y, sample_weight, validation = self._split(X, y, sample_weight, rng)
        n_samples = X.shape[0]
        # the default MLP's fixed standardisation of X, done once on the data
        # (in float64): from the training rows, or kept from the first fit
        scaling = self._input_scaling(X, sample_weight, continuing)
        data = _training.as_tensors(X, y, sample_weight, x_scaling=scaling)
        if validation is not None:
            validation = _training.as_tensors(*validation, x_scaling=scaling)
        if not continuing:
            self._build(X.shape, rng, data, scaling)
        # The gradient is the objective's times ``_loss_weight`` (1 / the
        # targets' variance): the penalty is multiplied by the variance here,
        # so that alpha weighs it against the squared error divided by the
        # variance, whatever the units of y.
        penalty_scale = float(self.alpha) / max(n_samples, 1) / self._loss_weight
        self._set_penalty_scale(penalty_scale)
        self.model_.optimizer.learning_rate.assign(self.learning_rate)
        # a continued fit moves the epochs' seeds on
        seed = int(rng.randint(2**31 - 1)) + (self.n_iter_ if continuing else 0)
        with _training.borrow(self._key, self._new_engine) as engine:
            engine.load(self.model_)
            try:
                history, stopped = _training.train(
                    engine,
                    data,
                    epochs=1 if incremental else self.epochs,
                    validation=validation,
                    tol=self.tol,
                    n_iter_no_change=None if incremental else self.n_iter_no_change,
                    seed=seed,
                    verbose=self.verbose,
                    loss_weight=self._loss_weight,
                    penalty_scale=penalty_scale,
                )
            except _training.NonFiniteLossError:
                if not continuing:
                    self._forget_fit()
                raise
            engine.store(self.model_)
        if not continuing:
            self.history_ = {key: [] for key in history}
        for key, values in history.items():
            self.history_.setdefault(key, []).extend(values)
        self.loss_curve_ = list(self.history_["loss"])
        self.n_iter_ = len(self.loss_curve_)
        self._report_scores()
        self.target_violation_ = target_violation
        self._predict_fn = _training.Predictor(self.model_, self._key)
        self.constraint_violation_ = (
            None
            if self._output_set is None
            else self._violation(self._finish(self._predict_fn(X)))
        )
        if not incremental and not stopped:
            warnings.warn(
                f"{type(self).__name__}: all {self.epochs} epochs ran and the "
                f"{'validation' if validation is not None else 'training'} loss "
                f"still improved by more than tol={self.tol} (relative to the "
                f"targets' variance) within the last {self.n_iter_no_change} "
                "epochs: the fit has not converged. Raise 'epochs', or "
                "'tol' to stop sooner.",
                ConvergenceWarning,
                stacklevel=3,
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

    def _input_scaling(self, X, sample_weight, continuing):
        """``(offset, scale)`` of the default MLP's :class:`InputScaling`:
        ``(x - mean) / std`` of the training rows, or the network's own when
        it is continued; None for a ``model`` callable (no such layer)."""
        if self.model is not None:
            return None
        if continuing:
            layer = self.model_.get_layer(_networks.INPUT_SCALING)
            return tuple(np.asarray(w, dtype=np.float64) for w in layer.weights)
        mean, std = _training.moments(X, sample_weight)
        std = _networks.spread(mean, std, np.float64)
        return -mean / std, 1.0 / std

    def _validate_fit_data(self, X, y, reset):
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float32, np.float64],
            multi_output=True,
            y_numeric=True,
        )
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError("y has no columns.")
        if X.dtype == np.float64 and X.size and np.abs(X).max() > _FLOAT32_MAX:
            raise ValueError(
                "X has values beyond the float32 range (about 3.4e38), in which "
                "the Keras model computes; scale the features first."
            )
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if not reset and n_outputs != self.n_outputs_:
            raise ValueError(
                f"y has {n_outputs} column(s), but {type(self).__name__} was "
                f"fitted with {self.n_outputs_}; a warm start or partial_fit "
                "needs the same targets."
            )
        if reset:
            self.n_outputs_ = n_outputs
            self._y_ndim = y.ndim
        return X, y

    def _check_hyperparameters(self):
        """Checks beyond ``_parameter_constraints``: names and objects."""
        self._penalty_object()
        for name in ("kernel_constraint", "bias_constraint"):
            _constraints.get(getattr(self, name))
        if self.loss == "fenchel_young" and (
            self.output_constraint is None or self.output_strategy != "project"
        ):
            raise ValueError(
                "loss='fenchel_young' trains the scores of a projection: it needs "
                "an output_constraint and output_strategy='project'; got "
                f"output_constraint={self.output_constraint!r}, "
                f"output_strategy={self.output_strategy!r}."
            )
        if self.output_constraint is not None:
            check_set(self.output_constraint, param="output_constraint")
            self._output_params()
        else:  # unused, but a bad value is still an error
            check_radius(self.output_radius, param="output_radius")
            check_bounds(self.output_lower, self.output_upper, prefix="output_")
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if hidden.dtype.kind not in "iu" or (hidden < 1).any():
            raise ValueError(
                "The 'hidden_layer_sizes' parameter must be a tuple of positive "
                f"integers; got {self.hidden_layer_sizes!r}."
            )

    def _check_monotonic_cst(self):
        """The validated ``monotonic_cst`` as a list of -1/0/1 per feature,
        or None when no feature is constrained; errors where the guarantee
        cannot hold."""
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
        output_set = self._output_set
        if output_set is not None and not SETS[output_set["set"]].keeps_order:
            kept = [name for name in SET_NAMES if SETS[name].keeps_order]
            raise ValueError(
                f"monotonic_cst cannot hold with output_constraint="
                f"{self.output_constraint!r}: its projection mixes the outputs "
                "(raising one score can lower the other outputs), so outputs "
                "monotone before it may not be after. Use None or a set whose "
                f"head keeps each output's order: {kept}."
            )
        return [int(s) for s in signs]

    def _check_unchanged(self):
        """A continued fit needs the hyperparameters the network was built with."""
        params = self.get_params(deep=False)
        changed = [
            name
            for name in _STRUCTURAL
            if _snapshot(params[name]) != self._built_with.get(name)
        ]
        if changed:
            raise ValueError(
                f"{type(self).__name__} continues the current network (warm_start="
                f"True or partial_fit), but {changed} changed since it was built. "
                "Fit with warm_start=False to build a new network."
            )

    def _output_params(self, n_outputs=None):
        """The output set, ``{"set": registry name, **its validated
        parameters}`` (bounds' length checked against ``n_outputs`` when
        given), or None without an output constraint."""
        if self.output_constraint is None:
            return None
        params = set_params(
            self.output_constraint,
            radius=self.output_radius,
            lower=self.output_lower,
            upper=self.output_upper,
            n_features=n_outputs,
            prefix="output_",
        )
        return {"set": check_set(self.output_constraint), **params}

    def _warn_ignored(self):
        """Warn about each hyperparameter set away from its default that this
        configuration does not use (as ``LogisticRegression`` warns that
        ``penalty=None`` ignores ``C``): a grid over it would change nothing."""
        no_output = self.output_constraint is None  # validated by the caller
        takes = () if no_output else SETS[check_set(self.output_constraint)].params
        penalizes = not no_output and self.output_strategy == "penalty"
        no_set = "output_constraint=None"
        rules = {
            "alpha": (self.penalty is None, "penalty=None"),
            "l1_ratio": (
                not isinstance(self._penalty_object(), _regularizers.ElasticNet)
                or not isinstance(self.penalty, str),
                f"penalty={self.penalty!r} (it mixes the elastic-net names only)",
            ),
            "output_radius": (
                "radius" not in takes,
                no_set
                if no_output
                else f"output_constraint={self.output_constraint!r}",
            ),
            "output_lower": ("lower" not in takes, "an output set other than 'box'"),
            "output_upper": ("upper" not in takes, "an output set other than 'box'"),
            "output_strategy": (no_output, no_set),
            "output_penalty": (not penalizes, "output_strategy other than 'penalty'"),
            "output_penalty_strength": (
                not penalizes,
                "output_strategy other than 'penalty'",
            ),
            "hidden_layer_sizes": (self.model is not None, "a 'model' callable"),
            "activation": (
                self.model is not None or _constrains_all(self.monotonic_cst),
                "a 'model' callable"
                if self.model is not None
                else "monotonic_cst constraining every feature (the monotone "
                "network uses GroupSort; activation is that of the "
                "unconstrained features' branch)",
            ),
            "validation_fraction": (not self.early_stopping, "early_stopping=False"),
        }
        defaults = inspect.signature(type(self).__init__).parameters
        ignored = [
            f"{name}={getattr(self, name)!r} is ignored with {why}"
            for name, (unused, why) in rules.items()
            if unused
            and name in defaults
            and _snapshot(getattr(self, name)) != _snapshot(defaults[name].default)
        ]
        if ignored:
            warnings.warn(
                f"{type(self).__name__}: " + "; ".join(ignored) + ".",
                UserWarning,
                stacklevel=4,
            )

    def _warn_degenerate(self):
        """Warn when the output set is a point or two for y's width, or all
        of it."""
        if self._output_set is None:
            return
        if vacuous(self._output_set["set"], self.n_outputs_):
            warnings.warn(
                f"output_constraint={self.output_constraint!r} on a y of 1 column "
                "constrains nothing: one number is always in order. It orders "
                "the columns of a y of several (quantiles by level, say).",
                UserWarning,
                stacklevel=4,
            )
            return
        left = degenerate(
            self._output_set["set"],
            self.n_outputs_,
            radius=self._output_set.get("radius", 1.0),
        )
        if left is not None:
            warnings.warn(
                f"output_constraint={self.output_constraint!r} on a y of 1 column "
                f"is only {left}: every prediction will be one of them. To bound "
                "a single output, use 'box' (with output_lower/output_upper), "
                "'linf_ball' or 'nonneg'.",
                UserWarning,
                stacklevel=4,
            )

    def _target_violation(self, y):
        """How far the training targets lie from the output set, and a warning
        when some are farther than a tolerance (the network can only predict
        inside the set, so such targets are never fitted)."""
        if self._output_set is None:
            return None
        name = self._output_set["set"]
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        found = _target_distance(Y, self._output_set)
        # a set of a point or two is warned about already (_warn_degenerate)
        if found["fraction"] > 0 and degenerate(name, Y.shape[1]) is None:
            hint = _suggest_output(Y, self._output_set)
            warnings.warn(
                f"{found['fraction']:.1%} of the training targets lie outside "
                f"output_constraint={name!r} ({SETS[name].formula}"
                + (
                    f", radius={self._output_set['radius']:g}"
                    if "radius" in self._output_set
                    else ""
                )
                + f") by more than {found['tol']:.3g} (the largest by "
                f"{found['max']:.3g}): predictions stay in the set, so these "
                f"targets cannot be fitted. {hint}",
                UserWarning,
                stacklevel=4,
            )
        return found

    def _split(self, X, y, sample_weight, rng):
        parts = [X, y] + ([] if sample_weight is None else [sample_weight])
        split = train_test_split(
            *parts,
            test_size=self.validation_fraction,
            random_state=rng.randint(2**31 - 1),
            shuffle=True,
        )
        X_train, X_val, y_train, y_val = split[:4]
        sw_train, sw_val = (
            (split[4], split[5]) if sample_weight is not None else (None, None)
        )
        return X_train, y_train, sw_train, (X_val, y_val, sw_val)

    def _forget_fit(self):
        """Remove what a failed first fit left, so that no half-fitted state stays."""
        for name in (
            "model_",
            "_predict_fn",
            "_output_set",
            "_built_with",
            "_batch_size",
            "_key",
            "_fit_shape",
            "_loss_weight",
            "_monotonic_cst",
        ):
            self.__dict__.pop(name, None)

    # ------------------------------------------------------------- building
    def _penalty_object(self):
        if self.penalty is None:
            return None
        if isinstance(self.penalty, str):
            named = _regularizers.get(self.penalty)
            if isinstance(named, _regularizers.ElasticNet):  # also Keras's l1_l2
                return _regularizers.ElasticNet(1.0, l1_ratio=self.l1_ratio)
            return named.set_params(factor=1.0)
        return clone(_regularizers.get(self.penalty), safe=False)

    def _base_network(self, meta, seed, scaling=None):
        """The default MLP (monotone with ``monotonic_cst``), or the user's
        model; ``scaling``: the default MLP's :class:`InputScaling` (None: an
        engine's copy, whose weights are loaded)."""
        n_features, n_outputs = meta["n_features_in_"], meta["n_outputs_"]
        if self.model is not None:
            return _networks.user_model(self.model, meta, seed)
        hidden = [int(h) for h in np.atleast_1d(np.asarray(self.hidden_layer_sizes))]
        if self._monotonic_cst is not None:
            return _networks.monotone_mlp(
                n_features,
                n_outputs,
                hidden,
                self.activation,
                self._monotonic_cst,
                seed,
                scaling,
            )
        return _networks.mlp(
            n_features, n_outputs, hidden, self.activation, seed, scaling
        )

    def _build_model(self, X_shape, seed, data=None, scaling=None):
        """The whole network; ``seed`` seeds its initial weights.

        The default MLP starts with an :class:`InputScaling` (``scaling``)
        and its outputs go through a :class:`TargetScaling` onto the training
        targets' (``data``'s) mean and standard deviation per output
        (:func:`_score_start`), before the head. Without ``data``, an
        engine's copy, whose weights are loaded.
        """
        meta = {
            "n_features_in_": X_shape[1],
            "n_outputs_": self.n_outputs_,
            "X_shape_": X_shape,
        }
        net = self._base_network(meta, seed, scaling)
        _networks.apply_weight_settings(
            net, self._penalty_object(), self.kernel_constraint, self.bias_constraint
        )
        outputs = net.outputs[0]
        output_set = self._output_set
        if self.model is None:
            offset, scale = 0.0, 1.0  # an engine's copy: its weights are loaded
            if data is not None:
                offset, scale = _networks.score_start(
                    self.output_strategy, output_set, data.target_mean, data.target_std
                )
            outputs = TargetScaling(offset, scale, name="target_scaling")(outputs)
        if output_set is not None and not self._projects_after():
            head, name = _networks.HEADS[self.output_strategy]
            extra = {}
            if self.output_strategy == "penalty":
                extra = dict(
                    kind=self.output_penalty, strength=self.output_penalty_strength
                )
            name = _networks.free_name(net, name)
            outputs = head(**output_set, **extra, name=name)(outputs)
        return keras.Model(net.inputs[0], outputs, name="constrained_network")

    def _build(self, X_shape, rng, data, scaling):
        """A new network and optimizer for data of shape ``X_shape``.

        The objective's gradient is divided by the targets' variance
        (``_loss_weight``); with Adam that is the same as scaling its
        ``epsilon`` by it, so the training, like the stopping, does not depend
        on the units of ``y``.
        """
        model = self._build_model(
            X_shape, seed=rng.randint(2**31 - 1), data=data, scaling=scaling
        )
        optimizer = keras.optimizers.Adam(self.learning_rate, name="adam")
        # Compiled only so that the optimizer (and its state) is saved with the
        # network; training does not use Model.fit.
        model.compile(optimizer=optimizer)
        optimizer.build(model.trainable_variables)
        self.model_ = model
        self._fit_shape = X_shape
        scale = data.target_scale
        self._loss_weight = 1.0 / scale if scale > 0 else 1.0
        self._batch_size = self.batch_size or min(200, max(X_shape[0], 1))
        params = self.get_params(deep=False)
        self._built_with = {name: _snapshot(params[name]) for name in _STRUCTURAL}
        self._key = (tuple(self._built_with.items()), _training.signature(model))
        try:
            hash(self._key)
        except TypeError:  # e.g. an unhashable callable: no engine reuse
            self._key = None

    def _new_engine(self):
        """An engine with a network like ``model_`` (its weights do not matter)."""
        model = self._build_model(self._fit_shape, seed=0)
        row_loss = output_map = None
        if self.loss == "fenchel_young":
            row_loss = functools.partial(fenchel_young, **self._output_set)
            output_map = functools.partial(_keras_ops.project, **self._output_set)
        return _training.Engine(
            model,
            keras.optimizers.Adam(self.learning_rate, name="adam"),
            batch_size=self._batch_size,
            shuffle=self.shuffle,
            scales=list(_networks.penalties(model)),
            row_loss=row_loss,
            output_map=output_map,
            body=_networks.body(model),
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
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        pred = self._finish(self._predict_network(X))
        return pred.ravel() if self._y_ndim == 1 else pred

    def _projects_after(self):
        """Whether predictions are the projection of the network's outputs:
        ``output_strategy="post"``, or scores trained with the Fenchel-Young
        loss."""
        return self.output_strategy == "post" or self.loss == "fenchel_young"

    def _finish(self, pred):
        """Project the network's outputs where :meth:`_projects_after`."""
        if self._output_set is not None and self._projects_after():
            pred = project(pred, **self._output_set)
        return pred

    def _violation(self, pred):
        """How far the predictions ``pred`` lie from the output set."""
        tol = 1e-5 * max(1.0, self._output_set.get("radius", 1.0))
        return _distances(pred, self._output_set, tol)

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
        return state

    def __setstate__(self, state):
        state = dict(state)
        if isinstance(state.get("model_"), bytes):
            _training.configure_runtime()
            state["model_"] = _networks.from_bytes(state["model_"])
        super().__setstate__(state)
        if "model_" in state:
            self._predict_fn = _training.Predictor(self.model_, self._key)


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
