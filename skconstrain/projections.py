"""Exact Euclidean projections onto the sets of the registry, in NumPy.

Each function solves, for every row ``x`` of ``V`` independently,

    P(x) = argmin_p ||x - p||_2  subject to  p in C,

for one convex set ``C`` (or the sphere, which is not convex but whose projection is
unique away from the origin). All functions are pure and vectorised over rows: no
Python loop over rows, the input is never modified.

Input conventions (shared by every function):

- ``V`` is one vector (1-D, returned 1-D) or a batch of rows (2-D), or a pandas
  DataFrame (its values are used; an ndarray is returned).
- float32 stays float32; any other real input (integers, booleans, float16,
  float64) is computed in float64.
- NaN or inf in ``V`` raises ``ValueError``; so do 0-D and 3-D input.
- scipy sparse input (CSR, CSC, COO...; matrices and arrays) is taken, like
  :class:`sklearn.preprocessing.Normalizer` takes it, by the projections that
  keep zeros at zero: ``l2_sphere`` (with ``zero_norm`` "keep" or "error"),
  ``l2_ball``, ``l1_ball``, ``linf_ball``, ``nonneg``, and ``box`` when
  ``lower <= 0 <= upper``. They return CSR (a ``csr_array`` for sparse arrays,
  a ``csr_matrix`` for matrices) without densifying: only the stored entries
  are projected. The others raise ``TypeError`` saying why.
- No overflow or underflow for any finite input: norms are computed on rows scaled
  by their largest magnitude wherever plain squaring would leave the float range.

This module imports no TensorFlow; :mod:`skconstrain.keras.ops` has the same
projections, differentiable, in ``keras.ops``.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import scipy.sparse as sp

from skconstrain._sets import (
    SETS,
    check_bounds,
    check_param_names,
    check_radius,
    check_set,
    check_zero_norm,
)

__all__ = [
    "distance",
    "project",
    "project_box",
    "project_l1_ball",
    "project_l2_ball",
    "project_l2_sphere",
    "project_linf_ball",
    "project_nonneg",
    "project_ordered",
    "project_simplex",
]


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------


def _as_rows(V):
    """Return ``(X, was_1d)``: ``V`` as a 2-D float32/float64 array of rows.

    The returned array may share memory with ``V``; callers never write into it.
    """
    if hasattr(V, "to_numpy") and hasattr(V, "columns"):  # pandas DataFrame
        V = V.to_numpy()
    if sp.issparse(V):  # reached only by functions that do not take it
        raise TypeError(
            "The input 'V' is a scipy sparse matrix, which this function does not "
            "support; convert it with V.toarray()."
        )
    X = np.asarray(V)
    if X.dtype.kind == "c":
        raise ValueError(
            f"The input 'V' must contain real numbers; got dtype {X.dtype}."
        )
    if X.dtype.kind not in "biuf":
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                "The input 'V' must contain real numbers; got an array of dtype "
                f"{X.dtype}."
            ) from None
    elif X.dtype != np.float32 and X.dtype != np.float64:
        X = X.astype(np.float64)
    if X.ndim not in (1, 2):
        raise ValueError(
            "The input 'V' must be a 1-D vector or a 2-D array of rows; got an "
            f"array with {X.ndim} dimensions (shape {X.shape})."
        )
    if X.shape[-1] == 0:
        raise ValueError(
            f"The input 'V' must have at least one column; got shape {X.shape}."
        )
    was_1d = X.ndim == 1
    if was_1d:
        X = X[np.newaxis, :]
    # Fast path as in scikit-learn: the sum of a finite array is finite unless it
    # overflows, so only look element by element when the sum is not finite.
    with np.errstate(over="ignore", invalid="ignore"):
        total = X.sum()
    if not np.isfinite(total) and not np.isfinite(X).all():
        raise ValueError("The input 'V' contains NaN or infinity.")
    return X, was_1d


def _out(X, was_1d):
    return X[0] if was_1d else X


def _radial_projection(X, radius, *, ball):
    """Scale rows onto the L2 sphere (``ball=False``) or into the L2 ball.

    Returns ``(out, zero)``: the projected rows (zero rows stay zero) and a mask
    of the zero rows.

    The fast path computes ``||x|| = sqrt(sum(x**2))`` and ``radius / ||x||``.
    Rows whose sum of squares overflows, or is so small that squaring loses
    precision (below ``tiny / eps``), are instead divided by their largest
    magnitude ``m`` first and scaled as ``(x / m) * (radius / ||x / m||)``,
    which neither overflows nor underflows.
    """
    sq = np.einsum("ij,ij->i", X, X)
    finfo = np.finfo(X.dtype)
    bad = np.flatnonzero(~((sq >= finfo.tiny / finfo.eps) & (sq <= finfo.max)))
    norms = np.sqrt(sq, out=sq)
    if ball:
        factor = np.ones_like(norms)
        outside = norms > radius
        factor[outside] = radius / norms[outside]
        out = X * factor[:, None]
    else:
        # Bad rows (zero, tiny or huge norms) may give inf or nan here; they are
        # recomputed below.
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            out = X * (radius / norms)[:, None]
    zero = np.zeros(X.shape[0], dtype=bool)
    if bad.size:
        Xb = X[bad]
        m = np.abs(Xb).max(axis=1)
        zero[bad] = m == 0
        m[m == 0] = 1.0  # zero rows stay zero
        Xb /= m[:, None]
        scaled = np.sqrt(np.einsum("ij,ij->i", Xb, Xb))  # ||x / m|| in [1, sqrt(d)]
        with np.errstate(over="ignore", divide="ignore"):
            if ball:  # ||x|| > radius  <=>  ||x / m|| > radius / m
                f = np.where(scaled > radius / m, radius / scaled, m)
            else:
                f = radius / np.where(scaled > 0, scaled, 1.0)
        out[bad] = Xb * f[:, None]
    return out, zero


# ---------------------------------------------------------------------------
# sparse input
# ---------------------------------------------------------------------------

#: Sets projected entry by entry (clipping), where a stored entry's value is
#: all that matters.
_ELEMENTWISE = ("linf_ball", "nonneg", "box")


def _sparse_refusal(name, params, n_features):
    """Why the projection of sparse rows onto ``name`` is not sparse, or None."""
    if name == "simplex":
        return "its zeros become positive wherever a row sums to less than the radius"
    if name == "ordered":
        return (
            "its zeros take part in the order: pooled with their neighbours, they move"
        )
    if name == "l2_sphere" and params.get("zero_norm", "keep") == "uniform":
        return "zero_norm='uniform' turns zero rows into dense rows"
    if name == "box":
        lo, hi = check_bounds(
            params.get("lower"), params.get("upper"), n_features=n_features
        )
        if (lo is not None and np.any(lo > 0)) or (hi is not None and np.any(hi < 0)):
            return "its zeros move to the bounds where 0 is outside [lower, upper]"
    return None


def check_sparse_input(name, params, n_features=None):
    """Raise ``TypeError`` (saying why) if sparse rows cannot be projected
    onto the set ``name`` with ``params`` without becoming dense.

    Parameters
    ----------
    name : str
        A registry name.
    params : dict
        The set's parameters (``radius``, ``lower``, ``upper``, ``zero_norm``).
    n_features : int, default=None
        Number of columns, to check the length of array bounds.

    Examples
    --------
    >>> check_sparse_input("l1_ball", {"radius": 1.0})  # fine: returns None
    >>> check_sparse_input("simplex", {"radius": 1.0})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: The 'simplex' projection of sparse input is not sparse: ...
    """
    name = check_set(name)
    why = _sparse_refusal(name, params, n_features)
    if why is not None:
        raise TypeError(
            f"The '{name}' projection of sparse input is not sparse: {why}. "
            "Convert the input with .toarray()."
        )


def _takes_sparse(name):
    """Let the projection ``project_<name>`` take scipy sparse rows.

    Only the stored entries are projected: the projections that take sparse
    input map zeros to zeros and treat a row's zeros as absent. Row-wise
    projections run on the stored entries of rows of similar length, packed
    into dense blocks (rows of up to ``2**k`` entries padded with zeros to
    ``2**k``, so a block is at most twice the size of what it holds).
    """

    def decorate(dense):
        @functools.wraps(dense)
        def project_rows(V, *args, **params):
            if not sp.issparse(V):
                return dense(V, *args, **params)
            return _project_sparse(V, name, dense, *args, **params)

        return project_rows

    return decorate


def _project_sparse(V, name, dense, *args, **params):
    bound = inspect.signature(dense).bind(V, *args, **params)
    bound.apply_defaults()  # a one-sided box leaves the other bound at None
    params = {k: v for k, v in bound.arguments.items() if k != "V"}
    check_sparse_input(name, params, V.shape[1])
    X = V.tocsr(copy=True)
    X.sum_duplicates()
    if X.dtype.kind not in "biuf":
        raise ValueError(
            "The input 'V' must contain real numbers; got a sparse matrix of dtype "
            f"{X.dtype}."
        )
    if X.dtype != np.float32:
        X = X.astype(np.float64)
    if X.shape[1] == 0:
        raise ValueError(
            f"The input 'V' must have at least one column; got shape {X.shape}."
        )
    if not np.isfinite(X.data).all():
        raise ValueError("The input 'V' contains NaN or infinity.")
    if name in _ELEMENTWISE:
        if name == "box":
            lo, hi = check_bounds(params["lower"], params["upper"], X.shape[1])
            params = {  # the bounds of each stored entry's column
                "lower": None
                if lo is None
                else np.broadcast_to(lo, X.shape[1])[X.indices],
                "upper": None
                if hi is None
                else np.broadcast_to(hi, X.shape[1])[X.indices],
            }
        X.data = dense(X.data[np.newaxis, :], **params)[0]
    else:
        X.data = _project_packed(X, dense, params)
    X.eliminate_zeros()
    return sp.csr_matrix(X) if isinstance(V, sp.spmatrix) else sp.csr_array(X)


def _project_packed(X, dense, params):
    """The row-wise projection of the stored entries of each CSR row of ``X``."""
    counts = np.diff(X.indptr)
    # block width of each row: the next power of two of its length (1 for an
    # empty row, which the projection still sees, e.g. to refuse zero rows)
    width = 1 << np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64)
    entry_row = np.repeat(np.arange(X.shape[0]), counts)
    position = np.arange(X.nnz) - np.repeat(X.indptr[:-1], counts)
    out = np.empty_like(X.data)
    for w in np.unique(width):
        rows = np.flatnonzero(width == w)
        rank = np.empty(X.shape[0], dtype=np.int64)
        rank[rows] = np.arange(len(rows))
        entries = np.flatnonzero(width[entry_row] == w)
        block = np.zeros((len(rows), w), dtype=X.dtype)
        where = (rank[entry_row[entries]], position[entries])
        block[where] = X.data[entries]
        out[entries] = dense(block, **params)[where]
    return out


# ---------------------------------------------------------------------------
# the projections
# ---------------------------------------------------------------------------


@_takes_sparse("l2_sphere")
def project_l2_sphere(V, radius=1.0, *, zero_norm="keep"):
    """Project each row onto the sphere ``{p : ||p||_2 = radius}``.

    Solves ``argmin_p ||x - p||_2 s.t. ||p||_2 = radius``, whose solution is
    ``radius * x / ||x||_2`` for ``x != 0``. At ``x = 0`` every point of the sphere
    is a minimiser; ``zero_norm`` chooses what a zero row becomes.

    Algorithm: one pass for the squared norms, a second to scale. Rows whose
    squared norm overflows or underflows are recomputed on the row scaled by its
    largest magnitude. Cost O(n d).

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.
    radius : float, default=1.0
        Radius of the sphere, > 0.
    zero_norm : {"keep", "error", "uniform"}, default="keep"
        What a zero row becomes: "keep" leaves it zero (as
        :func:`sklearn.preprocessing.normalize` does; the result is then not on
        the sphere), "error" raises ``ValueError``, "uniform" returns the point
        ``radius / sqrt(d) * ones(d)``.

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    Any text on Euclidean projections, e.g. Bauschke and Combettes, *Convex
    Analysis and Monotone Operator Theory in Hilbert Spaces*, 2nd ed., 2017.

    Examples
    --------
    >>> import numpy as np
    >>> project_l2_sphere(np.array([3.0, 4.0]))
    array([0.6, 0.8])
    """
    radius = check_radius(radius)
    check_zero_norm(zero_norm)
    X, was_1d = _as_rows(V)
    out, zero = _radial_projection(X, radius, ball=False)
    if zero.any():
        if zero_norm == "error":
            raise ValueError(
                f"{int(zero.sum())} row(s) have zero norm and cannot be projected "
                "onto the sphere; use zero_norm='keep' or 'uniform'."
            )
        if zero_norm == "uniform":
            out[zero] = radius / np.sqrt(X.shape[1])
    return _out(out, was_1d)


@_takes_sparse("l2_ball")
def project_l2_ball(V, radius=1.0):
    """Project each row onto the ball ``{p : ||p||_2 <= radius}``.

    Solves ``argmin_p ||x - p||_2 s.t. ||p||_2 <= radius``: rows inside the ball
    come back unchanged, the others are scaled to ``radius * x / ||x||_2``.
    Overflow-safe norms as in :func:`project_l2_sphere`. Cost O(n d).

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.
    radius : float, default=1.0
        Radius of the ball, > 0.

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    Bauschke and Combettes, *Convex Analysis and Monotone Operator Theory in
    Hilbert Spaces*, 2nd ed., 2017, example 29.10.

    Examples
    --------
    >>> import numpy as np
    >>> project_l2_ball(np.array([[3.0, 4.0], [0.3, 0.4]]))
    array([[0.6, 0.8],
           [0.3, 0.4]])
    """
    radius = check_radius(radius)
    X, was_1d = _as_rows(V)
    return _out(_radial_projection(X, radius, ball=True)[0], was_1d)


# Number of leading sorted entries examined first; rows whose support is larger
# are finished on the full sorted row. Most projections of data onto a simplex or
# ball of moderate radius have a small support, so this avoids the cumulative sum
# (and, for long rows, the full sort) over all columns.
_SUPPORT_PREFIX = 16


def _simplex_thresholds(X, radius, prefix):
    """Return ``(m, theta, R)`` with ``P(x) = max(x - m - theta, 0)`` for each row.

    ``R`` is the array ``m - x`` when it was computed for every row (None
    otherwise), which the caller may overwrite with the result.

    ``m`` is the row maximum and ``theta`` the threshold of the shifted row
    ``x - m`` (the projection is invariant to shifting a row, and the shift keeps
    full precision when ``|x|`` is much larger than ``radius``). With ``u`` the
    shifted row sorted in decreasing order and ``c_k = sum_{j<=k} u_j``, the
    support is ``{k : k u_k > c_k - radius}`` (a prefix of the sorted order), of
    size ``rho``, and ``theta = (c_rho - radius) / rho``.

    Short rows are sorted whole. Long rows: only the ``prefix`` largest entries
    (found by ``np.partition``) are sorted and summed first; rows whose support
    extends past them are finished by :func:`_large_supports`.
    """
    d = X.shape[1]
    K = min(d, prefix)
    if d < 8 * K:
        U = np.negative(X)  # sorted ascending = x sorted descending, negated
        U.sort(axis=1)
        neg_m = U[:, 0].copy()
        theta, done = _threshold_of_sorted(U[:, :K], neg_m, radius)
        redo = np.flatnonzero(~done)
        if redo.size and d > K:  # supports past the prefix: the whole row
            with np.errstate(over="ignore", invalid="ignore"):
                full = U[redo] - neg_m[redo, None]  # m - x, ascending
            # the whole row (common for rows of small entries): one sum decides
            # it, d u_d > c_d - radius, and gives theta without a cumulative sum
            total = full.sum(axis=1) + radius
            whole = d * full[:, -1] < total
            theta[redo[whole]] = total[whole] / -d
            if not whole.all():
                rest = full[~whole]
                theta[redo[~whole]] = _threshold_of_sorted(rest, None, radius)[0]
        return -neg_m, theta, None
    m = X.max(axis=1)
    theta = np.empty_like(m)
    # A support of at most K entries has theta <= m - radius / K, so holds
    # every entry above m - radius / K: more than K of them (counted in the
    # first 4K columns) prove a larger support, which the partition would miss.
    with np.errstate(over="ignore", invalid="ignore"):
        near = X[:, : 4 * K] > (m - radius / K)[:, None]
    large = np.count_nonzero(near, axis=1) > K
    small = np.flatnonzero(~large)
    redo = np.flatnonzero(large)
    if small.size:
        rows = X if small.size == len(X) else X[small]
        top = np.negative(np.partition(rows, d - K, axis=1)[:, d - K :])
        top.sort(axis=1)
        found, done = _threshold_of_sorted(top, -m[small], radius)
        theta[small] = found
        redo = np.sort(np.concatenate([redo, small[~done]]))
    if redo.size:
        every = redo.size == len(X)
        with np.errstate(over="ignore", invalid="ignore"):  # inf: far below m
            R = np.subtract(m[:, None], X) if every else m[redo, None] - X[redo]
        theta[redo] = _large_supports(R, radius)
        if every:
            return m, theta, R
    return m, theta, None


def _large_supports(R, radius):
    """Thresholds of rows ``R = m - x`` whose supports are large.

    A few rounds of :func:`_michelot` (O(d) each) finish rows whose support is
    most of the row, and bound the others' supports; those are finished by
    sorting only as many entries as the largest bound (``np.partition``), and
    any row left by a full sort.
    """
    d = R.shape[1]
    theta, done, bound = _michelot(R, radius, _MICHELOT_ROUNDS)
    left = np.flatnonzero(~done)
    if left.size:
        rest = R[left]
        width = int(bound[left].max()) + 1
        if width < d:
            top = np.partition(rest, width - 1, axis=1)[:, :width]
            top.sort(axis=1)
            found, ok = _threshold_of_sorted(top, None, radius)
            theta[left[ok]] = found[ok]
            left, rest = left[~ok], rest[~ok]
        if left.size:
            rest.sort(axis=1)
            theta[left] = _threshold_of_sorted(rest, None, radius)[0]
    return theta


#: Filtering rounds tried before sorting a row with a large support.
_MICHELOT_ROUNDS = 8


def _michelot(R, radius, rounds):
    """Thresholds by Michelot's finite algorithm, for at most ``rounds`` rounds.

    ``R`` holds rows ``m - x >= 0`` (shifted by the row maximum ``m`` and
    negated). Starting from the whole row, each round computes the threshold of
    the current support ``S``, ``theta = (sum_S (x - m) - radius) / |S|``, and
    keeps the entries above it; supports shrink and ``theta`` grows until no
    entry leaves, and the support then satisfies the optimality conditions
    exactly. Rows with large supports need a few rounds of O(d) each (3 for
    N(0, 1e-3) rows of 512 entries, 7 for 16384), instead of an O(d log d) sort.

    Rounds stop early once every unfinished row's support has at most an
    eighth of the row: sorting that many entries is then cheaper.

    Returns ``(theta, done, bound)``; for rows not finished (``done`` False),
    ``bound`` is the size of their last support, an upper bound of the final one.
    """
    n, d = R.shape
    finite = bool(np.isfinite(R).all())  # else inf * False would be NaN below
    count = np.full(n, d, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        phi = (R.sum(axis=1) + radius) / d  # phi = -theta; S = {R < phi}
    done = np.zeros(n, dtype=bool)
    active, rows = np.arange(n), R
    for _ in range(rounds):
        inside = rows < phi[active, None]
        new_count = np.count_nonzero(inside, axis=1)
        changed = new_count < count[active]
        done[active[~changed]] = True
        if not changed.any():
            break
        if not changed.all():
            active, rows = active[changed], rows[changed]
            inside, new_count = inside[changed], new_count[changed]
        if finite:
            total = np.einsum("ij,ij->i", rows, inside)
        else:
            total = np.add.reduce(rows, axis=1, where=inside)
        phi[active] = (total + radius) / new_count
        count[active] = new_count
        if 8 * new_count.max() <= d:
            break
    return -phi, done, count


def _threshold_of_sorted(U, neg_m, radius):
    """Threshold from the ``K`` largest entries of each row, sorted and negated.

    ``neg_m`` is minus the row maxima, by which the rows are shifted first (None
    when they are shifted already; ``U`` is then modified in place).
    Returns ``(theta, done)``; ``done`` is False for rows whose support may extend
    past the ``K`` entries given (their ``theta`` is then not final).
    """
    n, K = U.shape
    with np.errstate(over="ignore", invalid="ignore"):
        # U_k = m - u_k >= 0 (an entry so far below the maximum that this
        # overflows to inf cannot be in the support, and inf keeps it out).
        if neg_m is not None:
            U = U - neg_m[:, None]
        C = np.cumsum(U, axis=1)  # C_k = -c_k
        C += radius
        U *= np.arange(1, K + 1, dtype=U.dtype)
        # k u_k > c_k - radius  <=>  k U_k < C_k + radius; true at k = 1 (U_1 = 0).
        inside = U < C
    first_out = np.argmin(inside, axis=1)  # 0 when every entry is inside
    done = first_out > 0
    rho = np.where(done, first_out, K)
    theta = C[np.arange(n), rho - 1] / -rho
    return theta, done


def _simplex_rows(X, radius):
    """Project every row of ``X`` onto ``{p >= 0, sum(p) = radius}``."""
    n, d = X.shape
    if d == 1:
        return np.full_like(X, radius)
    if n == 0:
        return X.copy()
    m, theta, R = _simplex_thresholds(X, radius, _SUPPORT_PREFIX)
    if R is not None:  # m - x: -(m - x) - theta is x - m - theta, same rounding
        out = np.subtract(-theta[:, None], R, out=R)
    else:
        with np.errstate(over="ignore"):  # -inf far below the maximum: maps to 0
            out = np.subtract(X, m[:, None])
        out -= theta[:, None]
    np.maximum(out, 0, out=out)
    return out


@_takes_sparse("simplex")
def project_simplex(V, radius=1.0):
    """Project each row onto the simplex ``{p : p >= 0, sum(p) = radius}``.

    Solves ``argmin_p ||x - p||_2 s.t. p >= 0, sum(p) = radius``. The solution is
    ``max(x - theta, 0)`` for the unique ``theta`` making the sum ``radius``.

    Algorithm: the exact sort-based method (Held et al. 1974; Duchi et al. 2008),
    vectorised over rows: shift each row by its maximum (the projection is
    invariant to that, and it keeps full precision and avoids overflow for
    entries of any magnitude), sort, find the support size from the cumulative
    sums, compute ``theta``. The sums are first taken over the 16 largest
    entries only (found by a partial sort for long rows); rows whose support is
    larger are finished on the fully sorted row. Cost O(n d log d) at worst,
    O(n d) when the supports are small.

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.
    radius : float, default=1.0
        Sum of the simplex, > 0.

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    J. Duchi, S. Shalev-Shwartz, Y. Singer, T. Chandra, "Efficient projections onto
    the l1-ball for learning in high dimensions", ICML 2008.
    L. Condat, "Fast projection onto the simplex and the l1 ball", Mathematical
    Programming 158, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> project_simplex(np.array([0.0, 0.5, 1.0]))
    array([0.  , 0.25, 0.75])
    """
    radius = check_radius(radius)
    X, was_1d = _as_rows(V)
    return _out(_simplex_rows(X, radius), was_1d)


@_takes_sparse("l1_ball")
def project_l1_ball(V, radius=1.0):
    """Project each row onto the L1 ball ``{p : ||p||_1 <= radius}``.

    Solves ``argmin_p ||x - p||_2 s.t. ||p||_1 <= radius``. Rows inside the ball
    come back unchanged; for the others the solution is
    ``sign(x) * P_simplex(|x|)`` (soft thresholding at the level that makes the
    L1 norm equal ``radius``), which sets small entries exactly to zero.

    Algorithm: one pass for the L1 norms, then the sort-based simplex projection
    of :func:`project_simplex` on the rows outside the ball only.
    Cost O(n d log d) at worst.

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.
    radius : float, default=1.0
        Radius of the ball, > 0.

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    J. Duchi, S. Shalev-Shwartz, Y. Singer, T. Chandra, "Efficient projections onto
    the l1-ball for learning in high dimensions", ICML 2008.

    Examples
    --------
    >>> import numpy as np
    >>> project_l1_ball(np.array([[2.0, -1.0], [0.2, -0.3]]))
    array([[ 1. , -0. ],
           [ 0.2, -0.3]])
    """
    radius = check_radius(radius)
    X, was_1d = _as_rows(V)
    A = np.abs(X)
    with np.errstate(over="ignore"):
        l1 = A.sum(axis=1)  # inf when it overflows, which is outside the ball
    outside = np.flatnonzero(l1 > radius)
    if outside.size == X.shape[0]:
        out = _simplex_rows(A, radius)
        np.copysign(out, X, out=out)
    else:
        out = X.copy()
        if outside.size:
            out[outside] = np.copysign(_simplex_rows(A[outside], radius), X[outside])
    return _out(out, was_1d)


@_takes_sparse("linf_ball")
def project_linf_ball(V, radius=1.0):
    """Project each row onto the ball ``{p : ||p||_inf <= radius}``.

    Solves ``argmin_p ||x - p||_2 s.t. max_i |p_i| <= radius``: the problem
    separates by coordinate and the solution is ``clip(x, -radius, radius)``.
    Cost O(n d).

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.
    radius : float, default=1.0
        Radius of the ball, > 0.

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    Bauschke and Combettes, *Convex Analysis and Monotone Operator Theory in
    Hilbert Spaces*, 2nd ed., 2017 (projection onto a box).

    Examples
    --------
    >>> import numpy as np
    >>> project_linf_ball(np.array([2.0, -0.5, -3.0]))
    array([ 1. , -0.5, -1. ])
    """
    radius = check_radius(radius)
    X, was_1d = _as_rows(V)
    return _out(np.clip(X, -radius, radius), was_1d)


@_takes_sparse("box")
def project_box(V, lower=None, upper=None):
    """Project each row onto the box ``{p : lower <= p <= upper}``.

    Solves ``argmin_p ||x - p||_2 s.t. lower <= p <= upper`` elementwise:
    ``clip(x, lower, upper)``. Cost O(n d).

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.
    lower, upper : None, float or array-like of shape (n_features,), default=None
        Bounds; ``None`` means unbounded on that side, a scalar applies to every
        column, an array gives one bound per column. ``lower <= upper`` is
        required, and at least one of them (a box with neither bound is all of
        R^d: ``ValueError``).

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    Bauschke and Combettes, *Convex Analysis and Monotone Operator Theory in
    Hilbert Spaces*, 2nd ed., 2017 (projection onto a box).

    Examples
    --------
    >>> import numpy as np
    >>> project_box(np.array([[-1.0, 0.5, 3.0]]), lower=0.0, upper=[1.0, 1.0, 2.0])
    array([[0. , 0.5, 2. ]])
    """
    X, was_1d = _as_rows(V)
    lo, hi = check_bounds(lower, upper, n_features=X.shape[1], required=True)
    lo = None if lo is None else lo.astype(X.dtype)
    hi = None if hi is None else hi.astype(X.dtype)
    return _out(np.clip(X, lo, hi), was_1d)


@_takes_sparse("nonneg")
def project_nonneg(V):
    """Project each row onto the nonnegative orthant ``{p : p >= 0}``.

    Solves ``argmin_p ||x - p||_2 s.t. p >= 0``: ``max(x, 0)``. Cost O(n d).

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    Bauschke and Combettes, *Convex Analysis and Monotone Operator Theory in
    Hilbert Spaces*, 2nd ed., 2017 (projection onto a cone).

    Examples
    --------
    >>> import numpy as np
    >>> project_nonneg(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    X, was_1d = _as_rows(V)
    return _out(np.maximum(X, 0), was_1d)


@_takes_sparse("ordered")  # refused, saying why (its zeros move)
def project_ordered(V):
    """Project each row onto the ordered set: entries in nondecreasing order.

    The set is the monotone cone ``{p : p_1 <= p_2 <= ... <= p_d}``. Solves
    ``argmin_p ||x - p||_2 s.t. p_1 <= ... <= p_d``: isotonic regression of
    the row against its positions, with unit weights, by the
    pool-adjacent-violators algorithm (Ayer et al. 1955; Best and Chakravarti
    1990): entries are pushed one by one as blocks onto a stack, and while the
    last block's mean is below the one before, the two are pooled; each entry
    becomes the mean of its block. O(d) merges per row, vectorised over rows
    (one pass over the columns, the pooling done for all rows at once). Each
    row is divided by its largest magnitude first (the projection onto a cone
    commutes with positive scaling), so no block sum overflows. Ordered
    quantiles, cumulative shares and thresholds are its typical use: a row of
    crossing quantile predictions becomes the nearest non-crossing one.

    Parameters
    ----------
    V : array-like of shape (n_features,) or (n_samples, n_features)
        Vector or rows to project.

    Returns
    -------
    P : ndarray of the same shape as ``V``

    References
    ----------
    Best and Chakravarti, "Active set algorithms for isotonic regression; a
    unifying framework", Mathematical Programming 47, 1990.
    :func:`sklearn.isotonic.isotonic_regression` solves the same problem for
    one vector.

    Examples
    --------
    >>> import numpy as np
    >>> project_ordered(np.array([[1.0, 3.0, 2.0], [0.2, 0.1, 0.0]]))
    array([[1. , 2.5, 2.5],
           [0.1, 0.1, 0.1]])
    """
    X, was_1d = _as_rows(V)
    m = np.abs(X).max(axis=1, keepdims=True)
    m = np.where(m > 0, m, 1).astype(X.dtype)
    means, pooled = _pava_rows(X / m)
    # an entry left alone keeps its value exactly (not x / m * m)
    return _out(np.where(pooled, means * m, X), was_1d)


def _pava_rows(X):
    """Pool adjacent violators in every row of ``X`` at once (see
    :func:`project_ordered`); entries of magnitude at most 1. Returns the
    block means of the entries and whether each was pooled with another."""
    n, d = X.shape
    # the stack of blocks of every row: sums, sizes, index of the top block
    sums = np.zeros((n, d), dtype=np.float64)
    sizes = np.zeros((n, d), dtype=np.float64)
    top = np.full(n, -1)
    every = np.arange(n)
    for j in range(d):
        top += 1
        sums[every, top] = X[:, j]
        sizes[every, top] = 1.0
        rows = every
        while rows.size:  # pool while the top block's mean is below the next
            t = top[rows]
            rows, t = rows[t > 0], t[t > 0]
            low = (
                sums[rows, t - 1] * sizes[rows, t] > sums[rows, t] * sizes[rows, t - 1]
            )
            rows, t = rows[low], t[low]
            sums[rows, t - 1] += sums[rows, t]
            sizes[rows, t - 1] += sizes[rows, t]
            sums[rows, t] = sizes[rows, t] = 0.0
            top[rows] -= 1
    means = sums / np.where(sizes > 0, sizes, 1.0)
    # the block of each entry: the number of block ends at or before it
    ends = np.cumsum(sizes, axis=1)
    starts = np.zeros((n, d + 1), dtype=np.int64)
    used = sizes > 0
    np.add.at(starts, (np.nonzero(used)[0], ends[used].astype(np.int64)), 1)
    block = np.cumsum(starts[:, :d], axis=1)
    index = (every[:, None], block)
    return means[index].astype(X.dtype), sizes[index] > 1


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
assert set(_FUNCTIONS) == set(SETS)


def project(V, set="l2_sphere", **params):
    """Project each row of ``V`` onto the set named ``set``.

    Dispatches to ``project_<set>``; see the registry in ``skconstrain._sets``.

    Parameters
    ----------
    V : array-like or sparse matrix of shape (n_features,) or \
(n_samples, n_features)
        Vector or rows to project. Sparse input gives CSR, for the sets that
        keep zeros at zero (see the module's docstring).
    set : str, default="l2_sphere"
        One of "box", "l1_ball", "l2_ball", "l2_sphere", "linf_ball", "nonneg",
        "ordered", "simplex".
    **params
        Parameters of the set: ``radius`` for the norm sets and the simplex,
        ``lower`` and ``upper`` for the box, and ``zero_norm`` for the sphere.
        A parameter the set does not take raises ``ValueError``.

    Returns
    -------
    P : ndarray or CSR sparse matrix of the same shape as ``V``

    Examples
    --------
    >>> import numpy as np
    >>> project(np.array([0.0, 0.5, 1.0]), "simplex")
    array([0.  , 0.25, 0.75])
    >>> project(np.array([3.0, 4.0]), "l2_ball", radius=10)
    array([3., 4.])
    >>> import scipy.sparse as sp
    >>> project(sp.csr_array([[3.0, 0.0, 4.0]]), "l2_sphere").toarray()
    array([[0.6, 0. , 0.8]])
    """
    set = check_set(set)
    check_param_names(set, params)
    return _FUNCTIONS[set](V, **params)


def distance(V, set="l2_sphere", **params):
    """Euclidean distance from each row of ``V`` to the set: ``||x - P(x)||_2``.

    Zero exactly for rows in the set (up to rounding); the natural measure of how
    much a prediction violates an output constraint.

    Parameters
    ----------
    V : array-like or sparse matrix of shape (n_features,) or \
(n_samples, n_features)
        Vector or rows (sparse for the sets that take it, see the module).
    set : str, default="l2_sphere"
        A registry name (see :func:`project`).
    **params
        Parameters of the set, as for :func:`project`.

    Returns
    -------
    d : float or ndarray of shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> distance(np.array([[3.0, 4.0], [0.6, 0.8]]), "l2_ball")
    array([4., 0.])
    """
    if sp.issparse(V):
        gap = sp.csr_array(project(V, set, **params)) - sp.csr_array(V)
        # each row divided by its largest magnitude: squares cannot overflow
        m = abs(gap).max(axis=1).toarray().ravel()
        scaled = sp.diags_array(1 / np.where(m > 0, m, 1)) @ gap
        return m * np.sqrt(np.asarray(scaled.multiply(scaled).sum(axis=1)).ravel())
    X, was_1d = _as_rows(V)
    gap = X - project(X, set, **params)
    m = np.abs(gap).max(axis=1, keepdims=True)
    d = m[:, 0] * np.linalg.norm(gap / np.where(m > 0, m, 1), axis=1)
    return d[0] if was_1d else d
