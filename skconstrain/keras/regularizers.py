"""Weight penalties (Keras regularizers), each with a strength ``factor``.

=================  =====================================================
``L1``             ``factor * sum |W|``
``L2``             ``factor * sum W**2``
``ElasticNet``     ``factor * (l1_ratio * sum |W| + (1 - l1_ratio) * sum W**2)``
``Orthogonality``  ``factor * ||W^T W - I||_F**2`` (``mode="columns"``) or
                   ``factor * ||W W^T - I||_F**2`` (``mode="rows"``)
``ClipPenalty``    ``factor * sum (W - clip(W, lower, upper))**2``
``GroupLasso``     ``factor * sum_i ||W[i, :]||_2`` (one group per input row)
=================  =====================================================

Kernels of rank > 2 (convolutions) are read as a matrix of shape
``(-1, kernel.shape[-1])``: one column per output channel. Unlike Keras's
``OrthogonalRegularizer`` (a cosine-similarity penalty, zero for ``3 * I``),
``Orthogonality`` is the Frobenius distance to orthonormality and is not.
Anywhere a regularizer is accepted, a plain callable ``f(W) -> scalar`` works too.
"""

from __future__ import annotations

import numbers

import keras
from keras import ops

from skconstrain.keras._base import ParamsMixin, Registry, serializable
from skconstrain.keras.ops import safe_norm

__all__ = [
    "ClipPenalty",
    "ElasticNet",
    "GroupLasso",
    "L1",
    "L2",
    "Orthogonality",
    "Scaled",
    "get",
]


def _check_factor(factor):
    if (
        isinstance(factor, bool)
        or not isinstance(factor, numbers.Real)
        or not factor >= 0
        or factor == float("inf")
    ):
        raise ValueError(
            f"The 'factor' parameter must be a finite real number >= 0; got {factor!r}."
        )


def _as_matrix(w):
    w = ops.convert_to_tensor(w)
    if len(w.shape) == 1:  # a tf.Variable has no ndim
        return ops.reshape(w, (-1, 1))
    return ops.reshape(w, (-1, w.shape[-1]))


class _Penalty(ParamsMixin, keras.regularizers.Regularizer):
    def __init__(self, factor=0.01):
        self.factor = factor
        self._validate()

    def _validate(self):
        _check_factor(self.factor)

    def get_config(self):
        return {"factor": self.factor}

    def __call__(self, w):
        return self.factor * self._value(ops.convert_to_tensor(w))


@serializable
class L1(_Penalty):
    """``factor * sum |W|``: drives individual weights to zero.

    Parameters
    ----------
    factor : float, default=0.01

    Examples
    --------
    >>> import numpy as np
    >>> float(L1(0.5)(np.array([[1.0, -2.0]])))
    1.5
    """

    def _value(self, w):
        return ops.sum(ops.abs(w))


@serializable
class L2(_Penalty):
    """``factor * sum W**2`` (weight decay).

    Parameters
    ----------
    factor : float, default=0.01

    Examples
    --------
    >>> import numpy as np
    >>> float(L2(0.5)(np.array([[1.0, -2.0]])))
    2.5
    """

    def _value(self, w):
        return ops.sum(ops.square(w))


