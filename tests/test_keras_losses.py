"""The Fenchel-Young loss of the projections: value, gradient, serialisation."""

import keras
import numpy as np
import pytest
from _gradients import value_and_grad

from skconstrain import projections as P
from skconstrain._sets import SET_NAMES
from skconstrain.keras.losses import ProjectionLoss, fenchel_young

# float64 stays float64 on every backend (JAX's x64 mode, scoped), as inside
# the estimators
pytestmark = pytest.mark.usefixtures("float64_keras")

PARAMS = {
    "box": {"lower": [-0.5, 0.0, 0.2, -1.0, 0.0], "upper": 1.0},
    "nonneg": {},
    "ordered": {},
}


def params_for(name):
    return PARAMS.get(name, {"radius": 1.5})


def scores_and_targets(name, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(12, 5)) * 2
    y = P.project(rng.normal(size=(12, 5)), name, **params_for(name))
    return theta, y


@pytest.mark.parametrize("name", SET_NAMES)
def test_gradient_is_projection_minus_target(name):
    theta, y = scores_and_targets(name)
    params = params_for(name)
    _, gradient = value_and_grad(
        lambda t: keras.ops.sum(fenchel_young(y, t, name, **params)), theta
    )
    np.testing.assert_allclose(
        gradient, P.project(theta, name, **params) - y, atol=1e-12
    )


@pytest.mark.parametrize("name", SET_NAMES)
def test_gradient_matches_finite_differences(name):
    theta, y = scores_and_targets(name, seed=1)
    params = params_for(name)

    def value(th):
        return float(np.sum(fenchel_young(y, th, name, **params)))

    h = 1e-6
    numeric = np.zeros_like(theta)
    for i, j in np.ndindex(*theta.shape):
        e = np.zeros_like(theta)
        e[i, j] = h
        numeric[i, j] = (value(theta + e) - value(theta - e)) / (2 * h)
    np.testing.assert_allclose(numeric, P.project(theta, name, **params) - y, atol=1e-5)


@pytest.mark.parametrize("name", SET_NAMES)
def test_zero_exactly_at_the_projection_and_nonnegative_on_the_set(name):
    theta, y = scores_and_targets(name, seed=2)
    params = params_for(name)
    at = fenchel_young(P.project(theta, name, **params), theta, name, **params)
    np.testing.assert_allclose(np.asarray(at), 0, atol=1e-10)
    assert np.asarray(fenchel_young(y, theta, name, **params)).min() >= -1e-10


def test_serialisation_and_training_a_keras_model(tmp_path):
    loss = ProjectionLoss("box", lower=[0.0, -1.0], upper=1.0)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, ProjectionLoss) and again.get_config() == loss.get_config()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("adam", loss=ProjectionLoss("simplex", radius=2.0))
    X = np.random.default_rng(0).normal(size=(32, 3))
    Y = np.tile([0.5, 1.5], (32, 1))
    model.fit(X, Y, epochs=2, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.loss.get_config() == model.loss.get_config()
    assert float(loaded.evaluate(X, Y, verbose=0)) == pytest.approx(
        float(model.evaluate(X, Y, verbose=0))
    )


def test_bad_set_parameters():
    with pytest.raises(ValueError, match="'radius' parameter must be"):
        ProjectionLoss("simplex", radius=-1)
