"""The projections of :mod:`skconstrain.projections`, in ``keras.ops``.

Each function projects along the last axis of a tensor of any rank, is written
with ``keras.ops`` only (backend-agnostic, no Python control flow on tensor
values, so it traces under ``tf.function`` with or without XLA), keeps the dtype
(float32 or float64), and is differentiable: its gradient is the true derivative
of the projection wherever that exists (everywhere but a set of measure zero).

The algorithms mirror the NumPy ones; ``tests/test_keras_ops.py`` checks that they
agree. Scaling tricks that do not change the value (the row maximum for the
sphere, the shift by the row maximum for the simplex) are wrapped in
``stop_gradient``, which is exact because the projection does not depend on them.
"""

from __future__ import annotations

import numpy as np
from keras import ops
from keras.backend import standardize_dtype

from skconstrain._sets import (
    check_bounds,
    check_param_names,
    check_radius,
    check_set,
    document_sets,
    set_arguments,
)

__all__ = [
    "activate",
    "project",
    "project_box",
    "project_l1_ball",
    "project_l2_ball",
    "project_l2_sphere",
    "project_linf_ball",
    "project_nonneg",
    "project_ordered",
    "project_simplex",
    "safe_norm",
]


def _scaled(x):
    """Return ``(x / m, m)`` with ``m = max |x_i|`` per row (1 for zero rows)."""
    m = ops.stop_gradient(ops.max(ops.abs(x), axis=-1, keepdims=True))
    m = ops.where(m > 0, m, ops.ones_like(m))
    return x / m, m


def safe_norm(x, axis=-1, keepdims=True):
    """Euclidean norm along ``axis``; 0, with a zero gradient, for zero vectors.

    ``sqrt`` has an infinite derivative at 0; this keeps gradients finite where
    a vector is zero (used by the projections, penalties and regularizers).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype="float32")
    >>> np.asarray(safe_norm(x, keepdims=False))
    array([5., 0.], dtype=float32)
    """
    sq = ops.sum(ops.square(x), axis=axis, keepdims=keepdims)
    positive = sq > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, sq, 1)), 0)


def project_l2_sphere(x, radius=1.0):
    """Project onto ``{p : ||p||_2 = radius}`` along the last axis.

    ``radius * x / ||x||_2``, computed on ``x / max|x_i|`` so that squaring
    cannot overflow or underflow. Zero rows stay zero; a row holding an
    infinite or NaN entry gives a row of NaN.

    Parameters
    ----------
    x : tensor of shape (..., d)
    radius : float, default=1.0

    Returns
    -------
    tensor of the same shape and dtype as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(project_l2_sphere(np.array([[3.0, 4.0]], dtype="float32")))
    array([[0.6, 0.8]], dtype=float32)
    """
    radius = check_radius(radius)
    x = ops.convert_to_tensor(x)
    xs, _ = _scaled(x)
    n = safe_norm(xs)
    return _nan_rows(x, radius * xs / ops.where(n > 0, n, ops.ones_like(n)), False)


def project_l2_ball(x, radius=1.0):
    """Project onto ``{p : ||p||_2 <= radius}`` along the last axis.

    Rows inside are unchanged; the others become ``radius * x / ||x||_2``
    (computed on the scaled row, as in :func:`project_l2_sphere`). A row
    holding an infinite or NaN entry gives a row of NaN.

    Parameters
    ----------
    x : tensor of shape (..., d)
    radius : float, default=1.0

    Returns
    -------
    tensor of the same shape and dtype as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(project_l2_ball(np.array([[3.0, 4.0], [0.3, 0.4]], dtype="float32")))
    array([[0.6, 0.8],
           [0.3, 0.4]], dtype=float32)
    """
    radius = check_radius(radius)
    x = ops.convert_to_tensor(x)
    xs, m = _scaled(x)
    n = safe_norm(xs)
    outside = m * n > radius  # m * n may overflow to inf: still outside
    p = ops.where(outside, radius * xs / ops.where(outside, n, 1), x)
    return _nan_rows(x, p, masked=False)