@serializable
class ElasticNet(_Penalty):
    """``factor * (l1_ratio * sum |W| + (1 - l1_ratio) * sum W**2)``.

    ``l1_ratio=1`` is :class:`L1`, ``l1_ratio=0`` is :class:`L2`.

    Parameters
    ----------
    factor : float, default=0.01
    l1_ratio : float in [0, 1], default=0.5

    Examples
    --------
    >>> import numpy as np
    >>> float(ElasticNet(1.0, l1_ratio=0.5)(np.array([[1.0, -2.0]])))
    4.0
    """

    def __init__(self, factor=0.01, l1_ratio=0.5):
        self.l1_ratio = l1_ratio
        super().__init__(factor)

    @classmethod
    def from_l1_l2(cls, l1=None, l2=None):
        """Keras's ``L1L2(l1, l2)``, ``l1 * sum |W| + l2 * sum W**2``, as an
        ``ElasticNet``: ``factor = l1 + l2``, ``l1_ratio = l1 / (l1 + l2)``
        (0.5 when both are 0).

        Defaults as in Keras: with neither given, ``l1 = l2 = 0.01`` (what
        ``kernel_regularizer="l1_l2"`` means); with one given, the other is 0
        (``L1L2(l2=0.1)`` has no L1 term). :func:`get` builds this for the names
        ``"l1_l2"``, ``"l1l2"`` and ``"L1L2"`` and for dicts such as
        ``{"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}``.

        Examples
        --------
        >>> ElasticNet.from_l1_l2(l1=0.1, l2=0.3)
        ElasticNet(factor=0.4, l1_ratio=0.25)
        >>> ElasticNet.from_l1_l2(l2=0.1)
        ElasticNet(factor=0.1, l1_ratio=0.0)
        """
        if l1 is None and l2 is None:
            l1 = l2 = 0.01
        l1 = 0.0 if l1 is None else l1
        l2 = 0.0 if l2 is None else l2
        for name, value in (("l1", l1), ("l2", l2)):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not value >= 0
            ):
                raise ValueError(
                    f"The '{name}' parameter must be a real number >= 0; got {value!r}."
                )
        total = float(l1) + float(l2)
        return cls(factor=total, l1_ratio=float(l1) / total if total > 0 else 0.5)

    def _validate(self):
        super()._validate()
        r = self.l1_ratio
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not 0 <= r <= 1:
            raise ValueError(
                f"The 'l1_ratio' parameter must be a real number in [0, 1]; got {r!r}."
            )

    def get_config(self):
        return {"factor": self.factor, "l1_ratio": self.l1_ratio}

    def _value(self, w):
        return self.l1_ratio * ops.sum(ops.abs(w)) + (1 - self.l1_ratio) * ops.sum(
            ops.square(w)
        )


@serializable
class Orthogonality(_Penalty):
    """Frobenius distance to orthonormal columns (or rows) of the kernel.

    ``mode="columns"``: ``factor * ||W^T W - I||_F**2`` (the units' weight
    vectors are orthonormal); ``mode="rows"``: ``factor * ||W W^T - I||_F**2``.

    Parameters
    ----------
    factor : float, default=0.01
    mode : {"columns", "rows"}, default="columns"

    Examples
    --------
    >>> import numpy as np
    >>> float(Orthogonality(1.0)(np.eye(3)))
    0.0
    >>> float(Orthogonality(1.0)(3 * np.eye(2)))  # Keras's penalty is 0 here
    128.0
    """

    def __init__(self, factor=0.01, mode="columns"):
        self.mode = mode
        super().__init__(factor)

    def _validate(self):
        super()._validate()
        if self.mode not in ("columns", "rows"):
            raise ValueError(
                "The 'mode' parameter must be one of ['columns', 'rows']; got "
                f"{self.mode!r}."
            )

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}

    def _value(self, w):
        w = _as_matrix(w)
        if self.mode == "rows":
            w = ops.transpose(w)
        gram = ops.matmul(ops.transpose(w), w)
        eye = ops.eye(gram.shape[0], dtype=gram.dtype)
        return ops.sum(ops.square(gram - eye))


@serializable
class ClipPenalty(_Penalty):
    """``factor * sum (W - clip(W, lower, upper))**2``: soft box on the weights.

    Zero inside ``[lower, upper]``, quadratic outside.

    Parameters
    ----------
    factor : float, default=0.01
    lower : float, default=-1.0
    upper : float, default=1.0

    Examples
    --------
    >>> import numpy as np
    >>> float(ClipPenalty(1.0, lower=-1.0, upper=1.0)(np.array([3.0, 0.5, -1.5])))
    4.25
    """

    def __init__(self, factor=0.01, lower=-1.0, upper=1.0):
        self.lower = lower
        self.upper = upper
        super().__init__(factor)

    def _validate(self):
        super()._validate()
        if not float(self.lower) <= float(self.upper):
            raise ValueError(
                "The 'lower' parameter must be <= 'upper'; got "
                f"lower={self.lower!r}, upper={self.upper!r}."
            )

    def get_config(self):
        return {"factor": self.factor, "lower": self.lower, "upper": self.upper}

    def _value(self, w):
        return ops.sum(ops.square(w - ops.clip(w, self.lower, self.upper)))


