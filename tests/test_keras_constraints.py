"""Weight constraints: hold after every training step; sklearn-style parameters."""

import keras
import numpy as np
import pytest
from sklearn.base import clone

from skconstrain.keras import constraints as C

# float64 stays float64 on every backend (JAX's x64 mode, scoped), as inside
# the estimators
pytestmark = pytest.mark.usefixtures("float64_keras")

NORM_TOL = 1e-6


def _check(name, kernel, c):
    """Assert that every column (axis 0) of the kernel satisfies constraint c."""
    cols = kernel.T
    if name == "unit_norm":
        np.testing.assert_allclose(np.linalg.norm(cols, axis=1), 1.0, atol=NORM_TOL)
    elif name == "non_neg":
        assert kernel.min() >= 0
    elif name == "max_norm":
        assert np.linalg.norm(cols, axis=1).max() <= c.max_value + NORM_TOL
    elif name == "min_max_norm":
        norms = np.linalg.norm(cols, axis=1)
        assert norms.min() >= c.min_value - NORM_TOL
        assert norms.max() <= c.max_value + NORM_TOL
    elif name == "l1_ball":
        assert np.abs(cols).sum(axis=1).max() <= c.radius + NORM_TOL
    elif name == "simplex":
        assert kernel.min() >= 0
        np.testing.assert_allclose(cols.sum(axis=1), c.radius, atol=NORM_TOL)
    elif name == "box":
        assert kernel.min() >= c.lower and kernel.max() <= c.upper


CASES = {
    "unit_norm": C.UnitNorm(),
    "non_neg": C.NonNeg(),
    "max_norm": C.MaxNorm(max_value=0.5),
    "min_max_norm": C.MinMaxNorm(min_value=0.5, max_value=0.8),
    "l1_ball": C.L1Ball(radius=0.3),
    "simplex": C.Simplex(radius=2.0),
    "box": C.Box(-0.05, 0.05),
}


class _CheckEachStep(keras.callbacks.Callback):
    def __init__(self, name, constraint):
        super().__init__()
        self.name, self.constraint, self.steps = name, constraint, 0

    def on_train_batch_end(self, batch, logs=None):
        _check(self.name, np.asarray(self.model.layers[0].kernel), self.constraint)
        self.steps += 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_constraint_holds_after_every_step(name):
    keras.utils.set_random_seed(0)
    c = CASES[name]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 6)).astype("float32")
    Y = (X @ rng.normal(size=(6, 4)) * 3).astype("float32")
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(4, kernel_constraint=c)]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    cb = _CheckEachStep(name, c)
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    assert cb.steps == 8


def test_l1_ball_gives_exact_zeros_and_conv_axes():
    w = np.random.default_rng(0).normal(size=(10, 3))
    out = np.asarray(C.L1Ball(radius=0.5)(w))
    assert (out == 0).sum() > 10
    np.testing.assert_allclose(np.abs(out).sum(axis=0), 0.5)
    k = np.random.default_rng(1).normal(size=(3, 3, 2, 4))  # Conv2D kernel
    out = np.asarray(C.L1Ball(radius=1.0, axis=[0, 1, 2])(k))
    np.testing.assert_allclose(np.abs(out).reshape(-1, 4).sum(axis=0), 1.0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_params_clone_and_serialization(name):
    c = CASES[name]
    params = c.get_params()
    assert params == c.get_config()
    copy = clone(c, safe=False)
    assert copy is not c and copy.get_config() == c.get_config()
    blob = keras.saving.serialize_keras_object(c)
    again = keras.saving.deserialize_keras_object(blob)
    assert type(again) is type(c) and again.get_config() == c.get_config()


def test_set_params():
    c = C.MaxNorm(max_value=1.0)
    assert c.set_params(max_value=3.0) is c and c.max_value == 3.0
    with pytest.raises(ValueError, match="Invalid parameter 'radius' for MaxNorm"):
        c.set_params(radius=1)
    with pytest.raises(ValueError, match="'radius' parameter must be"):
        C.L1Ball().set_params(radius=-1)


@pytest.mark.parametrize(
    "make, match",
    [
        # a negative bound flips every weight vector's sign, a NaN makes
        # every weight NaN: refused, as Keras's own constraints do not
        (lambda: C.MaxNorm(-1.0), "'max_value' parameter must be a finite"),
        (lambda: C.MaxNorm(1.0).set_params(max_value=float("nan")), "'max_value'"),
        (lambda: C.MinMaxNorm(0.0, 0.0), "'max_value' parameter must be a finite"),
        (lambda: C.MinMaxNorm(2.0, 1.0), r"'min_value' parameter .* \[0, max_value"),
        (lambda: C.MinMaxNorm(-0.5, 1.0), "'min_value' parameter"),
        (lambda: C.MinMaxNorm(0.0, 1.0, rate=0.0), r"'rate' parameter .* \(0, 1\]"),
        (lambda: C.MinMaxNorm(0.0, 1.0).set_params(rate=2), "'rate' parameter"),
    ],
)
def test_norm_bounds_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "identifier, expected",
    [
        ("max_norm", C.MaxNorm),
        ("MaxNorm", C.MaxNorm),
        ("nonneg", C.NonNeg),
        ("l1_ball", C.L1Ball),
        (C.Simplex, C.Simplex),
        ({"class_name": "Box", "config": {"lower": 0, "upper": 1}}, C.Box),
        ({"class_name": "MaxNorm", "config": {"max_value": 3}}, C.MaxNorm),
    ],
)
def test_get(identifier, expected):
    assert type(C.get(identifier)) is expected


