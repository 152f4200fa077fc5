"""The estimators' hyperparameters: their constraints, the checks beyond
them, what a continued fit may not change, and what a name resolves to.

Every function takes the estimator and reads its hyperparameters; none sets
anything on it. Imports ``skconstrain.keras`` and ``_sets``, never the
estimators.
"""

from __future__ import annotations

from numbers import Integral, Real

import keras
import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

# private, and what every scikit-learn estimator validates its parameters with
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_monotonic_cst

from skconstrain._sets import SET_NAMES, SETS
from skconstrain.keras import constraints as _constraints
from skconstrain.keras import regularizers as _regularizers
from skconstrain.keras.penalties import KINDS

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
#: when the encoded rows take at most ``dense_limit`` bytes as float32.
AUTO_ENCODING_ROWS = 4000
#: Below ``AUTO_ENCODING_ROWS``, "auto" calibrates a monotone network's
#: constrained features from this many rows given to fit (about 3 per bin):
#: the bins are fixed by the rows of a new fit, and those of a tiny first
#: ``partial_fit`` batch (one row: every column constant, no bin) would
#: leave a calibrator flat for good.
AUTO_CALIBRATION_ROWS = 100
#: Below ``AUTO_ENCODING_ROWS``, "auto" encodes an ``X`` of one feature
#: (without a constraint) from this many rows, one per bin: a curve, which
#: the plain MLP smoothed away where it is steep or wavy, and whose 33
#: columns cannot overfit many features' noise (benchmarks/bench_quality.py:
#: US divorces by year, 108 training rows, 1.72 -> 0.09 times HGBR's test
#: MSE, its quantiles 1.22 -> 0.28 times HGBR's pinball loss).
AUTO_ENCODING_ROWS_ONE_FEATURE = PIECEWISE_LINEAR_BINS

#: ``alpha="auto"``: the penalty's strength per feature of ``X``. With the
#: squared error divided by the targets' variance, a prior that shares the
#: targets' variance among the d features gives each weight a variance
#: ~ 1/d, so an L2 strength ~ d (ridge regression's Bayes penalty). Measured
#: (benchmarks/bench_quality.py, 3 seeds): against 1e-4, 0.15 * d took the
#: small real sets level with or ahead of HGBR (hitters 1.12 -> 0.90,
#: housing 1.06 -> 0.96, diabetes 1.05 -> 0.98) without costing the smooth
#: synthetic sets or the one-feature curves, which 0.2 * d and a flat
#: alpha of 1-3 did (a steep curve on 225 rows, an ad hoc run: 0.95 ->
#: 1.04 and 1.12-1.21 times HGBR's error).
AUTO_ALPHA_PER_FEATURE = 0.15

#: ``learning_rate="auto"``: Adam's starting rate for a network that takes
#: its features' piecewise-linear encodings beside them: "auto" encoding
#: from :data:`AUTO_ENCODING_ROWS` rows, or "piecewise_linear" (below that
#: many rows, neither a single feature's encoded curve nor a monotone
#: network's calibrators count; from it, a monotone network's count, whether
#: or not it has unconstrained features); each encoded column learns from
#: the rows of its bin only. Measured (benchmarks/bench_quality.py, 3
#: seeds, JAX) against 1e-3: on the sets of 4 694 to 40 455 training rows,
#: where "auto" encodes, the monotone network with ``early_stopping=True``
#: no longer stops on a plateau (6 interacting monotone features: worst
#: seed 1.92 -> 0.53 times HGBR's error; diamonds 1.109 -> 1.072, computers
#: 1.051 -> 1.045 times HGBR's), and every other default net gained or
#: held (diamonds' unconstrained net 0.908 -> 0.934 the most it lost); on
#: the small sets, which the network does not encode, 3e-3 lost (diabetes
#: 0.975 -> 1.037, the monotone net on Auto MPG 0.904 -> 0.938).
AUTO_LEARNING_RATE_ENCODED = 3e-3
#: ``learning_rate="auto"`` for every other network (``MLPRegressor``'s and
#: Keras's default).
AUTO_LEARNING_RATE = 1e-3

#: The constraints of the hyperparameters every estimator shares
#: (scikit-learn's ``_parameter_constraints``).
PARAMETER_CONSTRAINTS = {
    "model": [None, callable],
    "hidden_layer_sizes": [
        "array-like",
        Interval(Integral, 1, None, closed="left"),
    ],
    "activation": [str, callable],
    "feature_encoding": [StrOptions(set(FEATURE_ENCODINGS)), None],
    "monotonic_cst": ["array-like", dict, None],
    "penalty": [StrOptions(set(PENALTIES)), callable, None],
    "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
    "l1_ratio": [Interval(Real, 0, 1, closed="both")],
    "kernel_constraint": [str, callable, None],
    "bias_constraint": [str, callable, None],
    "output_strategy": [StrOptions(set(STRATEGIES))],
    "output_penalty": [StrOptions(set(KINDS))],
    "output_penalty_strength": [Interval(Real, 0, None, closed="left")],
    "ensemble_size": [Interval(Integral, 1, None, closed="left")],
    "epochs": [Interval(Integral, 1, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), None],
    "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "shuffle": ["boolean"],
    "warm_start": ["boolean"],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}

