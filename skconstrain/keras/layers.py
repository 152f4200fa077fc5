"""Layers that end a constrained network.

- ``OutputProjection``: projects its input exactly onto a set.
- ``OutputActivation``: maps its input smoothly into a set.
- ``OutputPenaltyLayer``: passes its input through and adds an output penalty.
- ``TargetScaling``: a fixed affine map that puts scores on the targets' scale.
- ``InputScaling``: the same map, standardising the features at the input.
"""

from __future__ import annotations

import keras
import numpy as np

from skconstrain._sets import set_params
from skconstrain.keras import ops as sk_ops
from skconstrain.keras._base import plain_bound, serializable
from skconstrain.keras.penalties import OutputPenalty

__all__ = [
    "InputScaling",
    "OutputActivation",
    "OutputPenaltyLayer",
    "OutputProjection",
    "TargetScaling",
]


@serializable
class OutputProjection(keras.layers.Layer):
    """Project the last axis of the input exactly onto a set; differentiable.

    Ends a network whose every output must be feasible: unit vectors
    ("l2_sphere"), leverage-bounded weights ("l1_ball"), proportions
    ("simplex"), bounded outputs ("linf_ball", "box"), nonnegative outputs.
    Training goes through the projection (its gradient is the true derivative of
    the projection, see :mod:`skconstrain.keras.ops`). No weights.

    Parameters
    ----------
    set : str
        A registry name: "l2_sphere", "l2_ball", "l1_ball", "simplex",
        "linf_ball", "box", "nonneg".
    radius : float, default=1.0
        Radius of the norm sets, sum of the simplex (ignored by "box", "nonneg").
    lower, upper : None, float or list of float, default=None
        Bounds of the "box" (ignored by the other sets).
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential(
    ...     [keras.Input((4,)), keras.layers.Dense(3), OutputProjection("simplex")]
    ... )
    >>> P = model.predict(np.ones((2, 4)), verbose=0)
    >>> bool(np.allclose(P.sum(axis=1), 1.0) and (P >= 0).all())
    True
    """

    def __init__(self, set, radius=1.0, lower=None, upper=None, **kwargs):
        super().__init__(**kwargs)
        self._params = set_params(set, radius=radius, lower=lower, upper=upper)
        self.set = set
        self.radius = radius
        self.lower = plain_bound(lower)
        self.upper = plain_bound(upper)

    def call(self, inputs):
        return sk_ops.project(inputs, self.set, **self._params)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            set=self.set, radius=self.radius, lower=self.lower, upper=self.upper
        )
        return config


@serializable
class OutputActivation(OutputProjection):
    """Map the last axis of the input smoothly into a set (an activation).

    ``radius * softmax`` for the simplex, normalisation for the sphere, a
    radial ``tanh`` squash for the L2 and L1 balls, ``tanh``/``sigmoid``
    scaling for the L-infinity ball and the box, ``softplus`` for nonneg (see
    :func:`skconstrain.keras.ops.activate`). Every output is in the set and,
    unlike :class:`OutputProjection`, every score keeps a nonzero gradient, so
    no output stops learning; the price is that the boundary of a ball or box
    (and the zeros of the simplex) are only reached in the limit. No weights.

    Parameters
    ----------
    set : str
        A registry name: "l2_sphere", "l2_ball", "l1_ball", "simplex",
        "linf_ball", "box", "nonneg".
    radius : float, default=1.0
        Radius of the norm sets, sum of the simplex (ignored by "box", "nonneg").
    lower, upper : None, float or list of float, default=None
        Bounds of the "box" (ignored by the other sets).
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential(
    ...     [keras.Input((4,)), keras.layers.Dense(3), OutputActivation("l1_ball")]
    ... )
    >>> P = model.predict(np.full((2, 4), 100.0), verbose=0)
    >>> bool((np.abs(P).sum(axis=1) <= 1 + 1e-6).all())
    True
    """

    def call(self, inputs):
        return sk_ops.activate(inputs, self.set, **self._params)


