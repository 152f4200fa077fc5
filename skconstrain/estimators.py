"""``ConstrainedRegressor``: a Keras regressor with weight and output constraints.

Every constraint and penalty is an ordinary hyperparameter, so ``Pipeline``,
``GridSearchCV``, ``clone``, pickling and pandas work as with any scikit-learn
regressor. Built on scikeras through :mod:`skconstrain._scikeras`.
"""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import keras
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, _num_samples, check_array

from skconstrain._scikeras import KerasRegressorAdapter
from skconstrain._sets import SET_NAMES, set_params
from skconstrain.keras import constraints as _constraints
from skconstrain.keras import regularizers as _regularizers
from skconstrain.keras.layers import OutputProjection
from skconstrain.keras.penalties import KINDS, OutputPenalty
from skconstrain.projections import distance, project

__all__ = ["ConstrainedRegressor"]

PENALTIES = ("l1", "l2", "elasticnet", "orthogonality", "clip", "group_lasso")
STRATEGIES = ("project", "penalty", "post")


def _constraint_for(constraint, ndim):
    """A fresh copy of ``constraint`` for a weight of rank ``ndim``.

    ``axis=0`` (the default of the norm constraints) means, for a Dense kernel,
    "each unit's incoming weights": all axes but the last. For kernels of higher
    rank (convolutions) it is read the same way, so each filter is constrained.
    """
    constraint = clone(_constraints.get(constraint), safe=False)
    if ndim > 2 and getattr(constraint, "axis", None) == 0:
        constraint.axis = list(range(ndim - 1))
    return constraint


