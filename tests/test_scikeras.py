"""Pins each scikeras fix of skconstrain._scikeras: the bug, then our behaviour.

Each test first shows the scikeras behaviour (so that, if a scikeras release fixes
it, the test says so and the fix can go), then ours.
"""

import logging
import time

import keras
import numpy as np
import pytest
from scikeras.wrappers import KerasRegressor
from sklearn.base import is_regressor
from sklearn.ensemble import StackingRegressor, VotingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from skconstrain import ConstrainedRegressor

FAST = dict(hidden_layer_sizes=(8,), epochs=3, random_state=0)


def _mlp(meta):
    return keras.Sequential(
        [keras.Input((meta["n_features_in_"],)), keras.layers.Dense(1)]
    )


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    return X, X @ rng.normal(size=(3, 2))


def test_fix1_tags_make_it_a_regressor(data):
    X, Y = data
    assert not is_regressor(KerasRegressor(_mlp, loss="mse"))
    assert is_regressor(ConstrainedRegressor())
    y = Y[:, 0]
    reg = ConstrainedRegressor(**FAST)
    VotingRegressor([("net", reg), ("ridge", Ridge())]).fit(X, y)
    StackingRegressor([("net", reg), ("ridge", Ridge())], cv=2).fit(X, y)


def test_fix2_output_width_mismatch_is_an_error(data):
    X, Y = data
    theirs = KerasRegressor(_mlp, loss="mse", epochs=1, verbose=0).fit(X, Y)
    assert theirs.predict(X).shape == (25, 2)  # 50 inputs, silently reshaped

    def one_unit(n_features_in):
        return keras.Sequential([keras.Input((n_features_in,)), keras.layers.Dense(1)])

    with pytest.raises(ValueError, match=r"output\(s\) of width 1, but y has 2 col"):
        ConstrainedRegressor(one_unit, epochs=1).fit(X, Y)


def test_fix3_feature_names_and_count(data):
    import pandas as pd

    X, Y = data
    theirs = KerasRegressor(_mlp, loss="mse", epochs=1, verbose=0)
    theirs.fit(pd.DataFrame(X, columns=["a", "b", "c"]), Y[:, 0])
    assert not hasattr(theirs, "feature_names_in_")
    ours = ConstrainedRegressor(**FAST).fit(pd.DataFrame(X, columns=list("abc")), Y)
    assert list(ours.feature_names_in_) == ["a", "b", "c"]
    with (
        pytest.warns(UserWarning, match="does not have valid feature names"),
        pytest.raises(ValueError, match="X has 2 features, but ConstrainedRegressor"),
    ):
        ours.predict(X[:, :2])
    with pytest.raises(ValueError, match="feature names should match"):
        ours.predict(pd.DataFrame(X, columns=list("abd")))


def test_fix4_predict_latency_and_no_retracing(data, caplog):
    X, Y = data
    theirs = KerasRegressor(
        lambda meta: keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(8), keras.layers.Dense(2)]
        ),
        loss="mse",
        epochs=1,
        verbose=0,
    ).fit(X, Y)
    ours = ConstrainedRegressor(**FAST).fit(X, Y)

    def best_of(fn, n=20):
        fn()
        times = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    t_theirs = best_of(lambda: theirs.predict(X[:1]))
    t_ours = best_of(lambda: ours.predict(X[:1]))
    assert t_ours < t_theirs / 3, (t_ours, t_theirs)
    # A grid search (7 fits and predicts) triggers no tf.function retracing warning
    with caplog.at_level(logging.WARNING):
        grid = {"alpha": [1e-4, 1e-2]}
        GridSearchCV(ConstrainedRegressor(**FAST), grid, cv=3).fit(X, Y)
    assert "retracing" not in caplog.text


def test_fix5_prediction_shapes(data):
    X, Y = data
    assert ConstrainedRegressor(**FAST).fit(X, Y[:, 0]).predict(X).shape == (50,)
    reg = ConstrainedRegressor(**FAST).fit(X, Y)
    assert reg.predict(X).shape == (50, 2)
    assert reg.predict(X[:1]).shape == (1, 2)
    assert ConstrainedRegressor(**FAST).fit(X, Y[:, :1]).predict(X).shape == (50, 1)


def test_fix6_same_random_state_same_predictions(data):
    X, Y = data
    first = ConstrainedRegressor(**FAST).fit(X, Y).predict(X)
    keras.random.uniform((3,))  # move Keras's global seed generator on
    second = ConstrainedRegressor(**FAST).fit(X, Y).predict(X)
    np.testing.assert_array_equal(first, second)
