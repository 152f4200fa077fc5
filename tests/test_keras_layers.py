"""OutputProjection: configuration, saving, training through the projection."""

import keras
import numpy as np
import pytest

from skconstrain._sets import SET_NAMES
from skconstrain.keras import (
    EnsembleMean,
    OutputActivation,
    OutputProjection,
    SelectFeatures,
)
from skconstrain.projections import project

# float64 stays float64 on every backend (JAX's x64 mode, scoped), as inside
# the estimators
pytestmark = pytest.mark.usefixtures("float64_keras")


def _kwargs(name):
    if name == "box":
        return {"lower": [-1.0, 0.0, -0.5], "upper": 0.5}
    return {} if name in ("nonneg", "ordered") else {"radius": 2.0}


@pytest.mark.parametrize("name", SET_NAMES)
def test_layer_projects_and_config_round_trip(name):
    layer = OutputProjection(name, **_kwargs(name), name="proj")
    X = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(layer(X)), project(X, name, **_kwargs(name)), atol=1e-6
    )
    config = layer.get_config()
    assert config["set"] == name and config["name"] == "proj"
    again = OutputProjection.from_config(config)
    assert again.get_config() == config
    np.testing.assert_array_equal(np.asarray(again(X)), np.asarray(layer(X)))


def test_saved_model_predicts_identically(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3),
            OutputProjection("l1_ball", radius=0.5),
        ]
    )
    X = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    model.compile("adam", "mse")
    model.fit(X, np.zeros((10, 3)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        loaded.predict(X, verbose=0), model.predict(X, verbose=0)
    )
    assert isinstance(loaded.layers[-1], OutputProjection)


def test_training_through_the_projection_reduces_loss():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 5)).astype("float32")
    Y = project(X[:, :3] * 2, "simplex").astype("float32")
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3), OutputProjection("simplex")]
    )
    model.compile(keras.optimizers.Adam(0.05), "mse")
    hist = model.fit(X, Y, epochs=30, batch_size=64, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]
    P = model.predict(X, verbose=0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-5)
    assert P.min() >= 0


def test_bad_arguments_fail_fast():
    with pytest.raises(ValueError, match="'set' parameter must be one of"):
        OutputProjection("cube")
    with pytest.raises(ValueError, match="'radius' parameter must be"):
        OutputProjection("l2_ball", radius=0)
    # an index beyond the input: an error of ours on every backend (a gather
    # past the end is NaN on JAX)
    with pytest.raises(ValueError, match=r"'indices' parameter \[5\] names a col"):
        SelectFeatures([5])(np.ones((2, 3), dtype="float32"))
    with pytest.raises(ValueError, match="'indices' parameter must be column"):
        SelectFeatures([-1])
    # four columns are not the outputs of three members side by side
    with pytest.raises(ValueError, match="a multiple of 3 columns; got 4"):
        EnsembleMean(3)(np.ones((2, 4), dtype="float32"))
    with pytest.raises(ValueError, match="at least one entry"):
        OutputProjection("simplex")(np.ones((2, 0), dtype="float32"))


@pytest.mark.parametrize("layer", [OutputProjection, OutputActivation])
def test_integer_scores_are_projected_as_floats(layer):
    scores = np.array([[1, 2, -3], [0, 5, 1]])
    out = np.asarray(layer("simplex")(scores))
    assert out.dtype == np.float32
    np.testing.assert_allclose(
        out, np.asarray(layer("simplex")(scores.astype("float32"))), rtol=1e-6
    )


# ------------------------------------------------------------- TargetScaling
def test_target_scaling_is_a_fixed_affine_map_saved_with_the_model(tmp_path):
    from skconstrain.keras import TargetScaling

    layer = TargetScaling(offset=[1.0, -2.0, 0.5], scale=2.0, name="t")
    X = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(layer(X)), [1.0, -2.0, 0.5] + 2.0 * X, rtol=1e-6
    )
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert layer.get_config()["scale"] == 2.0
    model = keras.Sequential([keras.Input((3,)), layer])
    # the values are weights: set_weights changes them, and they are saved
    model.set_weights([np.zeros(3), np.full(3, 3.0)])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), 3.0 * X, rtol=1e-6)


def test_target_scaling_rows_do_not_depend_on_the_batch():
    from skconstrain.keras import TargetScaling

    rng = np.random.default_rng(1)
    layer = TargetScaling(rng.normal(size=13), rng.uniform(1e-3, 10, size=13))
    X = rng.normal(size=(37, 13)).astype("float32")
    whole = np.asarray(layer(X))
    for rows in (slice(0, 1), slice(3, 20), slice(29, 37)):
        np.testing.assert_array_equal(np.asarray(layer(X[rows])), whole[rows])
