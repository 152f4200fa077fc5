"""Weight constraints, applied by Keras after every optimizer step.

Keras's ``UnitNorm``, ``NonNeg``, ``MaxNorm`` and ``MinMaxNorm`` with their Keras
semantics, made grid-searchable (sklearn-style ``get_params``/``set_params``), and
three new exact projections: ``L1Ball`` (each weight vector onto the L1 ball,
which produces exact zeros), ``Box`` (elementwise clip) and ``Simplex``.

As in Keras, ``axis`` names the axis (or axes) along which one weight vector runs:
for a ``Dense`` kernel of shape ``(input_dim, units)``, ``axis=0`` constrains the
column of incoming weights of each unit. The default, ``axis=None``, means each
unit's incoming weights for a kernel of any rank: all axes but the last (axis 0
of a ``Dense`` kernel, as Keras's default; the three first axes of a ``Conv2D``
kernel, where Keras's ``axis=0`` would constrain along one spatial axis only),
and the whole vector for a weight of rank 1 (a bias). An explicit ``axis`` is
used as given.
"""

from __future__ import annotations

import copy
import inspect
import numbers

import keras
from keras import ops

from skconstrain._sets import check_radius
from skconstrain.keras import ops as sk_ops
from skconstrain.keras._base import ParamsMixin, Registry, serializable

__all__ = [
    "Box",
    "L1Ball",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "Simplex",
    "UnitNorm",
    "get",
    "incoming_axes",
]


def incoming_axes(axis, ndim):
    """The axes ``axis`` means for a weight of rank ``ndim``.

    None: each unit's incoming weights, all axes but the last (axis 0 for a
    weight of rank 1 or 2). An int or a list of ints is returned as given.

    Examples
    --------
    >>> incoming_axes(None, 2), incoming_axes(None, 4), incoming_axes(1, 4)
    ((0,), (0, 1, 2), 1)
    """
    if axis is None:
        return tuple(range(max(ndim - 1, 1)))
    return axis


class _KerasNorm(ParamsMixin):
    """Keras's norm constraints with ``axis=None``: each unit's incoming weights."""

    def __init__(self, *args, **kwargs):
        # Keras's signature, positional arguments included, with axis=None
        # for its default
        keras_init = super().__init__
        positional = list(inspect.signature(keras_init).parameters)
        if "axis" not in kwargs and len(args) <= positional.index("axis"):
            kwargs["axis"] = None
        keras_init(*args, **kwargs)
        self._validate()

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        resolved = copy.copy(self)  # Keras's formula with the axes resolved
        resolved.axis = incoming_axes(self.axis, len(w.shape))
        return super(_KerasNorm, resolved).__call__(w)


@serializable
class UnitNorm(_KerasNorm, keras.constraints.UnitNorm):
    """Each weight vector along ``axis`` has unit L2 norm (Keras semantics).

    Parameters
    ----------
    axis : None, int or list of int, default=None
        None: each unit's incoming weights (all axes but the last).

    Examples
    --------
    >>> import numpy as np
    >>> w = UnitNorm()(np.array([[3.0, 0.0], [4.0, 2.0]], dtype="float32"))
    >>> np.round(np.asarray(w), 3)
    array([[0.6, 0. ],
           [0.8, 1. ]], dtype=float32)
    """


@serializable
class NonNeg(ParamsMixin, keras.constraints.NonNeg):
    """Weights are nonnegative (Keras semantics).

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(NonNeg()(np.array([-1.0, 2.0], dtype="float32")))
    array([0., 2.], dtype=float32)
    """


@serializable
class MaxNorm(_KerasNorm, keras.constraints.MaxNorm):
    """Each weight vector along ``axis`` has L2 norm at most ``max_value``.

    Keras semantics (the rescaling uses ``epsilon`` to stay finite).

    Parameters
    ----------
    max_value : float, default=2
    axis : None, int or list of int, default=None
        None: each unit's incoming weights (all axes but the last).

    Examples
    --------
    >>> import numpy as np
    >>> w = MaxNorm(max_value=1.0)(np.array([[3.0], [4.0]], dtype="float32"))
    >>> np.round(np.asarray(w), 3)
    array([[0.6],
           [0.8]], dtype=float32)
    >>> MaxNorm(max_value=1.0).set_params(max_value=3.0).get_params()
    {'max_value': 3.0, 'axis': None}
    """

    def _validate(self):
        check_radius(self.max_value, param="max_value")


@serializable
class MinMaxNorm(_KerasNorm, keras.constraints.MinMaxNorm):
    """Each weight vector's L2 norm is moved into ``[min_value, max_value]``.

    Keras semantics: ``rate`` in (0, 1] is the fraction of the way moved each
    step (1 enforces the bounds strictly).

    Parameters
    ----------
    min_value : float, default=0.0
    max_value : float, default=1.0
    rate : float, default=1.0
    axis : None, int or list of int, default=None
        None: each unit's incoming weights (all axes but the last).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[0.3], [0.4]], dtype="float32")
    >>> w = MinMaxNorm(min_value=1.0, max_value=2.0)(w)
    >>> np.round(np.asarray(w), 3)
    array([[0.6],
           [0.8]], dtype=float32)
    """

    def _validate(self):
        high = check_radius(self.max_value, param="max_value")
        _check_real(
            self.min_value,
            "min_value",
            lambda v: 0 <= v <= high,
            f"[0, max_value={high}]",
        )
        _check_real(self.rate, "rate", lambda v: 0 < v <= 1, "(0, 1]")


