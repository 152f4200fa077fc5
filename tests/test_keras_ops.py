"""skconstrain.keras.ops: agreement with NumPy, gradients, tracing, dtypes."""

import keras
import numpy as np
import pytest
from _gradients import compiled, jacobian, value_and_grad
from _reference import violation

from skconstrain import projections as P
from skconstrain._sets import SET_NAMES
from skconstrain.keras import ops as kops

# float64 stays float64 on every backend (JAX's x64 mode, scoped), as inside
# the estimators
pytestmark = pytest.mark.usefixtures("float64_keras")

PARAMS = {
    "box": {"lower": -0.5, "upper": [1.0, 0.2, 2.0, 0.0, 1.0]},
    "nonneg": {},
    "ordered": {},
}


def params_for(name, radius=1.0):
    return PARAMS.get(name, {"radius": radius})


@pytest.mark.parametrize("name", SET_NAMES)
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-6), ("float64", 1e-12)])
@pytest.mark.parametrize("scale", [0.1, 1.0, 30.0])
def test_agrees_with_numpy(name, dtype, tol, scale):
    X = (scale * np.random.default_rng(0).normal(size=(64, 5))).astype(dtype)
    params = params_for(name, radius=1.5)
    out = kops.project(X, name, **params)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    expected = P.project(X, name, **params)
    np.testing.assert_allclose(np.asarray(out), expected, atol=tol * max(1, scale))


@pytest.mark.parametrize("name", SET_NAMES)
def test_any_rank_last_axis(name):
    X = np.random.default_rng(1).normal(size=(2, 3, 4, 5))
    params = params_for(name)
    out = np.asarray(kops.project(X, name, **params))
    flat = P.project(X.reshape(-1, 5), name, **params).reshape(X.shape)
    np.testing.assert_allclose(out, flat, atol=1e-12)
    v = X[0, 0, 0]
    np.testing.assert_allclose(
        np.asarray(kops.project(v, name, **params)),
        P.project(v, name, **params),
        atol=1e-12,
    )


def test_simplex_of_a_sparsemax_test_case():
    # sparsemax([0, 0.5, 1]) is [0, 0.25, 0.75] (Martins & Astudillo 2016); we
    # pin our value, not any library's (Keras 3.15 gives [0, 0, 0.25]).
    x = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(np.asarray(kops.project_simplex(x)), [0.0, 0.25, 0.75])


def _michelot_rounds(row, radius=1.0):
    """Rounds of Michelot's algorithm that change the support of ``row``."""
    xs = row - row.max()
    support = np.ones(len(xs), dtype=bool)
    for changed in range(len(xs)):
        theta = (xs[support].sum() - radius) / support.sum()
        new = support & (xs > theta)
        if new.sum() == support.sum():
            return changed
        support = new
    raise AssertionError("no fixed point")


def _hardest_row(d):
    """A row ``-c (e^(a i) - 1)`` whose support takes the most rounds (its
    entries at most 1e14 in size: finite in float32)."""
    rows = (
        -c * np.expm1(a * np.arange(d))
        for a in np.linspace(0.05, min(3.0, 30 / (d - 1)), 60)
        for c in np.geomspace(1e-3, 10.0, 60)
    )
    return max(rows, key=_michelot_rounds)


@pytest.mark.parametrize("d", [2, 3, 5, kops._UNROLLED_SUPPORT, 9, 16, 40])
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-6), ("float64", 1e-12)])
def test_simplex_support_takes_every_round_a_row_needs(d, dtype, tol):
    # up to _UNROLLED_SUPPORT entries the rounds are written out (d - 1 of
    # them), beyond in a loop to the fixed point: a row that needs d - 1
    # rounds, and random rows at three scales, on both paths, eager and traced
    hardest = _hardest_row(d)
    if d <= kops._UNROLLED_SUPPORT:
        assert _michelot_rounds(hardest) == d - 1
    rng = np.random.default_rng(d)
    X = np.vstack(
        [hardest, *(s * rng.normal(size=(20, d)) for s in (0.1, 1.0, 30.0))]
    ).astype(dtype)
    expected = P.project_simplex(X.astype("float64"))
    scale = np.abs(X).max(axis=1, keepdims=True)
    for out in (kops.project_simplex(X), compiled(kops.project_simplex)(X)):
        np.testing.assert_allclose(
            np.asarray(out) / np.maximum(scale, 1),
            expected / np.maximum(scale, 1),
            atol=tol,
        )


