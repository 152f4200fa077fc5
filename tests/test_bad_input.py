"""Bad input, case by case: the exception type and our (or scikit-learn's) message.

Every case must fail before TensorFlow sees the data, with a message that names
the parameter or the input at fault; none may leave a fitted-looking estimator.
"""

import re

import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skconstrain import (
    ConstrainedQuantileRegressor,
    ConstrainedRegressor,
    ConstrainedRegressorCV,
    NormProjector,
    ProjectedRegressor,
)
from skconstrain.projections import distance, project

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = np.abs(RNG.normal(size=(40, 3)))
FAST = dict(hidden_layer_sizes=(4,), epochs=2, random_state=0)


def est(**params):
    return ConstrainedRegressor(**{**FAST, **params})


class Fit:
    """A fit to make: the estimator, and the arguments of its ``fit``."""

    def __init__(self, estimator, *args, **kwargs):
        self.estimator, self.args, self.kwargs = estimator, args, kwargs


def bare(fit):
    return fit.estimator.fit(*fit.args, **fit.kwargs)


def in_a_pipeline(fit):
    # a Pipeline sets a callback context on its step while fitting it
    # (scikit-learn 1.9) and deletes it afterwards
    kwargs = {f"regressor__{key}": value for key, value in fit.kwargs.items()}
    return Pipeline([("regressor", fit.estimator)]).fit(*fit.args, **kwargs)


def in_a_search(fit):
    # one split that trains on every row: the fit sees the rows bare would
    rows = np.arange(np.shape(fit.args[0])[0])
    search = GridSearchCV(
        fit.estimator,
        {"epochs": [fit.estimator.epochs]},  # the case's own value
        cv=[(rows, rows)],
        error_score="raise",
        refit=False,
    )
    return search.fit(*fit.args, **fit.kwargs)


WAYS = {"bare": bare, "pipeline": in_a_pipeline, "grid_search": in_a_search}


def with_nan(a):
    a = a.copy()
    a[0, 0] = np.nan
    return a


def with_inf(a):
    a = a.copy()
    a[0, 0] = np.inf
    return a


def wide_model(n_features_in, n_outputs):
    inputs = keras.Input((n_features_in,))
    return keras.Model(inputs, keras.layers.Dense(n_outputs + 1)(inputs))


def two_outputs(n_features_in, n_outputs):
    inputs = keras.Input((n_features_in,))
    dense = keras.layers.Dense(n_outputs)
    return keras.Model(inputs, [dense(inputs), dense(inputs)])


def plain_model(n_features_in, n_outputs):
    inputs = keras.Input((n_features_in,))
    return keras.Model(inputs, keras.layers.Dense(n_outputs)(inputs))


def not_a_model(n_features_in, n_outputs):
    return keras.layers.Dense(n_outputs)


@pytest.fixture(scope="module")
def fitted():
    frame = pd.DataFrame(X, columns=list("abc"))
    return est().fit(frame, Y)


def frame(a, columns="abc"):
    return pd.DataFrame(a, columns=list(columns))


