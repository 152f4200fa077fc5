"""Layers that end a constrained network.

- ``OutputProjection``: projects its input exactly onto a set.
- ``OutputActivation``: maps its input smoothly into a set.
- ``OutputPenaltyLayer``: passes its input through and adds an output penalty.
- ``TargetScaling``: a fixed affine map that puts scores on the targets' scale.
- ``InputScaling``: the same map, standardising the features at the input.
- ``LipschitzDense``, ``GroupSort``, ``MonotoneResidual``, ``SelectFeatures``:
  the parts of a network that is monotone in chosen features by construction.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np

from skconstrain._sets import document_sets, set_arguments
from skconstrain.keras import ops as sk_ops
from skconstrain.keras._base import HostConstant, plain_bound, serializable
from skconstrain.keras.penalties import OutputPenalty

__all__ = [
    "EnsembleMean",
    "GroupSort",
    "InputScaling",
    "LipschitzDense",
    "MonotoneCalibration",
    "MonotoneResidual",
    "OutputActivation",
    "OutputPenaltyLayer",
    "OutputProjection",
    "PiecewiseLinearEncoding",
    "SelectFeatures",
    "TargetScaling",
]


@serializable
@document_sets
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
        A registry name: {SET_NAMES}.
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
        self._params = set_arguments(set, radius=radius, lower=lower, upper=upper)
        self.set = set
        self.radius = radius
        self.lower = plain_bound(lower)
        self.upper = plain_bound(upper)

    def _real(self, inputs):
        """``inputs`` as floats: integer scores are cast, as Dense's are."""
        inputs = keras.ops.convert_to_tensor(inputs)
        if not keras.backend.is_float_dtype(inputs.dtype):
            inputs = keras.ops.cast(inputs, self.compute_dtype)
        return inputs

    def build(self, input_shape):
        if input_shape[-1] == 0:
            raise ValueError(
                f"{type(self).__name__} projects a vector of at least one entry; "
                f"got an input of shape {tuple(input_shape)}."
            )

    def call(self, inputs):
        return sk_ops.project(self._real(inputs), self.set, **self._params)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            set=self.set, radius=self.radius, lower=self.lower, upper=self.upper
        )
        return config