def _row_sum(x):
    """``sum(x, axis=-1, keepdims=True)`` as a product with a column of ones:
    on CPUs a reduction over a short last axis costs several times a matrix
    product over many rows (the simplex projection of a stack's 5 000 rows of
    4 took 1.9 ms forward and backward with reductions, 0.8 ms so)."""
    return ops.matmul(x, ops.ones((x.shape[-1], 1), dtype=x.dtype))


def _support_sum(xs, support):
    """Sum of the entries of each row in the support (``support`` of 0 and 1).
    ``-inf`` entries, never in the support, count as the lowest finite number
    times 0: a product ``-inf * 0`` would be NaN."""
    lowest = float(np.finfo(standardize_dtype(xs.dtype)).min)
    return _row_sum(ops.maximum(xs, lowest) * support)


#: Rows of at most this many entries find their simplex support in rounds
#: written out (``d - 1`` of them); longer rows in a ``while_loop`` that
#: stops at the fixed point. Measured on TensorFlow (10 -> 32 -> d on the
#: simplex, 2 000 rows, 30 epochs, 3 alternated pairs of processes): at
#: d = 4 warm fits took 10-15% less (benchmarks/bench_epoch.py agrees); even
#: at d = 8; at d = 16 the loop was faster. On JAX, even or slightly faster.
_UNROLLED_SUPPORT = 8


def _simplex_support(xs, radius):
    """Support indicator of the simplex projection of each row (no gradient).

    Michelot's algorithm: start from the whole row, then repeatedly keep the
    entries above the threshold ``theta(S) = (sum_S x - radius) / |S|`` of the
    current support ``S``. The supports shrink and ``theta`` grows until no entry
    leaves; the final support satisfies the optimality conditions exactly.
    The row's maximum (0 after the shift) never leaves (``theta < 0``), so
    each round that changes the support removes at least one of the other
    ``d - 1`` entries, and ``d - 1`` rounds reach the fixed point: rows of
    up to ``_UNROLLED_SUPPORT`` entries run exactly those rounds (a round
    at the fixed point changes nothing), longer ones a
    ``keras.ops.while_loop`` over the batch that stops there (a few rounds
    in practice). No sort, which is slow under XLA on CPUs.
    """
    xs = ops.stop_gradient(xs)

    def shrink(support):
        theta = (_support_sum(xs, support) - radius) / ops.maximum(_row_sum(support), 1)
        return support * ops.cast(xs > theta, xs.dtype)

    # masked (-inf) entries are never in the support
    support = ops.cast(xs > -float("inf"), xs.dtype)
    d = xs.shape[-1]
    if d is not None and d <= _UNROLLED_SUPPORT:
        for _ in range(d - 1):
            support = shrink(support)
        return support

    def body(support, count, changed):
        new = shrink(support)
        new_count = _row_sum(new)
        return new, new_count, ops.any(new_count < count)

    count = _row_sum(support)
    support, _, _ = ops.while_loop(
        lambda support, count, changed: changed,
        body,
        (support, count, ops.convert_to_tensor(True)),
    )
    return support


def project_simplex(x, radius=1.0):
    """Project onto ``{p : p >= 0, sum(p) = radius}`` along the last axis.

    The solution is ``max(x - theta, 0)`` with
    ``theta = (sum_{i in S} x_i - radius) / |S|`` for the support ``S``. The
    support is found by Michelot's finite algorithm (see
    :func:`_simplex_support`) on the row shifted by its maximum (the projection
    is invariant to the shift, which keeps precision); no gradient flows through
    that search, and ``theta`` is then computed differentiably from the support,
    so the Jacobian is ``diag(s) - s s^T / |s|`` with ``s`` the support
    indicator. Cost O(d) per round, a few rounds in practice (at most ``d``).

    Masked scores: ``-inf`` entries come out as exact zeros, with zero
    gradients (``[0, 0, -inf]`` gives ``[0.5, 0.5, 0]``, as sparsemax does); a
    row of only ``-inf``, or one holding ``+inf`` or NaN, has no projection and
    gives a row of NaN.

    Unlike ``keras.ops.sparsemax`` (which in Keras 3.15 maps ``[0, 0.5, 1]`` to
    ``[0, 0, 0.25]``, off the simplex), this returns ``[0, 0.25, 0.75]``.

    Parameters
    ----------
    x : tensor of shape (..., d)
    radius : float, default=1.0

    Returns
    -------
    tensor of the same shape and dtype as ``x``

    References
    ----------
    C. Michelot, "A finite algorithm for finding the projection of a point onto
    the canonical simplex of R^n", J. Optim. Theory Appl. 50, 1986.
    L. Condat, "Fast projection onto the simplex and the l1 ball", Mathematical
    Programming 158, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(project_simplex(np.array([0.0, 0.5, 1.0], dtype="float32")))
    array([0.  , 0.25, 0.75], dtype=float32)
    """
    radius = check_radius(radius)
    x = ops.convert_to_tensor(x)
    # The projection is invariant to shifting a row; the shift keeps precision.
    xs = x - ops.stop_gradient(ops.max(x, axis=-1, keepdims=True))
    support = _simplex_support(xs, radius)
    theta = (_support_sum(xs, support) - radius) / ops.maximum(_row_sum(support), 1)
    return _nan_rows(x, ops.relu(xs - theta))