# (id, call, exception type, regex the message must match)
FIT_CASES = [
    # data
    ("X NaN", lambda: Fit(est(), with_nan(X), Y), ValueError, "Input X contains NaN"),
    ("X inf", lambda: Fit(est(), with_inf(X), Y), ValueError, "Input X contains inf"),
    ("y NaN", lambda: Fit(est(), X, with_nan(Y)), ValueError, "Input y contains NaN"),
    ("y inf", lambda: Fit(est(), X, with_inf(Y)), ValueError, "Input y contains inf"),
    (
        "X beyond float32",
        lambda: Fit(est(), X * 1e300, Y),
        ValueError,
        "beyond the float32 range",
    ),
    (
        "rows differ",
        lambda: Fit(est(), X, Y[:-1]),
        ValueError,
        "inconsistent numbers of samples: \\[40, 39\\]",
    ),
    ("3-D X", lambda: Fit(est(), X[:, :, None], Y), ValueError, "dim 3"),
    (
        "object X",
        lambda: Fit(est(), np.full((40, 3), "a", dtype=object), Y),
        ValueError,
        "could not convert string to float",
    ),
    (
        "string y",
        lambda: Fit(est(), X, np.array(["a"] * 40)),
        ValueError,
        "could not convert string to float",
    ),
    (
        # sparse X is taken (as by MLPRegressor), and checked as dense X is
        "sparse X with NaN",
        lambda: Fit(est(), sp.csr_matrix(with_nan(X)), Y),
        ValueError,
        "Input X contains NaN",
    ),
    (
        "sparse array X of another length",
        lambda: Fit(est(), sp.csr_array(X[:-1]), Y),
        ValueError,
        "inconsistent numbers of samples",
    ),
    ("no rows", lambda: Fit(est(), X[:0], Y[:0]), ValueError, "0 sample\\(s\\)"),
    ("no features", lambda: Fit(est(), X[:, :0], Y), ValueError, "0 feature\\(s\\)"),
    ("width-0 y", lambda: Fit(est(), X, Y[:, :0]), ValueError, "0 feature\\(s\\)"),
    # targets whose variation float32 training cannot resolve: an error, not
    # a fit that scores R^2 = -1e9
    (
        "y of a spread of 1e-20",
        lambda: Fit(est(), X, Y * 1e-20),
        ValueError,
        "y varies too little for float32 training",
    ),
    (
        "y beyond float32",
        lambda: Fit(est(), X, Y * 1e300),
        ValueError,
        "y has values beyond the float32 range",
    ),
    (
        # squared errors of 1e40 a row: once a loss that diverged, or a fit
        # that silently scored R^2 = 0.03, not an error
        "y of a spread of 1e20",
        lambda: Fit(est(), X, Y * 1e20),
        ValueError,
        "y varies too much for float32 training: the loss of the best constant "
        "prediction is .* a row, .* in a step of 16 rows, .*StandardScaler\\)\\.$",
    ),
    (
        # the loss is weighted: weights of 1e40 carry it as far
        "sample_weight of 1e40",
        lambda: Fit(est(), X, Y, sample_weight=np.full(40, 1e40)),
        ValueError,
        "y varies too much for float32 training: .* a row \\(weighted by "
        "sample_weight\\), .*StandardScaler\\), or sample_weight\\.$",
    ),
    (
        "y varying below float32's step at its size",
        lambda: Fit(est(), X, 1e6 + Y * 1e-4),
        ValueError,
        "y's column 0 varies by .* around 1e\\+06: less than float32.*resolves",
    ),
    ("complex X", lambda: Fit(est(), X + 1j, Y), ValueError, "Complex data not"),
    ("complex y", lambda: Fit(est(), X, Y + 1j), ValueError, "Complex data not"),
    # sample_weight
    (
        "negative weights",
        lambda: Fit(est(), X, Y, sample_weight=-np.ones(40)),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    (
        "weights' length",
        lambda: Fit(est(), X, Y, sample_weight=np.ones(3)),
        ValueError,
        "sample_weight.shape == \\(3,\\), expected \\(40,\\)",
    ),
    (
        "NaN weight",
        lambda: Fit(est(), X, Y, sample_weight=with_nan(np.ones((40, 1)))[:, 0]),
        ValueError,
        "sample_weight contains NaN",
    ),
    (
        "2-D weights",
        lambda: Fit(est(), X, Y, sample_weight=np.ones((40, 2))),
        ValueError,
        "Sample weights must be 1D",
    ),
    (
        "all-zero weights",
        lambda: Fit(est(), X, Y, sample_weight=np.zeros(40)),
        ValueError,
        "at least one non-zero",
    ),
    # the user's model
    (
        "model returns a layer",
        lambda: Fit(est(model=not_a_model), X, Y),
        ValueError,
        "'model' callable must return a built keras.Model",
    ),
    (
        "model of the wrong width",
        lambda: Fit(est(model=wide_model), X, Y),
        ValueError,
        "output\\(s\\) of width 4, but y has 3 column\\(s\\)",
    ),
    (
        "model with two outputs",
        lambda: Fit(est(model=two_outputs), X, Y),
        ValueError,
        "2 output\\(s\\)",
    ),
    # hyperparameters checked by scikit-learn's _parameter_constraints
    *[
        (
            f"{name}={value!r}",
            (lambda name=name, value=value: Fit(est(**{name: value}), X, Y)),
            InvalidParameterError,
            f"The '{name}' parameter of ConstrainedRegressor must be",
        )
        for name, value in [
            ("model", 3),
            ("hidden_layer_sizes", -1),
            ("hidden_layer_sizes", "a"),
            ("activation", 3),
            ("penalty", "l3"),
            ("alpha", -1.0),
            ("alpha", np.nan),
            ("alpha", np.inf),
            ("alpha", "large"),
            ("l1_ratio", 2.0),
            ("kernel_constraint", 3),
            ("bias_constraint", 3),
            ("output_strategy", "clip"),
            ("output_penalty", "huber"),
            ("output_penalty_strength", -1.0),
            ("loss", "huber"),
            ("ensemble_size", 0),
            ("ensemble_size", 2.5),
            ("epochs", 0),
            ("epochs", 1.5),
            ("batch_size", 0),
            ("learning_rate", 0.0),
            ("learning_rate", np.inf),
            ("learning_rate", np.nan),
            ("early_stopping", "yes"),
            ("validation_fraction", 0.0),
            ("validation_fraction", 1.0),
            ("n_iter_no_change", 0),
            ("tol", -1.0),
            ("tol", np.nan),
            ("shuffle", "yes"),
            ("warm_start", "yes"),
            ("random_state", "a"),
            ("verbose", "a"),
        ]
    ],
    # hyperparameters checked by us; the output set's by skconstrain._sets, with
    # the texts every estimator, layer and projection gives
    *[
        (
            f"{name}={value!r}",
            (lambda name=name, value=value: Fit(est(**{name: value}), X, Y)),
            ValueError,
            message,
        )
        for name, value, message in [
            (
                "output_constraint",
                "circle",
                "'output_constraint' parameter must be one",
            ),
            ("output_radius", -1.0, "'output_radius' parameter must be a finite real"),
            ("output_radius", 0.0, "'output_radius' parameter must be a finite real"),
            ("output_radius", np.nan, "'output_radius' parameter must be a finite"),
            ("output_radius", np.inf, "'output_radius' parameter must be a finite"),
            ("output_lower", "a", "'output_lower' parameter must be None, a real"),
            ("output_upper", "a", "'output_upper' parameter must be None, a real"),
        ]
    ],
    (
        "feature_encoding=quantile",
        lambda: Fit(est(feature_encoding="quantile"), X, Y),
        ValueError,
        "'feature_encoding' parameter of ConstrainedRegressor must be a str among",
    ),
    (
        "feature_encoding=piecewise_linear on sparse X",
        lambda: Fit(est(feature_encoding="piecewise_linear"), sp.csr_matrix(X), Y),
        ValueError,
        "'feature_encoding' parameter of ConstrainedRegressor: 'piecewise_linear' "
        "encodes dense features; X is sparse",
    ),
    (
        "hidden_layer_sizes=(0,)",
        lambda: Fit(est(hidden_layer_sizes=(0,)), X, Y),
        ValueError,
        "'hidden_layer_sizes' parameter must be a tuple of positive integers",
    ),
    (
        "hidden_layer_sizes=(3.5,)",
        lambda: Fit(est(hidden_layer_sizes=(3.5,)), X, Y),
        ValueError,
        "'hidden_layer_sizes' parameter must be a tuple of positive integers",
    ),
    (
        "hidden_layer_sizes=()",
        lambda: Fit(est(hidden_layer_sizes=()), X, Y),
        ValueError,
        "'hidden_layer_sizes' parameter must be a tuple of positive integers",
    ),
    (
        "activation name",
        lambda: Fit(est(activation="nope"), X, Y),
        ValueError,
        "The 'activation' parameter of ConstrainedRegressor must be the name of "
        "a Keras activation .*or a callable; got 'nope'",
    ),
    (
        "monotonic_cst=[2, 0, 0]",
        lambda: Fit(est(monotonic_cst=[2, 0, 0]), X, Y),
        ValueError,
        re.escape("monotonic_cst must be an array-like of -1, 0 or 1. Observed "),
    ),
    (
        "monotonic_cst='up'",
        lambda: Fit(est(monotonic_cst="up"), X, Y),
        ValueError,
        "'monotonic_cst' parameter of ConstrainedRegressor must be an array-like",
    ),
    (
        "kernel_constraint name",
        lambda: Fit(est(kernel_constraint="nope"), X, Y),
        ValueError,
        "Unknown constraint 'nope'",
    ),
    (
        "bias_constraint name",
        lambda: Fit(est(bias_constraint="nope"), X, Y),
        ValueError,
        "Unknown constraint 'nope'",
    ),
    (
        "output_lower's length",
        lambda: Fit(est(output_constraint="box", output_lower=[0, 0]), X, Y),
        ValueError,
        "'output_lower' parameter has length 2, but the data has 3 columns",
    ),
    (
        "output_upper's length",
        lambda: Fit(est(output_constraint="box", output_upper=[1, 1, 1, 1]), X, Y),
        ValueError,
        "'output_upper' parameter has length 4",
    ),
    (
        "output_lower > output_upper",
        lambda: Fit(est(output_constraint="box", output_lower=1, output_upper=0), X, Y),
        ValueError,
        "'output_lower' parameter must be <= 'output_upper'",
    ),
    (
        "output_lower NaN",
        lambda: Fit(est(output_constraint="box", output_lower=np.nan), X, Y),
        ValueError,
        "'output_lower' parameter must not contain NaN",
    ),
    (
        "output_lower 2-D",
        lambda: Fit(est(output_constraint="box", output_lower=[[0, 0, 0]]), X, Y),
        ValueError,
        "'output_lower' parameter must be None, a real number or a 1-D array",
    ),
    (
        "box without bounds",
        lambda: Fit(est(output_constraint="box"), X, Y),
        ValueError,
        "The set 'box' needs 'output_lower', 'output_upper' or both",
    ),
    # divergence (the default network standardises X; a model of one's own
    # does not)
    (
        "X times 1e30, a model callable",
        lambda: Fit(est(model=plain_model), X * 1e30, Y),
        FloatingPointError,
        "training diverged. Scale X and y .*StandardScaler.*TransformedTarget"
        "Regressor.*learning_rate",
    ),
    *[
        (
            f"learning_rate=1e30, {strategy}",
            (
                lambda strategy=strategy: Fit(
                    est(
                        output_constraint="simplex",
                        output_strategy=strategy,
                        learning_rate=1e30,
                    ),
                    X,
                    Y,
                )
            ),
            FloatingPointError,
            "training diverged",
        )
        for strategy in ("project", "activation", "penalty", "post")
    ],
    # targets whose squared errors float32 cannot carry: refused before
    # training (they once diverged at the first epoch)
    *[
        (
            f"y times 1e30, {strategy}",
            (
                lambda strategy=strategy: Fit(
                    est(output_constraint="simplex", output_strategy=strategy),
                    X,
                    Y * 1e30,
                )
            ),
            ValueError,
            "y varies too much for float32 training",
        )
        for strategy in ("project", "activation", "penalty", "post")
    ],
]


@pytest.mark.filterwarnings("ignore:overflow encountered")
@pytest.mark.parametrize(
    "call, error, message",
    [case[1:] for case in FIT_CASES],
    ids=[case[0] for case in FIT_CASES],
)
@pytest.mark.parametrize("way", WAYS)
def test_fit_rejects_bad_input_with_a_clear_message(call, error, message, way):
    # bare, in a Pipeline and in GridSearchCV(error_score="raise"): the same
    # error, never one of the wrapper's about an attribute a failed fit lost
    with pytest.raises(error, match=message) as info:
        WAYS[way](call())
    # ours or scikit-learn's, never an exception class of TensorFlow or Keras
    assert not type(info.value).__module__.startswith(("tensorflow", "keras"))
    assert "Exception encountered when calling" not in str(info.value)


def diverge(model, X=X):
    """Fit ``model`` at a learning rate whose first epoch makes the loss
    NaN (a failure in the training); its own learning rate is kept."""
    rate = model.learning_rate
    try:
        with pytest.raises(FloatingPointError, match="training diverged"):
            model.set_params(learning_rate=1e30).fit(X, Y)
    finally:
        model.set_params(learning_rate=rate)


@pytest.mark.parametrize("search", [False, True], ids=["fit", "stacked_search"])
def test_targets_float32_cannot_carry_are_refused_before_any_warning(search):
    """The refusal comes first: not a warning that the targets lie far off
    the output set (with an output_radius of 1e30 to try), then the error."""
    import warnings

    model = est(output_constraint="simplex")
    if search:
        model = ConstrainedRegressorCV(
            alphas=[1e-3, 1e-1], cv=2, output_constraint="simplex", **FAST
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="y varies too much for float32"):
            model.fit(X, Y * 1e30)


@pytest.mark.parametrize("strategy", ["project", "post", None])
def test_a_failed_first_fit_leaves_nothing_fitted(strategy):
    model = est(output_constraint=strategy and "simplex", output_strategy=strategy)
    if strategy is None:
        model.set_params(output_strategy="project")
    diverge(model)
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_a_failed_refit_leaves_nothing_half_fitted():
    import sklearn
    from sklearn.utils.validation import check_is_fitted

    model = est(output_constraint="simplex").fit(frame(X, "abc"), Y)
    with sklearn.config_context(enable_metadata_routing=True):
        model.set_fit_request(sample_weight=True)
    assert model.feature_names_in_.tolist() == ["a", "b", "c"]
    diverge(model)  # nothing of either fit stays
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    left = set(vars(model)) - set(model.get_params(deep=False))
    assert left == {"_metadata_request"}  # set_fit_request's, kept
    # what scikit-learn sets on an estimator from outside stays, fitted or
    # not (a Pipeline's callback context on its step, say)
    model = est()
    model._parent_callback_ctx = context = object()
    diverge(model)
    assert model._parent_callback_ctx is context
    model.fit(X, Y)
    diverge(model)
    assert model._parent_callback_ctx is context
    assert set(vars(model)) - set(model.get_params(deep=False)) == {
        "_parent_callback_ctx"
    }
    # a first fit that fails after reading the data leaves nothing either
    model = est(monotonic_cst=[1, 0])  # 3 features
    with pytest.raises(ValueError, match="monotonic_cst"):
        model.fit(X, Y)
    assert set(vars(model)) == set(model.get_params(deep=False))


PREDICT_CASES = [
    (
        "feature count",
        lambda m: m.predict(X[:, :2]),
        ValueError,
        "X has 2 features, but ConstrainedRegressor is expecting 3",
    ),
    (
        "feature names",
        lambda m: m.predict(frame(X, "xyz")),
        ValueError,
        "feature names should match those that were passed during fit",
    ),
    ("no rows", lambda m: m.predict(frame(X[:0])), ValueError, "0 sample\\(s\\)"),
    ("NaN", lambda m: m.predict(frame(with_nan(X))), ValueError, "contains NaN"),
    (
        "sparse of other width",
        lambda m: m.predict(sp.csr_matrix(X[:, :2])),
        ValueError,
        "X has 2 features, but ConstrainedRegressor is expecting 3",
    ),
    (
        "partial_fit with other targets",
        lambda m: m.partial_fit(frame(X), Y[:, :2]),
        ValueError,
        "y has 2 column\\(s\\), but ConstrainedRegressor was fitted with 3",
    ),
    (
        "partial_fit with other features",
        lambda m: m.partial_fit(X[:, :2], Y),
        ValueError,
        "X has 2 features",
    ),
]


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize(
    "call, error, message",
    [case[1:] for case in PREDICT_CASES],
    ids=[case[0] for case in PREDICT_CASES],
)
def test_fitted_estimator_rejects_bad_input(fitted, call, error, message):
    with pytest.raises(error, match=message):
        call(fitted)


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        est().predict(X)


PROJECTION_CASES = [
    (
        "sparse onto the simplex",
        lambda: project(sp.csr_matrix(Y), "simplex"),
        TypeError,
        "'simplex' projection of sparse input is not sparse: its zeros become "
        "positive.*\\.toarray\\(\\)",
    ),
    (
        "sparse onto a box without 0",
        lambda: project(sp.csr_array(Y), "box", lower=0.5),
        TypeError,
        "'box' projection of sparse input is not sparse: its zeros move to the bounds",
    ),
    (
        "sparse onto the sphere, zero rows uniform",
        lambda: project(sp.csr_array(Y), "l2_sphere", zero_norm="uniform"),
        TypeError,
        "zero_norm='uniform' turns zero rows into dense rows",
    ),
    (
        "sparse NaN",
        lambda: project(sp.csr_array(with_nan(Y)), "l2_ball"),
        ValueError,
        "NaN or infinity",
    ),
    (
        "sparse complex",
        lambda: project(sp.csr_array(Y + 1j), "l2_ball"),
        ValueError,
        "must contain real numbers",
    ),
    (
        "strings",
        lambda: project(np.array([["a"]]), "l2_ball"),
        ValueError,
        "must contain real numbers",
    ),
    (
        "complex",
        lambda: project(Y + 1j, "simplex"),
        ValueError,
        "must contain real numbers",
    ),
    ("NaN", lambda: project(with_nan(Y), "simplex"), ValueError, "NaN or infinity"),
    ("0-D", lambda: project(np.float64(3), "simplex"), ValueError, "0 dimensions"),
    ("3-D", lambda: project(Y[:, :, None], "simplex"), ValueError, "3 dimensions"),
    ("no columns", lambda: project(Y[:, :0], "simplex"), ValueError, "one column"),
    ("set name", lambda: project(Y, "circle"), ValueError, "'set' parameter must be"),
    (
        "radius",
        lambda: project(Y, "l2_ball", radius=-1),
        ValueError,
        "'radius' parameter must be a finite real number > 0",
    ),
    (
        "bounds' length",
        lambda: project(Y, "box", lower=[0, 0], upper=1),
        ValueError,
        "'lower' parameter has length 2",
    ),
    (
        "a parameter the set does not take",
        lambda: project(Y, "simplex", lower=0),
        ValueError,
        "takes the parameters",
    ),
    (
        "distance of sparse to the simplex",
        lambda: distance(sp.csr_matrix(Y), "simplex"),
        TypeError,
        "not sparse",
    ),
    (
        "NormProjector NaN",
        lambda: NormProjector().fit_transform(with_nan(Y)),
        ValueError,
        "Input X contains NaN",
    ),
    (
        "NormProjector set",
        lambda: NormProjector(set="circle").fit_transform(Y),
        ValueError,
        "'set' parameter must be one of",
    ),
    (
        "NormProjector radius",
        lambda: NormProjector(radius=-1).fit_transform(Y),
        ValueError,
        "'radius' parameter must be a finite real number > 0; got -1",
    ),
    (
        "NormProjector bounds' length",
        lambda: NormProjector(set="box", lower=[0, 0]).fit_transform(Y),
        ValueError,
        "'lower' parameter has length 2",
    ),
    (
        "ProjectedRegressor regressor",
        lambda: ProjectedRegressor(3).fit(X, Y),
        InvalidParameterError,
        "'regressor' parameter of ProjectedRegressor must be",
    ),
    (
        "ProjectedRegressor projector",
        lambda: ProjectedRegressor(Ridge(), projector=3).fit(X, Y),
        (InvalidParameterError, TypeError),
        "projector",
    ),
]


@pytest.mark.parametrize(
    "call, error, message",
    [case[1:] for case in PROJECTION_CASES],
    ids=[case[0] for case in PROJECTION_CASES],
)
def test_projections_reject_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_every_hyperparameter_has_a_bad_input_case():
    named = {
        re.match(r"(\w+)=", case[0]).group(1)
        for case in FIT_CASES
        if re.match(r"\w+=", case[0])
    }
    missing = set(ConstrainedRegressor().get_params()) - named
    assert not missing, f"no bad-value case for {sorted(missing)}"


#: One bad value of every hyperparameter of the three estimators.
BAD_VALUES = {
    "model": 3,
    "hidden_layer_sizes": (0,),
    "activation": "nope",
    "feature_encoding": "quantile",
    "monotonic_cst": [2, 0, 0],
    "penalty": "l3",
    "alpha": -1.0,
    "l1_ratio": 2.0,
    "kernel_constraint": "nope",
    "bias_constraint": "nope",
    "output_constraint": "circle",
    "output_radius": -1.0,
    "output_lower": "a",
    "output_upper": "a",
    "output_strategy": "clip",
    "output_penalty": "huber",
    "output_penalty_strength": -1.0,
    "loss": "huber",
    "ensemble_size": 0,
    "epochs": 0,
    "batch_size": 0,
    "learning_rate": 0.0,
    "early_stopping": "yes",
    "validation_fraction": 1.0,
    "n_iter_no_change": 0,
    "tol": -1.0,
    "shuffle": "yes",
    "warm_start": "yes",
    "random_state": "a",
    "verbose": "a",
    "alphas": [-1.0],
    "cv": "a",
    "scoring": "nope",
    "refit": 3,
    "n_jobs": 1.5,
    "quantiles": [1.5],
    "conformal": 0.999,
}
ESTIMATORS = [
    ConstrainedRegressor,
    ConstrainedRegressorCV,
    ConstrainedQuantileRegressor,
]


@pytest.mark.parametrize(
    "cls, name",
    [(cls, name) for cls in ESTIMATORS for name in sorted(cls().get_params())],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_bad_hyperparameter_is_named_before_any_training(cls, name, monkeypatch):
    """Each hyperparameter of each estimator: a bad value is an error of ours
    (or scikit-learn's parameter validation) naming it, raised before any
    network trains, never an error from inside Keras."""
    import skconstrain._training as training

    def no_training(*args, **kwargs):
        raise AssertionError(f"a network trained with {name}={BAD_VALUES[name]!r}")

    monkeypatch.setattr(training, "borrow", no_training)
    rows = np.random.default_rng(1).normal(size=(40, 3))
    y = rows[:, 0] if cls is ConstrainedQuantileRegressor else Y
    est = cls(hidden_layer_sizes=(4,), epochs=2).set_params(**{name: BAD_VALUES[name]})
    with pytest.raises((ValueError, TypeError)) as info:
        est.fit(rows, y)
    assert re.search(rf"\b{name}\b", str(info.value)), info.value
    assert not type(info.value).__module__.startswith(("tensorflow", "keras", "jax"))
