"""Output penalties: activity regularizers that measure how far outputs are from a set.

Each set is written as constraints on a row ``y``: inequalities ``g(y) <= 0`` and,
for the sphere and the simplex, one equality ``h(y) = 0`` (norms relative to the
radius, so the penalty does not depend on the scale of the set):

==============  ===============================================  =================
set             inequalities ``g``                               equality ``h``
==============  ===============================================  =================
``l2_ball``     ``||y||_2 / r - 1``
``l1_ball``     ``||y||_1 / r - 1``
``linf_ball``   ``max_i |y_i| / r - 1``
``l2_sphere``                                                    ``||y||_2 / r - 1``
``simplex``     ``-y_i / r`` for each ``i``                      ``sum(y) / r - 1``
``nonneg``      ``-y_i`` for each ``i``
``ordered``     ``y_i - y_{i+1}`` for each ``i < d``
``box``         ``lower_i - y_i`` and ``y_i - upper_i``
==============  ===============================================  =================

The penalty of a row is ``sum phi(g) + h**2`` where ``phi`` is the ``kind``:

- ``"quadratic"``: ``max(g, 0)**2``, zero inside the set.
- ``"log_barrier"``: ``-log(min(-g, 1))`` for ``g <= -margin`` (zero deeper than
  1 inside), continued past ``-margin`` by the quadratic that matches its value,
  slope and curvature there, so it is finite everywhere and keeps pushing
  outputs that start outside the set back toward it.
- ``"reciprocal"``: ``max(1 / -g - 1, 0)`` for ``g <= -margin``, continued the
  same way.

Called on a batch, the penalty returns ``strength`` times the **sum** over rows;
Keras divides activity-regularizer losses by the batch size, so the term added to
the training loss is ``strength`` times the mean penalty per row.
"""

from __future__ import annotations

import math
import numbers

import keras
from keras import ops

from skconstrain._sets import check_set, document_sets, set_arguments
from skconstrain.keras._base import ParamsMixin, Registry, serializable
from skconstrain.keras.ops import safe_norm

__all__ = ["KINDS", "OutputPenalty", "get"]

KINDS = ("quadratic", "log_barrier", "reciprocal")


def _abs_norm(y, order):
    if order == 1:
        return ops.sum(ops.abs(y), axis=-1)
    if order == "inf":
        # the largest |y_i| picked by its index (a one-hot row): the gradient
        # of ops.max divides by the number of entries equal to the max, and
        # XLA may compute y in two fusions that differ in the last bit (one
        # with a fused multiply-add), where none equals it and the gradient
        # is 0/0
        a = ops.abs(y)
        pick = ops.one_hot(ops.argmax(a, axis=-1), ops.shape(a)[-1], dtype=a.dtype)
        return ops.sum(a * pick, axis=-1)
    return safe_norm(y, keepdims=False)


def _phi(g, kind, margin):
    """Penalty of inequality values ``g`` (feasible when ``g <= 0``)."""
    if kind == "quadratic":
        return ops.square(ops.relu(g))
    depth = ops.maximum(-g, margin)  # >= margin: safe in log and division
    s = g + margin  # > 0 on the continued part
    continued = s > 0
    if kind == "log_barrier":
        inside = -ops.log(ops.minimum(depth, 1.0))
        # value -log(margin), slope 1/margin, curvature 1/margin**2 at g = -margin
        outside = -math.log(margin) + s / margin + ops.square(s) / (2 * margin**2)
    else:  # reciprocal
        inside = ops.relu(1.0 / depth - 1.0)
        # value 1/margin - 1, slope 1/margin**2, curvature 2/margin**3
        outside = 1.0 / margin - 1.0 + s / margin**2 + ops.square(s) / margin**3
    return ops.where(continued, outside, inside)


