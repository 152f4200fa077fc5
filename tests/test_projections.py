"""Properties of the exact NumPy projections (skconstrain.projections)."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _reference import REFERENCES, violation
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skconstrain import projections as P
from skconstrain._sets import SET_NAMES

RADIUS_SETS = ["l2_sphere", "l2_ball", "l1_ball", "simplex", "linf_ball"]
CONVEX_SETS = ["l2_ball", "l1_ball", "simplex", "linf_ball", "nonneg", "box", "ordered"]
BOX = {"lower": -0.5, "upper": 2.0}


def params_for(name, radius=1.0):
    if name == "box":
        return dict(BOX)
    if name in ("nonneg", "ordered"):
        return {}
    return {"radius": radius}


def tol_for(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


@st.composite
def batches(draw, dtype=None, min_rows=1):
    """Random (n, d) batches with entries spread over many orders of magnitude."""
    dtype = dtype or draw(st.sampled_from([np.float64, np.float32]))
    n = draw(st.integers(min_rows, 6))
    d = draw(st.integers(1, 9))
    log_scale = draw(st.integers(-3, 3) if dtype == np.float32 else st.integers(-8, 8))
    V = draw(
        hnp.arrays(
            np.float64,
            (n, d),
            elements=st.floats(-10, 10, allow_nan=False, allow_infinity=False),
        )
    )
    return (V * 10.0**log_scale).astype(dtype)


radii = st.sampled_from([0.1, 1.0, 3.0, 1e3])


# --------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", SET_NAMES)
@settings(max_examples=60, deadline=None)
@given(V=batches(), radius=radii)
def test_feasible(name, V, radius):
    params = params_for(name, radius)
    out = P.project(V, name, **params)
    assert out.shape == V.shape and out.dtype == V.dtype
    if name == "l2_sphere":  # zero rows stay zero with zero_norm="keep"
        out = out[np.linalg.norm(V.astype(np.float64), axis=1) > 0]
    assert violation(out, name, **params) <= tol_for(V.dtype) * 10


@pytest.mark.parametrize("name", SET_NAMES)
@settings(max_examples=60, deadline=None)
@given(V=batches(), radius=radii)
def test_idempotent(name, V, radius):
    params = params_for(name, radius)
    once = P.project(V, name, **params)
    twice = P.project(once, name, **params)
    scale = np.abs(once).max() if once.size else 1.0
    np.testing.assert_allclose(
        twice, once, rtol=tol_for(V.dtype) * 10, atol=tol_for(V.dtype) * 10 * scale
    )


@pytest.mark.parametrize("name", CONVEX_SETS)
@settings(max_examples=60, deadline=None)
@given(
    V=batches(dtype=np.float64),
    Z=batches(dtype=np.float64),
    radius=radii,
)
def test_variational_inequality(name, V, Z, radius):
    """<x - P(x), z - P(x)> <= 0 for every z in the set (P is the projection)."""
    params = params_for(name, radius)
    p = P.project(V, name, **params)
    d = V.shape[1]
    z = P.project(np.resize(Z, (Z.shape[0], d)), name, **params)  # feasible points
    for x_row, p_row in zip(V, p, strict=True):
        inner = (z - p_row) @ (x_row - p_row)
        # rounding of p grows with x for the cones (nonneg, ordered: p ~ x)
        bound = (
            1e-10
            * (1 + np.linalg.norm(x_row))
            * (1 + np.abs(z).max() + np.linalg.norm(p_row))
        )
        assert inner.max() <= bound


@settings(max_examples=60, deadline=None)
@given(V=batches(dtype=np.float64), Z=batches(dtype=np.float64), radius=radii)
def test_sphere_is_nearest_point(V, Z, radius):
    V = V[np.linalg.norm(V, axis=1) > 0]
    p = P.project_l2_sphere(V, radius)
    z = P.project_l2_sphere(np.resize(Z, (Z.shape[0], V.shape[1])), radius)
    z = z[np.linalg.norm(z, axis=1) > 0]
    for x_row, p_row in zip(V, p, strict=True):
        best = np.linalg.norm(x_row - p_row)
        others = np.linalg.norm(z - x_row, axis=1)
        assert np.all(best <= others * (1 + 1e-12) + 1e-300)


@pytest.mark.parametrize("name", RADIUS_SETS)
@settings(max_examples=60, deadline=None)
@given(V=batches(dtype=np.float64), radius=radii)
def test_scale_equivariance(name, V, radius):
    """P_r(x) = r * P_1(x / r), up to the rounding of x itself.

    The thresholds of the simplex and the L1 ball are computed on rows shifted
    by their maximum, so their absolute error is a few ulps of max |x| (e.g.
    1e-10 for x = 1e6 against entries of 0.05 for r = 0.1, which hypothesis
    found): no float64 algorithm does better, and the tolerance says so.
    """
    lhs = P.project(V, name, radius=radius)
    rhs = radius * P.project(V / radius, name, radius=1.0)
    rounding = 8 * np.finfo(np.float64).eps * np.abs(V).max(initial=0.0)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-12 * radius + rounding)


@pytest.mark.parametrize("name", ["l2_sphere", "l2_ball", "l1_ball", "simplex"])
@settings(max_examples=80, deadline=None)
@given(V=batches(dtype=np.float64), radius=radii)
def test_matches_slow_reference(name, V, radius):
    if name == "l2_sphere":
        V = V[np.linalg.norm(V, axis=1) > 0]
    out = P.project(V, name, radius=radius)
    ref = np.array([REFERENCES[name](v, radius) for v in V]).reshape(V.shape)
    scale = max(radius, np.abs(V).max() if V.size else 0.0)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-11 * scale)


@settings(max_examples=80, deadline=None)
@given(V=batches())
def test_ordered_matches_isotonic_regression_row_by_row(V):
    out = P.project_ordered(V)
    ref = np.array([REFERENCES["ordered"](v) for v in V]).reshape(V.shape)
    scale = np.abs(V).max() if V.size else 1.0
    np.testing.assert_allclose(out, ref, rtol=0, atol=tol_for(V.dtype) * scale)


@pytest.mark.parametrize("d", [1, 2, 7, 40, 200])
def test_ordered_long_rows_ties_and_sorted_rows(d):
    rng = np.random.default_rng(d)
    V = np.vstack(
        [
            rng.normal(size=(50, d)),
            np.sort(rng.normal(size=(5, d)), axis=1),  # in the set: unchanged
            -np.sort(rng.normal(size=(5, d)), axis=1),  # decreasing: all pooled
            rng.integers(0, 3, size=(20, d)).astype(float),  # ties
        ]
    )
    out = P.project_ordered(V)
    ref = np.array([REFERENCES["ordered"](v) for v in V])
    np.testing.assert_allclose(out, ref, atol=1e-12 * max(1.0, np.abs(V).max()))
    np.testing.assert_array_equal(out[50:55], V[50:55])
    np.testing.assert_allclose(
        out[55:60], V[55:60].mean(axis=1, keepdims=True) + 0 * V[55:60], atol=1e-12
    )


@pytest.mark.parametrize("name", ["l2_ball", "l1_ball", "linf_ball"])
@settings(max_examples=40, deadline=None)
@given(V=batches(), radius=radii)
def test_rows_inside_ball_unchanged_bitwise(name, V, radius):
    inside = P.project(V, name, radius=radius * 0.999)  # strictly inside
    out = P.project(inside, name, radius=radius)
    np.testing.assert_array_equal(out, inside)


@settings(max_examples=40, deadline=None)
@given(V=batches(dtype=np.float64), radius=radii)
def test_points_of_simplex_unchanged(V, radius):
    on = P.project_simplex(V, radius)
    np.testing.assert_allclose(P.project_simplex(on, radius), on, atol=1e-12 * radius)


@pytest.mark.parametrize("d", [1, 2, 16, 17, 40, 200, 513, 4096])
def test_simplex_long_rows_and_large_supports(d):
    """Rows whose support exceeds the 16-entry prefix take the other paths
    (filtering rounds, a partial sort, a full sort), mixed in one batch."""
    rng = np.random.default_rng(d)
    V = np.vstack(
        [
            rng.standard_normal((5, d)),  # small supports
            1e-3 * rng.standard_normal((5, d)),  # full or large supports
            1e-2 * rng.standard_normal((3, d)) / np.sqrt(d),
            np.linspace(0, 1e-2, d)[None, :],  # support of every size
            # supports that shrink slowly: more filtering rounds than allowed
            (0.9 ** np.arange(d))[None, :] * 5 / max(d, 1),
        ]
    )
    # m - x overflows to inf for entries far below the maximum: they are out
    huge = rng.permutation(np.r_[np.full(d - 1, -1e308), 1e308])
    # ties at the maximum make a large support next to an overflowing entry
    tied = np.r_[np.full(max(d - 1, 1), 1e308), -1e308][:d]
    for radius in (0.01, 1.0):
        out = P.project_simplex(np.vstack([V, huge, tied]), radius)
        np.testing.assert_array_equal(out[-2], np.where(huge > 0, radius, 0.0))
        expected = np.where(tied > 0, radius / np.count_nonzero(tied > 0), 0.0)
        np.testing.assert_allclose(out[-1], expected, rtol=1e-12)
    for radius in (0.01, 1.0, 10.0):
        out = P.project_simplex(V, radius)
        ref = np.array([REFERENCES["simplex"](v, radius) for v in V])
        np.testing.assert_allclose(out, ref, atol=1e-12 * max(radius, 1))


# --------------------------------------------------------------------- edge cases


def test_simplex_example_and_ties():
    np.testing.assert_allclose(P.project_simplex([0, 0.5, 1]), [0, 0.25, 0.75])
    np.testing.assert_allclose(P.project_simplex([1.0, 1.0, 1.0]), [1 / 3] * 3)
    np.testing.assert_allclose(P.project_simplex([2.0, 2.0, 0.0]), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(P.project_l1_ball([3.0, -3.0]), [0.5, -0.5])


def test_zero_rows():
    Z = np.zeros((2, 3))
    np.testing.assert_array_equal(P.project_l2_sphere(Z), Z)
    np.testing.assert_allclose(
        P.project_l2_sphere(Z, 2.0, zero_norm="uniform"), np.full((2, 3), 2 / 3**0.5)
    )
    with pytest.raises(ValueError, match="zero norm"):
        P.project_l2_sphere(Z, zero_norm="error")
    np.testing.assert_array_equal(P.project_l2_ball(Z), Z)
    np.testing.assert_array_equal(P.project_l1_ball(Z), Z)
    np.testing.assert_allclose(P.project_simplex(Z), np.full((2, 3), 1 / 3))


def test_one_column():
    v = np.array([[-2.0], [0.5], [3.0]])
    np.testing.assert_array_equal(P.project_simplex(v, 2.0), [[2.0], [2.0], [2.0]])
    np.testing.assert_array_equal(P.project_l2_sphere(v), [[-1.0], [1.0], [1.0]])
    np.testing.assert_array_equal(P.project_l1_ball(v), [[-1.0], [0.5], [1.0]])


@pytest.mark.parametrize("name", SET_NAMES)
@pytest.mark.parametrize("magnitude", [1e300, 1e-300, 1e308, 5e-324])
def test_extreme_magnitudes_stay_finite_and_feasible(name, magnitude):
    rows = np.array([[1.0, -2.0, 0.5], [3.0, 3.0, -1.0], [1.0, 0.0, 0.0]])
    big = np.finfo(float).max
    with np.errstate(over="ignore"):
        V = np.clip(magnitude * rows, -big, big)
    params = params_for(name)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = P.project(V, name, **params)
    assert np.isfinite(out).all()
    assert violation(out, name, **params) <= 1e-12


def test_extreme_magnitudes_give_right_answers():
    big = np.array([1e300, 1e300 * np.sqrt(3)])
    np.testing.assert_allclose(P.project_l2_sphere(big), [0.5, np.sqrt(3) / 2])
    tiny = np.array([1e-300, -1e-300 * np.sqrt(3)])
    np.testing.assert_allclose(P.project_l2_sphere(tiny), [0.5, -np.sqrt(3) / 2])
    np.testing.assert_allclose(P.project_l2_ball(tiny), tiny)
    # Huge, nearly equal entries: precision is kept by the shift in the simplex.
    np.testing.assert_allclose(P.project_simplex([1e20, 1e20, 0]), [0.5, 0.5, 0])
    np.testing.assert_allclose(
        P.project_l1_ball([1e308, -1e308, 1.0]), [0.5, -0.5, 0.0]
    )


def test_dtypes():
    v32 = np.array([[3.0, 4.0]], dtype=np.float32)
    for name in SET_NAMES:
        assert P.project(v32, name, **params_for(name)).dtype == np.float32
        for src in (np.array([[3, 4]]), np.array([[True, False]]), v32.astype("f2")):
            assert P.project(src, name, **params_for(name)).dtype == np.float64
    np.testing.assert_allclose(P.project_l2_sphere([[3, 4]]), [[0.6, 0.8]])


def test_shapes_and_containers():
    v = np.array([3.0, 4.0])
    assert P.project_l2_sphere(v).shape == (2,)
    assert P.project_l2_sphere([v, v]).shape == (2, 2)
    df = pd.DataFrame([[3.0, 4.0]], columns=["a", "b"])
    out = P.project_l2_sphere(df)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [[0.6, 0.8]])
    for name in SET_NAMES:
        empty = P.project(np.zeros((0, 4)), name, **params_for(name))
        assert empty.shape == (0, 4)


def test_input_not_modified():
    V = np.array([[3.0, -4.0, 0.1], [0.0, 0.0, 0.0]])
    before = V.copy()
    for name in SET_NAMES:
        P.project(V, name, **params_for(name))
    np.testing.assert_array_equal(V, before)


def test_box_bounds():
    V = np.array([[-1.0, 0.5, 3.0], [2.0, -2.0, 0.0]])
    np.testing.assert_array_equal(
        P.project_box(V, [0, -1, 0], [1, 1, 2]), [[0, 0.5, 2], [1, -1, 0]]
    )
    np.testing.assert_array_equal(P.project_box(V, lower=0), np.maximum(V, 0))
    np.testing.assert_array_equal(P.project_box(V, upper=0), np.minimum(V, 0))
    with pytest.raises(ValueError, match="The set 'box' needs 'lower', 'upper'"):
        P.project_box(V)  # all of R^d: never what was meant
    np.testing.assert_array_equal(P.project_nonneg(V), np.maximum(V, 0))


# --------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", SET_NAMES)
def test_nonfinite_input_rejected(name, bad):
    V = np.array([[1.0, bad], [0.0, 1.0]])
    with pytest.raises(ValueError, match="NaN or infinity"):
        P.project(V, name, **params_for(name))


@pytest.mark.parametrize(
    "V, match",
    [
        (np.zeros((2, 2, 2)), "1-D vector or a 2-D array.*3 dimensions"),
        (np.float64(1.0), "1-D vector or a 2-D array.*0 dimensions"),
        (np.zeros((3, 0)), "at least one column"),
        (np.array([[1 + 1j]]), "real numbers"),
        (np.array([["a"]]), "real numbers"),
    ],
)
def test_bad_shapes_and_types(V, match):
    with pytest.raises(ValueError, match=match):
        P.project_l2_sphere(V)


@pytest.mark.parametrize("name", RADIUS_SETS)
@pytest.mark.parametrize("radius", [0, -1.0, np.nan, np.inf, "1", True, None])
def test_bad_radius(name, radius):
    with pytest.raises(ValueError, match=r"'radius' parameter must be .* > 0; got"):
        P.project(np.ones((2, 3)), name, radius=radius)


def test_bad_box_and_set():
    V = np.ones((2, 3))
    with pytest.raises(ValueError, match="'lower' parameter must be <= 'upper'"):
        P.project_box(V, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"'lower' parameter has length 2.*3 columns"):
        P.project_box(V, [0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="'upper' parameter must not contain NaN"):
        P.project_box(V, 0.0, np.nan)
    with pytest.raises(ValueError, match="'set' parameter must be one of"):
        P.project(V, "l3_ball")
    with pytest.raises(ValueError, match=r"takes the parameters \['radius'\]"):
        P.project(V, "l1_ball", lower=0)
    with pytest.raises(ValueError, match="'zero_norm' parameter must be one of"):
        P.project_l2_sphere(V, zero_norm="drop")


@pytest.mark.slow
def test_projections_do_not_import_tensorflow():
    code = (
        "import sys, skconstrain.projections, skconstrain.transformers;"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_distance():
    V = np.array([[3.0, 4.0], [0.3, 0.4]])
    np.testing.assert_allclose(P.distance(V, "l2_ball"), [4.0, 0.0])
    np.testing.assert_allclose(P.distance(V[0], "l2_sphere", radius=5.0), 0.0)
    np.testing.assert_allclose(
        P.distance(V, "simplex"),
        np.linalg.norm(V - P.project_simplex(V), axis=1),
    )
    with pytest.raises(ValueError, match="'set' parameter must be one of"):
        P.distance(V, "cube")


# ------------------------------------------------------------------- sparse
SPARSE_SETS = [
    ("l2_sphere", {}),
    ("l2_sphere", {"zero_norm": "keep", "radius": 2.0}),
    ("l2_ball", {"radius": 0.5}),
    ("l1_ball", {"radius": 0.7}),
    ("linf_ball", {"radius": 0.3}),
    ("nonneg", {}),
    ("box", {"lower": -0.2, "upper": 0.4}),
    ("box", {"lower": np.linspace(-1, 0, 30), "upper": None}),
    ("box", {"lower": -0.2}),  # one-sided, the other bound left out
    ("box", {"upper": np.linspace(0, 1, 30)}),
]


def _sparse_rows(seed, dtype):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(120, 30)) * (rng.random((120, 30)) < 0.15)
    D[3] = 0  # an empty row
    D[7] = rng.normal(size=30) * 100  # a dense row among sparse ones
    big = 1e300 if dtype == "float64" else 1e30
    D[9, :2] = [1 / big, -1 / big]  # tiny: squares underflow
    D[11, 0] = big  # huge: squares overflow
    return D.astype(dtype)


@pytest.mark.parametrize("name, params", SPARSE_SETS)
@pytest.mark.parametrize(
    "container",
    [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix, sp.csr_array, sp.csc_array],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sparse_input_gives_the_dense_result_as_csr(name, params, container, dtype):
    D = _sparse_rows(0, dtype)
    S = container(D)
    before = S.copy()
    out = P.project(S, name, **params)
    assert sp.issparse(out) and out.format == "csr"
    assert isinstance(out, sp.spmatrix) == isinstance(S, sp.spmatrix)
    assert out.dtype == D.dtype
    # the same up to the rounding of sums taken in another order
    rtol = 1e-5 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(
        out.toarray(), P.project(D, name, **params), rtol=rtol, atol=0
    )
    assert (before != S).nnz == 0  # the input is not modified
    assert out.nnz <= S.nnz  # no zero became nonzero; exact zeros are dropped
    np.testing.assert_allclose(
        P.distance(S, name, **params),
        P.distance(D, name, **params),
        rtol=10 * rtol,
        atol=1e-6 if dtype == "float32" else 0,
    )


def test_sparse_duplicates_are_summed_first():
    coo = sp.coo_array(([3.0, 1.0, 3.0], ([0, 0, 0], [0, 0, 2])), shape=(1, 3))
    np.testing.assert_allclose(P.project(coo, "l2_sphere").toarray(), [[0.8, 0, 0.6]])


def test_sparse_zero_rows_on_the_sphere():
    S = sp.csr_array(np.array([[0.0, 0.0], [3.0, 4.0]]))
    with pytest.raises(ValueError, match="zero norm"):
        P.project(S, "l2_sphere", zero_norm="error")
    with pytest.raises(TypeError, match="zero_norm='uniform'"):
        P.project(S, "l2_sphere", zero_norm="uniform")


@pytest.mark.parametrize(
    "name, params",
    [
        ("simplex", {}),
        ("box", {"lower": 0.1}),
        ("box", {"upper": [1.0, -1.0]}),
        ("ordered", {}),
    ],
)
def test_sparse_input_is_refused_where_zeros_would_move(name, params):
    with pytest.raises(TypeError, match=r"not sparse: .*toarray"):
        P.project(sp.csr_array(np.eye(2)), name, **params)
