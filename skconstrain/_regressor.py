"""``ConstrainedRegressor``: the network regressor with weight and output
constraints as hyperparameters (public in :mod:`skconstrain.estimators`)."""

from __future__ import annotations

import functools

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import StrOptions

from skconstrain._base_estimator import (
    ENSEMBLE_SIZE,
    BaseConstrainedRegressor,
    Loss,
)
from skconstrain._sets import (
    SETS,
    check_bounds,
    check_radius,
    check_set,
    document_sets,
    set_arguments,
)
from skconstrain.keras import ops as _keras_ops
from skconstrain.keras.losses import fenchel_young


@document_sets
class ConstrainedRegressor(BaseConstrainedRegressor):
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
    ``alpha`` on standardised targets with ``solver="lbfgs"`` (its default
    is ``alpha=1e-4``; ours, "auto", grows with the features). Its mini-batch
    solvers ("adam", "sgd") divide
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
        would; no need for one; a feature of two values, an indicator, is
        scaled to lie within 5 of its mean instead, not as far out as its
        rarity would put it), and its outputs through a
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
    feature_encoding : {"auto", "piecewise_linear"} or None, default="auto"
        What the default MLP puts in front of its hidden layers.
        "piecewise_linear": each standardised feature beside its
        piecewise-linear encoding (Gorishniy et al., NeurIPS 2022), 32 bins
        at its quantiles in the training rows (a feature of at most 33
        values has its values as edges, a one-hot column one bin; the empty
        bins are dropped; :class:`~skconstrain.keras.PiecewiseLinearEncoding`),
        so the first layer can bend at any of them: steep or stepwise effects of one
        feature, where trees beat a plain MLP, cost it few units (with
        ``monotonic_cst``, the unconstrained features' branch takes them,
        and each constrained feature goes through a monotone calibrator of
        its bins, :class:`~skconstrain.keras.MonotoneCalibration`).
        None: the features alone, the plain MLP of 0.4. "auto" (default):
        "piecewise_linear" from 4 000 rows of dense ``X`` given to ``fit`` (when
        the encoded rows take at most 256 MiB), None below, where the
        encoding overfitted the small sets that the plain MLP wins (see the
        training guide), except that a monotone network's constrained
        features keep their calibrators from 100 rows (its free features go
        alone), and that a single unconstrained feature (a curve, which the
        plain MLP smooths where it is steep or wavy) is encoded from 32
        rows; the rows of a new fit decide (for ``partial_fit``, its first
        batch's). Not used with a ``model`` callable.
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
    alpha : float or "auto", default="auto"
        Strength of the penalty, >= 0 (see the objective above). "auto":
        0.15 times the number of features, ``0.15 * n_features_in_`` (with
        the error divided by the targets' variance, a prior that shares it
        among the features gives each weight a variance ~ 1/d, so an L2
        strength ~ d, as for ridge regression; measured on the small real
        sets of ``benchmarks/bench_quality.py``, where 0.4's ``1e-4`` let
        the network fit their noise: see the training guide).
        :class:`~sklearn.neural_network.MLPRegressor`'s default is
        ``alpha=1e-4``. The monotone network's Lipschitz layers take no
        penalty (their norms are bounded instead): with every feature
        constrained, ``alpha`` and ``penalty`` do nothing.
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
        A set of the registry ({SET_NAMES}) that every output row must
        lie in ("ordered": ``y_1 <= y_2 <= ...``, its projection isotonic
        regression, which pools each decreasing run into its mean).
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
    ensemble_size : int, default=1
        The number of networks trained together, as one network whose
        objective is the sum of theirs (each member's gradient is that of
        its own fit: the members differ by their initial weights only, and
        share the batches, the stopping and the learning rate). Predictions
        are the members' mean, which stays in every convex output set
        (simplex, balls, box, nonnegative), is monotone when the members are
        and keeps quantiles ordered; on the sphere the mean is projected back
        onto it. A step costs about ``ensemble_size`` times one network's.
        The members are nested models of ``model_`` (``member_0``, ...);
        member 0 starts as the single network of the same ``random_state``.
        The default is measured (``benchmarks/bench_quality.py``, six data
        sets, three seeds): 4 members changed the test error by 3% at most
        (and not always for the better) for 3 to 4 times the fit time.
    epochs : int, default=200
        Maximum number of passes over the training data in one ``fit``
        (:class:`~sklearn.neural_network.MLPRegressor`'s ``max_iter``). With
        the default ``batch_size`` an epoch has 7 to 10 steps below 2 000
        rows, so 200 epochs are at least about 1 400 updates however few
        the rows.
    batch_size : int or None, default=None
        Rows per step. None: ``min(200, n_samples)`` as in MLPRegressor from
        2 000 rows; below that the smallest of 16, 24, 32, 48, 64, 96, 128
        and 200 that gives an epoch at most 10 steps (at most
        ``n_samples``), so that small data get enough updates per epoch.
    learning_rate : float or "auto", default="auto"
        Adam's starting learning rate (each plateau of the monitored loss
        divides it by 5, twice at most; see ``n_iter_no_change``). "auto":
        3e-3 where the default network takes its features' piecewise-linear
        encodings (``feature_encoding="auto"`` from 4 000 rows given to the
        fit that built it, or "piecewise_linear"), whose encoded columns
        each learn from the rows of their bins only; 1e-3 (``MLPRegressor``'s)
        for any other network: fewer rows (a single feature's encoded curve
        and a monotone network's calibrators included),
        ``feature_encoding=None``, a ``model`` of your own (measured:
        ``benchmarks/bench_quality.py``). (The
        gradient is that of the objective divided by the variance of the
        targets, so that the training does not depend on their units; with
        Adam this only rescales its ``epsilon``.)
    early_stopping : bool, default=False
        If False, monitor the training loss. If True, hold out
        ``validation_fraction`` of the rows, monitor their loss and restore
        the weights of the best epoch (a decay of the learning rate also
        starts from them). The rule is in ``n_iter_no_change``.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience, in epochs. After ``n_iter_no_change`` epochs without an
        improvement of the monitored loss by ``tol``, the learning rate is
        divided by 5 and the count restarts; the third such plateau stops
        the training. So a network whose first progress is slow (a
        monotone network, noisy validation rows) is not stopped on its
        first plateau, and one that has stopped improving at the first
        rate gets the smaller steps that converge. The first 1 000 updates
        (at most half the epochs) never count towards a plateau.
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
        that shape the network must be unchanged; ``alpha``,
        ``learning_rate``, ``epochs``, ``batch_size`` and the stopping
        settings may change (as in MLPRegressor).
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
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
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

    # public in skconstrain.estimators: pickles, skops and the docs name it so
    __module__ = "skconstrain.estimators"

    _parameter_constraints: dict = {
        **BaseConstrainedRegressor._parameter_constraints,
        # the output set: validated by skconstrain._sets, as everywhere else
        "output_constraint": "no_validation",
        "output_radius": "no_validation",
        "output_lower": "no_validation",
        "output_upper": "no_validation",
        "loss": [StrOptions({"squared_error", "fenchel_young"})],
    }
    _structural_params = (
        *BaseConstrainedRegressor._structural_params,
        "output_constraint",
        "output_radius",
        "output_lower",
        "output_upper",
        "loss",
    )

    def __init__(
        self,
        model=None,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        feature_encoding="auto",
        monotonic_cst=None,
        penalty="l2",
        alpha="auto",
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
        self.alpha = alpha
        self.output_constraint = output_constraint
        self.output_radius = output_radius
        self.output_lower = output_lower
        self.output_upper = output_upper
        self.loss = loss

    def _check_output_hyperparameters(self):
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

    def _output_params(self, n_outputs=None):
        if self.output_constraint is None:
            return None
        params = set_arguments(
            self.output_constraint,
            radius=self.output_radius,
            lower=self.output_lower,
            upper=self.output_upper,
            n_features=n_outputs,
            prefix="output_",
        )
        return {"set": check_set(self.output_constraint), **params}

    def _ignored_rules(self):
        no_output = self.output_constraint is None  # validated by the caller
        takes = () if no_output else SETS[check_set(self.output_constraint)].params
        no_set = "output_constraint=None"
        return {
            "output_radius": (
                "radius" not in takes,
                no_set
                if no_output
                else f"output_constraint={self.output_constraint!r}",
            ),
            "output_lower": ("lower" not in takes, "an output set other than 'box'"),
            "output_upper": ("upper" not in takes, "an output set other than 'box'"),
            "output_strategy": (no_output, no_set),
        }

    def _loss(self, output_set):
        if self.loss != "fenchel_young":
            return super()._loss(output_set)
        # scores trained with the projection's Fenchel-Young loss, predicted
        # (and evaluated) through the projection
        return Loss(
            row_loss=functools.partial(fenchel_young, **output_set),
            output_map=functools.partial(_keras_ops.project, **output_set),
            projects_after=True,
        )
