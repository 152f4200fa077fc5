"""OutputPenalty: values, finiteness, gradients toward the set, training effect."""

import keras
import numpy as np
import pytest
from _gradients import compiled_grad, value_and_grad

from skconstrain.keras import penalties
from skconstrain.keras.penalties import KINDS, OutputPenalty
from skconstrain.projections import project

# float64 stays float64 on every backend (JAX's x64 mode, scoped), as inside
# the estimators
pytestmark = pytest.mark.usefixtures("float64_keras")

SETS = ["l2_ball", "l1_ball", "linf_ball", "l2_sphere", "simplex", "nonneg", "box"]


def _pen(name, kind="quadratic", **kw):
    if name == "box":
        kw.setdefault("lower", -0.5)
        kw.setdefault("upper", 0.5)
    return OutputPenalty(name, kind=kind, **kw)


def test_quadratic_values():
    Y = np.array([[0.6, 0.8], [3.0, 4.0]])
    assert float(_pen("l2_ball")(Y)) == pytest.approx(16.0)
    assert float(_pen("l1_ball", radius=2.0)(Y)) == pytest.approx(
        0.0 + (7 / 2 - 1) ** 2
    )
    assert float(_pen("linf_ball")(Y)) == pytest.approx(9.0)
    assert float(_pen("l2_sphere")(Y)) == pytest.approx(16.0)
    S = np.array([[-0.5, 1.0]])
    assert float(_pen("simplex")(S)) == pytest.approx(0.25 + 0.25)
    assert float(_pen("nonneg", strength=2.0)(S)) == pytest.approx(0.5)
    assert float(_pen("box")(np.array([[1.0, -1.0]]))) == pytest.approx(0.5)


@pytest.mark.parametrize("name", SETS)
def test_quadratic_zero_inside(name):
    Y = np.random.default_rng(0).normal(size=(20, 3))
    params = {"lower": -0.5, "upper": 0.5} if name == "box" else {}
    inside = project(Y, name, **params)
    assert float(_pen(name)(inside)) == pytest.approx(0.0, abs=1e-20)


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("kind", KINDS)
def test_finite_everywhere_and_gradient_points_to_set(name, kind):
    rng = np.random.default_rng(1)
    Y = 3.0 * rng.normal(size=(50, 3)) + 2.0  # mostly outside every set
    pen = _pen(name, kind)
    (value, _), grad = value_and_grad(pen, Y)
    assert np.isfinite(float(value)) and np.isfinite(grad).all()
    params = {"lower": -0.5, "upper": 0.5} if name == "box" else {}
    direction = project(Y, name, **params) - Y  # toward the set
    outside = np.linalg.norm(direction, axis=1) > 1e-9
    assert outside.sum() > 20  # enough rows outside to test
    # descending the penalty moves outputs toward the set
    assert np.all(np.sum(-grad * direction, axis=1)[outside] > 0)
    # and far from the boundary it is finite in float32 too
    far = _pen(name, kind)(np.full((2, 3), 1e6, dtype="float32"))
    assert np.isfinite(float(far))


@pytest.mark.parametrize("name", SETS)
def test_gradient_is_finite_where_a_program_computes_y_twice(name):
    # y = tanh(x W) * a + x * b: XLA may compute it in two fusions, one with a
    # fused multiply-add, that differ in the last bit. The gradient of
    # ops.max(|y|) divides by the count of entries equal to the max, 0 there:
    # NaN on both backends with XLA_FLAGS=--xla_backend_optimization_level=0
    # (as tests/conftest.py has the suite compile), where a monotone
    # network's linf_ball penalty diverged at its first epoch.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    a, b, w = (rng.normal(size=s).astype("float32") for s in [(3,), (3,), (3, 3)])
    pen = _pen(name)

    def loss(a, b, w):
        return pen(keras.ops.tanh(keras.ops.matmul(x, w)) * a + x * b)

    grad = compiled_grad(loss, xla=True)(a, b, w)
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_sphere_equality_is_quadratic_for_every_kind():
    Y = np.random.default_rng(0).normal(size=(10, 3))
    values = [float(OutputPenalty("l2_sphere", kind=k)(Y)) for k in KINDS]
    assert values[0] > 0 and values == [values[0]] * 3


def test_barriers_continue_smoothly_at_margin():
    for kind in ["log_barrier", "reciprocal"]:
        pen = OutputPenalty("nonneg", kind=kind, margin=0.01)
        eps = 1e-7
        at = lambda v, pen=pen: float(pen.row_penalty(np.array([[v]]))[0])  # noqa: E731
        left, right = at(0.01 + eps), at(0.01 - eps)
        assert left == pytest.approx(right, rel=1e-4)
        # inside, deeper than 1: no penalty
        assert at(2.0) == 0.0
        # barrier grows toward the boundary
        assert at(0.02) > at(0.5) > 0


def test_training_with_penalty_reduces_violation():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 4)).astype("float32")
    Y = (2 * X[:, :3]).astype("float32")  # targets far outside the unit L1 ball

    def violation(model):
        P = model.predict(X, verbose=0)
        return np.maximum(np.abs(P).sum(axis=1) - 1, 0).mean()

    results = {}
    for strength in (0.0, 10.0):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(
                    3,
                    activity_regularizer=OutputPenalty("l1_ball", strength=strength),
                ),
            ]
        )
        model.compile(keras.optimizers.Adam(0.05), "mse")
        model.fit(X, Y, epochs=30, batch_size=64, verbose=0)
        results[strength] = violation(model)
    assert results[10.0] < 0.25 * results[0.0]


def test_config_registry_and_errors():
    pen = OutputPenalty("box", lower=[0.0, 1.0], upper=2.0, kind="reciprocal")
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(pen)
    )
    assert again.get_config() == pen.get_config()
    assert penalties.get(pen) is pen
    assert penalties.get(None) is None
    got = penalties.get({"class_name": "OutputPenalty", "config": {"set": "simplex"}})
    assert isinstance(got, OutputPenalty) and got.set == "simplex"
    with pytest.raises(ValueError, match="Could not build OutputPenalty"):
        penalties.get("output_penalty")
    with pytest.raises(ValueError, match="'kind' parameter must be one of"):
        OutputPenalty("simplex", kind="cubic")
    with pytest.raises(ValueError, match="'set' parameter must be one of"):
        OutputPenalty("cube")
    with pytest.raises(ValueError, match="'strength' parameter must be"):
        OutputPenalty("simplex", strength=-1)
    assert pen.set_params(strength=3.0).strength == 3.0
