"""make_constrained_regression: shapes, feasibility, determinism, frames, errors."""

import numpy as np
import pandas as pd
import pytest
from _reference import violation

from skconstrain._sets import SET_NAMES
from skconstrain.datasets import make_constrained_regression


@pytest.mark.parametrize("name", SET_NAMES)
def test_targets_in_set(name):
    X, Y = make_constrained_regression(200, 6, 4, set=name, radius=2.0, random_state=0)
    assert X.shape == (200, 6) and Y.shape == (200, 4)
    params = {"lower": -2.0, "upper": 2.0} if name == "box" else {}
    params = {} if name == "nonneg" else params or {"radius": 2.0}
    assert violation(Y, name, **params) <= 1e-12
    assert np.std(Y, axis=0).min() > 0  # targets vary


def test_targets_depend_on_features():
    from sklearn.ensemble import RandomForestRegressor

    X, Y = make_constrained_regression(600, 5, 3, noise=0.0, random_state=0)
    model = RandomForestRegressor(50, random_state=0).fit(X[:400], Y[:400])
    assert model.score(X[400:], Y[400:]) > 0.5


def test_deterministic_and_frames():
    a = make_constrained_regression(50, 3, 2, random_state=3)
    b = make_constrained_regression(50, 3, 2, random_state=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    X, Y = make_constrained_regression(50, 3, 2, random_state=3, as_frame=True)
    assert isinstance(X, pd.DataFrame) and list(X.columns) == ["x0", "x1", "x2"]
    assert isinstance(Y, pd.DataFrame) and list(Y.columns) == ["y0", "y1"]
    np.testing.assert_array_equal(Y.to_numpy(), a[1])
    _, y1 = make_constrained_regression(50, 3, 1, set="linf_ball", as_frame=True)
    assert isinstance(y1, pd.Series)
    assert make_constrained_regression(50, 3, 1, set="linf_ball")[1].shape == (50,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "'n_samples' parameter must be an int >= 1"),
        ({"n_targets": 1.5}, "'n_targets' parameter"),
        ({"set": "cube"}, "'set' parameter must be one of"),
        ({"radius": -1}, "'radius' parameter"),
        ({"noise": -0.1}, "'noise' parameter"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_constrained_regression(**kwargs)