@serializable
class GroupLasso(_Penalty):
    """``factor * sum_i ||W[i, :]||_2``: drives whole input rows to zero.

    For a ``Dense`` kernel, row ``i`` holds every weight leaving input feature
    ``i``, so the penalty selects features. The gradient at a zero row is 0.

    Parameters
    ----------
    factor : float, default=0.01

    Examples
    --------
    >>> import numpy as np
    >>> float(GroupLasso(1.0)(np.array([[3.0, 4.0], [0.0, 0.0]])))
    5.0
    """

    def _value(self, w):
        return ops.sum(safe_norm(_as_matrix(w), axis=1, keepdims=False))


_REGISTRY = Registry(
    "regularizer",
    {
        "clip_penalty": ClipPenalty,
        "elastic_net": ElasticNet,
        "group_lasso": GroupLasso,
        "l1": L1,
        "l2": L2,
        "orthogonality": Orthogonality,
    },
    aliases={"clip": ClipPenalty},
    base=keras.regularizers.Regularizer,
    accept_callable=True,
    # Keras's name ("l1l2" and "L1L2" resolve to it too), with its arguments
    factories={"l1_l2": ElasticNet.from_l1_l2},
)


NAMES: tuple[str, ...] = tuple(_REGISTRY.names)
"""The snake_case names :func:`get` knows (CamelCase works too)."""


def get(identifier):
    """Return the regularizer ``identifier`` names.

    Parameters
    ----------
    identifier : None, str, dict, class, instance or callable
        None; a name ("l1", "l2", "elastic_net"/"elasticnet", "orthogonality",
        "clip"/"clip_penalty", "group_lasso", or CamelCase; Keras's
        "l1_l2"/"l1l2"/"L1L2" give :meth:`ElasticNet.from_l1_l2`); a dict such as
        ``{"class_name": "L2", "config": {"factor": 0.1}}`` (Keras's
        serialization); one of our classes; an instance
        of ours or of any Keras regularizer; or a callable ``f(W) -> scalar``.

    Returns
    -------
    regularizer, callable or None

    Examples
    --------
    >>> get("elasticnet")
    ElasticNet(factor=0.01, l1_ratio=0.5)
    >>> get({"class_name": "L1L2", "config": {"l1": 0.0, "l2": 0.1}})
    ElasticNet(factor=0.1, l1_ratio=0.0)
    """
    return _REGISTRY.get(identifier)


@serializable
class Scaled(ParamsMixin, keras.regularizers.Regularizer):
    """``scale * regularizer(W)``: how an estimator's ``alpha`` scales a penalty.

    :class:`skconstrain.ConstrainedRegressor` wraps its ``penalty`` in this with
    ``scale = alpha / n_samples``. Serialisable when ``regularizer`` is.

    Parameters
    ----------
    regularizer : regularizer or callable
    scale : float

    Examples
    --------
    >>> import numpy as np
    >>> float(Scaled(L1(1.0), 0.5)(np.array([1.0, -3.0])))
    2.0
    """

    def __init__(self, regularizer, scale=1.0):
        if isinstance(regularizer, dict):
            regularizer = keras.saving.deserialize_keras_object(regularizer)
        self.regularizer = regularizer
        self.scale = scale

    def __call__(self, w):
        return self.scale * self.regularizer(w)

    def get_config(self):
        return {"regularizer": self.regularizer, "scale": self.scale}