class ConstrainedRegressor(KerasRegressorAdapter):
    """Neural-network regressor with weight and output constraints as hyperparameters.

    By default an MLP (like :class:`sklearn.neural_network.MLPRegressor`) trained
    with Adam on the mean squared error. Optionally:

    - a **weight penalty** (``penalty``, strength ``alpha``) and **weight
      constraints** (``kernel_constraint``, ``bias_constraint``) on every layer
      that has a kernel, for the default MLP or for the user's model;
    - an **output constraint** (``output_constraint``: a set of the registry),
      enforced by one of three ``output_strategy``:

      ========== ============================================ ===================
      strategy   how                                          guarantee
      ========== ============================================ ===================
      "project"  the network ends in an exact, differentiable  every prediction
                 projection (:class:`~skconstrain.keras.      in the set; trained
                 OutputProjection`)                           through it
      "penalty"  a penalty on violations is added to the loss approximate; see
                 (:class:`~skconstrain.keras.OutputPenalty`)  ``constraint_
                                                              violation_``
      "post"     the network is trained unconstrained and     every prediction
                 its predictions are projected exactly        in the set
      ========== ============================================ ===================

    Training objective (``n``: number of training rows; the sum runs over the
    kernels of every kernel-bearing layer)::

        mean((y - f(X))**2) + (alpha / n) * sum_layers R(W)
                            + output_penalty_strength * mean_rows OutputPenalty

    where ``R`` is the ``penalty`` at unit strength for a name (e.g.
    ``sum(W**2)`` for "l2"), or the object or callable given. With
    ``penalty="l2"`` this is twice :class:`~sklearn.neural_network.MLPRegressor`'s
    objective for the same ``alpha``, so grids over ``alpha`` carry over. The last
    term exists only for ``output_strategy="penalty"``.

    Parameters
    ----------
    model : None or callable, default=None
        None builds an MLP with ``hidden_layer_sizes`` and ``activation``.
        A callable builds your Keras model (a built model, e.g. starting with
        ``keras.Input``, with one output of ``n_outputs`` units and no output
        constraint); it receives whichever of the keyword arguments
        ``n_features_in``, ``n_outputs`` and ``meta`` (scikeras metadata) it
        accepts. The penalty and constraints are then applied to every layer of
        it that has a kernel, and the output strategy to its output.
    hidden_layer_sizes : tuple of int, default=(100,)
        Units of the hidden layers of the default MLP.
    activation : str, default="relu"
        Keras activation of the hidden layers of the default MLP.
    penalty : {"l1", "l2", "elasticnet", "orthogonality", "clip", \
"group_lasso"}, regularizer, callable or None, default=None
        Weight penalty of every kernel (see the objective above). An object of
        :mod:`skconstrain.keras.regularizers` is grid-searchable through nested
        keys (``penalty__mode``).
    alpha : float, default=1e-4
        Strength of the penalty, >= 0.
    l1_ratio : float, default=0.5
        Mix of "elasticnet": ``l1_ratio * sum|W| + (1 - l1_ratio) * sum W**2``.
    kernel_constraint, bias_constraint : str, constraint or None, default=None
        Weight constraints, a name of :mod:`skconstrain.keras.constraints`
        ("max_norm", "unit_norm", "non_neg", "min_max_norm", "l1_ball", "box",
        "simplex") or an object of it (grid keys such as
        ``kernel_constraint__max_value`` work), applied after every step. A
        constraint with ``axis=0`` (the default: each unit's incoming weights of
        a Dense kernel) constrains each filter of a convolution kernel (all axes
        but the last); another ``axis`` is used as given.
    output_constraint : str or None, default=None
        A set of the registry ("l2_sphere", "l2_ball", "l1_ball", "simplex",
        "linf_ball", "box", "nonneg") that every output row must lie in.
    output_radius : float, default=1.0
        Radius (or sum, for the simplex) of the output set.
    output_lower, output_upper : None, float or list of float, default=None
        Bounds of the "box" output set.
    output_strategy : {"project", "penalty", "post"}, default="project"
        How the output constraint is enforced (table above).
    output_penalty : {"quadratic", "log_barrier", "reciprocal"}, \
default="quadratic"
        Kind of penalty for ``output_strategy="penalty"``.
    output_penalty_strength : float, default=1.0
        Its strength.
    epochs : int, default=200
        Maximum number of passes over the training data.
    batch_size : int or None, default=None
        Rows per step; None means ``min(200, n_samples)`` as in MLPRegressor.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    early_stopping : bool, default=False
        If False, stop when the training loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs (as MLPRegressor does). If True, hold out
        ``validation_fraction`` of the rows, stop on their loss and restore the
        best weights.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience of the early stopping, in epochs.
    tol : float, default=1e-4
        Least improvement of the monitored loss that counts.
    shuffle : bool, default=True
        Shuffle the rows every epoch.
    random_state : int, RandomState or None, default=None
        Seed of the weights, the shuffling and the validation split; with an
        int, two fits give identical predictions.
    verbose : int, default=0
        Keras's fit verbosity.

    Attributes
    ----------
    model_ : keras.Model
        The trained network (save it with ``model_.save("m.keras")``).
    history_ : dict
        Keras's training history (``"loss"``, and ``"val_loss"`` if any).
    loss_curve_ : list of float
        Training loss per epoch.
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
        the set, and the fraction of rows farther than ``tol`` (float32
        precision of the network). None without an output constraint.

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
    """

    _parameter_constraints: dict = {
        "model": [None, callable],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [str, callable],
        "penalty": [StrOptions(set(PENALTIES)), callable, None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "kernel_constraint": [str, callable, None],
        "bias_constraint": [str, callable, None],
        "output_constraint": [StrOptions(set(SET_NAMES)), None],
        "output_radius": [Interval(Real, 0, None, closed="neither")],
        "output_lower": [None, Real, "array-like"],
        "output_upper": [None, Real, "array-like"],
        "output_strategy": [StrOptions(set(STRATEGIES))],
        "output_penalty": [StrOptions(set(KINDS))],
        "output_penalty_strength": [Interval(Real, 0, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        penalty=None,
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
        epochs=200,
        batch_size=None,
        learning_rate=1e-3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        shuffle=True,
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
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
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, sample_weight=None):
        """Build the network and train it on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (a DataFrame's column names are recorded).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets. Rows need not lie in the output set.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the loss.

        Returns
        -------
        self : ConstrainedRegressor
        """
        self._validate_params()
        self._check_hyperparameters()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        fit_kwargs = {}
        if self.early_stopping:
            X, y, sample_weight, fit_kwargs["validation_data"] = self._split(
                X, y, sample_weight
            )
        n_samples = _num_samples(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        fit_kwargs["batch_size"] = self.batch_size or min(200, max(n_samples, 1))
        super().fit(X, y, sample_weight=sample_weight, **fit_kwargs)
        self.loss_curve_ = [float(v) for v in self.history_["loss"]]
        self.n_iter_ = len(self.loss_curve_)
        self.constraint_violation_ = (
            None if self.output_constraint is None else self._violation(self.predict(X))
        )
        return self

    def _check_hyperparameters(self):
        """Checks beyond ``_parameter_constraints``: names and objects."""
        self._penalty_object()
        for name in ("kernel_constraint", "bias_constraint"):
            _constraints.get(getattr(self, name))
        if self.output_constraint is not None:
            self._output_params()
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if hidden.dtype.kind not in "iu" or (hidden < 1).any():
            raise ValueError(
                "The 'hidden_layer_sizes' parameter must be a tuple of positive "
                f"integers; got {self.hidden_layer_sizes!r}."
            )

    def _output_params(self):
        return set_params(
            self.output_constraint,
            radius=self.output_radius,
            lower=self.output_lower,
            upper=self.output_upper,
        )

    def _split(self, X, y, sample_weight):
        parts = [X, y] + ([] if sample_weight is None else [sample_weight])
        split = train_test_split(
            *parts,
            test_size=self.validation_fraction,
            random_state=self.random_state,
            shuffle=True,
        )
        X_train, X_val, y_train, y_val = split[:4]
        sw_train, sw_val = (
            (split[4], split[5]) if sample_weight is not None else (None, None)
        )
        X_val = check_array(X_val, dtype=np.float32)
        y_val = check_array(y_val, ensure_2d=False, dtype=np.float32)
        validation = (X_val, y_val.reshape(len(y_val), -1))
        if sw_val is not None:
            validation = (*validation, np.asarray(sw_val, dtype=np.float32))
        return X_train, y_train, sw_train, validation

    def _extra_callbacks(self):
        return [
            keras.callbacks.EarlyStopping(
                monitor="val_loss" if self.early_stopping else "loss",
                min_delta=self.tol,
                patience=self.n_iter_no_change,
                restore_best_weights=self.early_stopping,
            )
        ]

    # ------------------------------------------------------------- building
    def _penalty_object(self):
        if self.penalty is None:
            return None
        if isinstance(self.penalty, str):
            if self.penalty == "elasticnet":
                return _regularizers.ElasticNet(1.0, l1_ratio=self.l1_ratio)
            return _regularizers.get(self.penalty).set_params(factor=1.0)
        return clone(_regularizers.get(self.penalty), safe=False)

    def _base_network(self, meta):
        n_features, n_outputs = meta["n_features_in_"], meta["n_outputs_"]
        if self.model is None:
            layers = [keras.Input((n_features,))]
            hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
            layers += [keras.layers.Dense(int(h), self.activation) for h in hidden]
            layers.append(keras.layers.Dense(n_outputs))
            return keras.Sequential(layers)
        given = {"n_features_in": n_features, "n_outputs": n_outputs, "meta": meta}
        params = inspect.signature(self.model).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
        kwargs = {k: v for k, v in given.items() if takes_all or k in params}
        net = self.model(**kwargs)
        if not isinstance(net, keras.Model) or not net.built or not net.inputs:
            raise ValueError(
                "The 'model' callable must return a built keras.Model (e.g. "
                f"starting with keras.Input); got {net!r}."
            )
        return net

    def _apply_weight_settings(self, net, n_samples):
        """Penalty and constraints on every kernel-bearing layer of ``net``."""
        base = self._penalty_object()
        regularizer = (
            None
            if base is None
            else _regularizers.Scaled(base, scale=self.alpha / n_samples)
        )
        kernel_c = self.kernel_constraint
        bias_c = self.bias_constraint
        for layer in net._flatten_layers(include_self=False):
            kernel = getattr(layer, "kernel", None)
            if not isinstance(kernel, keras.Variable):
                continue
            settings = [("kernel", "regularizer", regularizer)]
            settings.append(("kernel", "constraint", kernel_c))
            if isinstance(getattr(layer, "bias", None), keras.Variable):
                settings.append(("bias", "constraint", bias_c))
            for weight, kind, value in settings:
                if value is None:
                    continue
                if kind == "constraint":
                    value = _constraint_for(value, getattr(layer, weight).ndim)
                getattr(layer, weight).__setattr__(kind, value)
                # keep the layer's config in step, for saving and cloning
                setattr(layer, f"{weight}_{kind}", value)

    def _build_model(self, meta):
        net = self._base_network(meta)
        self._apply_weight_settings(net, n_samples=meta["X_shape_"][0])
        outputs = net.outputs[0]
        if self.output_constraint is not None and self.output_strategy != "post":
            params = self._output_params()
            if self.output_strategy == "project":
                head = OutputProjection(self.output_constraint, **params)
            else:
                head = keras.layers.Identity(
                    activity_regularizer=OutputPenalty(
                        self.output_constraint,
                        **params,
                        kind=self.output_penalty,
                        strength=self.output_penalty_strength,
                    )
                )
            outputs = head(outputs)
        if len(net.inputs) != 1:
            raise ValueError(
                f"The model must have one input; it has {len(net.inputs)}."
            )
        model = keras.Model(net.inputs[0], outputs)
        # XLA compilation costs about a second per fit and, for the small dense
        # networks this estimator trains on CPUs, makes the steps no faster.
        model.compile(
            keras.optimizers.Adam(self.learning_rate), "mse", jit_compile=False
        )
        return model

    # -------------------------------------------------------------- predict
    def _postprocess(self, pred):
        """With ``output_strategy="post"``, project the predictions onto the set."""
        if self.output_constraint is not None and self.output_strategy == "post":
            pred = project(pred, self.output_constraint, **self._output_params())
        return pred

    def _violation(self, pred):
        pred = pred.reshape(len(pred), -1)
        dist = distance(pred, self.output_constraint, **self._output_params())
        tol = 1e-5 * max(1.0, float(self.output_radius))
        return {
            "max": float(dist.max()) if dist.size else 0.0,
            "fraction": float((dist > tol).mean()) if dist.size else 0.0,
            "tol": tol,
        }