@serializable
@document_sets
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
        A registry name: {SET_NAMES}.
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
        return sk_ops.activate(self._real(inputs), self.set, **self._params)


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
            return HostConstant(
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


def piecewise_linear(x, left, inv_width, below, above, xp, columns=None):
    """The piecewise-linear encoding of ``x`` (n, d): ``[x, e]`` with ``e``
    (n, d * b), feature by feature, ``e_jk = clip((x_j - left_jk) *
    inv_width_jk)`` into ``[0, 1]``, bounded below where ``below_jk`` is 1
    and above where ``above_jk`` is 1; with ``columns`` (indices ``j * b +
    k`` into ``e``), those of its columns alone, in that order. ``xp``:
    NumPy or ``keras.ops`` (the host and the network compute it alike)."""
    d, b = left.shape[0], left.shape[1]
    if columns is None:
        t = (x[:, :, None] - left[None]) * inv_width[None]
    else:  # each kept column from its feature and its bin alone
        columns = np.asarray(columns, dtype=np.int64)
        left, inv_width, below, above = (
            xp.take(xp.reshape(v, (-1,)), columns, axis=0)
            for v in (left, inv_width, below, above)
        )
        t = (xp.take(x, columns // b, axis=1) - left[None]) * inv_width[None]
    below, above = below[None], above[None]
    t = t - below * xp.minimum(t, 0.0) - above * xp.maximum(t - 1.0, 0.0)
    width = d * b if columns is None else len(columns)
    return xp.concatenate([x, xp.reshape(t, (-1, width))], axis=1)


def piecewise_linear_bins(X, n_bins, max_rows=100_000, features=None):
    """The bins of :class:`PiecewiseLinearEncoding` for the columns of ``X``:
    ``(left, inv_width, below, above)``, each (d, ``n_bins``) float64.

    A column's edges are its quantiles at ``0, 1/n_bins, ..., 1`` (without
    repeats), from at most ``max_rows`` evenly spaced rows; a column of at
    most ``n_bins + 1`` values has its values as edges, a bin between each
    two (a one-hot column one bin, whatever its share of ones; the rest
    weigh nothing). Its first bin
    has no lower bound and its last no upper one, so the encoding of a
    value beyond the data keeps growing linearly. With ``features`` (column
    indices), only those columns get bins; the others' stay empty."""
    X = np.asarray(X, dtype=np.float64)
    X = X[:: max(1, -(-len(X) // max_rows))]
    d = X.shape[1]
    left = np.zeros((d, n_bins))
    inv_width = np.zeros((d, n_bins))
    below = np.ones((d, n_bins))
    above = np.ones((d, n_bins))
    levels = np.linspace(0.0, 1.0, n_bins + 1)
    for j in range(d) if features is None else features:
        edges = np.unique(X[:, j])
        if len(edges) > n_bins + 1:
            edges = np.unique(np.quantile(X[:, j], levels))
        m = len(edges) - 1
        if m <= 0:
            continue
        left[j, :m] = edges[:-1]
        inv_width[j, :m] = 1.0 / np.diff(edges)
        below[j, 0] = 0.0
        above[j, m - 1] = 0.0
    return left, inv_width, below, above


@serializable
class PiecewiseLinearEncoding(keras.layers.Layer):
    """Piecewise-linear encoding of numerical features (Gorishniy, Rubachev
    & Babenko, "On Embeddings for Numerical Features in Tabular Deep
    Learning", NeurIPS 2022), beside the features themselves.

    Each feature ``x_j`` is cut into bins at edges ``t_j0 < t_j1 < ...``
    (its quantiles, :func:`piecewise_linear_bins`) and encoded as how far it
    has filled each bin: ``e_jk = clip((x_j - t_jk) / (t_j(k+1) - t_jk), 0,
    1)``, the first bin unbounded below and the last above. The output is
    ``[x, e]``: a network after it can bend at every edge in one layer, so a
    steep or stepwise effect of one feature (a price against a disk's size,
    say) costs it few units. The bins are non-trainable weights (saved with
    the model, and set by :meth:`set_weights`), in float64 like
    :class:`InputScaling`.

    Parameters
    ----------
    bins : tuple of 4 array-like of shape (d, n_bins), or None
        ``(left, inv_width, below, above)`` of :func:`piecewise_linear_bins`;
        None: ``n_bins`` empty bins per feature (weights to be loaded).
    n_bins : int, default=32
        Bins per feature when ``bins`` is None.
    columns : list of int or None, default=None
        The columns of ``e`` kept, in this order (``j * n_bins + k``: feature
        ``j``'s bin ``k``; the output is ``[x, e[:, columns]]``); None:
        all. A network drops the bins that are zero for every input (those
        of a feature of few values) or that it does not read.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(5.0).reshape(-1, 1)  # 2 bins: edges 0, 2, 4
    >>> layer = PiecewiseLinearEncoding(piecewise_linear_bins(x, 2), dtype="float64")
    >>> np.asarray(layer(np.array([[-1.0], [1.0], [5.0]]))).tolist()
    [[-1.0, -0.5, 0.0], [1.0, 0.5, 0.0], [5.0, 1.0, 1.5]]

    Only the bins of the second of two features:

    >>> x2 = np.hstack([-x, x])
    >>> bins = piecewise_linear_bins(x2, 2, features=[1])
    >>> layer = PiecewiseLinearEncoding(bins, columns=[2, 3], dtype="float64")
    >>> np.asarray(layer(np.array([[0.0, 1.0]]))).tolist()
    [[0.0, 1.0, 0.5, 0.0]]
    """

    def __init__(self, bins=None, n_bins=32, columns=None, **kwargs):
        super().__init__(**kwargs)
        if bins is not None:
            bins = tuple(np.asarray(b, dtype=np.float64) for b in bins)
            if len(bins) != 4 or any(b.shape != bins[0].shape for b in bins):
                raise ValueError(
                    "bins must be 4 arrays of one shape (d, n_bins): left, "
                    "inv_width, below, above (see piecewise_linear_bins)."
                )
            n_bins = bins[0].shape[1]
        if int(n_bins) < 1:
            raise ValueError(f"n_bins must be >= 1; got {n_bins!r}.")
        self.bins = bins
        self.n_bins = int(n_bins)
        self.columns = _indices(columns, "columns")

    def build(self, input_shape):
        d = input_shape[-1]
        if self.columns is not None and any(c >= d * self.n_bins for c in self.columns):
            raise ValueError(
                f"columns must be below the {d * self.n_bins} bins of the {d} "
                f"input features; got {self.columns!r}."
            )
        names = ("left", "inv_width", "below", "above")
        empty = (0.0, 0.0, 1.0, 1.0)
        self.bin_weights = [
            self.add_weight(
                shape=(d, self.n_bins),
                initializer=HostConstant(
                    np.full((d, self.n_bins), fill)
                    if self.bins is None
                    else self.bins[i]
                ),
                trainable=False,
                name=name,
            )
            for i, (name, fill) in enumerate(zip(names, empty, strict=True))
        ]

    def call(self, inputs):
        bins = [keras.ops.cast(w, inputs.dtype) for w in self.bin_weights]
        return piecewise_linear(inputs, *bins, xp=keras.ops, columns=self.columns)

    def compute_output_shape(self, input_shape):
        d = input_shape[-1]
        if d is None:
            return (*input_shape[:-1], None)
        width = d * self.n_bins if self.columns is None else len(self.columns)
        return (*input_shape[:-1], d + width)

    def get_config(self):
        config = super().get_config()
        # the bins are weights
        config.update(n_bins=self.n_bins, columns=self.columns)
        return config


def _indices(features, name):
    """``features`` as a list of distinct ints >= 0 (None stays None)."""
    if features is None:
        return None
    features = [int(j) for j in features]
    if any(j < 0 for j in features) or len(set(features)) != len(features):
        raise ValueError(f"{name} must be distinct indices >= 0; got {features!r}.")
    return features


# ------------------------------------------------------------ monotone networks
# The layers of a Lipschitz monotonic network (Kitouni, Nolte, Williams et al.,
# "Expressive Monotonic Neural Networks", ICLR 2023): a network ``h`` whose
# slope in each chosen feature is at most 1 in absolute value (norm-bounded
# layers with GroupSort activations, Anil, Lucas and Grosse, ICML 2019), plus
# the ramp ``sum_i c_i x_i``: ``lam * (h(x) + sum_i c_i x_i)`` then never
# decreases in ``x_i`` for ``c_i = +1`` and never increases for ``c_i = -1``.


def _cap(norms):
    """``max(1, norms)``: dividing by it leaves a norm of at most 1 alone."""
    return keras.ops.maximum(norms, 1.0)


@serializable
class LipschitzDense(keras.layers.Dense):
    """A ``Dense`` layer whose kernel is rescaled in every call to bound its slope.

    The layer uses the kernel ``W`` divided, in its forward pass, by the norms
    that exceed 1, so the bound holds for *any* value of the trainable
    variable: at initialisation, after every step of any optimizer, after
    ``set_weights``. With ``x @ W`` (Keras's layout, ``W`` of shape
    ``(inputs, units)``):

    - ``bound="columns"``: each unit's incoming weights have
      ``sum_i |W[i, j]| <= 1``: the layer is 1-Lipschitz in the L-infinity
      norm, ``max_j |dy_j| <= max_i |dx_i|``;
    - ``bound="rows"``: the rows ``i`` with ``rows[i]`` true have
      ``max_j |W[i, j]| <= 1``, so no unit's slope in input ``i`` exceeds 1;
      the other rows are free (the first layer of a network that bounds the
      slope in chosen inputs only).

    A stack of such layers (rows first, columns after) with 1-Lipschitz
    activations such as :class:`GroupSort` has, in each output, a slope of at
    most 1 in each chosen input (the product of the layers' norms), which is
    what :class:`MonotoneResidual` needs. Weight constraints and penalties
    apply to the stored kernel as usual.

    Parameters
    ----------
    units : int
    bound : {"columns", "rows"}, default="columns"
    rows : None or list of bool, default=None
        For ``bound="rows"``: the inputs whose slope is bounded (all if None).
    **kwargs
        Arguments of :class:`keras.layers.Dense`.

    Examples
    --------
    >>> import keras, numpy as np
    >>> layer = LipschitzDense(2, use_bias=False)
    >>> y = layer(np.ones((1, 3), dtype="float32"))
    >>> _ = layer.kernel.assign(np.full((3, 2), 5.0))  # column sums 15
    >>> np.asarray(layer(np.ones((1, 3), dtype="float32"))).tolist()
    [[1.0, 1.0]]
    """

    def __init__(self, units, bound="columns", rows=None, **kwargs):
        super().__init__(units, **kwargs)
        if bound not in ("columns", "rows"):
            raise ValueError(
                f"The 'bound' parameter must be 'columns' or 'rows'; got {bound!r}."
            )
        self.bound = bound
        self.rows = None if rows is None else [bool(r) for r in rows]

    def bounded_kernel(self):
        """The kernel the layer multiplies by: ``kernel`` with its norms capped."""
        kernel = keras.ops.cast(self.kernel, self.compute_dtype)
        if self.bound == "columns":
            norms = keras.ops.sum(keras.ops.abs(kernel), axis=0, keepdims=True)
            return kernel / _cap(norms)
        norms = keras.ops.max(keras.ops.abs(kernel), axis=1, keepdims=True)
        if self.rows is not None:  # free rows are divided by max(1, 0)
            chosen = np.asarray(self.rows, dtype=self.compute_dtype).reshape(-1, 1)
            norms = norms * chosen
        return kernel / _cap(norms)

    def call(self, inputs):
        outputs = keras.ops.matmul(inputs, self.bounded_kernel())
        if self.use_bias:
            outputs = outputs + keras.ops.cast(self.bias, self.compute_dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.update(bound=self.bound, rows=self.rows)
        return config


@serializable
class GroupSort(keras.layers.Layer):
    """Sort the units in pairs: ``(a, b) -> (max(a, b), min(a, b))``.

    The GroupSort activation of group size 2 ("MaxMin", Anil, Lucas and
    Grosse, ICML 2019). Unit ``j`` of the first half is paired with unit ``j``
    of the second half; the maxima come first, then the minima. Its Jacobian
    is a permutation matrix wherever it exists, so it is 1-Lipschitz in every
    norm and keeps the size of the gradient; with norm-bounded layers it can
    approximate any Lipschitz function, where ReLU cannot. An odd last unit
    passes through. No weights.

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(GroupSort()(np.array([[1.0, 3.0, 2.0, -1.0, 7.0]]))).tolist()
    [[2.0, 3.0, 1.0, -1.0, 7.0]]
    """

    def call(self, inputs):
        width = inputs.shape[-1]
        pairs = width // 2
        first, second = inputs[..., :pairs], inputs[..., pairs : 2 * pairs]
        parts = [keras.ops.maximum(first, second), keras.ops.minimum(first, second)]
        if width % 2:
            parts.append(inputs[..., 2 * pairs :])
        return keras.ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


@serializable
class MonotoneResidual(keras.layers.Layer):
    """``lam * (h + sum_i signs[i] * x[i])``: monotone if ``h``'s slopes are <= 1.

    Called on ``[h, x]``: ``h`` of shape ``(n, d)``, the output of a network
    whose slope in each feature ``i`` with ``signs[i] != 0`` is at most 1 in
    absolute value (e.g. :class:`LipschitzDense` layers with
    :class:`GroupSort`), and ``x`` of shape ``(n, n_features)``, the inputs.
    Then each output's slope in a feature with ``signs[i] = +1`` is
    ``lam * (dh/dx_i + 1) >= 0``, and with ``signs[i] = -1`` it is ``<= 0``:
    monotone everywhere, by construction, whatever the weights (Kitouni et
    al., "Expressive Monotonic Neural Networks", ICLR 2023). The network can
    represent any such function whose slopes lie within ``[0, 2 lam]``
    (``[-2 lam, 0]``); ``lam = exp(log_lam)`` is a trainable weight per
    output (starting at ``initial_lam``), so training sets how steep the
    function may be.

    Parameters
    ----------
    signs : list of int
        -1, 0 or +1 per input feature.
    initial_lam : float, default=1.0
        ``lam`` before training, > 0: the starting slope of the ramp
        ``sum_i signs_i x_i``.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> layer = MonotoneResidual([1, 0])
    >>> h = np.zeros((2, 1), dtype="float32")
    >>> x = np.array([[1.0, 5.0], [2.0, 5.0]], dtype="float32")
    >>> np.asarray(layer([h, x])).ravel().tolist()
    [1.0, 2.0]
    """

    def __init__(self, signs, initial_lam=1.0, **kwargs):
        super().__init__(**kwargs)
        self.signs = [int(s) for s in signs]
        if any(s not in (-1, 0, 1) for s in self.signs):
            raise ValueError(f"signs must be -1, 0 or 1; got {signs!r}.")
        if not float(initial_lam) > 0:
            raise ValueError(f"initial_lam must be > 0; got {initial_lam!r}.")
        self.initial_lam = float(initial_lam)

    def build(self, input_shape):
        width = input_shape[0][-1]
        self.log_lam = self.add_weight(
            shape=(width,),
            initializer=HostConstant(np.log(self.initial_lam)),
            trainable=True,
            name="log_lam",
        )

    def call(self, inputs):
        h, x = inputs
        x = keras.ops.cast(x, self.compute_dtype)
        signs = keras.ops.convert_to_tensor(
            np.asarray(self.signs, dtype=float).reshape(-1, 1), self.compute_dtype
        )
        ramp = keras.ops.matmul(x, signs)
        lam = keras.ops.exp(keras.ops.cast(self.log_lam, self.compute_dtype))
        return lam * (keras.ops.cast(h, self.compute_dtype) + ramp)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(signs=self.signs, initial_lam=self.initial_lam)
        return config


@serializable
class MonotoneCalibration(keras.layers.Layer):
    """Non-decreasing piecewise-linear calibrators of chosen features, from
    their :class:`PiecewiseLinearEncoding`.

    Called on ``[x, e]`` (the encoding's output: ``d`` features, then the
    bins it keeps), it returns ``d`` columns: each feature in
    ``features`` replaced by its calibration ``c_j = t_j0 + sum_k exp(r_jk)
    e_jk`` (``t_j0``: its first edge; ``exp(r_jk)``: how much ``c_j`` rises
    over bin ``k``), the others as they are. So ``c_j`` is piecewise linear
    with a positive slope in every bin, and never decreases in ``x_j``,
    whatever the weights: a monotone network fed with it stays monotone,
    and can be steep where the data are dense and flat where they are not
    (the piecewise-linear calibrators of Gupta et al., "Monotonic Calibrated
    Interpolated Look-Up Tables", JMLR 2016, on the bins of Gorishniy et
    al.). The weights ``r`` start at the logs of the bins' widths, where
    ``c_j = x_j``: the network after it starts as it would without it.

    Parameters
    ----------
    features : list of int
        The calibrated features.
    n_bins : int
        The encoding's bins per feature.
    bins : tuple of 4 array-like of shape (d, n_bins), or None
        The encoding's bins (:func:`piecewise_linear_bins`), for the starting
        weights; None: weights to be loaded.
    columns : list of int or None, default=None
        The encoding's kept columns (its ``columns``; None: all). It must
        keep every bin of each calibrated feature, in order.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(5.0).reshape(-1, 1)
    >>> bins = piecewise_linear_bins(x, 2)
    >>> encoded = PiecewiseLinearEncoding(bins, dtype="float64")(x)
    >>> layer = MonotoneCalibration([0], 2, bins)
    >>> np.round(np.asarray(layer(encoded)), 4).ravel().tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """

    def __init__(self, features, n_bins, bins=None, columns=None, **kwargs):
        super().__init__(**kwargs)
        self.features = _indices(features, "features")
        self.n_bins = int(n_bins)
        if self.n_bins < 1:
            raise ValueError(f"n_bins must be >= 1; got {n_bins!r}.")
        self.columns = _indices(columns, "columns")
        self.bins = bins
        b = self.n_bins
        self._starts = {j: j * b for j in self.features}  # in the bins
        if self.columns is not None:
            at = {c: p for p, c in enumerate(self.columns)}
            for j in self.features:  # its b bins side by side, in order
                first = at.get(j * b)
                if first is None or any(
                    at.get(j * b + k) != first + k for k in range(b)
                ):
                    raise ValueError(
                        "columns must keep every bin of each calibrated feature "
                        f"{self.features!r}, in order; got {self.columns!r}."
                    )
                self._starts[j] = first

    def start(self, bins=None):
        """The starting ``(log_rise, first_edge)`` of the calibrators on the
        encoding's ``bins`` (zeros without them): the logs of the bins'
        widths, and each feature's first edge, where ``c_j = x_j``.

        Examples
        --------
        >>> import numpy as np
        >>> bins = piecewise_linear_bins(np.arange(5.0).reshape(-1, 1), 2)
        >>> log_rise, first_edge = MonotoneCalibration([0], 2).start(bins)
        >>> np.exp(log_rise).tolist(), first_edge.tolist()
        ([[2.0, 2.0]], [0.0])
        """
        features = self.features
        if bins is None:
            return np.zeros((len(features), self.n_bins)), np.zeros(len(features))
        inv_width = np.asarray(bins[1], dtype=np.float64)[features]
        log_rise = -np.log(np.where(inv_width > 0, inv_width, 1.0))
        return log_rise, np.asarray(bins[0], dtype=np.float64)[features, 0]

    def build(self, input_shape):
        log_rise, first = self.start(self.bins)
        self.log_rise = self.add_weight(
            shape=log_rise.shape,
            initializer=HostConstant(log_rise),
            name="log_rise",
        )
        self.first_edge = self.add_weight(
            shape=first.shape,
            initializer=HostConstant(first),
            trainable=False,
            name="first_edge",
        )

    def _features_in(self, width):
        """The features of an input ``width`` columns wide."""
        if self.columns is None:
            return width // (self.n_bins + 1)
        return width - len(self.columns)

    def call(self, inputs):
        d = self._features_in(inputs.shape[-1])
        rise = keras.ops.exp(self.log_rise)
        # the columns by static slices, not gathers (a gather cost about 60 us
        # a step of a small network on XLA's CPU backend)
        columns = {}
        for i, j in enumerate(self.features):
            start = d + self._starts[j]
            e = inputs[:, start : start + self.n_bins]
            c = keras.ops.sum(e * rise[i], axis=-1, keepdims=True)
            columns[j] = c + self.first_edge[i]
        parts = []  # runs of features as they are, and the calibrated ones
        for calibrated, run in itertools.groupby(range(d), key=columns.__contains__):
            run = list(run)
            if calibrated:
                parts += [columns[j] for j in run]
            else:
                parts.append(inputs[:, run[0] : run[-1] + 1])
        return parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self._features_in(input_shape[-1]))

    def get_config(self):
        config = super().get_config()
        config.update(features=self.features, n_bins=self.n_bins, columns=self.columns)
        return config


@serializable
class SelectFeatures(keras.layers.Layer):
    """The columns ``indices`` of the input (its last axis), in that order.

    A network's branch that must not depend on some features (the
    unconstrained part of a monotone network) starts with it. No weights.

    Parameters
    ----------
    indices : list of int
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(SelectFeatures([2, 0])(np.array([[1.0, 2.0, 3.0]]))).tolist()
    [[3.0, 1.0]]
    """

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]
        if any(i < 0 for i in self.indices):
            raise ValueError(
                f"The 'indices' parameter must be column indices >= 0; got {indices!r}."
            )

    def build(self, input_shape):
        # an index past the last column is an error on TensorFlow but a NaN
        # column on JAX: refused here, for both
        width = input_shape[-1]
        if width is not None and any(i >= width for i in self.indices):
            raise ValueError(
                f"The 'indices' parameter {self.indices} names a column beyond "
                f"the input's {width}."
            )

    def call(self, inputs):
        return keras.ops.take(inputs, self.indices, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.indices))

    def get_config(self):
        config = super().get_config()
        config.update(indices=self.indices)
        return config


@serializable
class EnsembleMean(keras.layers.Layer):
    """The mean of ``members`` networks' outputs, given side by side.

    Called on the members' outputs concatenated along the last axis, shape
    ``(n, members * k)`` (member ``m``'s ``k`` outputs in columns ``m * k``
    to ``(m + 1) * k``), it returns their mean, shape ``(n, k)``. A mean of
    points of a convex set (a simplex, a ball, a box, the nonnegative
    orthant, ordered vectors) is in the set, a mean of monotone functions is
    monotone and a mean of ordered quantiles is ordered; points of the sphere
    need projecting back (:class:`OutputProjection` after this layer). No
    weights.

    Parameters
    ----------
    members : int
        The number of networks, >= 1.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> side_by_side = np.array([[1.0, 2.0, 3.0, 6.0]])  # 2 members, 2 outputs
    >>> np.asarray(EnsembleMean(2)(side_by_side)).tolist()
    [[2.0, 4.0]]
    """

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        if int(members) < 1:
            raise ValueError(f"members must be >= 1; got {members!r}.")
        self.members = int(members)

    def build(self, input_shape):
        width = input_shape[-1]
        if width is not None and (width == 0 or width % self.members):
            raise ValueError(
                f"EnsembleMean of {self.members} members takes their outputs side "
                f"by side, a multiple of {self.members} columns; got {width}."
            )

    def call(self, inputs):
        width = inputs.shape[-1] // self.members
        parts = [inputs[..., m * width : (m + 1) * width] for m in range(self.members)]
        return sum(parts[1:], parts[0]) / self.members

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // self.members)

    def get_config(self):
        config = super().get_config()
        config.update(members=self.members)
        return config