MASKED = np.array(
    [
        [0.0, 0.0, -np.inf],
        [1.0, -np.inf, 3.0],
        [5.0, -np.inf, -3.0],
        [0.2, -np.inf, 0.1],
    ]
)


@pytest.mark.parametrize("name", ["simplex", "l1_ball"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_masked_scores_come_out_as_exact_zeros(name, dtype):
    x = MASKED.astype(dtype)
    masked = np.isneginf(x)
    unmasked = np.where(masked, 0.0 if name == "l1_ball" else -1e30, x)
    expected = P.project(unmasked.astype("float64"), name)

    def loss(v):
        y = kops.project(v, name)
        return keras.ops.sum(y * np.arange(1.0, 4.0, dtype=dtype)), y

    (_, out), gradient = value_and_grad(loss, x)
    assert np.all(out[masked] == 0)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert np.isfinite(gradient).all()
    assert np.all(gradient[masked] == 0)
    # and under a traced function, as in a training step
    traced = compiled(lambda v: kops.project(v, name))
    np.testing.assert_allclose(traced(x), out)


def test_simplex_row_of_only_masked_scores_is_nan():
    row = np.full((1, 3), -np.inf)
    assert np.isnan(np.asarray(kops.project_simplex(row))).all()


ROW_WISE = ("simplex", "l1_ball", "l2_ball", "l2_sphere", "ordered")


@pytest.mark.parametrize("name", SET_NAMES)
@pytest.mark.parametrize("bad", [np.inf, np.nan, -np.inf])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_non_finite_row_is_all_nan_or_clipped(name, bad, dtype):
    """A row with +inf or NaN has no projection onto a set that couples its
    entries: it comes out all NaN (as TF Addons' sparsemax and jaxopt give
    it), never half NaN; -inf is a masked score in the simplex and the L1
    ball. The elementwise sets clip each entry. Other rows are untouched."""
    x = np.array([[0.0, bad, 0.3, -0.2, 1.0], [0.2, 0.3, -0.1, 0.0, 0.5]], dtype)
    params = params_for(name)
    out = np.asarray(kops.project(x, name, **params))
    np.testing.assert_allclose(out[1], P.project(x[1:], name, **params)[0], atol=1e-6)
    masked = bad == -np.inf and name in ("simplex", "l1_ball")
    if name in ROW_WISE and not masked:
        assert np.isnan(out[0]).all()
    elif masked:
        assert np.isfinite(out[0]).all() and out[0, 1] == 0
    else:  # elementwise: the other entries are projected, the bad one clipped
        finite = np.isfinite(x[0])
        expected = P.project(np.where(finite, x[0], 0.0)[None], name, **params)[0]
        np.testing.assert_allclose(out[0][finite], expected[finite], atol=1e-6)


@pytest.mark.parametrize("name", SET_NAMES)
@pytest.mark.parametrize("jit", [False, True])
def test_traces_when_compiled(name, jit):
    params = params_for(name)
    fn = compiled(lambda x: kops.project(x, name, **params), xla=jit)
    X = np.random.default_rng(2).normal(size=(16, 5)).astype("float32")
    np.testing.assert_allclose(fn(X), P.project(X, name, **params), atol=1e-5)
    for n in (1, 7):  # another batch size: traced again (or reused), the same
        np.testing.assert_allclose(
            fn(X[:n]), P.project(X[:n], name, **params), atol=1e-5
        )
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    # a batch of another size reuses the traced function with a None batch dim
    sig_fn = tf.function(
        lambda x: kops.project(x, name, **params),
        jit_compile=jit,
        input_signature=[tf.TensorSpec((None, 5), tf.float32)],
    )
    for n in (1, 7):
        np.testing.assert_allclose(
            sig_fn(tf.constant(X[:n])).numpy(),
            P.project(X[:n], name, **params),
            atol=1e-5,
        )


def _jacobian(name, x, params):
    return jacobian(lambda v: kops.project(v, name, **params), x)


def _finite_difference(name, x, params, h=1e-6):
    d = x.shape[0]
    J = np.zeros((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        J[:, j] = (
            P.project(x + e, name, **params) - P.project(x - e, name, **params)
        ) / (2 * h)
    return J


@pytest.mark.parametrize("name", SET_NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_gradient_matches_finite_differences(name, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=5) * 2.0
    params = params_for(name, radius=1.3)
    np.testing.assert_allclose(
        _jacobian(name, x, params), _finite_difference(name, x, params), atol=1e-6
    )


@pytest.mark.parametrize("seed", range(5))
def test_simplex_jacobian_closed_form(seed):
    x = np.random.default_rng(seed).normal(size=7)
    p = P.project_simplex(x)
    s = (p > 0).astype(float)
    expected = np.diag(s) - np.outer(s, s) / s.sum()
    np.testing.assert_allclose(
        _jacobian("simplex", x, {"radius": 1.0}), expected, atol=1e-12
    )


def test_gradients_finite_at_zero_and_inside():
    for name in ["l2_sphere", "l2_ball", "l1_ball"]:
        J = _jacobian(name, np.zeros(3), {"radius": 1.0})
        assert np.isfinite(J).all()
    np.testing.assert_allclose(
        _jacobian("l2_ball", np.array([0.1, 0.2]), {}), np.eye(2)
    )


def test_bad_params():
    with pytest.raises(ValueError, match="'set' parameter must be one of"):
        kops.project(np.ones((2, 2)), "l3")
    with pytest.raises(ValueError, match="'radius' parameter must be"):
        kops.project(np.ones((2, 2)), "simplex", radius=-1)
    with pytest.raises(ValueError, match=r"takes the parameters \['radius'\]"):
        kops.project(np.ones((2, 2)), "simplex", lower=0)


# ---------------------------------------------------------------- activations
ACTIVATIONS = [
    ("simplex", {"radius": 2.0}),
    ("l2_sphere", {"radius": 0.5}),
    ("l2_ball", {"radius": 0.5}),
    ("l1_ball", {"radius": 0.5}),
    ("linf_ball", {"radius": 0.5}),
    ("box", {"lower": [0.0, -1.0, 0.5, 0.0], "upper": 1.0}),
    ("box", {"lower": -1.0}),
    ("box", {"upper": 2.0}),
    ("nonneg", {}),
    ("ordered", {}),
]


@pytest.mark.parametrize("name, params", ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_is_feasible_with_gradients_everywhere(name, params, dtype):
    rng = np.random.default_rng(0)
    big = 1e30 if dtype == "float32" else 1e300
    X = np.vstack(
        [
            rng.normal(size=(20, 4)),
            rng.normal(size=(5, 4)) * 50,
            np.zeros((1, 4)),
            [[1e-8, -2e-8, 0.0, 3e-8], [big, -big, 1.0, 0.0]],
        ]
    ).astype(dtype)

    def loss(v):
        out = kops.activate(v, name, **params)
        return keras.ops.sum(out * np.arange(1.0, 5.0, dtype=dtype)), out

    (_, out), gradient = value_and_grad(loss, X)
    assert out.dtype == X.dtype and np.isfinite(out).all()
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert violation(out.astype("float64"), name, **params) <= tol
    assert np.isfinite(gradient).all()
    # every score of an ordinary row still learns (a projection zeroes some)
    assert (np.abs(gradient[:20]) > 0).mean() > 0.9


def test_activation_is_identity_to_first_order_inside_the_balls():
    x = np.array([[1e-4, -2e-4, 3e-4]])
    for name in ("l2_ball", "l1_ball"):
        np.testing.assert_allclose(np.asarray(kops.activate(x, name)), x, rtol=1e-6)


def test_output_activation_layer_saves_and_loads(tmp_path):
    from skconstrain.keras import OutputActivation

    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4), OutputActivation("l1_ball", 2.0)]
    )
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    X = np.random.default_rng(1).normal(size=(5, 3)) * 10
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0))
    assert np.abs(again.predict(X, verbose=0)).sum(axis=1).max() <= 2 + 1e-5