def _nan_rows(x, p, masked=True):
    """``p``, with the rows where ``x`` holds NaN or ``+inf`` (or ``-inf``,
    unless ``masked``: it is a masked score) all NaN.

    Such a row has no projection onto a set that couples its entries (``+inf``
    minus the row's maximum is NaN); a whole row of NaN says so, as TF Addons'
    sparsemax and jaxopt give it, where the arithmetic alone leaves some
    entries finite (``[0, nan, 0]``) or infinite. The elementwise sets (box,
    balls of the max norm, nonneg) clip each entry on its own instead.
    """
    bad = ops.isnan(x) | (x == float("inf"))
    if not masked:
        bad = bad | (x == -float("inf"))
    bad = ops.any(bad, axis=-1, keepdims=True)
    return ops.where(bad, ops.full_like(p, float("nan")), p)


def project_l1_ball(x, radius=1.0):
    """Project onto ``{p : ||p||_1 <= radius}`` along the last axis.

    Rows inside are unchanged; the others become ``sign(x) * P_simplex(|x|)``
    (Duchi et al. 2008), which sets small entries exactly to zero. Masked
    scores (``-inf`` entries) come out as exact zeros, with zero gradients; a
    row holding ``+inf`` or NaN gives a row of NaN.

    Parameters
    ----------
    x : tensor of shape (..., d)
    radius : float, default=1.0

    Returns
    -------
    tensor of the same shape and dtype as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[2.0, 1.0], [0.2, -0.3]], dtype="float32")
    >>> np.asarray(project_l1_ball(x))
    array([[ 1. ,  0. ],
           [ 0.2, -0.3]], dtype=float32)
    """
    radius = check_radius(radius)
    x = ops.convert_to_tensor(x)
    # masked scores (-inf) come out as exact zeros, as zeros do
    masked = ops.where(x == -float("inf"), ops.zeros_like(x), x)
    inside = ops.sum(ops.abs(masked), axis=-1, keepdims=True) <= radius
    p = ops.where(
        inside, masked, ops.sign(masked) * project_simplex(ops.abs(masked), radius)
    )
    return _nan_rows(x, p)


def project_linf_ball(x, radius=1.0):
    """Project onto ``{p : max_i |p_i| <= radius}``: ``clip(x, -radius, radius)``.

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(project_linf_ball(np.array([2.0, -0.5, -3.0], dtype="float32")))
    array([ 1. , -0.5, -1. ], dtype=float32)
    """
    radius = check_radius(radius)
    x = ops.convert_to_tensor(x)
    return ops.clip(x, -radius, radius)


def project_box(x, lower=None, upper=None):
    """Project onto ``{p : lower <= p <= upper}`` elementwise.

    ``lower`` and ``upper`` are None (unbounded), scalars, or arrays of length
    ``d`` broadcast over the last axis.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([-1.0, 0.5, 3.0], dtype="float32")
    >>> np.asarray(project_box(x, 0.0, [1.0, 1.0, 2.0]))
    array([0. , 0.5, 2. ], dtype=float32)
    """
    x = ops.convert_to_tensor(x)
    lo, hi = check_bounds(lower, upper, n_features=x.shape[-1], required=True)
    if lo is not None:
        x = ops.maximum(x, ops.cast(lo, x.dtype))
    if hi is not None:
        x = ops.minimum(x, ops.cast(hi, x.dtype))
    return x