def test_get_passes_instances_and_none():
    c = C.L1Ball(0.2)
    assert C.get(c) is c
    assert C.get(None) is None
    k = keras.constraints.MaxNorm(2)
    assert C.get(k) is k
    with pytest.raises(
        ValueError, match=r"Unknown constraint 'l3'; valid names are \["
    ):
        C.get("l3")
    with pytest.raises(ValueError, match="'lower' parameter must be <= 'upper'"):
        C.Box(1, 0)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (C.MaxNorm(1.5), keras.constraints.MaxNorm(1.5)),
        (C.UnitNorm(), keras.constraints.UnitNorm()),
        (C.MinMaxNorm(0.5, 1.0, rate=0.7), keras.constraints.MinMaxNorm(0.5, 1.0, 0.7)),
    ],
)
def test_default_axis_is_keras_default_on_dense_kernels_and_biases(ours, theirs):
    rng = np.random.default_rng(0)
    for w in (rng.normal(size=(6, 3)), rng.normal(size=(5,))):
        np.testing.assert_allclose(np.asarray(ours(w)), np.asarray(theirs(w)))


@pytest.mark.parametrize(
    "constraint, check",
    [
        (C.MaxNorm(0.5), lambda f: np.linalg.norm(f, axis=0).max() <= 0.5 + 1e-6),
        (C.UnitNorm(), lambda f: np.allclose(np.linalg.norm(f, axis=0), 1)),
        (C.L1Ball(0.5), lambda f: np.abs(f).sum(axis=0).max() <= 0.5 + 1e-6),
        (C.Simplex(), lambda f: np.allclose(f.sum(axis=0), 1) and f.min() >= 0),
    ],
)
def test_default_axis_constrains_each_filter_of_a_conv_kernel(constraint, check):
    kernel = np.random.default_rng(1).normal(size=(3, 3, 2, 4))  # Conv2D kernel
    out = np.asarray(constraint(kernel))
    assert check(out.reshape(-1, 4))  # each filter: all axes but the last
    assert constraint.get_config()["axis"] is None


def test_keras_positional_arguments_still_work():
    assert C.UnitNorm(1).axis == 1 and C.UnitNorm().axis is None
    assert C.MaxNorm(2.0, 0).get_params() == {"max_value": 2.0, "axis": 0}
    assert C.MinMaxNorm(0.1, 1.0, 0.5, 1).axis == 1


def test_explicit_axis_is_used_as_given():
    kernel = np.random.default_rng(2).normal(size=(3, 3, 2, 4))
    out = np.asarray(C.MaxNorm(0.5, axis=0)(kernel))
    expected = np.asarray(keras.constraints.MaxNorm(0.5, axis=0)(kernel))
    np.testing.assert_allclose(out, expected)  # along axis 0 only, as Keras
