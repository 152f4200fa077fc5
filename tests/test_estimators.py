"""ConstrainedRegressor: strategies, weight settings, workflows, persistence, errors."""

import importlib.util
import logging
import os
import pickle
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy

import joblib
import keras
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _reference import violation
from sklearn.base import clone, is_regressor
from sklearn.ensemble import StackingRegressor, VotingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import make_constrained_regression
from skconstrain.keras import L1, MaxNorm, Orthogonality
from skconstrain.projections import project

FAST = dict(hidden_layer_sizes=(16,), epochs=8, random_state=0, learning_rate=0.01)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(160, 5)), columns=list("abcde"))
    raw = np.column_stack([X.a + X.b, X.c * 2, np.sin(X.d)])
    Y = pd.DataFrame(project(raw, "simplex"), columns=["w1", "w2", "w3"])
    return X, Y


# ---------------------------------------------------------------- strategies


@pytest.mark.parametrize(
    "set_name", ["simplex", "l1_ball", "l2_sphere", "l2_ball", "linf_ball", "nonneg"]
)
@pytest.mark.parametrize("strategy", ["project", "activation", "post"])
def test_exact_strategies_predict_in_set(frames, set_name, strategy):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST, output_constraint=set_name, output_radius=0.5, output_strategy=strategy
    ).fit(X, Y)
    pred = reg.predict(X)
    assert violation(pred, set_name, radius=0.5) <= 1e-5
    assert reg.constraint_violation_["fraction"] == 0.0
    assert reg.constraint_violation_["max"] <= 1e-5


@pytest.mark.parametrize("strategy", ["project", "activation"])
def test_box_output(frames, strategy):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST,
        output_constraint="box",
        output_lower=[0, 0.1, 0.2],
        output_upper=0.3,
        output_strategy=strategy,
    ).fit(X, Y)
    pred = reg.predict(X)
    assert (pred >= np.array([0, 0.1, 0.2]) - 1e-7).all() and (pred <= 0.3 + 1e-7).all()


def test_activation_strategy_learns_proportions(frames):
    X, Y = frames
    reg = ConstrainedRegressor(
        hidden_layer_sizes=(16,),
        output_constraint="simplex",
        output_strategy="activation",
        epochs=60,
        learning_rate=0.01,
        random_state=0,
    ).fit(X, Y)
    head = reg.model_.layers[-1]
    assert type(head).__name__ == "OutputActivation"
    assert reg.score(X, Y) > 0.5


def test_penalty_strategy_reports_violation_and_strength_matters(frames):
    X, Y = frames
    Y_far = 3 * Y  # targets outside the unit simplex: the penalty pulls back
    results = {}
    for strength in (0.0, 30.0):
        reg = ConstrainedRegressor(
            **{**FAST, "epochs": 100},
            output_constraint="simplex",
            output_strategy="penalty",
            output_penalty_strength=strength,
        ).fit(X, Y_far)
        v = reg.constraint_violation_
        assert set(v) == {"max", "fraction", "tol"} and 0 <= v["fraction"] <= 1
        dist = np.linalg.norm(
            reg.predict(X) - project(reg.predict(X), "simplex"), axis=1
        )
        assert v["max"] == pytest.approx(dist.max())
        results[strength] = dist.mean()
    assert results[30.0] < 0.5 * results[0.0]


@pytest.mark.parametrize("kind", ["log_barrier", "reciprocal"])
def test_barrier_penalties_train_finite(frames, kind):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST,
        output_constraint="l2_ball",
        output_strategy="penalty",
        output_penalty=kind,
        output_penalty_strength=0.1,
    ).fit(X, 3 * Y)
    assert np.isfinite(reg.loss_curve_).all()


def test_no_output_constraint(frames):
    X, Y = frames
    reg = ConstrainedRegressor(**FAST).fit(X, Y)
    assert reg.constraint_violation_ is None
    assert reg.n_iter_ == len(reg.loss_curve_) == len(reg.history_["loss"]) <= 8
    assert reg.n_outputs_ == 3 and reg.n_features_in_ == 5


# ------------------------------------------------------------ weight settings


def test_penalty_is_scaled_by_alpha_over_n(frames):
    """The penalty weighs ``alpha / n`` against the squared error divided by
    the targets' variance ``s``: in the loss (in y's units), ``s * alpha / n``."""
    X, Y = frames
    s = float(np.var(np.asarray(Y), axis=0).mean())
    reg = ConstrainedRegressor(**FAST, penalty="l2", alpha=0.5).fit(X, Y)
    kernels = [w for w in reg.model_.trainable_weights if "kernel" in w.path]
    expected = (
        s * 0.5 / len(X) * sum(float(np.sum(np.asarray(k) ** 2)) for k in kernels)
    )
    assert float(sum(reg.model_.losses)) == pytest.approx(expected, rel=1e-5)
    reg = ConstrainedRegressor(**FAST, penalty=L1(2.0), alpha=0.5).fit(X, Y)
    kernels = [w for w in reg.model_.trainable_weights if "kernel" in w.path]
    expected = (
        s
        * 0.5
        / len(X)
        * 2.0
        * sum(float(np.abs(np.asarray(k)).sum()) for k in kernels)
    )
    assert float(sum(reg.model_.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "penalty", ["l1", "l2", "elasticnet", "orthogonality", "clip", "group_lasso"]
)
def test_every_penalty_name_trains(frames, penalty):
    X, Y = frames
    reg = ConstrainedRegressor(**FAST, penalty=penalty, alpha=1e-2).fit(X, Y)
    assert np.isfinite(reg.predict(X)).all()
    assert len(reg.model_.losses) == 2  # one per kernel


def test_callable_penalty(frames):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST, penalty=lambda w: keras.ops.sum(keras.ops.abs(w)), alpha=1.0
    ).fit(X, Y)
    assert len(reg.model_.losses) == 2


def _conv_model(n_features_in, n_outputs):
    return keras.Sequential(
        [
            keras.Input((n_features_in,)),
            keras.layers.Reshape((n_features_in, 1)),
            keras.layers.Conv1D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(n_outputs),
        ]
    )


def test_user_model_gets_constraints_and_penalty(frames):
    X, Y = frames
    reg = ConstrainedRegressor(
        _conv_model,
        kernel_constraint=MaxNorm(max_value=0.3, axis=0),
        penalty="l2",
        alpha=1.0,
        epochs=5,
        random_state=0,
        learning_rate=0.05,
    ).fit(X, Y)
    conv = next(x for x in reg.model_.layers if isinstance(x, keras.layers.Conv1D))
    dense = reg.model_.layers[-1]
    norms_conv = np.linalg.norm(np.asarray(conv.kernel).reshape(-1, 4), axis=0)
    norms_dense = np.linalg.norm(np.asarray(dense.kernel), axis=0)
    assert norms_conv.max() <= 0.3 + 1e-6 and norms_dense.max() <= 0.3 + 1e-6
    assert len(reg.model_.losses) == 2  # the conv and the dense kernel
    free = ConstrainedRegressor(
        _conv_model, penalty=None, epochs=5, random_state=0
    ).fit(X, Y)
    assert len(free.model_.losses) == 0
    conv_free = next(
        x for x in free.model_.layers if isinstance(x, keras.layers.Conv1D)
    )
    assert (
        np.linalg.norm(np.asarray(conv_free.kernel).reshape(-1, 4), axis=0).max() > 0.3
    )