def project_nonneg(x):
    """Project onto ``{p : p >= 0}``: ``max(x, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(project_nonneg(np.array([-1.0, 2.0], dtype="float32")))
    array([0., 2.], dtype=float32)
    """
    return ops.relu(ops.convert_to_tensor(x))


def project_ordered(x):
    """Project onto the ordered set (nondecreasing entries) along the last axis.

    The set is ``{p : p_1 <= p_2 <= ... <= p_d}``.

    Isotonic regression of each row, by its max-min formula: ``p_k =
    max_{i <= k} min_{j >= k} mean(x_i, ..., x_j)`` (Barlow et al. 1972), over
    all the row's contiguous means at once, which costs O(d^3) per row (fine
    for the few outputs an ordered head has: quantile levels, thresholds).
    Its gradient is the projection's exact derivative: each output is the mean
    of its block, so it passes ``1 / size`` to each entry of the block (the
    block-averaging Jacobian of isotonic regression) and nothing to the
    others. Rows are divided by their largest magnitude first, so no sum
    overflows; a row holding NaN or an infinity gives a row of NaN. The NumPy
    version, :func:`skconstrain.projections.project_ordered`, runs the
    pool-adjacent-violators algorithm instead.

    Parameters
    ----------
    x : tensor of shape (..., d)

    Returns
    -------
    tensor of the same shape and dtype as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 3.0, 2.0], [0.2, 0.1, 0.0]], dtype="float32")
    >>> np.asarray(project_ordered(x))
    array([[1. , 2.5, 2.5],
           [0.1, 0.1, 0.1]], dtype=float32)
    """
    x = ops.convert_to_tensor(x)
    d = x.shape[-1]
    xs, m = _scaled(x)
    zero = ops.zeros_like(xs[..., :1])
    cumulative = ops.concatenate([zero, ops.cumsum(xs, axis=-1)], axis=-1)
    i = np.arange(d)
    # means[..., i, j] = mean(x_i, ..., x_j) for i <= j
    sizes = (i[None, :] - i[:, None] + 1).astype(float)
    means = (
        ops.expand_dims(cumulative[..., 1:], -2)
        - ops.expand_dims(cumulative[..., :-1], -1)
    ) / ops.cast(np.maximum(sizes, 1.0), xs.dtype)
    big = ops.cast(np.finfo(np.float32).max, xs.dtype)
    # [..., i, k, j]: mean(x_i..x_j) where i <= k <= j
    upper = (i[None, :] >= i[:, None])[None, :, :]  # j >= k
    spans = ops.where(upper, ops.expand_dims(means, -2), big)
    inner = ops.min(spans, axis=-1)  # [..., i, k]: min over j >= k
    inner = ops.where(i[:, None] <= i[None, :], inner, -big)  # i <= k
    p = ops.max(inner, axis=-2) * m
    return _nan_rows(x, p, masked=False)


_FUNCTIONS = {
    "box": project_box,
    "l1_ball": project_l1_ball,
    "l2_ball": project_l2_ball,
    "l2_sphere": project_l2_sphere,
    "linf_ball": project_linf_ball,
    "nonneg": project_nonneg,
    "ordered": project_ordered,
    "simplex": project_simplex,
}


@document_sets
def project(x, set="l2_sphere", **params):
    """Project along the last axis of ``x`` onto the set named ``set``.

    Parameters
    ----------
    x : tensor of shape (..., d)
    set : str, default="l2_sphere"
        A registry name: {SET_NAMES}.
    **params
        ``radius`` for the norm sets and the simplex, ``lower``/``upper`` for
        the box.

    Returns
    -------
    tensor of the same shape and dtype as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[3.0, 4.0]], dtype="float32")
    >>> np.asarray(project(x, "l1_ball", radius=1.0))
    array([[0., 1.]], dtype=float32)
    """
    set = check_set(set)
    check_param_names(set, params)
    if set == "l2_sphere" and params.pop("zero_norm", "keep") != "keep":
        raise ValueError("The Keras sphere projection only supports zero_norm='keep'.")
    return _FUNCTIONS[set](x, **params)


