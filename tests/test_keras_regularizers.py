"""Weight penalties: values against NumPy formulas, registry, serialization."""

import keras
import numpy as np
import pytest
from _gradients import value_and_grad
from sklearn.base import clone

from skconstrain.keras import regularizers as R

# float64 stays float64 on every backend (JAX's x64 mode, scoped), as inside
# the estimators
pytestmark = pytest.mark.usefixtures("float64_keras")

W = np.random.default_rng(0).normal(size=(5, 3))


@pytest.mark.parametrize(
    "reg, expected",
    [
        (R.L1(0.3), 0.3 * np.abs(W).sum()),
        (R.L2(0.3), 0.3 * (W**2).sum()),
        (
            R.ElasticNet(0.3, l1_ratio=0.25),
            0.3 * (0.25 * np.abs(W).sum() + 0.75 * (W**2).sum()),
        ),
        (R.Orthogonality(0.3), 0.3 * ((W.T @ W - np.eye(3)) ** 2).sum()),
        (
            R.Orthogonality(0.3, mode="rows"),
            0.3 * ((W @ W.T - np.eye(5)) ** 2).sum(),
        ),
        (
            R.ClipPenalty(0.3, lower=-0.5, upper=0.2),
            0.3 * ((W - np.clip(W, -0.5, 0.2)) ** 2).sum(),
        ),
        (R.GroupLasso(0.3), 0.3 * np.linalg.norm(W, axis=1).sum()),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, float) else "",
)
def test_values_match_numpy(reg, expected):
    assert float(reg(W)) == pytest.approx(expected, rel=1e-12)


def test_orthogonality_penalises_scale_too():
    # ||W^T W - I||_F^2 for W = 3 I: (9 - 1)^2 * 2 = 128; Keras's
    # OrthogonalRegularizer normalises rows first (a design, which we do not pin)
    three_i = 3 * np.eye(2, dtype="float32")
    assert float(R.Orthogonality(1.0)(three_i)) == pytest.approx(128.0)
    assert float(R.Orthogonality(1.0)(np.eye(4)[:, :2])) == 0


def test_conv_kernel_and_group_lasso_zero_rows():
    k = np.random.default_rng(1).normal(size=(3, 3, 2, 4))
    m = k.reshape(-1, 4)
    assert float(R.Orthogonality(1.0)(k)) == pytest.approx(
        ((m.T @ m - np.eye(4)) ** 2).sum()
    )
    _, grad = value_and_grad(R.GroupLasso(1.0), np.vstack([np.zeros((1, 3)), W]))
    assert np.isfinite(grad).all() and np.all(grad[0] == 0)


def test_group_lasso_drives_rows_to_zero_in_training():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 6)).astype("float32")
    y = (X[:, :2] @ np.array([[1.0], [-1.0]])).astype("float32")  # 4 useless inputs
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(1, kernel_regularizer=R.GroupLasso(0.05)),
        ]
    )
    model.compile(keras.optimizers.SGD(0.05), "mse")
    model.fit(X, y, epochs=40, batch_size=32, verbose=0)
    k = np.abs(model.layers[0].kernel.numpy().ravel())
    assert k[2:].max() < 0.05 * k[:2].min()


@pytest.mark.parametrize(
    "reg",
    [
        R.L1(0.1),
        R.L2(0.2),
        R.ElasticNet(0.1, 0.3),
        R.Orthogonality(0.1, "rows"),
        R.ClipPenalty(0.1, -2.0, 2.0),
        R.GroupLasso(0.4),
    ],
)
def test_params_clone_and_serialization(reg):
    assert reg.get_params() == reg.get_config()
    assert clone(reg, safe=False).get_config() == reg.get_config()
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(reg)
    )
    assert type(again) is type(reg) and again.get_config() == reg.get_config()
    assert float(again(W)) == float(reg(W))


@pytest.mark.parametrize(
    "identifier, expected",
    [
        ("l1", R.L1),
        ("L2", R.L2),
        ("elasticnet", R.ElasticNet),
        ("elastic_net", R.ElasticNet),
        ("orthogonality", R.Orthogonality),
        ("clip", R.ClipPenalty),
        ("group_lasso", R.GroupLasso),
        ({"class_name": "L2", "config": {"factor": 0.5}}, R.L2),
    ],
)
def test_get(identifier, expected):
    assert type(R.get(identifier)) is expected


def test_get_callables_and_errors():
    def f(w):
        return keras.ops.sum(w)

    assert R.get(f) is f
    assert R.get(None) is None
    with pytest.raises(ValueError, match=r"Unknown regularizer 'l3'; valid names"):
        R.get("l3")
    with pytest.raises(ValueError, match="'factor' parameter must be"):
        R.L1(-1.0)
    with pytest.raises(ValueError, match="'l1_ratio' parameter must be"):
        R.ElasticNet(l1_ratio=2)
    with pytest.raises(ValueError, match="'mode' parameter must be one of"):
        R.Orthogonality(mode="diag")
    # a callable works as a kernel regularizer in a Keras layer
    layer = keras.layers.Dense(2, kernel_regularizer=f)
    layer.build((None, 3))
    layer(np.ones((1, 3)))
    assert len(layer.losses) == 1


@pytest.mark.parametrize("name", ["l1l2", "l1_l2", "L1L2", "L1_L2"])
def test_keras_l1l2_names_are_elastic_net(name):
    reg = R.get(name)
    assert type(reg) is R.ElasticNet
    # Keras documents kernel_regularizer="l1_l2" as l1 = l2 = 0.01
    W = np.random.default_rng(0).normal(size=(4, 3))
    expected = keras.regularizers.L1L2(l1=0.01, l2=0.01)(W)
    assert float(reg(W)) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize(
    "config", [{"l1": 0.1, "l2": 0.3}, {"l2": 0.1}, {"l1": 0.2}, {"l1": 0, "l2": 0}]
)
def test_keras_l1l2_config_gives_the_same_penalty(config):
    W = np.random.default_rng(1).normal(size=(5, 2))
    ours = R.get({"class_name": "L1L2", "config": config})
    theirs = keras.regularizers.L1L2(**config)
    assert float(ours(W)) == pytest.approx(float(theirs(W)), rel=1e-6, abs=1e-12)
    # and from Keras's own serialisation of it
    again = R.get(keras.saving.serialize_keras_object(theirs))
    assert again.get_config() == ours.get_config()


def test_keras_l1l2_bad_factors():
    with pytest.raises(ValueError, match="'l1' parameter must be a real number >= 0"):
        R.get({"class_name": "L1L2", "config": {"l1": -1.0}})
    with pytest.raises(ValueError, match=r"Could not build ElasticNet\.from_l1_l2"):
        R.get({"class_name": "L1L2", "config": {"factor": 1.0}})


def test_get_follows_keras_deserialization():
    ours = R.ElasticNet(0.3, l1_ratio=0.2)
    again = R.get(keras.saving.serialize_keras_object(ours))
    assert type(again) is R.ElasticNet and again.get_config() == ours.get_config()
    # a Keras regularizer that is not ours is Keras's to build
    theirs = keras.regularizers.OrthogonalRegularizer(0.1)
    built = R.get(keras.saving.serialize_keras_object(theirs))
    assert isinstance(built, keras.regularizers.OrthogonalRegularizer)
    with pytest.raises(ValueError, match="must be a Keras serialization"):
        R.get({"class_name": "L2", "factor": 0.5})  # not Keras's format
    with pytest.raises(ValueError, match="Unknown regularizer 'Nope'"):
        R.get({"class_name": "Nope", "config": {}})