def test_user_model_with_output_projection(frames):
    X, Y = frames
    reg = ConstrainedRegressor(
        _conv_model, output_constraint="l1_ball", epochs=3, random_state=0
    ).fit(X, Y)
    assert violation(reg.predict(X), "l1_ball") <= 1e-5


# ------------------------------------------------------------------ workflows


def test_grid_search_pipeline_dataframes_nested_keys(frames):
    X, Y = frames
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "reg",
                ConstrainedRegressor(
                    **FAST, kernel_constraint=MaxNorm(1.0), penalty=Orthogonality()
                ),
            ),
        ]
    )
    grid = GridSearchCV(
        pipe,
        {
            "reg__alpha": [1e-4, 1e-1],
            "reg__kernel_constraint__max_value": [0.5, 2.0],
            "reg__output_strategy": ["project", "post"],
            "reg__output_constraint": ["simplex"],
        },
        cv=2,
    ).fit(X, Y)
    best = grid.best_estimator_[-1]
    assert best.kernel_constraint.max_value in (0.5, 2.0)
    # the nested parameter reached the network
    first = next(x for x in best.model_.layers if isinstance(x, keras.layers.Dense))
    kernel = first.kernel
    assert kernel.constraint.max_value == best.kernel_constraint.max_value
    assert violation(grid.predict(X), "simplex") <= 1e-5
    assert np.isfinite(cross_val_score(pipe, X, Y, cv=2)).all()


@pytest.mark.parametrize(
    "named, nested",
    [
        (dict(kernel_constraint="max_norm"), {"kernel_constraint__max_value": 0.5}),
        (dict(bias_constraint="min_max_norm"), {"bias_constraint__max_value": 0.8}),
        (dict(penalty="l1"), {"penalty__factor": 2.0}),
        (
            dict(penalty="elasticnet", l1_ratio=0.2),
            {"penalty__l1_ratio": 0.9},
        ),
    ],
    ids=["kernel_constraint", "bias_constraint", "penalty", "elasticnet"],
)
def test_nested_keys_work_on_a_constraint_or_penalty_given_by_name(
    frames, named, nested
):
    X, Y = frames
    name, key = next(iter(named)), next(iter(nested))
    # set_params: the name becomes its object, whose parameter is set
    est = ConstrainedRegressor(**FAST, **named).set_params(**nested)
    assert getattr(est, name).get_params()[key.partition("__")[2]] == nested[key]
    # a penalty name becomes the regularizer a fit reads the name as (factor
    # 1: alpha stays the strength), so the same fit as the name
    if name == "penalty" and "factor" not in key:
        by_name = ConstrainedRegressor(**FAST, **named, alpha=0.1)
        by_name.set_params(l1_ratio=nested[key])
        by_object = ConstrainedRegressor(**FAST, **named, alpha=0.1)
        by_object.set_params(**nested)
        np.testing.assert_allclose(
            by_name.fit(X, Y).predict(X), by_object.fit(X, Y).predict(X), atol=1e-6
        )
    # in a Pipeline and in GridSearchCV, as README's table shows them
    pipe = Pipeline([("reg", ConstrainedRegressor(**FAST, **named))])
    pipe.set_params(**{f"reg__{key}": nested[key]})
    assert getattr(pipe[-1], name).get_params()[key.partition("__")[2]] == (nested[key])
    grid = GridSearchCV(
        ConstrainedRegressor(**FAST, **named),
        {key: [nested[key], nested[key] / 2]},
        cv=2,
    ).fit(X, Y)
    assert [p[key] for p in grid.cv_results_["params"]] == [
        nested[key],
        nested[key] / 2,
    ]
    assert getattr(grid.best_estimator_, name).get_params()[key.partition("__")[2]] in (
        nested[key],
        nested[key] / 2,
    )
    # a parameter the named object does not take: its error, naming it
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        ConstrainedRegressor(**named).set_params(**{f"{name}__nope": 1})