# ---------------------------------------------------------------- activations
def _radial_squash(x, xs, m, ns, radius):
    """``x * radius * tanh(||x|| / radius) / ||x||``, from ``xs = x / m`` and its
    norm ``ns`` (so that no norm overflows); ``x`` itself where ``x = 0``.

    The factor tends to 1 as ``||x|| -> 0``, so the map is the identity to first
    order there; the inner ``where`` keeps the gradient finite.
    """
    positive = ns > 0
    safe = ops.where(positive, ns, ops.ones_like(ns))
    return ops.where(positive, xs * (radius * ops.tanh(m * safe / radius) / safe), x)


def activate(x, set="l2_sphere", radius=1.0, lower=None, upper=None):
    """Map scores smoothly into the set named ``set``, along the last axis.

    Unlike :func:`project`, every point maps to a distinct point, with nonzero
    gradients everywhere, and every output is feasible:

    ============ ===============================================================
    set          map
    ============ ===============================================================
    simplex      ``radius * softmax(x)``
    l2_sphere    ``radius * x / ||x||_2`` (the point ``radius / sqrt(d)`` at 0)
    l2_ball      ``x * radius * tanh(||x||_2 / radius) / ||x||_2``
    l1_ball      ``x * radius * tanh(||x||_1 / radius) / ||x||_1``
    linf_ball    ``radius * tanh(x)``
    box          ``lower + (upper - lower) * sigmoid(x)``; one-sided bounds:
                 ``lower + softplus(x)``, ``upper - softplus(-x)``
    nonneg       ``softplus(x)``
    ordered      ``x_1``, then ``x_1 + softplus(x_2) + ... + softplus(x_k)``:
                 the first score, then positive increments
    ============ ===============================================================

    The balls' radial squash is the identity to first order near 0 and tends to
    the boundary as the scores grow.

    Parameters
    ----------
    x : tensor of shape (..., d)
    set : str, default="l2_sphere"
    radius : float, default=1.0
        Ignored by "box" and "nonneg".
    lower, upper : None, float or array-like of shape (d,), default=None
        Bounds of the "box" (ignored by the other sets).

    Returns
    -------
    tensor of the same shape and dtype as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, np.log(3.0)]], dtype="float32")
    >>> np.round(np.asarray(activate(x, "simplex")), 3)
    array([[0.25, 0.75]], dtype=float32)
    >>> x = np.array([[30.0, 40.0]], dtype="float32")
    >>> np.round(np.asarray(activate(x, "l2_ball")), 3)
    array([[0.6, 0.8]], dtype=float32)
    """
    x = ops.convert_to_tensor(x)
    set = check_set(set)
    params = set_arguments(
        set, radius=radius, lower=lower, upper=upper, n_features=x.shape[-1]
    )
    if set == "simplex":
        return params["radius"] * ops.softmax(x, axis=-1)
    if set == "linf_ball":
        return params["radius"] * ops.tanh(x)
    if set == "nonneg":
        return ops.softplus(x)
    if set == "ordered":
        steps = ops.concatenate([x[..., :1], ops.softplus(x[..., 1:])], axis=-1)
        return ops.cumsum(steps, axis=-1)
    if set == "box":
        lo, hi = params["lower"], params["upper"]
        if lo is not None and hi is not None:
            lo, hi = ops.cast(lo, x.dtype), ops.cast(hi, x.dtype)
            return lo + (hi - lo) * ops.sigmoid(x)
        if lo is not None:
            return ops.cast(lo, x.dtype) + ops.softplus(x)
        return ops.cast(hi, x.dtype) - ops.softplus(-x)  # set_arguments: one is set
    r = params["radius"]
    xs, m = _scaled(x)  # x / max|x_i|: its norms cannot overflow
    if set == "l1_ball":
        ns = ops.sum(ops.abs(xs), axis=-1, keepdims=True)
        return _radial_squash(x, xs, m, ns, r)
    ns = safe_norm(xs)
    if set == "l2_ball":
        return _radial_squash(x, xs, m, ns, r)
    # l2_sphere: the zero row has no direction; it maps to the point r / sqrt(d)
    uniform = ops.ones_like(x) * (r / float(x.shape[-1]) ** 0.5)
    return ops.where(ns > 0, r * xs / ops.where(ns > 0, ns, 1), uniform)
