"""The set registry: the single source of truth for set names and their parameters.

Every part of skconstrain that takes a set name (NumPy projections, Keras ops,
layers, constraints, output penalties, the transformer and the estimator) checks it
here, so the valid names, the parameters each set takes and the error messages are
the same everywhere. This module imports nothing of ours and no TensorFlow.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SETS",
    "SET_NAMES",
    "SetSpec",
    "check_bounds",
    "check_param_names",
    "check_radius",
    "check_set",
    "check_zero_norm",
    "degenerate",
    "document_sets",
    "set_arguments",
    "vacuous",
]


@dataclass(frozen=True)
class SetSpec:
    """Description of one constraint set (applied to each row ``y`` in R^d).

    Parameters
    ----------
    name : str
        Registry name.
    params : tuple of str
        Names of the parameters the set takes.
    formula : str
        The set, as text.
    ball : bool
        Whether the set is a norm ball ``{y : ||y|| <= radius}`` (convex, contains 0).
    keeps_order : bool
        Whether the projection (and the activation) onto the set is monotone
        coordinate-wise: raising some scores never lowers any output. Then a
        network monotone in a feature stays monotone after its head
        (``monotonic_cst``); the simplex, the balls of the L1 and L2 norms and
        the sphere mix the coordinates (raising one score can lower the other
        outputs).
    """

    name: str
    params: tuple[str, ...]
    formula: str
    ball: bool = False
    keeps_order: bool = False


SETS: dict[str, SetSpec] = {
    spec.name: spec
    for spec in (
        SetSpec("box", ("lower", "upper"), "lower <= y <= upper", keeps_order=True),
        SetSpec("l1_ball", ("radius",), "||y||_1 <= radius", ball=True),
        SetSpec("l2_ball", ("radius",), "||y||_2 <= radius", ball=True),
        SetSpec("l2_sphere", ("radius",), "||y||_2 = radius"),
        SetSpec(
            "linf_ball",
            ("radius",),
            "||y||_inf <= radius",
            ball=True,
            keeps_order=True,
        ),
        SetSpec("nonneg", (), "y >= 0", keeps_order=True),
        SetSpec("ordered", (), "y_1 <= y_2 <= ... <= y_d", keeps_order=True),
        SetSpec("simplex", ("radius",), "y >= 0, sum(y) = radius"),
    )
}
"""Mapping from set name to its :class:`SetSpec`."""

SET_NAMES: tuple[str, ...] = tuple(sorted(SETS))
"""All valid set names, sorted."""

ZERO_NORM_OPTIONS = ("keep", "error", "uniform")

#: Where a docstring lists the registry's names (see :func:`document_sets`).
SET_NAMES_TOKEN = "{SET_NAMES}"


def document_sets(obj):
    """Write the registry's names where ``obj``'s docstring says
    ``{SET_NAMES}``, so that every docstring that lists the sets lists them
    all (a decorator, for classes and functions).

    Examples
    --------
    >>> @document_sets
    ... def f():
    ...     "One of {SET_NAMES}."
    >>> "ordered" in f.__doc__
    True
    """
    if obj.__doc__:  # None under python -OO
        names = ", ".join(f'"{name}"' for name in SET_NAMES)
        obj.__doc__ = obj.__doc__.replace(SET_NAMES_TOKEN, names)
    return obj


def check_set(name, *, param="set"):
    """Return the registry name of set ``name``, else raise ``ValueError``.

    Names are case-insensitive everywhere ("Simplex" is "simplex"), as the
    constraint and regularizer names are; the registry's own spelling, in
    lower case, is returned.

    Parameters
    ----------
    name : str
        Candidate set name.
    param : str, default="set"
        Name of the parameter, used in the error message.

    Returns
    -------
    name : str
        The registry name.

    Examples
    --------
    >>> check_set("simplex")
    'simplex'
    >>> check_set("L1_Ball")
    'l1_ball'
    """
    if not isinstance(name, str) or name.lower() not in SETS:
        raise ValueError(
            f"The '{param}' parameter must be one of {list(SET_NAMES)} (in any "
            f"case); got {name!r}."
        )
    return name.lower()


def check_radius(radius, *, param="radius"):
    """Return ``radius`` as a float if it is a finite real number > 0.

    Examples
    --------
    >>> check_radius(2)
    2.0
    """
    if (
        isinstance(radius, bool)
        or not isinstance(radius, numbers.Real)
        or not np.isfinite(radius)
        or radius <= 0
    ):
        raise ValueError(
            f"The '{param}' parameter must be a finite real number > 0; got {radius!r}."
        )
    return float(radius)


def check_zero_norm(zero_norm):
    """Return ``zero_norm`` if it is one of 'keep', 'error', 'uniform'.

    Examples
    --------
    >>> check_zero_norm("keep")
    'keep'
    """
    if not isinstance(zero_norm, str) or zero_norm not in ZERO_NORM_OPTIONS:
        raise ValueError(
            f"The 'zero_norm' parameter must be one of {list(ZERO_NORM_OPTIONS)}; "
            f"got {zero_norm!r}."
        )
    return zero_norm


def _check_bound(value, name, n_features):
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.ndim > 1:
        raise ValueError(
            f"The '{name}' parameter must be None, a real number or a 1-D array of "
            f"real numbers; got {value!r}."
        )
    arr = arr.astype(np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"The '{name}' parameter must not contain NaN; got {value!r}.")
    if arr.ndim == 1 and n_features is not None and arr.shape[0] != n_features:
        raise ValueError(
            f"The '{name}' parameter has length {arr.shape[0]}, but the data has "
            f"{n_features} columns; it must be a scalar or have length {n_features}."
        )
    return arr


def check_bounds(lower, upper, n_features=None, *, prefix="", required=False):
    """Validate the bounds of a box and return them as float64 arrays (or None).

    ``None`` means unbounded on that side. Scalars apply to every column; 1-D arrays
    must have one entry per column (``n_features``, when it is known).
    With ``required``, at least one bound must be given: a box with neither is
    all of R^d and constrains nothing, which is never what was meant.

    Parameters
    ----------
    lower, upper : None, float or array-like of shape (n_features,)
        Bounds of the box.
    n_features : int, default=None
        Number of columns of the data, to check the length of array bounds.
    prefix : str, default=""
        Prefix of the parameters' names in error messages (an estimator's
        ``output_lower`` is ``prefix="output_"``).
    required : bool, default=False
        Raise ``ValueError`` when both bounds are None.

    Returns
    -------
    lower, upper : ndarray or None

    Examples
    --------
    >>> check_bounds(0, [1, 2], n_features=2)
    (array(0.), array([1., 2.]))
    """
    low, up = f"{prefix}lower", f"{prefix}upper"
    lo = _check_bound(lower, low, n_features)
    hi = _check_bound(upper, up, n_features)
    if required and lo is None and hi is None:
        raise ValueError(
            f"The set 'box' needs '{low}', '{up}' or both; with neither it is "
            "all of R^d and constrains nothing."
        )
    if lo is not None and hi is not None:
        if lo.ndim == 1 and hi.ndim == 1 and lo.shape != hi.shape:
            raise ValueError(
                f"The '{low}' and '{up}' parameters must have the same length; got "
                f"{lo.shape[0]} and {hi.shape[0]}."
            )
        if np.any(lo > hi):
            raise ValueError(
                f"The '{low}' parameter must be <= '{up}' everywhere; got "
                f"{low}={lower!r}, {up}={upper!r}."
            )
    return lo, hi


def check_param_names(name, names):
    """Raise ``ValueError`` if ``names`` has a parameter set ``name`` does not take.

    The sphere also takes ``zero_norm``.

    Examples
    --------
    >>> check_param_names("l1_ball", ["radius"])
    """
    name = check_set(name)
    allowed = SETS[name].params
    if name == "l2_sphere":
        allowed = (*allowed, "zero_norm")
    extra = sorted(k for k in names if k not in allowed)
    if extra:
        raise ValueError(
            f"The set {name!r} takes the parameters {list(allowed)}; got {extra}."
        )


def degenerate(name, n_columns, *, radius=1.0):
    """What is left of set ``name`` on rows of ``n_columns`` entries, if that
    is a point or two (else None).

    The simplex of one column is the single point ``radius``, and the sphere
    of one column the two points ``-radius`` and ``radius``: every projection
    onto them is one of those points, whatever it is given. (The "ordered"
    set of one column is all of R, the other extreme: see :func:`vacuous`.)

    Examples
    --------
    >>> degenerate("simplex", 1)
    'the single point 1.0'
    >>> degenerate("l2_sphere", 1, radius=2.0)
    'the two points -2.0 and 2.0'
    >>> degenerate("l2_sphere", 3) is None
    True
    """
    name = check_set(name)
    if n_columns != 1:
        return None
    if name == "simplex":
        return f"the single point {float(radius)}"
    if name == "l2_sphere":
        return f"the two points {-float(radius)} and {float(radius)}"
    return None


def vacuous(name, n_columns):
    """Whether set ``name`` constrains nothing on rows of ``n_columns``
    entries: "ordered" with one column (one number is always in order).

    Examples
    --------
    >>> vacuous("ordered", 1), vacuous("ordered", 3), vacuous("simplex", 1)
    (True, False, False)
    """
    return check_set(name) == "ordered" and n_columns == 1


def set_arguments(
    name, *, radius=1.0, lower=None, upper=None, n_features=None, prefix=""
):
    """Validate the parameters of set ``name`` and return those it takes.

    Parameters the set does not take are left out of the result (but still
    validated), which lets one estimator grid-search over sets with different
    parameters (``radius`` does not apply to ``box``, ``lower``/``upper`` only
    apply to ``box``). This is the one place where the parameters of a set are
    validated, for every estimator, layer and penalty.

    Parameters
    ----------
    name : str
        Registry name of the set.
    radius : float, default=1.0
        Radius of the norm sets and the sum of the simplex.
    lower, upper : None, float or array-like, default=None
        Bounds of the box.
    n_features : int, default=None
        Number of columns of the data, to check the length of array bounds.
    prefix : str, default=""
        Prefix of the parameters' names in error messages (``"output_"`` for
        :class:`~skconstrain.ConstrainedRegressor`).

    Returns
    -------
    params : dict
        The validated parameters that the set takes, e.g. ``{"radius": 1.0}``.

    Raises
    ------
    ValueError
        For a bad name or value, and for a "box" with neither bound (the box
        would be all of R^d: no constraint at all).

    Examples
    --------
    >>> set_arguments("l1_ball", radius=2)
    {'radius': 2.0}
    >>> set_arguments("nonneg")
    {}
    """
    spec = SETS[check_set(name)]
    # every parameter is checked, taken or not: a bad value is an error in a
    # grid over sets too
    radius = check_radius(radius, param=f"{prefix}radius")
    takes_bounds = "lower" in spec.params
    bounds = check_bounds(
        lower, upper, n_features if takes_bounds else None, prefix=prefix
    )
    if takes_bounds:
        check_bounds(*bounds, prefix=prefix, required=True)
    out = {}
    if "radius" in spec.params:
        out["radius"] = radius
    if takes_bounds:
        out["lower"], out["upper"] = bounds
    return out