@serializable
@document_sets
class OutputPenalty(ParamsMixin, keras.regularizers.Regularizer):
    """Penalty on outputs outside a set, for ``activity_regularizer``.

    See the module docstring for the exact formulas. The ``"penalty"`` output
    strategy of :class:`skconstrain.ConstrainedRegressor` uses it on the last
    layer; any Keras layer can take it as ``activity_regularizer``.

    Parameters
    ----------
    set : str
        A registry name: {SET_NAMES}.
    radius : float, default=1.0
        Radius of the norm sets, sum of the simplex.
    lower, upper : None, float or list of float, default=None
        Bounds of the box.
    kind : {"quadratic", "log_barrier", "reciprocal"}, default="quadratic"
        How a violation (or nearness to the boundary, for the barriers) is
        penalised.
    strength : float, default=1.0
        Multiplier of the penalty.
    margin : float, default=0.01
        Where the barriers switch to their quadratic continuation (relative
        depth inside the set).

    Examples
    --------
    >>> import numpy as np
    >>> pen = OutputPenalty("l2_ball", radius=1.0)
    >>> float(pen(np.array([[0.6, 0.8], [3.0, 4.0]])))  # (5 - 1)**2 for row 2
    16.0
    >>> float(OutputPenalty("simplex")(np.array([[0.5, 0.5]])))
    0.0
    """

    def __init__(
        self,
        set,
        radius=1.0,
        lower=None,
        upper=None,
        kind="quadratic",
        strength=1.0,
        margin=0.01,
    ):
        self.set = set
        self.radius = radius
        self.lower = lower
        self.upper = upper
        self.kind = kind
        self.strength = strength
        self.margin = margin
        self._validate()

    def _validate(self):
        self._params = set_arguments(
            self.set, radius=self.radius, lower=self.lower, upper=self.upper
        )
        if self.kind not in KINDS:
            raise ValueError(
                f"The 'kind' parameter must be one of {list(KINDS)}; got {self.kind!r}."
            )
        for name in ("strength", "margin"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not v >= 0:
                raise ValueError(
                    f"The '{name}' parameter must be a real number >= 0; got {v!r}."
                )
        if not 0 < self.margin < 1:
            raise ValueError(
                f"The 'margin' parameter must be in (0, 1); got {self.margin!r}."
            )

    def get_config(self):
        return {
            "set": self.set,
            "radius": self.radius,
            "lower": self.lower,
            "upper": self.upper,
            "kind": self.kind,
            "strength": self.strength,
            "margin": self.margin,
        }

    def row_penalty(self, y):
        """Penalty of each row of ``y`` (shape ``y.shape[:-1]``), before strength.

        Parameters
        ----------
        y : tensor of shape (..., d)

        Returns
        -------
        tensor of shape (...)
        """
        y = ops.convert_to_tensor(y)
        r = float(self.radius)
        ineq, eq = [], None
        name = check_set(self.set)
        if name in ("l2_ball", "l1_ball", "linf_ball"):
            order = {"l2_ball": 2, "l1_ball": 1, "linf_ball": "inf"}[name]
            ineq.append(ops.expand_dims(_abs_norm(y, order) / r - 1.0, -1))
        elif name == "l2_sphere":
            eq = _abs_norm(y, 2) / r - 1.0
        elif name == "simplex":
            ineq.append(-y / r)
            eq = ops.sum(y, axis=-1) / r - 1.0
        elif name == "nonneg":
            ineq.append(-y)
        elif name == "ordered":
            ineq.append(y[..., :-1] - y[..., 1:])
        else:  # box
            lower, upper = self._params["lower"], self._params["upper"]
            if lower is not None:
                ineq.append(ops.cast(lower, y.dtype) - y)
            if upper is not None:
                ineq.append(y - ops.cast(upper, y.dtype))
        total = ops.zeros(ops.shape(y)[:-1], dtype=y.dtype)
        for g in ineq:
            total = total + ops.sum(_phi(g, self.kind, self.margin), axis=-1)
        if eq is not None:
            total = total + ops.square(eq)
        return total

    def __call__(self, y):
        return self.strength * ops.sum(self.row_penalty(y))


_REGISTRY = Registry("output penalty", {"output_penalty": OutputPenalty})


def get(identifier):
    """Return the output penalty ``identifier`` names.

    Parameters
    ----------
    identifier : None, dict, class or OutputPenalty
        None; a Keras serialization such as
        ``{"class_name": "OutputPenalty", "config": {"set": "simplex"}}``
        or a Keras serialization; or an instance. (``OutputPenalty`` needs a
        set, so a bare name or class cannot build one.)

    Returns
    -------
    OutputPenalty or None

    Examples
    --------
    >>> get({"class_name": "OutputPenalty",
    ...      "config": {"set": "simplex", "kind": "reciprocal"}})
    OutputPenalty(set='simplex', radius=1.0, lower=None, upper=None, \
kind='reciprocal', strength=1.0, margin=0.01)
    """
    return _REGISTRY.get(identifier)