@serializable
class OutputPenaltyLayer(keras.layers.Layer):
    """Pass the input through and add an :class:`OutputPenalty` of it to the loss.

    The layer form of ``activity_regularizer=OutputPenalty(...)``, like Keras's
    ``ActivityRegularization``: the loss gains ``strength`` times the mean
    penalty per row of the input (Keras divides an activity penalty by the
    batch size). The ``"penalty"`` output strategy of
    :class:`skconstrain.ConstrainedRegressor` ends its network with it; it saves
    and loads with the model. No weights; inference is the identity.

    Parameters
    ----------
    set : str
        A registry name (see :class:`OutputPenalty`).
    radius : float, default=1.0
    lower, upper : None, float or list of float, default=None
    kind : {"quadratic", "log_barrier", "reciprocal"}, default="quadratic"
    strength : float, default=1.0
    margin : float, default=0.01
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import keras, numpy as np
    >>> layer = OutputPenaltyLayer("l2_ball", strength=1.0)
    >>> out = layer(np.array([[3.0, 4.0], [0.6, 0.8]]))  # penalties 16 and 0
    >>> float(layer.losses[0])  # mean over the 2 rows
    8.0
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
        **kwargs,
    ):
        kwargs.pop("activity_regularizer", None)
        super().__init__(**kwargs)
        self.activity_regularizer = OutputPenalty(
            set,
            radius=radius,
            lower=plain_bound(lower),
            upper=plain_bound(upper),
            kind=kind,
            strength=strength,
            margin=margin,
        )

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        config.update(self.activity_regularizer.get_config())
        return config


@serializable
class TargetScaling(keras.layers.Layer):
    """The fixed affine map ``offset + scale * x`` along the last axis.

    Puts a network's outputs, which start near 0 with a spread of about 1, on
    the scale of its targets, as a ``TransformedTargetRegressor`` with a
    ``StandardScaler`` would, but inside the network, so that a constraint
    head after it still sees the targets' units. ``offset`` and ``scale`` are
    non-trainable weights (saved with the model, and set by
    :meth:`set_weights` like any other weight), not constants of the graph.

    Parameters
    ----------
    offset : float or array-like of shape (d,), default=0.0
    scale : float or array-like of shape (d,), default=1.0
        Initial values, broadcast to the width of the input.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import keras, numpy as np
    >>> layer = TargetScaling(offset=[1.0, 2.0], scale=[0.1, 10.0])
    >>> np.asarray(layer(np.array([[0.0, 1.0]], dtype="float32"))).tolist()
    [[1.0, 12.0]]
    """

    def __init__(self, offset=0.0, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.offset = np.asarray(offset, dtype=float).tolist()
        self.scale = np.asarray(scale, dtype=float).tolist()

    def build(self, input_shape):
        width = input_shape[-1]

        def initial(value):
            return keras.initializers.Constant(
                np.broadcast_to(np.asarray(value, dtype=float), (width,))
            )

        self.offset_weight = self.add_weight(
            shape=(width,),
            initializer=initial(self.offset),
            trainable=False,
            name="offset",
        )
        self.scale_weight = self.add_weight(
            shape=(width,),
            initializer=initial(self.scale),
            trainable=False,
            name="scale",
        )

    def call(self, inputs):
        # In float64 the product of float32 numbers is exact, so the result
        # does not depend on whether a kernel fuses it with the sum (which
        # vectorised loops do for some rows of a batch and not for others):
        # a row's output does not depend on the rows predicted with it.
        wide = keras.ops.cast(inputs, "float64")
        offset = keras.ops.cast(self.offset_weight, "float64")
        scale = keras.ops.cast(self.scale_weight, "float64")
        return keras.ops.cast(offset + scale * wide, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(offset=self.offset, scale=self.scale)
        return config


@serializable
class InputScaling(TargetScaling):
    """The fixed affine map ``offset + scale * x`` that standardises features.

    :class:`TargetScaling` at the other end of a network: with ``offset =
    -mean / std`` and ``scale = 1 / std`` of the training features, it maps
    them to mean 0 and standard deviation 1, as a ``StandardScaler`` before
    the network would, but inside it, so the scaling is saved with the model
    and a warm start keeps it. Built with ``dtype="float64"`` (after a float64
    ``keras.Input``), it standardises features in any units exactly (a
    timestamp of 1.7e9 seconds keeps its seconds, which float32 would round to
    minutes) and hands float32 values to the next layer. Non-trainable
    weights, like :class:`TargetScaling`'s.

    Parameters
    ----------
    offset : float or array-like of shape (d,), default=0.0
    scale : float or array-like of shape (d,), default=1.0
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import keras, numpy as np
    >>> income = np.array([[20_000.0], [60_000.0]])  # mean 4e4, std 2e4
    >>> layer = InputScaling(offset=-2.0, scale=1 / 20_000, dtype="float64")
    >>> np.asarray(layer(income)).ravel().tolist()
    [-1.0, 1.0]
    """
