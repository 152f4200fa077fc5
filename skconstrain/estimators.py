"""The public estimators: ``ConstrainedRegressor`` and
``ConstrainedQuantileRegressor``, on one base (:mod:`skconstrain._base_estimator`).

Every constraint and penalty is an ordinary hyperparameter, so ``Pipeline``,
``GridSearchCV``, ``clone``, pickling and pandas work as with any scikit-learn
regressor. This module holds what each estimator adds to the base: its
hyperparameters and docstring, its output set, its loss and its score.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from keras import ops
from scipy.special import ndtr
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import (
    ConvergenceWarning,
    DataConversionWarning,
)
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv, train_test_split
from sklearn.utils import (
    _safe_indexing,  # what scikit-learn indexes folds with
    check_random_state,
)

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (  # the helpers LassoCV and
    MetadataRouter,  # GridSearchCV route metadata with (private names of a
    MethodMapping,  # public module)
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_is_fitted,
)

from skconstrain import _networks, _training
from skconstrain._base_estimator import (
    ENSEMBLE_SIZE,
    BaseConstrainedRegressor,
    Loss,
    _copied,
)
from skconstrain._conformal import (
    calibrated_quantiles,
    conformal_scores,
    min_calibration_rows,
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
from skconstrain.metrics import multi_d2_pinball_score

__all__ = [
    "ConstrainedQuantileRegressor",
    "ConstrainedRegressor",
    "ConstrainedRegressorCV",
    "QuantileLevel",
]


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
    learning_rate : float, default=1e-3
        Adam's starting learning rate (each plateau of the monitored loss
        divides it by 5, twice at most; see ``n_iter_no_change``). (The
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
        ensemble_size=ENSEMBLE_SIZE,
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
        super().__init__(
            model=model,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
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


def _has_refit(search):
    """Whether a search has a refitted network to continue (else, why not)."""
    if not hasattr(search, "alpha_") or not search.__sklearn_is_fitted__():
        raise AttributeError(
            f"{type(search).__name__}.partial_fit continues the network that "
            "fit refitted with the chosen alpha_; call fit first (it searches "
            "'alphas'), with refit=True."
        )
    return True


class ConstrainedRegressorCV(ConstrainedRegressor):
    """:class:`ConstrainedRegressor` with ``alpha`` chosen by cross-validation.

    As :class:`~sklearn.linear_model.RidgeCV` and
    :class:`~sklearn.linear_model.LassoCV` do for their ``alpha``: every value
    of ``alphas`` is fitted on the training rows of every split of ``cv`` and
    scored on the held-out rows; ``alpha_`` is the best mean score's, and the
    network is then refitted on all rows with it. The result is the same as
    ``GridSearchCV(ConstrainedRegressor(...), {"alpha": alphas}, cv=cv,
    scoring=scoring)`` (the same fits, the same scores, ``cv_results_`` in its
    format), and the fitted estimator is a :class:`ConstrainedRegressor` in
    every way (``predict``, ``score``, ``model_``, ``partial_fit`` continuing
    the refitted network, pickling).

    With the default MLP (``model=None``, no ``monotonic_cst``,
    ``ensemble_size=1``), the alphas x folds networks are trained together
    as one stack
    (:class:`skconstrain._networks.Stack`): each layer of all of them is one
    batched product, and one compiled call runs an epoch of every member, each
    on its own rows, in its own order, with its own penalty strength, Adam
    state and stopping, so each trains exactly as its single fit would (the
    scores agree with ``GridSearchCV``'s to float32 rounding, tested). The
    compiled epoch is kept for later searches of the same architecture and
    number of networks (of any number of rows); a stack that would take more
    than 1 GiB (data, weights, optimizer state) is trained in chunks. Other
    networks, ensembles among them (each one already trains its members as
    one network), are fitted one after another (or in ``n_jobs``
    processes).

    Use it rather than ``GridSearchCV`` over ``alpha`` alone: the same result
    in a fraction of the time (2.5-8x faster than that search, 1.3-4x faster
    than ``GridSearchCV`` over ``MLPRegressor``, for 4 x 3 to 16 x 5 networks
    on 2 CPU cores; ``benchmarks/bench_cv.py``). Search the structural
    hyperparameters (``hidden_layer_sizes``, ``output_strategy``...) with
    ``GridSearchCV`` around it.

    Parameters
    ----------
    alphas : int or array-like of float, default=5
        The penalty strengths tried, each >= 0; an int: that many values
        spaced evenly on a log scale from 1e-5 to 10.
    cv : int, cross-validation generator or iterable, default=5
        As in :class:`~sklearn.model_selection.GridSearchCV`. With metadata
        routing enabled, ``groups`` passed to :meth:`fit` go to the splitter
        (``sklearn.set_config(enable_metadata_routing=True)``).
    scoring : str, callable or None, default=None
        A scikit-learn scorer; None: :meth:`score` (R^2 averaged over
        outputs).
    refit : bool, default=True
        Refit on all rows with ``alpha_``. If False, only the search's
        results are kept (``predict`` is then unavailable).
    n_jobs : int or None, default=None
        Processes for the fits of the search when they are not stacked
        (joblib).
    **params
        Every other hyperparameter of :class:`ConstrainedRegressor` (all but
        ``alpha``), with the same meaning.

    Attributes
    ----------
    alpha_ : float
        The chosen strength.
    alphas_ : ndarray
        The strengths tried.
    best_score_ : float
        The mean cross-validated score of ``alpha_``.
    cv_results_ : dict of ndarray
        In :class:`~sklearn.model_selection.GridSearchCV`'s format:
        ``params``, ``param_alpha``, ``split{k}_test_score``,
        ``mean_test_score``, ``std_test_score``, ``rank_test_score``,
        ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``,
        ``std_score_time``.
    n_splits_ : int
        The number of cross-validation splits.
    model_, history_, n_iter_, constraint_violation_, ...
        Those of :class:`ConstrainedRegressor`, for the refitted network.

    See Also
    --------
    ConstrainedRegressor : The estimator with a given ``alpha``.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain import ConstrainedRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 3))
    >>> y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=120)
    >>> reg = ConstrainedRegressorCV(
    ...     alphas=[1e-4, 1.0], cv=3, hidden_layer_sizes=(8,), epochs=3,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> reg.alphas_.tolist(), sorted(reg.cv_results_)[:2]
    ([0.0001, 1.0], ['mean_fit_time', 'mean_score_time'])
    >>> reg.predict(X).shape
    (120,)
    """

    _parameter_constraints: dict = {
        **ConstrainedRegressor._parameter_constraints,
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
    }
    _parameter_constraints.pop("alpha")

    def __init__(
        self,
        model=None,
        *,
        alphas=5,
        cv=5,
        scoring=None,
        refit=True,
        n_jobs=None,
        hidden_layer_sizes=(100,),
        activation="relu",
        monotonic_cst=None,
        penalty="l2",
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
        # no alpha: the search chooses it (alpha_)
        BaseConstrainedRegressor.__init__(
            self,
            model=model,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
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
        self.alphas = alphas
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.output_constraint = output_constraint
        self.output_radius = output_radius
        self.output_lower = output_lower
        self.output_upper = output_upper
        self.loss = loss

    @property
    def alpha(self):
        """The refitted network's ``alpha``: ``alpha_`` (as a
        :class:`ConstrainedRegressor` has one); like ``alpha_``, it exists
        once :meth:`fit` has searched (no value before: the search has not
        chosen one)."""
        if not hasattr(self, "alpha_"):
            raise AttributeError(
                f"{type(self).__name__} has no alpha before fit chooses one "
                "(alpha_) among 'alphas'."
            )
        return self.alpha_

    def get_metadata_routing(self):
        """Metadata routing: ``groups`` (and any split metadata) to ``cv``.

        Returns
        -------
        routing : MetadataRouter
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
        )

    def _constrains_no_feature(self):
        cst = self.monotonic_cst
        if cst is None:
            return True
        values = cst.values() if isinstance(cst, dict) else np.ravel(cst)
        return not any(v != 0 for v in values)

    def _alphas(self):
        """The validated ``alphas`` as a 1-D float64 array."""
        alphas = self.alphas
        if isinstance(alphas, Integral) and not isinstance(alphas, bool | np.bool_):
            return np.logspace(-5, 1, int(alphas))
        message = (
            "The 'alphas' parameter of ConstrainedRegressorCV must be an int >= 1 "
            "or a 1-D array-like of finite floats >= 0, such as [1e-4, 1e-2, 1]; "
            f"got {alphas!r}."
        )
        if isinstance(alphas, bool | np.bool_ | str | bytes):
            raise ValueError(message)
        try:
            values = np.asarray(alphas)
        except (TypeError, ValueError) as exc:
            raise ValueError(message) from exc
        if values.ndim != 1 or values.size == 0 or values.dtype.kind not in "iuf":
            raise ValueError(message)
        values = values.astype(np.float64)
        if not np.all(np.isfinite(values)) or (values < 0).any():
            raise ValueError(message)
        return values

    def _single(self, alpha):
        """The :class:`ConstrainedRegressor` of one candidate."""
        params = self.get_params(deep=False)
        for name in ("alphas", "cv", "scoring", "refit", "n_jobs"):
            params.pop(name)
        params["warm_start"] = False
        # cloned, as GridSearchCV's candidates: a RandomState is copied, so each
        # fit draws from the state the search was given
        return clone(ConstrainedRegressor(alpha=float(alpha), **params))

    def fit(self, X, y, sample_weight=None, **params):
        """Search ``alphas`` by cross-validation, then refit with ``alpha_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in every fit and in the scores of the held-out
            rows (as :class:`~sklearn.model_selection.GridSearchCV` weighs
            them).
        **params
            Metadata for the splitter (``groups``), with metadata routing
            enabled.

        Returns
        -------
        self : ConstrainedRegressorCV
        """
        # float64 is float64 on every backend (JAX's x64 mode, scoped)
        with _training.precision():
            self._validate_params()
            alphas = self._alphas()
            if self.penalty is None:
                warnings.warn(
                    f"{type(self).__name__}: penalty=None, so every alpha of the "
                    "search trains the same network; set a penalty ('l2', 'l1', "
                    "...) for alphas to mean something.",
                    UserWarning,
                    stacklevel=2,
                )
            # The members are fitted and scored on the rows of X as given (a
            # DataFrame keeps its column names, which a monotonic_cst dict
            # needs); the stack's members take the validated arrays.
            X_valid, y_valid = self._validate_fit_data(X, y, reset=True)
            X_rows = X if hasattr(X, "iloc") else X_valid
            if sample_weight is not None:
                sample_weight = _check_sample_weight(
                    sample_weight, X_valid, dtype=np.float64, ensure_non_negative=True
                )
            if _routing_enabled():
                routed = process_routing(self, "fit", **params)
                split_params = routed.splitter.split
            else:
                _raise_for_params(params, self, "fit")
                split_params = {}
            cv = check_cv(self.cv, y_valid, classifier=False)
            splits = list(cv.split(X_valid, y_valid, **split_params))
            scorer = check_scoring(self, scoring=self.scoring)
            candidates = [(a, train, test) for a in alphas for train, test in splits]
            out = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                stackable = (
                    self.model is None
                    and self._constrains_no_feature()
                    and self.ensemble_size == 1
                )
                if stackable and not sp.issparse(X_valid):
                    try:
                        out = _fit_and_score_stacked(
                            self._single(alphas[0]),
                            candidates,
                            X_rows,
                            X_valid,
                            y_valid,
                            sample_weight,
                            scorer,
                        )
                    except _networks.NotStackable:
                        out = None
                if out is None:  # one after another (or in n_jobs processes)
                    out = Parallel(n_jobs=self.n_jobs)(
                        delayed(_fit_and_score)(
                            self._single(alpha),
                            X_rows,
                            y_valid,
                            sample_weight,
                            train,
                            test,
                            scorer,
                        )
                        for alpha, train, test in candidates
                    )
            shape = (len(alphas), len(splits))
            scores = np.array([o[0] for o in out]).reshape(shape)
            fit_times = np.array([o[1] for o in out]).reshape(shape)
            score_times = np.array([o[2] for o in out]).reshape(shape)
            not_converged = sum(not o[3] for o in out)
            self.cv_results_ = _cv_results(alphas, scores, fit_times, score_times)
            best = int(np.argmin(self.cv_results_["rank_test_score"]))
            self.alphas_ = alphas
            self.n_splits_ = len(splits)
            self.alpha_ = float(alphas[best])
            self.best_score_ = float(self.cv_results_["mean_test_score"][best])
            refit_converged = True
            if self.refit:
                with warnings.catch_warnings(record=True) as refit_caught:
                    warnings.simplefilter("always")
                    self._fit(X, y, sample_weight, incremental=False)
                caught += refit_caught
                refit_converged = not any(
                    issubclass(w.category, ConvergenceWarning) for w in refit_caught
                )
            _reissue(caught)
            if not_converged or not refit_converged:
                refitted = "" if refit_converged else ", and the refitted network,"
                warnings.warn(
                    f"{type(self).__name__}: {not_converged} of the {len(out)} "
                    f"networks of the search ({len(alphas)} alphas x "
                    f"{len(splits)} folds)"
                    f"{refitted} ran all epochs={self.epochs} while their loss still "
                    f"improved by more than tol={self.tol} within the last "
                    f"n_iter_no_change={self.n_iter_no_change} epochs: they have not "
                    "converged, and their scores may rank the alphas by how fast "
                    "they train rather than how well. Raise 'epochs', or 'tol' to "
                    "stop sooner.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
            return self

    @available_if(_has_refit)
    def partial_fit(self, X, y, sample_weight=None):
        """One more epoch of the refitted network (``alpha_``) on ``(X, y)``.

        A search has no incremental form: ``partial_fit`` exists once
        :meth:`fit` has searched ``alphas`` and refitted (``refit=True``), and
        continues that network, as :meth:`ConstrainedRegressor.partial_fit`
        does. Before, it is an ``AttributeError`` saying so.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : ConstrainedRegressorCV
        """
        return self._fit(X, y, sample_weight, incremental=True)


def _reissue(caught):
    """Warn once for each distinct warning the members of a search gave
    (each fit of a candidate checks the same hyperparameters), without their
    convergence warnings, which the search sums up in one."""
    seen = set()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            continue
        key = (w.category, str(w.message))
        if key not in seen:
            seen.add(key)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _fit_and_score(estimator, X, y, sample_weight, train, test, scorer):
    """Fit ``estimator`` on the rows ``train``, score it on ``test``; with
    the fit's and the score's seconds, and whether the fit converged."""
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    weights = None if sample_weight is None else _safe_indexing(sample_weight, train)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X_train, y_train, sample_weight=weights)
    fit_time = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    _reissue(caught)  # to the search's own record (in this process)
    start = time.perf_counter()
    score = _score(scorer, estimator, X, y, sample_weight, test)
    return float(score), fit_time, time.perf_counter() - start, converged