def _check_real(value, param, within, interval):
    """Raise ``ValueError`` unless ``value`` is a real number ``within``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not within(value)
    ):
        raise ValueError(
            f"The '{param}' parameter must be a real number in {interval}; "
            f"got {value!r}."
        )


class _VectorProjection(ParamsMixin, keras.constraints.Constraint):
    """Project each weight vector along ``axis`` onto a radius set."""

    _project = None  # a last-axis projection of skconstrain.keras.ops

    def __init__(self, radius=1.0, axis=None):
        self.radius = radius
        self.axis = axis
        self._validate()

    def _validate(self):
        check_radius(self.radius)

    def get_config(self):
        return {"radius": self.radius, "axis": self.axis}

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        axis = incoming_axes(self.axis, len(w.shape))
        axes = [axis] if isinstance(axis, int) else list(axis)
        axes = [a % w.ndim for a in axes]
        rest = [a for a in range(w.ndim) if a not in axes]
        perm = rest + axes
        moved = ops.transpose(w, perm)
        flat_shape = (*moved.shape[: len(rest)], -1)
        out = type(self)._project(ops.reshape(moved, flat_shape), self.radius)
        out = ops.reshape(out, moved.shape)
        inverse = [perm.index(i) for i in range(w.ndim)]
        return ops.transpose(out, inverse)


@serializable
class L1Ball(_VectorProjection):
    """Each weight vector along ``axis`` is projected onto ``||w||_1 <= radius``.

    The exact Euclidean projection (soft thresholding, Duchi et al. 2008): small
    weights become exactly zero, giving sparse connectivity.

    Parameters
    ----------
    radius : float, default=1.0
    axis : None, int or list of int, default=None
        None: each unit's incoming weights (all axes but the last).

    Examples
    --------
    >>> import numpy as np
    >>> w = L1Ball(radius=1.0)(np.array([[2.0, 0.1], [1.0, 0.2]], dtype="float32"))
    >>> np.asarray(w)
    array([[1. , 0.1],
           [0. , 0.2]], dtype=float32)
    """

    _project = sk_ops.project_l1_ball


@serializable
class Simplex(_VectorProjection):
    """Each weight vector along ``axis`` is projected onto the simplex.

    ``w >= 0`` and ``sum(w) = radius``: convex-combination weights.

    Parameters
    ----------
    radius : float, default=1.0
    axis : None, int or list of int, default=None
        None: each unit's incoming weights (all axes but the last).

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(Simplex()(np.array([[0.0], [0.5], [1.0]], dtype="float32")))
    array([[0.  ],
           [0.25],
           [0.75]], dtype=float32)
    """

    _project = sk_ops.project_simplex


@serializable
class Box(ParamsMixin, keras.constraints.Constraint):
    """Each weight is clipped to ``[lower, upper]``.

    Parameters
    ----------
    lower : float, default=-1.0
    upper : float, default=1.0

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(Box(-0.5, 0.5)(np.array([-1.0, 0.2, 3.0], dtype="float32")))
    array([-0.5,  0.2,  0.5], dtype=float32)
    """

    def __init__(self, lower=-1.0, upper=1.0):
        self.lower = lower
        self.upper = upper
        self._validate()

    def _validate(self):
        if not float(self.lower) <= float(self.upper):
            raise ValueError(
                "The 'lower' parameter must be <= 'upper'; got "
                f"lower={self.lower!r}, upper={self.upper!r}."
            )

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        return ops.clip(w, self.lower, self.upper)

    def get_config(self):
        return {"lower": self.lower, "upper": self.upper}


_REGISTRY = Registry(
    "constraint",
    {
        "box": Box,
        "l1_ball": L1Ball,
        "max_norm": MaxNorm,
        "min_max_norm": MinMaxNorm,
        "non_neg": NonNeg,
        "simplex": Simplex,
        "unit_norm": UnitNorm,
    },
    base=keras.constraints.Constraint,
)


def get(identifier):
    """Return the constraint ``identifier`` names.

    Parameters
    ----------
    identifier : None, str, dict, class or instance
        None; a name such as "max_norm" or "MaxNorm" (default arguments); a dict
        ``{"class_name": "MaxNorm", "config": {"max_value": 3}}`` (Keras's
        serialization); one of our classes; or an
        instance of one, or of any Keras constraint (returned as it is).

    Returns
    -------
    constraint or None

    Examples
    --------
    >>> get("max_norm")
    MaxNorm(max_value=2, axis=None)
    >>> get({"class_name": "L1Ball", "config": {"radius": 0.5}})
    L1Ball(radius=0.5, axis=None)
    """
    return _REGISTRY.get(identifier)