@pytest.mark.slow
def test_grid_search_in_parallel(frames):
    X, Y = frames
    grid = GridSearchCV(
        ConstrainedRegressor(**FAST), {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2
    ).fit(X, Y)
    assert grid.best_estimator_.predict(X).shape == Y.shape


def test_early_stopping_and_sample_weight(frames):
    X, Y = frames
    reg = ConstrainedRegressor(
        **{**FAST, "epochs": 50},
        early_stopping=True,
        n_iter_no_change=2,
        tol=10.0,  # no epoch improves that much: stop after the patience
        validation_fraction=0.2,
    ).fit(X, Y, sample_weight=np.linspace(0.5, 1.5, len(X)))
    # the warm-up (1 000 updates, at most half of the 50 epochs: 25 on these
    # few rows), then three plateaus of 2 epochs (two decays, a stop)
    assert len(reg.history_["val_loss"]) == reg.n_iter_ == 25 + 2 * 3


def test_predictions_do_not_depend_on_batch_composition(frames):
    X, Y = frames
    reg = ConstrainedRegressor(**FAST).fit(X, Y)
    full = reg.predict(X)
    perm = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_allclose(
        reg.predict(X.iloc[perm]), full[perm], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(reg.predict(X.iloc[:7]), full[:7], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- persistence


def test_pickle_joblib_and_keras_save(frames, tmp_path):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST,
        penalty="elasticnet",
        kernel_constraint="l1_ball",
        output_constraint="simplex",
    ).fit(X, Y)
    pred = reg.predict(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), pred)
    joblib.dump(reg, tmp_path / "reg.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "reg.joblib").predict(X), pred)
    reg.model_.save(tmp_path / "net.keras")
    loaded = keras.saving.load_model(tmp_path / "net.keras")
    direct = keras.ops.convert_to_numpy(loaded(X.to_numpy()))
    # Keras's own call computes in float32, predict in float64
    np.testing.assert_allclose(direct, pred, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "params, match",
    [
        ({"penalty": "l3"}, "'penalty' parameter of ConstrainedRegressor"),
        ({"kernel_constraint": "foo"}, "Unknown constraint 'foo'"),
        ({"output_constraint": "cube"}, "'output_constraint' parameter"),
        ({"output_strategy": "clip"}, "'output_strategy' parameter"),
        ({"alpha": -1.0}, "'alpha' parameter of ConstrainedRegressor"),
        ({"output_radius": 0}, "'output_radius' parameter"),
        ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
        ({"output_constraint": "box", "output_lower": 1, "output_upper": 0}, "lower"),
        ({"model": lambda: "not a model"}, "must return a built keras.Model"),
    ],
)
def test_bad_hyperparameters_fail_at_fit(frames, params, match):
    X, Y = frames
    reg = ConstrainedRegressor(**{**FAST, **params})  # __init__ never validates
    with pytest.raises(ValueError, match=match):
        reg.fit(X, Y)


def test_bad_data(frames):
    X, Y = frames
    Xn = X.copy()
    Xn.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        ConstrainedRegressor(**FAST).fit(Xn, Y)
    with pytest.raises(ValueError, match="Input y contains infinity"):
        ConstrainedRegressor(**FAST).fit(X, Y.replace(Y.iloc[0, 0], np.inf))
    with pytest.raises(ValueError, match="float32 range"):
        ConstrainedRegressor(**FAST).fit(X * 1e300, Y)
    reg = ConstrainedRegressor(**FAST).fit(X, Y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        reg.predict(Xn)


# ------------------------------------------------ scikit-learn's promises


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    return X, X @ rng.normal(size=(3, 2))


def test_is_a_regressor_for_sklearn_ensembles(small):
    X, Y = small
    assert is_regressor(ConstrainedRegressor())
    reg = ConstrainedRegressor(**FAST)
    VotingRegressor([("net", reg), ("ridge", Ridge())]).fit(X, Y[:, 0])
    StackingRegressor([("net", reg), ("ridge", Ridge())], cv=2).fit(X, Y[:, 0])


def test_output_width_mismatch_is_an_error(small):
    X, Y = small

    def one_unit(n_features_in):
        return keras.Sequential([keras.Input((n_features_in,)), keras.layers.Dense(1)])

    with pytest.raises(ValueError, match=r"output\(s\) of width 1, but y has 2 col"):
        ConstrainedRegressor(one_unit, epochs=1).fit(X, Y)


def test_feature_names_and_count(small):
    X, Y = small
    ours = ConstrainedRegressor(**FAST).fit(pd.DataFrame(X, columns=list("abc")), Y)
    assert list(ours.feature_names_in_) == ["a", "b", "c"]
    with (
        pytest.warns(UserWarning, match="does not have valid feature names"),
        pytest.raises(ValueError, match="X has 2 features, but ConstrainedRegressor"),
    ):
        ours.predict(X[:, :2])
    with pytest.raises(ValueError, match="feature names should match"):
        ours.predict(pd.DataFrame(X, columns=list("abd")))


def test_prediction_shapes(small):
    X, Y = small
    assert ConstrainedRegressor(**FAST).fit(X, Y[:, 0]).predict(X).shape == (50,)
    reg = ConstrainedRegressor(**FAST).fit(X, Y)
    assert reg.predict(X).shape == (50, 2)
    assert reg.predict(X[:1]).shape == (1, 2)
    assert ConstrainedRegressor(**FAST).fit(X, Y[:, :1]).predict(X).shape == (50, 1)


def test_same_random_state_same_predictions_and_global_rngs_untouched(small):
    X, Y = small
    first = ConstrainedRegressor(**FAST).fit(X, Y).predict(X)
    keras.random.uniform((3,))  # move Keras's global seed generator on
    np.random.seed(123)  # noqa: NPY002 (the global RNG is what is checked)
    expected = np.random.random_sample()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002 (the global RNG is what is checked)
    second = ConstrainedRegressor(**FAST).fit(X, Y).predict(X)
    np.testing.assert_array_equal(first, second)
    assert np.random.random_sample() == expected  # noqa: NPY002
    other = ConstrainedRegressor(**{**FAST, "random_state": 1}).fit(X, Y)
    assert not np.array_equal(other.predict(X), first)


def test_many_fits_trigger_no_retracing_warning(small, caplog):
    X, Y = small
    with caplog.at_level(logging.WARNING):
        grid = {"alpha": [1e-4, 1e-2]}
        GridSearchCV(ConstrainedRegressor(**FAST), grid, cv=3).fit(X, Y)
        reg = ConstrainedRegressor(**FAST).fit(X, Y)
        for rows in (1, 2, 3, 5, 8, 13, 21):
            reg.predict(X[:rows])
    assert "retracing" not in caplog.text


# ------------------------------------------------ scale-free early stopping


def _scaled_net(factor):
    """An MLP whose output is multiplied by ``factor``: training on ``factor * y``
    is then the same computation in other units."""

    def build(n_features_in, n_outputs):
        return keras.Sequential(
            [
                keras.Input((n_features_in,)),
                keras.layers.Dense(16, activation="relu"),
                keras.layers.Dense(n_outputs),
                keras.layers.Rescaling(factor),
            ]
        )

    return build


@pytest.mark.parametrize("early_stopping", [False, True])
def test_stopping_does_not_depend_on_the_targets_units(early_stopping):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = np.tanh(X[:, 0] + 0.5 * X[:, 1]) + 0.1 * rng.normal(size=300)
    n_iter = {}
    for factor in (1e-3, 1.0, 1e3):
        reg = ConstrainedRegressor(
            _scaled_net(factor),
            epochs=300,
            batch_size=32,
            learning_rate=1e-2,
            # the penalty of 0.4's default (MLPRegressor's): with "auto"
            # (0.75 here) the loss flattens before the stop, which then
            # moves by a few epochs with the float32 rounding of each
            # scale (156 against 162): units the rule does not read
            alpha=1e-4,
            early_stopping=early_stopping,
            random_state=0,
        ).fit(X, factor * y)
        n_iter[factor] = reg.n_iter_
        assert reg.score(X, factor * y) > 0.9
    assert n_iter[1e-3] == n_iter[1.0] == n_iter[1e3] < 300


# ------------------------------------------------ warm start and partial_fit


def test_warm_start_continues_the_network(frames):
    X, Y = frames
    reg = ConstrainedRegressor(**FAST, warm_start=True, output_constraint="simplex")
    reg.fit(X, Y)
    model, first_curve = reg.model_, list(reg.loss_curve_)
    reg.fit(X, Y)
    assert reg.model_ is model
    assert reg.n_iter_ == len(reg.loss_curve_) == 2 * len(first_curve)
    assert reg.loss_curve_[: len(first_curve)] == first_curve
    assert reg.loss_curve_[-1] < first_curve[-1]
    cold = ConstrainedRegressor(**FAST).fit(X, Y)
    assert cold.fit(X, Y).n_iter_ == len(first_curve)
    reg.set_params(hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match=r"\['hidden_layer_sizes'\] changed"):
        reg.fit(X, Y)
    reg.set_params(hidden_layer_sizes=FAST["hidden_layer_sizes"], alpha=0.5)
    reg.fit(X, Y)  # alpha, learning_rate, epochs and batch_size may change


@pytest.mark.parametrize("strategy", ["project", "activation", "penalty", "post"])
def test_partial_fit_builds_then_continues(frames, strategy):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST, output_constraint="l1_ball", output_strategy=strategy
    )
    for start in range(0, 160, 40):
        reg.partial_fit(X[start : start + 40], Y[start : start + 40])
    assert reg.n_iter_ == len(reg.loss_curve_) == 4
    pred = reg.predict(X)
    if strategy != "penalty":
        assert violation(pred, "l1_ball") <= 1e-5
    full = ConstrainedRegressor(**FAST, output_constraint="l1_ball").fit(X, Y)
    assert full.n_outputs_ == reg.n_outputs_ == 3
    with pytest.raises(ValueError, match="Feature names seen at fit time, yet now"):
        reg.partial_fit(X.iloc[:, :4], Y)
    with pytest.raises(ValueError, match="y has 2 column"):
        reg.partial_fit(X, Y.iloc[:, :2])


def test_partial_fit_learns(frames):
    X, Y = frames
    reg = ConstrainedRegressor(**FAST)
    losses = [reg.partial_fit(X, Y).loss_curve_[-1] for _ in range(15)]
    assert losses[-1] < 0.5 * losses[0]


def test_verbose_shows_one_progress_step_per_epoch(frames, capsys):
    X, Y = frames
    ConstrainedRegressor(**FAST).fit(X, Y)
    assert capsys.readouterr().out == ""
    ConstrainedRegressor(**FAST, verbose=1, early_stopping=True).fit(X, Y)
    out = capsys.readouterr().out
    assert "8/8" in out and "loss:" in out and "val_loss:" in out


# ------------------------------------------------------- divergence


def _plain(n_features_in, n_outputs):
    inputs = keras.Input((n_features_in,))
    return keras.Model(inputs, keras.layers.Dense(n_outputs)(inputs))


@pytest.mark.parametrize("where", ["X", "y", "learning_rate"])
def test_divergence_is_an_error_and_leaves_no_fitted_state(frames, where):
    X, Y = frames
    X_bad, Y_bad = {"X": (X * 1e30, Y), "y": (X, Y * 1e30)}.get(where, (X, Y))
    # The default network standardises X (a huge X fits: see test_inputs_in_
    # any_units); a model of one's own does not. A simplex head would keep the
    # outputs of a huge X finite: no divergence.
    reg = ConstrainedRegressor(
        **{**FAST, "learning_rate": 1e30} if where == "learning_rate" else FAST,
        model=_plain if where == "X" else None,
        output_constraint=None if where == "X" else "simplex",
    )
    if where == "y":  # squared errors beyond float32: refused before training
        error, message = ValueError, "y varies too much for float32 training"
    else:
        error, message = FloatingPointError, r"diverged.*StandardScaler"
    with pytest.raises(error, match=message):
        reg.fit(X_bad, Y_bad)
    with pytest.raises(NotFittedError):
        reg.predict(X)


# -------------------------------------------------- persistence, strategies


@pytest.mark.parametrize("strategy", ["project", "activation", "penalty", "post"])
def test_every_strategy_pickles_deepcopies_and_continues(frames, strategy):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST, penalty="l2", output_constraint="simplex", output_strategy=strategy
    ).fit(X, Y)
    pred = reg.predict(X)
    for copy in (pickle.loads(pickle.dumps(reg)), deepcopy(reg)):
        np.testing.assert_array_equal(copy.predict(X), pred)
        assert copy.constraint_violation_ == reg.constraint_violation_
    # the optimizer's state travels too: a further pass gives the same network
    restored = pickle.loads(pickle.dumps(reg))
    np.testing.assert_allclose(
        restored.partial_fit(X, Y).predict(X),
        reg.partial_fit(X, Y).predict(X),
        rtol=1e-6,
        atol=1e-7,
    )
    assert clone(reg).get_params() == reg.get_params()


@pytest.mark.slow
def test_scikeras_is_not_imported():
    code = (
        "import sys, numpy as np; from skconstrain import ConstrainedRegressor; "
        "ConstrainedRegressor(hidden_layer_sizes=(2,), epochs=1)"
        ".fit(np.ones((4, 2)), np.ones(4)); "
        "assert 'scikeras' not in sys.modules, 'scikeras imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _other_backend():
    """The backend this process does not run (the suite runs on either)."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed (make installs the jax extra)")
    return "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"


@pytest.mark.parametrize(
    "params",
    [
        dict(output_constraint="l2_sphere"),
        dict(monotonic_cst=[1, 0], output_constraint="box", output_lower=0.0),
    ],
)
@pytest.mark.slow
def test_a_model_fitted_on_one_backend_predicts_the_same_on_the_other(params):
    """A fitted model (its network saved as .keras bytes) loads under the
    other Keras backend, in another process, and predicts the same to
    float64 rounding: both predict in float64 from the same float32 weights.
    Under JAX, TensorFlow is never imported. And the same estimator fitted
    there is the same model: initial weights and row orders are drawn on
    the host with NumPy, so only float32 rounding differs (not asserted
    bit for bit: the backends' kernels and batch shapes differ)."""
    other = _other_backend()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.c_[X.sum(axis=1), X[:, 0]] if "monotonic_cst" not in params else X[:, 0]
    if params.get("output_constraint") == "box":
        y = np.abs(y)
    fitted = ConstrainedRegressor(
        hidden_layer_sizes=(8,), epochs=3, random_state=0, **params
    ).fit(X, y)
    blob = pickle.dumps((fitted, X, y))
    code = (
        "import pickle, sys, numpy as np\n"
        "from sklearn.base import clone\n"
        "model, X, y = pickle.loads(sys.stdin.buffer.read())\n"
        "fresh = clone(model).fit(X, y).predict(X)\n"
        "import keras\n"
        f"assert keras.backend.backend() == {other!r}\n"
        "pred = model.predict(X)\n"
        "model.set_params(warm_start=True).fit(X, pred)\n"
        "pickle.dumps(model)\n"
        "if keras.backend.backend() == 'jax':  # loaded, predicted, fitted, saved\n"
        "    assert 'tensorflow' not in sys.modules, 'TensorFlow imported'\n"
        "sys.stdout.buffer.write(pickle.dumps((pred, fresh)))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": other}
    done = subprocess.run(
        [sys.executable, "-c", code], input=blob, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    there, fresh = pickle.loads(done.stdout)
    np.testing.assert_allclose(there, fitted.predict(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fresh, fitted.predict(X), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_an_unsupported_keras_backend_is_a_clear_error():
    """Under a Keras backend the engine does not compile for (numpy here;
    torch alike), the estimators say which ones they train on, instead of
    failing inside Keras."""
    if importlib.util.find_spec("jax") is None:  # Keras's numpy backend uses it
        pytest.skip("JAX is not installed (make installs the jax extra)")
    code = (
        "import numpy as np\n"
        "from skconstrain import ConstrainedRegressor\n"
        "from skconstrain._training import BackendError\n"
        "try:\n"
        "    ConstrainedRegressor(epochs=1).fit(np.ones((4, 2)), np.ones(4))\n"
        "except BackendError as exc:\n"
        "    assert 'KERAS_BACKEND=jax' in str(exc), exc\n"
        "    assert \"'numpy'\" in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no BackendError')\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def _abs_sum(w):
    return keras.ops.sum(keras.ops.abs(w))


def test_plain_callable_penalty_trains_but_refuses_to_pickle(frames):
    X, Y = frames
    reg = ConstrainedRegressor(**FAST, penalty=_abs_sum).fit(X, Y)
    assert len(reg.model_.losses) == 2
    with pytest.raises(TypeError, match="'penalty' is a plain callable"):
        pickle.dumps(reg)
    pickle.loads(pickle.dumps(ConstrainedRegressor(penalty=_abs_sum)))  # unfitted


def test_penalty_scale_follows_the_rows_after_unpickling():
    """Every kernel's penalty gets alpha / n of the rows of a further pass
    (times the variance of the targets the network was built on)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    reg = ConstrainedRegressor(
        hidden_layer_sizes=(4, 4), epochs=2, penalty="l2", alpha=0.5, random_state=0
    ).fit(X, X[:, 0])
    again = pickle.loads(pickle.dumps(reg)).partial_fit(X[:10], X[:10, 0])
    kernels = [w for w in again.model_.trainable_weights if "kernel" in w.path]
    s = np.var(X[:, 0])
    expected = [s * 0.5 / 10 * float(np.sum(np.asarray(k) ** 2)) for k in kernels]
    np.testing.assert_allclose(
        [float(v) for v in again.model_.losses], expected, rtol=1e-5
    )


def test_fits_of_one_architecture_reuse_one_engine_with_the_same_results(
    frames, monkeypatch
):
    from skconstrain import _training

    X, Y = frames
    made = []
    original = _training.Engine.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(_training.Engine, "__init__", counting)
    _training.clear_cache()
    params = dict(**FAST, penalty="l2", output_constraint="simplex")
    cold = ConstrainedRegressor(**params, alpha=0.5).fit(X, Y).predict(X)
    # other alphas (fed to the trace, not part of it) reuse the engine
    ConstrainedRegressor(**params, alpha=1e-3).fit(X, Y)
    warm = ConstrainedRegressor(**params, alpha=0.5).fit(X, Y).predict(X)
    assert len(made) == 1
    np.testing.assert_array_equal(warm, cold)
    ConstrainedRegressor(**{**params, "hidden_layer_sizes": (5,)}).fit(X, Y)
    assert len(made) == 2  # another architecture, another engine


def _slow_network(n_features_in, n_outputs):
    """Two layers built with a pause between them, so that threads interleave."""
    inputs = keras.Input((n_features_in,))
    hidden = keras.layers.Dense(8)(inputs)
    time.sleep(0.05)
    return keras.Model(inputs, keras.layers.Dense(n_outputs)(hidden))


def test_networks_built_in_threads_get_their_own_seeds(frames):
    X, Y = frames
    seeds = [0, 1, 2, 3]

    def weights(seed):
        est = ConstrainedRegressor(model=_slow_network, epochs=1, random_state=seed)
        est.fit(X, Y)
        return [v.numpy() for v in est.model_.weights]

    alone = [weights(seed) for seed in seeds]
    with ThreadPoolExecutor(len(seeds)) as pool:
        together = list(pool.map(weights, seeds))
    for one, other in zip(alone, together, strict=True):
        for a, b in zip(one, other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_grid_search_in_threads_matches_sequential(frames):
    X, Y = frames
    grid = {"alpha": [1e-4, 1e-1], "learning_rate": [0.01, 0.05]}
    est = ConstrainedRegressor(**{**FAST, "penalty": "l2"})
    one = GridSearchCV(est, grid, cv=2).fit(X, Y)
    with joblib.parallel_backend("threading", n_jobs=2):
        two = GridSearchCV(est, grid, cv=2, n_jobs=2).fit(X, Y)
    np.testing.assert_allclose(
        two.cv_results_["mean_test_score"], one.cv_results_["mean_test_score"]
    )


def test_every_fit_creates_variables_of_the_same_names(frames):
    # TensorFlow keeps an eager kernel per distinct variable name for the life of
    # the process, so auto-numbered names (dense_17, ...) grew memory per fit.
    X, Y = frames

    def names(**params):
        model = ConstrainedRegressor(**FAST, **params).fit(X, Y).model_
        return [v.path for v in model.variables + model.optimizer.variables]

    for params in [{}, {"output_constraint": "simplex"}, {"penalty": "l2"}]:
        assert names(**params) == names(**params)


def test_head_name_does_not_clash_with_a_users_layer(frames):
    X, Y = frames

    def network(n_features_in, n_outputs):
        inputs = keras.Input((n_features_in,))
        layer = keras.layers.Dense(n_outputs, name="output_projection")
        return keras.Model(inputs, layer(inputs))

    est = ConstrainedRegressor(model=network, output_constraint="simplex", epochs=1)
    assert np.allclose(est.fit(X, Y).predict(X).sum(axis=1), 1, atol=1e-5)


def test_default_network_weights_do_not_depend_on_pythons_random(frames, monkeypatch):
    # Other threads may draw from Python's global random while a network is
    # built (a dask worker's do); the default MLP must not read it.
    import random

    X, Y = frames
    monkeypatch.setattr(random, "seed", lambda *args, **kwargs: None)
    monkeypatch.setattr(random, "setstate", lambda state: None)

    def weights(state):
        random.Random.seed(random._inst, state)
        est = ConstrainedRegressor(hidden_layer_sizes=(4,), epochs=1, random_state=0)
        return [v.numpy() for v in est.fit(X, Y).model_.weights]

    for a, b in zip(weights(1), weights(2), strict=True):
        np.testing.assert_array_equal(a, b)


def test_model_callable_may_take_a_seed(frames):
    X, Y = frames
    seeds = []

    def network(n_features_in, n_outputs, seed):
        seeds.append(seed)
        init = keras.initializers.GlorotUniform(seed=seed)
        inputs = keras.Input((n_features_in,))
        return keras.Model(
            inputs, keras.layers.Dense(n_outputs, kernel_initializer=init)(inputs)
        )

    one = ConstrainedRegressor(model=network, epochs=1, random_state=3).fit(X, Y)
    two = ConstrainedRegressor(model=network, epochs=1, random_state=3).fit(X, Y)
    assert all(isinstance(seed, int) for seed in seeds)
    np.testing.assert_array_equal(one.predict(X), two.predict(X))


def test_keras_l1l2_name_is_the_elastic_net_penalty(frames):
    X, Y = frames

    def fitted(penalty):
        est = ConstrainedRegressor(**FAST, penalty=penalty, alpha=0.5, l1_ratio=0.3)
        return est.fit(X, Y).predict(X)

    np.testing.assert_array_equal(fitted("l1_l2"), fitted("elasticnet"))


def test_the_estimator_keeps_a_constraints_explicit_axis():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 12)), rng.normal(size=(40, 2))
    explicit = ConstrainedRegressor(
        _conv_model, kernel_constraint=MaxNorm(0.3, axis=0), epochs=1
    ).fit(X, Y)
    conv = next(x for x in explicit.model_.layers if isinstance(x, keras.layers.Conv1D))
    assert conv.kernel.constraint.axis == 0  # not rewritten to each filter
    kernel = np.asarray(conv.kernel)
    assert np.linalg.norm(kernel, axis=0).max() <= 0.3 + 1e-6


# ------------------------------------------------------ Fenchel-Young loss
@pytest.mark.parametrize(
    "set_name", ["simplex", "l1_ball", "l2_sphere", "l2_ball", "linf_ball", "nonneg"]
)
def test_fenchel_young_loss_predicts_in_the_set(frames, set_name):
    X, Y = frames
    reg = ConstrainedRegressor(
        **FAST, output_constraint=set_name, output_radius=0.5, loss="fenchel_young"
    ).fit(X, Y)
    assert violation(reg.predict(X), set_name, radius=0.5) <= 1e-12
    assert reg.constraint_violation_["max"] <= 1e-12
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]
    # the network outputs raw scores: no projection layer inside
    assert not any(type(x).__name__ == "OutputProjection" for x in reg.model_.layers)


def test_fenchel_young_learns_proportions_and_persists(frames):
    X, Y = frames
    reg = ConstrainedRegressor(
        hidden_layer_sizes=(16,),
        output_constraint="simplex",
        loss="fenchel_young",
        epochs=60,
        learning_rate=0.01,
        random_state=0,
    ).fit(X, Y)
    assert reg.score(X, Y) > 0.5
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    reg.partial_fit(X, Y)  # continues with the same loss


@pytest.mark.parametrize(
    "params", [{}, {"output_constraint": "simplex", "output_strategy": "post"}]
)
def test_fenchel_young_needs_the_project_strategy(frames, params):
    X, Y = frames
    with pytest.raises(ValueError, match="loss='fenchel_young' trains the scores"):
        ConstrainedRegressor(**FAST, **params, loss="fenchel_young").fit(X, Y)


def test_loss_is_a_hyperparameter(frames):
    X, Y = frames
    est = ConstrainedRegressor(**FAST, output_constraint="simplex")
    grid = GridSearchCV(est, {"loss": ["squared_error", "fenchel_young"]}, cv=2)
    grid.fit(X, Y)
    scores = grid.cv_results_["mean_test_score"]
    # two different trainings, both scored
    assert np.isfinite(scores).all() and scores[0] != scores[1]


# ------------------------------------------------ scores on the targets' scale
@pytest.mark.parametrize("strategy", ["none", "project", "post", "activation"])
def test_fit_does_not_depend_on_the_units_of_y(strategy):
    """Targets 1000 times smaller (or larger) give predictions 1000 times
    smaller: the default network starts at the targets' mean and spread."""
    X, Y = make_constrained_regression(200, 4, 3, set="l2_ball", random_state=0)
    Y = Y + np.array([0.5, -0.2, 0.1])
    predictions = {}
    for c in (1e-3, 1.0, 1e3):
        kwargs = {}
        if strategy != "none":
            kwargs = dict(
                output_constraint="l2_ball",
                output_radius=3.0 * c,
                output_strategy=strategy,
            )
        model = ConstrainedRegressor(
            hidden_layer_sizes=(16,), epochs=15, random_state=0, **kwargs
        ).fit(X, c * Y)
        predictions[c] = model.predict(X) / c
    np.testing.assert_allclose(
        predictions[1e-3], predictions[1.0], rtol=2e-3, atol=1e-4
    )
    np.testing.assert_allclose(predictions[1e3], predictions[1.0], rtol=2e-3, atol=1e-4)


@pytest.mark.parametrize("quantile", [False, True], ids=["mean", "quantiles"])
def test_any_spread_of_y_that_float32_resolves_is_fitted_alike(quantile):
    """The fit does not depend on the units of y for targets of a small
    spread near 0 either (a floor of about 1e-6 on the spread once made
    targets of 1e-7 score R^2 = -9e9)."""
    from skconstrain import ConstrainedQuantileRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] + 0.5 * np.sin(2 * X[:, 1]) + 0.1 * rng.normal(size=200)
    cls = ConstrainedQuantileRegressor if quantile else ConstrainedRegressor
    scores = {}
    for c in (1.0, 1e-4, 1e-7, 1e-12):
        model = cls(hidden_layer_sizes=(16,), epochs=40, random_state=0)
        scores[c] = model.fit(X, c * y).score(X, c * y)
    assert scores[1.0] > 0.5, scores
    for c in (1e-4, 1e-7, 1e-12):
        assert abs(scores[c] - scores[1.0]) < 0.01, scores


@pytest.mark.parametrize("quantile", [False, True], ids=["mean", "quantiles"])
def test_a_large_spread_of_y_is_fitted_alike_up_to_the_limit(quantile):
    """Targets 1e15 times larger, or rows weighted 1e30 times more, give the
    same fit, in a step of all 200 rows too; a spread whose losses a step
    would carry beyond float32's range is an error, not a fit that is
    silently worse."""
    from skconstrain import ConstrainedQuantileRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] + 0.5 * np.sin(2 * X[:, 1]) + 0.1 * rng.normal(size=200)
    cls = ConstrainedQuantileRegressor if quantile else ConstrainedRegressor
    scores = {}
    for c, w in ((1.0, 1.0), (1e8, 1.0), (1e15, 1.0), (1.0, 1e30)):
        model = cls(
            hidden_layer_sizes=(16,),
            epochs=40,
            batch_size=200,
            learning_rate=0.01,
            random_state=0,
        )
        model.fit(X, c * y, sample_weight=np.full(200, w))
        scores[c, w] = model.score(X, c * y)
    assert scores[1.0, 1.0] > 0.3, scores
    for key in scores:
        assert abs(scores[key] - scores[1.0, 1.0]) < 0.01, scores
    # the pinball loss grows as the spread, the squared error as its square
    c = 1e37 if quantile else 1e20
    with pytest.raises(ValueError, match="y varies too much for float32 training"):
        cls(epochs=1).fit(X, c * y)


def test_tiny_targets_are_learned():
    """Targets of size 1e-3 (the five-year change of age shares, say) are
    learned as well as the same targets of size 1: the network does not start
    at outputs of size 1 that it must first shrink."""
    X, Y = make_constrained_regression(400, 4, 3, set="l1_ball", random_state=0)
    scores = []
    for c in (1.0, 1e-3):
        model = ConstrainedRegressor(
            hidden_layer_sizes=(32,),
            epochs=30,
            random_state=0,
            output_constraint="l1_ball",
            output_radius=c,
        ).fit(X, c * Y)
        scores.append(model.score(X, c * Y))
        # the first epoch's loss is on the scale of the targets' variance
        assert model.history_["loss"][0] * model._spec.loss_weight < 3
    assert scores[1] > 0.15 and abs(scores[1] - scores[0]) < 0.01


@pytest.mark.parametrize(
    "set_name, params",
    [
        ("simplex", {"radius": 2.0}),
        ("l1_ball", {"radius": 2.0}),
        ("l2_ball", {"radius": 2.0}),
        ("linf_ball", {"radius": 2.0}),
        ("box", {"lower": [-1.0, 0.0, 0.2], "upper": [1.0, 3.0, 0.4]}),
        ("box", {"lower": [-1.0, 0.0, 0.2], "upper": None}),
        ("box", {"lower": None, "upper": [1.0, 3.0, 0.4]}),
        ("nonneg", {}),
    ],
)
def test_activation_scores_start_at_the_targets_mean_and_spread(
    set_name, params, float64_keras
):
    from skconstrain._networks import score_start as _score_start
    from skconstrain._sets import set_arguments
    from skconstrain.keras.ops import activate

    mean = {
        "simplex": np.array([0.2, 1.3, 0.5]),
        "box": np.array([0.3, 1.0, 0.3]),
        "nonneg": np.array([0.3, 1.0, 0.05]),
    }.get(set_name, np.array([0.3, -0.4, 0.2]))
    std = np.array([0.05, 0.02, 0.01])
    validated = set_arguments(set_name, **params)
    output_set = {"set": set_name, **validated}  # as the estimator passes it
    offset, scale = _score_start("activation", output_set, mean, std)
    start = np.asarray(activate(offset[None], set_name, **params))[0]
    np.testing.assert_allclose(start, mean, rtol=1e-6, atol=1e-9)
    # a unit step of the network's output moves the prediction by about std
    if set_name not in ("simplex", "l1_ball", "l2_ball"):  # coordinate-wise maps
        eps = 1e-4
        moved = np.asarray(activate((offset + eps * scale)[None], set_name, **params))
        np.testing.assert_allclose((moved[0] - start) / eps, std, rtol=1e-2)
    elif set_name == "simplex":  # each share moves by about its std
        eps = 1e-4
        for j in range(3):
            step = np.zeros(3)
            step[j] = eps * scale[j]
            moved = np.asarray(activate((offset + step)[None], set_name, **params))
            np.testing.assert_allclose(
                (moved[0, j] - start[j]) / eps, std[j], rtol=1e-2
            )
    # other strategies: the scores are in the targets' units
    for got, expected in zip(
        _score_start("project", output_set, mean, std), (mean, std), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    # a column without spread is scaled by 1, as StandardScaler does
    flat = _score_start("project", output_set, mean, np.array([0.05, 0.0, 1e-12]))
    np.testing.assert_array_equal(flat[1], [0.05, 1.0, 1.0])


def test_a_reused_engine_keeps_the_fits_own_batch_size():
    # the batch size is an input of the compiled epoch, not part of the
    # engine's key: fits of batches of 10 and then 11 share one engine, and
    # the second must train in batches of 11 (the engine cache once mixed
    # them up)
    from skconstrain import _training

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(67, 3)), rng.normal(size=67)
    # a step large enough for the batch size to show in 3 epochs (at 1e-3
    # the two curves differ by 0.08% to 0.8% by seed; at 1e-2, 0.7% to 4%)
    params = dict(hidden_layer_sizes=(4,), epochs=3, random_state=0, learning_rate=0.01)
    ConstrainedRegressor(**params, batch_size=10).fit(X, y)
    after = ConstrainedRegressor(**params, batch_size=11).fit(X, y).loss_curve_
    _training.clear_cache()
    fresh = ConstrainedRegressor(**params, batch_size=11).fit(X, y).loss_curve_
    np.testing.assert_allclose(after, fresh, rtol=1e-5)
    other = ConstrainedRegressor(**params, batch_size=10).fit(X, y).loss_curve_
    assert not np.allclose(after, other, rtol=1e-3)


def test_warm_start_and_partial_fit_take_a_new_batch_size():
    """As MLPRegressor: a warm start trains in the batch size set now, and
    each partial_fit call in batches of its own rows (batch_size=None), also
    when the compiled epoch is reused from a fit of another batch size."""
    from skconstrain import _training

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(90, 3)), rng.normal(size=90)
    params = dict(hidden_layer_sizes=(4,), epochs=3, random_state=0)
    warm = ConstrainedRegressor(**params, batch_size=90, warm_start=True).fit(X, y)
    warm.set_params(batch_size=9).fit(X, y)  # no "changed" error
    assert warm.n_iter_ == 6
    twin = ConstrainedRegressor(**params, batch_size=90, warm_start=True).fit(X, y)
    _training.clear_cache()  # the continued fit gets an engine of its own
    twin.set_params(batch_size=9).fit(X, y)
    np.testing.assert_allclose(warm.loss_curve_, twin.loss_curve_, rtol=1e-5)
    same = ConstrainedRegressor(**params, batch_size=90, warm_start=True).fit(X, y)
    same.fit(X, y)
    assert not np.allclose(warm.loss_curve_[3:], same.loss_curve_[3:], rtol=1e-3)
    # partial_fit: batch_size=None is the default for each call's rows
    rows = rng.normal(size=(400, 3))
    target = rows[:, 0]
    stream = ConstrainedRegressor(**params)
    stream.partial_fit(rows[:40], target[:40])  # batches of 16
    stream.partial_fit(rows, target)  # batches of 48
    again = ConstrainedRegressor(**params)
    again.partial_fit(rows[:40], target[:40])
    _training.clear_cache()
    again.partial_fit(rows, target)
    np.testing.assert_allclose(stream.loss_curve_, again.loss_curve_, rtol=1e-5)


def test_shuffle_is_an_input_of_the_epoch_that_a_warm_start_may_change():
    """shuffle=False trains in the rows' given order, so the epochs' seeds
    (random_state) no longer matter; a warm start may switch it, on the same
    compiled epoch as the shuffled fit."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.normal(size=60)
    fitted = ConstrainedRegressor(
        hidden_layer_sizes=(4,), epochs=3, batch_size=10, random_state=0
    ).fit(X, y)

    def continued(shuffle, random_state):
        model = pickle.loads(pickle.dumps(fitted))
        model.set_params(shuffle=shuffle, random_state=random_state, warm_start=True)
        return model.fit(X, y).predict(X)  # no "changed" error

    np.testing.assert_allclose(continued(False, 1), continued(False, 2), rtol=1e-6)
    assert not np.allclose(continued(True, 1), continued(True, 2), rtol=1e-4)


# ------------------------------------------------------------ sparse input
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_sparse_X_predicts_as_the_dense_array(fmt, early_stopping, monkeypatch):
    """CSR/CSC X (a OneHotEncoder's output) is taken as MLPRegressor takes it,
    with the dense array's predictions; above _training.DENSE_LIMIT the rows
    stay sparse and are densified a batch at a time (forced here)."""
    from skconstrain import _training

    rng = np.random.default_rng(0)
    dense = rng.normal(size=(120, 12)) * (rng.random((120, 12)) < 0.25)
    y = dense[:, 0] - dense[:, 1] + 0.1 * rng.normal(size=120)
    params = dict(FAST, early_stopping=early_stopping, output_constraint="linf_ball")
    expected = ConstrainedRegressor(**params).fit(dense, y).predict(dense)
    sparse = sp.csr_matrix(dense).asformat(fmt)
    small = ConstrainedRegressor(**params).fit(sparse, y)
    np.testing.assert_allclose(small.predict(sparse), expected, rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(_training, "DENSE_LIMIT", 0)
    data = _training.as_tensors(sparse, y.reshape(-1, 1))
    assert isinstance(data.X, _training.SparseRows)
    batched = ConstrainedRegressor(**params).fit(sparse, y)
    np.testing.assert_allclose(batched.predict(sparse), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched.predict(dense), expected, rtol=1e-5, atol=1e-6)
    batched.partial_fit(sparse, y)


@pytest.mark.parametrize("output_constraint", [None, "simplex"])
def test_wide_sparse_rows_are_never_densified(output_constraint, monkeypatch):
    """Wide sparse rows kept sparse go through the first layer as their
    stored values alone, in training, in the fit's scores and in ``predict``
    (no row is densified), and give the dense array's model: the same
    predictions to float32 training's rounding, and for one fitted model
    sparse and dense rows predict alike to float64 rounding."""
    from skconstrain import _training
    from skconstrain._training import _engine

    rng = np.random.default_rng(0)
    n, d = 150, 2000
    columns = np.stack([rng.choice(d, 4, replace=False) for _ in range(n)])
    X = sp.csr_matrix(
        (rng.normal(size=4 * n), (np.repeat(np.arange(n), 4), columns.ravel())),
        shape=(n, d),
    )
    Y = np.abs(X[:, :2].toarray()) + 0.1
    Y = Y / Y.sum(1, keepdims=True) if output_constraint else Y[:, 0]
    params = dict(
        hidden_layer_sizes=(8,),
        epochs=3,
        batch_size=32,
        early_stopping=True,
        output_constraint=output_constraint,
        random_state=0,
    )
    dense = ConstrainedRegressor(**params).fit(X.toarray(), Y)
    monkeypatch.setattr(_training, "DENSE_LIMIT", 0)
    gather = _engine.gather_rows

    def dense_rows_only(X, idx):
        assert not isinstance(X, _engine.SparseRows), "a sparse row densified"
        return gather(X, idx)

    monkeypatch.setattr(_engine, "gather_rows", dense_rows_only)
    sparse = ConstrainedRegressor(**params).fit(X, Y)
    monkeypatch.setattr(sp.csr_matrix, "toarray", None)  # nor to predict
    np.testing.assert_allclose(
        sparse.predict(X), dense.predict(X.tocsr()), rtol=1e-4, atol=1e-5
    )
    monkeypatch.undo()
    np.testing.assert_allclose(
        sparse.predict(X), sparse.predict(X.toarray()), rtol=1e-10, atol=1e-12
    )


def test_sparse_one_hot_in_a_pipeline():
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"city": rng.choice(list("abcdefgh"), 200), "x": rng.normal(size=200)}
    )
    y = (frame["city"] == "a") * 2.0 + frame["x"]
    columns = make_column_transformer(
        (OneHotEncoder(), ["city"]), (StandardScaler(), ["x"]), sparse_threshold=1.0
    )
    assert sp.issparse(columns.fit_transform(frame))
    pipe = make_pipeline(columns, ConstrainedRegressor(**FAST)).fit(frame, y)
    assert pipe.predict(frame).shape == (200,)
    assert np.isfinite(cross_val_score(pipe, frame, y, cv=2)).all()


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix, sp.csc_array])
def test_a_rare_indicator_is_scaled_within_reach_not_to_its_rarity(container):
    """Standardised, a column that is 1 in k of n rows reaches sqrt(n / k)
    standard deviations: a rare one-hot column would fit its few rows alone
    and move a new row that has it far off. A column of two values is
    scaled to lie within INDICATOR_REACH of its mean instead; every other
    column is standardised as before, and sparse rows are scaled as the
    dense array is (its implicit zeros are values)."""
    from skconstrain._fit_data import INDICATOR_REACH

    rng = np.random.default_rng(0)
    n = 400
    X = np.zeros((n, 6))
    X[:, 0] = rng.normal(size=n)  # continuous
    X[:2, 1] = 1.0  # an indicator of 2 rows in 400
    X[::2, 2] = 1.0  # an indicator of half the rows
    X[:, 3] = 4.0  # constant
    X[:, 4] = -3.0
    X[7:10, 4] = 7.0  # two values, neither 0, the larger rare
    X[:3, 5] = [1.0, 2.0, 2.0]  # three values: standardised, however rare
    weight = np.ones(n)
    weight[20] = 0.0  # a row of weight zero adds no value ...
    X[20, 4] = 100.0  # ... so column 4 keeps two
    y = X[:, 0] + 0.1 * rng.normal(size=n)
    est = ConstrainedRegressor(**FAST).fit(container(X), y, sample_weight=weight)
    offset, scale = (
        np.asarray(w) for w in est.model_.get_layer("input_scaling").weights
    )
    kept = weight > 0
    mean = np.average(X, axis=0, weights=weight)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=weight))
    Z = offset + scale * X[kept]
    for j in (0, 2, 5):  # standardised
        np.testing.assert_allclose(scale[j], 1 / std[j], rtol=1e-6)
    for j in (1, 4):  # rare: about 14 and 11 standard deviations out
        assert np.abs((X[kept, j] - mean[j]) / std[j]).max() > 2 * INDICATOR_REACH
        np.testing.assert_allclose(np.abs(Z[:, j]).max(), INDICATOR_REACH, rtol=1e-6)
    assert scale[3] == 1.0 and np.abs(Z[:, 3]).max() < 1e-6  # constant: centred
    dense = ConstrainedRegressor(**FAST).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(
        est.predict(container(X)), dense.predict(X), rtol=1e-5, atol=1e-6
    )


def test_every_estimator_stores_the_shared_hyperparameters_it_is_given():
    # the shared hyperparameters are stored once, by the base's __init__,
    # which each estimator forwards them to: a value given to any estimator
    # is the one get_params returns, and the defaults agree across them
    import inspect

    from skconstrain import ConstrainedQuantileRegressor, ConstrainedRegressorCV
    from skconstrain._base_estimator import BaseConstrainedRegressor

    shared = [
        name
        for name in inspect.signature(BaseConstrainedRegressor.__init__).parameters
        if name != "self"
    ]
    assert {"model", "epochs", "ensemble_size", "verbose"} <= set(shared)
    estimators = (
        ConstrainedRegressor,
        ConstrainedRegressorCV,
        ConstrainedQuantileRegressor,
    )
    for cls in estimators:
        for name in shared:
            marker = object()
            assert cls(**{name: marker}).get_params(deep=False)[name] is marker
    defaults = {
        cls: {name: p.default for name, p in inspect.signature(cls).parameters.items()}
        for cls in estimators
    }
    for name in shared:
        values = {repr(defaults[cls][name]) for cls in estimators}
        if name == "output_strategy":  # quantiles are projected after predict
            assert defaults[ConstrainedQuantileRegressor][name] == "post"
            continue
        assert len(values) == 1, (name, values)


def test_a_model_pickled_before_the_fit_spec_loads_predicts_and_continues():
    """Pickles written by the code before FitSpec (commit 356fbe4, with its
    separate _built_with, _output_set, ... attributes; tests/data) load,
    predict as they did, and a warm start continues them."""
    from pathlib import Path

    from skconstrain import ConstrainedQuantileRegressor

    data = Path(__file__).parent / "data"
    X = np.load(data / "before_fitspec_X.npy")
    expected = np.load(data / "before_fitspec_pred.npy")
    with open(data / "regressor_before_fitspec.pkl", "rb") as f:
        reg = pickle.load(f)
    with open(data / "quantile_before_fitspec.pkl", "rb") as f:
        quantile = pickle.load(f)
    assert isinstance(quantile, ConstrainedQuantileRegressor)
    # float64 forward passes of the same weights
    np.testing.assert_allclose(reg.predict(X), expected[:, :3], rtol=1e-9, atol=1e-12)
    assert quantile.predict(X).shape == (len(X),)  # a scalar level: 1-D
    np.testing.assert_allclose(quantile.predict(X), expected[:, 3], rtol=1e-9)
    Y = np.abs(X) / np.abs(X).sum(axis=1, keepdims=True)
    reg.set_params(warm_start=True).fit(X, Y)  # the same network, no "changed"
    assert reg.n_iter_ == 4
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        reg.set_params(hidden_layer_sizes=(5,)).fit(X, Y)