def _score(scorer, estimator, X, y, sample_weight, test):
    """The score on the rows ``test``, weighted as GridSearchCV weighs it
    when ``fit`` had sample weights."""
    kwargs = {}
    if sample_weight is not None:
        kwargs["sample_weight"] = _safe_indexing(sample_weight, test)
    return scorer(estimator, _safe_indexing(X, test), _safe_indexing(y, test), **kwargs)


def _fit_and_score_stacked(template, candidates, X, X_valid, y, sample_weight, scorer):
    """Fit every candidate ``(alpha, train, test)`` on its rows as one stack
    of networks (:meth:`BaseConstrainedRegressor._fit_stack`), and score
    each on its held-out rows.

    ``template`` (a :class:`ConstrainedRegressor` of the search's
    hyperparameters) is prepared for the first candidate's rows as a fit
    would (its checks and warnings, its network), and each member is scored
    through it. ``X`` are the rows as given (a DataFrame keeps its column
    names for the template and the scorer), ``X_valid`` the same rows
    validated (the members' data).
    """

    def rows(X, train):
        weights = None if sample_weight is None else sample_weight[train]
        return _safe_indexing(X, train), _safe_indexing(y, train), weights

    def score(k, estimator):
        return _score(scorer, estimator, X, y, sample_weight, candidates[k][2])

    return template._fit_stack(
        rows(X, candidates[0][1]),
        [(*rows(X_valid, train), alpha) for alpha, train, _ in candidates],
        template.random_state,
        score,
    )


