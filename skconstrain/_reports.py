"""What a fit says: the warnings where a fit cannot mean what the user
thinks (a hyperparameter that does nothing, a degenerate output set, targets
outside it, epochs that ran out) and the fitted reports (the scores, the
distances to the output set).

The warnings' ``stacklevel`` counts from the user's call of ``fit``: each
function here is called by the base's ``_prepare_fit`` or ``_end_fit``,
which ``_fit`` calls from ``fit`` or ``partial_fit``. Imports ``_sets``,
``_validation`` and ``projections``, never the estimators.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skconstrain import _validation
from skconstrain._sets import SETS, degenerate, vacuous
from skconstrain.keras import regularizers as _regularizers
from skconstrain.projections import distance

#: From a function called by ``_prepare_fit`` to the caller of ``fit``.
_STACKLEVEL = 5


def warn_ignored(estimator):
    """Warn about each hyperparameter set away from its default that this
    configuration does not use (as ``LogisticRegression`` warns that
    ``penalty=None`` ignores ``C``): a grid over it would change nothing."""
    est = estimator
    penalizes = est._output_params() is not None and est.output_strategy == "penalty"
    by_model = (est.model is not None, "a 'model' callable")
    unpenalized = _validation.penalizes_nothing(est)
    lipschitz = (
        "monotonic_cst constraining every feature (the monotone network's "
        "Lipschitz layers are bounded instead of penalised)"
    )
    rules = {
        "alpha": (
            est.penalty is None or unpenalized,
            "penalty=None" if est.penalty is None else lipschitz,
        ),
        "penalty": (unpenalized, lipschitz),
        "l1_ratio": (
            not isinstance(_validation.penalty_object(est), _regularizers.ElasticNet)
            or not isinstance(est.penalty, str),
            f"penalty={est.penalty!r} (it mixes the elastic-net names only)",
        ),
        "output_penalty": (not penalizes, "output_strategy other than 'penalty'"),
        "output_penalty_strength": (
            not penalizes,
            "output_strategy other than 'penalty'",
        ),
        "hidden_layer_sizes": by_model,
        "feature_encoding": by_model,
        "activation": (
            est.model is not None or _validation.constrains_all(est.monotonic_cst),
            by_model[1]
            if est.model is not None
            else "monotonic_cst constraining every feature (the monotone "
            "network uses GroupSort; activation is that of the "
            "unconstrained features' branch)",
        ),
        "validation_fraction": (not est.early_stopping, "early_stopping=False"),
        **est._ignored_rules(),
    }
    defaults = inspect.signature(type(est).__init__).parameters
    ignored = [
        f"{name}={getattr(est, name)!r} is ignored with {why}"
        for name, (unused, why) in rules.items()
        if unused
        and name in defaults
        and _validation.comparable(getattr(est, name))
        != _validation.comparable(defaults[name].default)
    ]
    if ignored:
        warnings.warn(
            f"{type(est).__name__}: " + "; ".join(ignored) + ".",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )


def warn_degenerate(estimator, output_set):
    """Warn when ``output_set`` is a point or two for y's width, or all
    of it."""
    if output_set is None or not estimator._targets_in_output_set:
        return
    name, width = output_set["set"], estimator.n_outputs_
    if vacuous(name, width):
        warnings.warn(
            f"output_constraint={name!r} on a y of 1 column constrains "
            "nothing: one number is always in order. It orders the columns "
            "of a y of several (quantiles by level, say).",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )
        return
    left = degenerate(name, width, radius=output_set.get("radius", 1.0))
    if left is not None:
        warnings.warn(
            f"output_constraint={name!r} on a y of 1 column is only {left}: "
            "every prediction will be one of them. To bound a single output, "
            "use 'box' (with output_lower/output_upper), 'linf_ball' or "
            "'nonneg'.",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )


def warn_flat_calibrators(estimator, scaling, monotonic_cst, n_rows):
    """Warn when a ``partial_fit`` that builds a network fixes a constrained
    feature's calibrator on rows where that feature takes one value: the
    calibrator has no bin, so the network never learns the feature's effect,
    whatever later batches hold (a ``fit`` that sees one value has nothing
    to learn from either, and says nothing)."""
    if scaling is None or scaling[2] is None or monotonic_cst is None:
        return
    inv_width = np.asarray(scaling[2][1])
    flat = [
        j for j, sign in enumerate(monotonic_cst) if sign and not inv_width[j].any()
    ]
    if not flat:
        return
    names = getattr(estimator, "feature_names_in_", None)
    shown = [str(names[j]) if names is not None else str(j) for j in flat]
    warnings.warn(
        f"{type(estimator).__name__}: the constrained feature(s) "
        f"{', '.join(shown)} take a single value in the {n_rows} row(s) of the "
        "first partial_fit, which fix the bins of their monotone calibrators: "
        "the network will not learn their effect from later batches. Start "
        "with a batch in which they vary, or pass feature_encoding=None.",
        UserWarning,
        stacklevel=_STACKLEVEL,
    )


def target_violation(estimator, y, output_set):
    """How far the training targets lie from ``output_set``, and a warning
    when some are farther than a tolerance (the network can only predict
    inside the set, so such targets are never fitted)."""
    if output_set is None or not estimator._targets_in_output_set:
        return None
    name = output_set["set"]
    Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    found = _target_distance(Y, output_set)
    # a set of a point or two is warned about already (warn_degenerate)
    if found["fraction"] > 0 and degenerate(name, Y.shape[1]) is None:
        radius = output_set.get("radius")
        warnings.warn(
            f"{found['fraction']:.1%} of the training targets lie outside "
            f"output_constraint={name!r} ({SETS[name].formula}"
            + ("" if radius is None else f", radius={radius:g}")
            + f") by more than {found['tol']:.3g} (the largest by "
            f"{found['max']:.3g}): predictions stay in the set, so these "
            f"targets cannot be fitted. {_suggest_output(Y, output_set)}",
            UserWarning,
            stacklevel=_STACKLEVEL,
        )
    return found


def warn_not_converged(estimator, validated):
    """The :class:`~sklearn.exceptions.ConvergenceWarning` of a fit whose
    epochs ran out while its (``validated``: validation) loss improved."""
    est = estimator
    warnings.warn(
        f"{type(est).__name__}: all {est.epochs} epochs ran and the "
        f"{'validation' if validated else 'training'} loss still improved by "
        f"more than tol={est.tol} (relative to {est._loss_scale_text}) within "
        f"the last {est.n_iter_no_change} epochs: the fit has not converged. "
        "Raise 'epochs', or 'tol' to stop sooner.",
        ConvergenceWarning,
        stacklevel=_STACKLEVEL,
    )


def report_scores(estimator):
    """``best_loss_``, ``validation_scores_`` and ``best_validation_score_``
    from ``history_``, with :class:`~sklearn.neural_network.MLPRegressor`'s
    meanings."""
    est = estimator
    scores = est.history_.get("val_score")
    if scores:
        est.best_loss_ = None
        est.validation_scores_ = list(scores)
        est.best_validation_score_ = max(scores)
    else:
        est.best_loss_ = min(est.loss_curve_)
        est.validation_scores_ = None
        est.best_validation_score_ = None


def violation(pred, output_set):
    """How far the predictions ``pred`` lie from the output set
    (``constraint_violation_``)."""
    tol = 1e-5 * max(1.0, output_set.get("radius", 1.0))
    return _distances(pred, output_set, tol)


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