#: The hyperparameters that shape the network or its objective (the base's
#: ``_structural_params``; a subclass adds its own). A warm start or a
#: further partial_fit continues the network built with them, so a change of
#: one since then is an error (MLPRegressor does the same for the layer
#: sizes); the engines' key holds them.
STRUCTURAL_PARAMS = (
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

#: The hyperparameters that take an object of ours or its registry name.
NAMED_OBJECTS = ("kernel_constraint", "bias_constraint", "penalty")


def comparable(value):
    """A comparable copy of a hyperparameter value (objects by their params)."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        return (type(value), repr(sorted(value.get_params().items())))
    if isinstance(value, dict):
        return ("dict", repr(sorted(value.items(), key=repr)))
    if isinstance(value, np.ndarray | list | tuple):
        return repr(np.asarray(value).tolist())
    return value


def named_penalty(name, l1_ratio):
    """The regularizer that ``penalty=name`` trains with: the registry's,
    with ``factor=1`` (``alpha`` is the strength) and, for the elastic net,
    ``l1_ratio``."""
    named = _regularizers.get(name)
    if isinstance(named, _regularizers.ElasticNet):  # also Keras's l1_l2
        return _regularizers.ElasticNet(1.0, l1_ratio=l1_ratio)
    return named.set_params(factor=1.0)


def penalty_object(estimator):
    """The regularizer of ``estimator.penalty`` (a copy), or None."""
    penalty = estimator.penalty
    if penalty is None:
        return None
    if isinstance(penalty, str):
        return named_penalty(penalty, estimator.l1_ratio)
    return clone(_regularizers.get(penalty), safe=False)


def resolve_named(estimator, params):
    """``params`` of ``set_params`` with each named object that a nested key
    (``kernel_constraint__max_value``) sets made the object it names."""
    heads = {key.partition("__")[0] for key in params if "__" in key}
    for name in heads.intersection(NAMED_OBJECTS):
        value = params.get(name, getattr(estimator, name, None))
        if not isinstance(value, str):
            continue
        if name == "penalty":
            l1_ratio = params.get("l1_ratio", estimator.l1_ratio)
            params[name] = named_penalty(value, l1_ratio)
        else:
            params[name] = _constraints.get(value)
    return params


def check_hyperparameters(estimator):
    """Checks beyond ``_parameter_constraints``: names and objects (and the
    subclass's own, ``_check_output_hyperparameters``)."""
    name_of = type(estimator).__name__
    penalty_object(estimator)
    for name in ("kernel_constraint", "bias_constraint"):
        try:
            _constraints.get(getattr(estimator, name))
        except ValueError as exc:
            raise ValueError(f"The {name!r} parameter of {name_of}: {exc}") from None
    estimator._check_output_hyperparameters()
    if isinstance(estimator.activation, str):
        try:
            keras.activations.get(estimator.activation)
        except ValueError:
            raise ValueError(
                f"The 'activation' parameter of {name_of} must be the name of "
                "a Keras activation (such as 'relu', 'tanh', 'gelu', 'silu' or "
                "'elu'; see keras.activations) or a callable; got "
                f"{estimator.activation!r}."
            ) from None
    hidden = np.atleast_1d(np.asarray(estimator.hidden_layer_sizes))
    if hidden.dtype.kind not in "iu" or (hidden < 1).any():
        raise ValueError(
            "The 'hidden_layer_sizes' parameter must be a tuple of positive "
            f"integers; got {estimator.hidden_layer_sizes!r}."
        )


def check_monotonic_cst(estimator, output_set):
    """The validated ``monotonic_cst`` as a tuple of -1/0/1 per feature,
    or None when no feature is constrained; errors where the guarantee
    cannot hold (under ``output_set``)."""
    if estimator.monotonic_cst is None:
        return None
    # private, and what HistGradientBoostingRegressor and the trees use:
    # the same rules and messages (pinned by tests/test_monotonic.py)
    signs = _check_monotonic_cst(estimator, estimator.monotonic_cst)
    if not np.any(signs):
        return None
    if estimator.model is not None:
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


def constrains_all(monotonic_cst):
    """Whether a (not yet validated) array-like ``monotonic_cst`` constrains
    every feature (a dict's features are not known before the data)."""
    if monotonic_cst is None or isinstance(monotonic_cst, dict):
        return False
    values = np.ravel(np.asarray(monotonic_cst, dtype=object)).tolist()
    return bool(values) and all(v in (-1, 1) for v in values)


def penalizes_nothing(estimator):
    """Whether ``estimator``'s network has no kernel that takes the weight
    penalty: the default monotone network constraining every feature (its
    Lipschitz layers are bounded instead, see
    :func:`skconstrain._networks.apply_weight_settings`)."""
    return estimator.model is None and constrains_all(estimator.monotonic_cst)


def structural(estimator):
    """The structural hyperparameters (``_structural_params``), as
    ``(name, comparable value)`` pairs."""
    params = estimator.get_params(deep=False)
    # a subclass's signature may lack one the base sets (feature_encoding)
    return tuple(
        (name, comparable(params.get(name, getattr(estimator, name, None))))
        for name in estimator._structural_params
    )


def check_unchanged(estimator, built):
    """A continued fit needs the hyperparameters the network was built with
    (``built``: the spec's ``(name, value)`` pairs)."""
    built = dict(built)
    changed = [
        name for name, value in structural(estimator) if value != built.get(name)
    ]
    if changed:
        raise ValueError(
            f"{type(estimator).__name__} continues the current network "
            f"(warm_start=True or partial_fit), but {changed} changed since it "
            "was built. Fit with warm_start=False to build a new network."
        )


def input_bins(estimator, X, dense_limit, monotonic_cst=None):
    """The bins per feature of a new fit's piecewise-linear encoding, for
    the rows ``X`` given to it (before a validation split;
    ``feature_encoding``); 0: none. "auto" encodes dense rows whose
    encoding takes at most ``dense_limit`` bytes: from
    :data:`AUTO_ENCODING_ROWS`; from :data:`AUTO_CALIBRATION_ROWS` for a
    network with constrained features (the validated ``monotonic_cst``),
    whose calibrators take the bins (:func:`free_encoding`: the
    unconstrained features' encodings then stay out); from
    :data:`AUTO_ENCODING_ROWS_ONE_FEATURE` for a single unconstrained
    feature."""
    encoding = estimator.feature_encoding
    if estimator.model is not None or encoding is None:
        return 0
    n, d = X.shape
    encoded = 4 * n * d * (PIECEWISE_LINEAR_BINS + 1)  # bytes, as float32
    if encoding == "auto" and (
        sp.issparse(X) or encoded > dense_limit or n < _auto_rows(d, monotonic_cst)
    ):
        return 0
    if sp.issparse(X):
        raise ValueError(
            f"The 'feature_encoding' parameter of {type(estimator).__name__}: "
            "'piecewise_linear' encodes dense features; X is sparse. Pass "
            "feature_encoding=None (or 'auto', which does not encode "
            "sparse X), or a dense X."
        )
    return PIECEWISE_LINEAR_BINS


def alpha(estimator):
    """The strength of the penalty a fit of ``estimator`` uses: its
    ``alpha``, or for "auto" :data:`AUTO_ALPHA_PER_FEATURE` times its
    ``n_features_in_``."""
    if isinstance(estimator.alpha, str):  # "auto"
        return AUTO_ALPHA_PER_FEATURE * estimator.n_features_in_
    return float(estimator.alpha)


def learning_rate(estimator):
    """Adam's starting learning rate for a fit of ``estimator``: its
    ``learning_rate``, or for "auto" :data:`AUTO_LEARNING_RATE_ENCODED`
    where its network (``_spec``, set by the fit that built it) takes the
    encodings of its features (:func:`free_encoding`), else
    :data:`AUTO_LEARNING_RATE`."""
    if not isinstance(estimator.learning_rate, str):
        return float(estimator.learning_rate)
    spec = estimator._spec
    if spec.input_bins and spec.free_encoding:
        return AUTO_LEARNING_RATE_ENCODED
    return AUTO_LEARNING_RATE


def _auto_rows(n_features, monotonic_cst):
    """From how many rows given to fit "auto" encodes (:func:`input_bins`)."""
    if monotonic_cst is not None:
        return AUTO_CALIBRATION_ROWS
    if n_features == 1:
        return AUTO_ENCODING_ROWS_ONE_FEATURE
    return AUTO_ENCODING_ROWS


def free_encoding(estimator, X):
    """Whether the unconstrained features' encodings enter a network that
    has bins: with "piecewise_linear", and with "auto" from
    :data:`AUTO_ENCODING_ROWS` rows of ``X``. Below, "auto" gives a monotone
    network its constrained features' calibrators only: on the small sets
    of ``benchmarks/bench_quality.py`` the free features' encodings
    overfitted, and the calibrators did not (a synthetic monotone set 1.13
    -> 0.66 x HGBR(monotonic_cst), the real ones level or better)."""
    return estimator.feature_encoding != "auto" or X.shape[0] >= AUTO_ENCODING_ROWS