def _cv_results(alphas, scores, fit_times, score_times):
    """``cv_results_`` in :class:`~sklearn.model_selection.GridSearchCV`'s
    format, from arrays of shape (n_alphas, n_splits)."""
    results = {
        "mean_fit_time": fit_times.mean(axis=1),
        "std_fit_time": fit_times.std(axis=1),
        "mean_score_time": score_times.mean(axis=1),
        "std_score_time": score_times.std(axis=1),
        "param_alpha": np.ma.MaskedArray(alphas, mask=False, dtype=object),
        "params": [{"alpha": float(a)} for a in alphas],
    }
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    mean = scores.mean(axis=1)
    results["mean_test_score"] = mean
    results["std_test_score"] = scores.std(axis=1)
    # as GridSearchCV: the best is 1, ties share the lowest rank
    safe = np.where(np.isnan(mean), -np.inf, mean)
    results["rank_test_score"] = rankdata(-safe, method="min").astype(np.int32)
    return results


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
    model, hidden_layer_sizes, activation, monotonic_cst, penalty, alpha, \
l1_ratio, kernel_constraint, bias_constraint
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

    _loss_scale_text = (
        "the pinball loss of the best constant quantiles, the training "
        "targets' empirical quantiles"
    )

    # one target, its levels ordered: no target lies outside the set, and
    # one level is median (or single-quantile) regression
    _targets_in_output_set = False
    _structural_params = (*BaseConstrainedRegressor._structural_params, "quantiles")

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
        monotonic_cst=None,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.5,
        kernel_constraint=None,
        bias_constraint=None,
        output_strategy="post",
        output_penalty="quadratic",
        output_penalty_strength=1.0,
        ensemble_size=ENSEMBLE_SIZE,
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
        super().__init__(
            model=model,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
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
        check_is_fitted(self)
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
        check_is_fitted(self)
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
        check_is_fitted(self)
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
