"""Losses for networks whose outputs are projected onto a set.

``ProjectionLoss`` is the Fenchel-Young loss of the Euclidean projection onto a
set ``C`` (Blondel, Martins & Niculae, "Learning with Fenchel-Young Losses",
JMLR 21, 2020). For scores ``theta`` (the network's raw outputs) and a target
``y``, with ``p = P_C(theta)``::

    L(theta; y) = <theta, p> - ||p||^2 / 2 - <theta, y> + ||y||^2 / 2

Its gradient with respect to ``theta`` is ``p - y``, so every score keeps
learning, where squared error through the projection has a zero Jacobian
outside the projection's support. For ``y`` in ``C`` it is >= 0, and 0 exactly
when ``P_C(theta) = y``. Predict ``P_C(theta)``.
"""

from __future__ import annotations

import keras
from keras import ops

from skconstrain._sets import document_sets, set_arguments
from skconstrain.keras import ops as sk_ops
from skconstrain.keras._base import plain_bound, serializable

__all__ = ["ProjectionLoss", "fenchel_young"]


def fenchel_young(y_true, scores, set, **params):
    """The Fenchel-Young loss of the projection onto ``set``, per row.

    The value is computed with the projection held constant (``stop_gradient``),
    which leaves it unchanged and makes its gradient exactly ``P(scores) -
    y_true`` (Danskin's theorem), without differentiating the projection.

    Parameters
    ----------
    y_true : tensor of shape (..., d)
    scores : tensor of shape (..., d)
    set : str
        A registry name.
    **params
        The set's parameters (``radius``, ``lower``, ``upper``).

    Returns
    -------
    tensor of shape (...)

    Examples
    --------
    >>> import numpy as np
    >>> theta, y = np.array([[0.0, 0.5, 1.0]]), np.array([[0.0, 0.25, 0.75]])
    >>> float(fenchel_young(y, theta, "simplex")[0])  # P(theta) = y
    0.0
    """
    scores = ops.convert_to_tensor(scores)
    y_true = ops.cast(ops.convert_to_tensor(y_true), scores.dtype)
    p = ops.stop_gradient(sk_ops.project(scores, set, **params))
    return ops.sum(
        scores * p - 0.5 * ops.square(p) - scores * y_true + 0.5 * ops.square(y_true),
        axis=-1,
    )


@serializable
@document_sets
class ProjectionLoss(keras.losses.Loss):
    """Fenchel-Young loss of the projection onto a set, for a model's raw scores.

    Train a network whose last layer outputs unconstrained scores with this
    loss, and predict by projecting them
    (:func:`skconstrain.keras.ops.project`, or the NumPy
    :func:`skconstrain.projections.project`). The gradient with respect to the
    scores is ``P(scores) - y``. This is what
    ``ConstrainedRegressor(loss="fenchel_young")`` trains with.

    Parameters
    ----------
    set : str
        A registry name: {SET_NAMES}.
    radius : float, default=1.0
    lower, upper : None, float or list of float, default=None
        Bounds of the "box".
    reduction, name, dtype
        As for any Keras loss.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    >>> model.compile("adam", loss=ProjectionLoss("simplex"))
    >>> X = np.random.default_rng(0).normal(size=(8, 3))
    >>> Y = np.full((8, 4), 0.25)
    >>> _ = model.fit(X, Y, epochs=1, verbose=0)
    >>> from skconstrain.projections import project
    >>> P = project(model.predict(X, verbose=0).astype("float64"), "simplex")
    >>> bool(np.allclose(P.sum(axis=1), 1))
    True
    """

    def __init__(
        self,
        set,
        radius=1.0,
        lower=None,
        upper=None,
        reduction="sum_over_batch_size",
        name="projection_loss",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._params = set_arguments(set, radius=radius, lower=lower, upper=upper)
        self.set = set
        self.radius = radius
        self.lower = plain_bound(lower)
        self.upper = plain_bound(upper)

    def call(self, y_true, y_pred):
        return fenchel_young(y_true, y_pred, self.set, **self._params)

    def get_config(self):
        config = super().get_config()
        config.update(
            set=self.set, radius=self.radius, lower=self.lower, upper=self.upper
        )
        return config
