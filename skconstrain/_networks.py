"""Building Keras networks from an estimator's hyperparameters.

One place for what every estimator builds: the default MLP and the monotone
network (each starting with an :class:`~skconstrain.keras.InputScaling`), the
user's model from its callable, the weight settings (penalty and
constraints) on every kernel-bearing layer, the output head chosen by the
output strategy, where the scores start (the target scaling), the body that
training runs (the network after its input scaling), seeding, and the
``.keras`` bytes round trip. It imports ``skconstrain.keras`` and ``_sets``,
never the estimators.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import random
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.base import clone

from skconstrain._compat import (
    build_optimizer,
    keras_numpy_quiet,
)
from skconstrain.keras import constraints as _constraints
from skconstrain.keras import regularizers as _regularizers
from skconstrain.keras._base import HostGlorotUniform, HostZeros
from skconstrain.keras.layers import (
    EnsembleMean,
    GroupSort,
    InputScaling,
    LipschitzDense,
    MonotoneCalibration,
    MonotoneResidual,
    OutputActivation,
    OutputPenaltyLayer,
    OutputProjection,
    PiecewiseLinearEncoding,
    SelectFeatures,
    TargetScaling,
)

#: Held while a network is built under a seed (see :func:`keras_seeded`).
_SEED_LOCK = threading.RLock()


@contextmanager
def keras_seeded(seed):
    """Seed the weights of the Keras layers built inside, and nothing else.

    Keras draws the seed of each initializer and ``SeedGenerator`` made without
    one from Python's ``random`` (``keras.random.make_default_seed``), so
    seeding that is enough, and its state is restored after.
    ``keras.utils.set_random_seed`` is not used: it also reseeds NumPy's global
    generator, which scikit-learn estimators leave alone, and
    ``tf.random.set_seed`` clears TensorFlow's caches of instantiated
    functions, which made every fit pay for its graph's optimisation again.

    Python's generator is global, so networks are built one at a time: two
    fits in threads (``GridSearchCV`` under joblib's threading backend) would
    otherwise draw from each other's seeds. Other code drawing from ``random``
    in another thread meanwhile still shifts the seeds, which is why the
    default MLP gives each initializer its own seed and this only serves the
    user's ``model`` callable.
    """
    with _SEED_LOCK:
        state = random.getstate()
        random.seed(int(seed))
        try:
            yield
        finally:
            random.setstate(state)


def free_name(net, name):
    """``name``, or ``name_1``, ``name_2``...: the first no layer of ``net`` has."""
    taken = {layer.name for layer in net.layers}
    free, n = name, 0
    while free in taken:
        n += 1
        free = f"{name}_{n}"
    return free


def spread(mean, std, dtype):
    """``std``, with 1 where the column is constant at ``dtype``'s precision:
    0, or too small relative to ``mean`` to change a value of that size (as
    :class:`~sklearn.preprocessing.StandardScaler` leaves constant columns
    unscaled). A small spread of values near 0 is not constant: the floor
    depends on the values' size, not on their units.

    Examples
    --------
    >>> spread(np.array([0.0, 1e6, 5.0]), np.array([1e-9, 1e-9, 0.0]), np.float64)
    array([1.e-09, 1.e+00, 1.e+00])
    """
    tiny = np.finfo(dtype).eps * np.abs(mean)
    return np.where((std > tiny) & (std > 0), std, 1.0)


#: The head that ends the network for each output strategy that has one, and its name.
HEADS = {
    "project": (OutputProjection, "output_projection"),
    "activation": (OutputActivation, "output_activation"),
    "penalty": (OutputPenaltyLayer, "output_penalty"),
}


def score_start(strategy, output_set, mean, std):
    """Offset and scale that map the default MLP's outputs ``z`` (near 0, with
    a spread of about 1 at initialisation) to scores ``offset + scale * z``
    that start at the targets' ``mean`` with their spread ``std`` (per column;
    a spread of 0, or too small to divide by, counts as 1, as in
    :class:`~sklearn.preprocessing.StandardScaler`).

    The scores are the predictions themselves, or the input of a projection or
    penalty (in the targets' units), except for ``"activation"``: its scores
    are mapped by :func:`skconstrain.keras.ops.activate`, so the offset is the
    scores that it maps to (about) ``mean``, and the scale is ``std`` over the
    map's slope there. So a network does not first spend its training on
    shrinking outputs of size 1 to targets of size 0.001, say. ``output_set``
    is the estimator's ``{"set": name, **validated parameters}``, or None.
    """
    std = spread(mean, std, np.float32)
    set_name = None if output_set is None else output_set["set"]
    if strategy != "activation" or set_name in (None, "l2_sphere"):
        return mean, std  # the sphere's map is its projection
    r = output_set.get("radius", 1.0)
    lower, upper = output_set.get("lower"), output_set.get("upper")
    if set_name == "nonneg":
        lower = 0.0
    if set_name == "ordered":  # the first score, then softplus increments
        steps = np.diff(mean, prepend=0.0)
        gap = np.maximum(steps[1:], 0.1 * std[1:])
        inverse = gap + np.log(-np.expm1(-gap))  # softplus^-1(gap), stable
        slope = np.concatenate([[1.0], -np.expm1(-gap)])
        return np.concatenate([steps[:1], inverse]), std / slope
    # the start is kept strictly inside the set, where the map can be inverted
    if set_name == "simplex":  # r * softmax
        p = np.clip(mean / r, 1e-6, 1.0)
        p = p / p.sum()
        offset, slope = np.log(p), r * p * (1.0 - p)
    elif set_name in ("l1_ball", "l2_ball"):  # radial tanh squash
        norm = np.linalg.norm(mean, ord=1 if set_name == "l1_ball" else 2)
        t = min(norm / r, 0.9)
        offset = mean * (r * np.arctanh(t) / norm if norm > 0 else 1.0)
        slope = np.ones_like(mean)  # the squash's slope at 0; about 1 inside
    elif set_name == "linf_ball":  # r * tanh
        t = np.clip(mean / r, -0.9, 0.9)
        offset, slope = np.arctanh(t), r * (1.0 - t**2)
    elif lower is not None and upper is not None:  # lower + width * sigmoid
        width = upper - lower
        s = np.clip((mean - lower) / np.where(width > 0, width, 1.0), 0.05, 0.95)
        offset, slope = np.log(s / (1 - s)), width * s * (1 - s)
    elif lower is not None or upper is not None:  # lower + softplus(x), ...
        side, gap = (1.0, mean - lower) if lower is not None else (-1.0, upper - mean)
        g = np.maximum(gap, 0.1 * std)
        offset = side * (g + np.log(-np.expm1(-g)))  # softplus^-1(g), stable
        slope = -np.expm1(-g)  # sigmoid(softplus^-1(g))
    else:  # an unbounded box: the identity
        return mean, std
    return offset, std / np.maximum(slope, 1e-3)


#: The name of the default MLP's first layer, an :class:`InputScaling`.
INPUT_SCALING = "input_scaling"
#: The name of the default MLP's :class:`PiecewiseLinearEncoding` (feature_encoding).
INPUT_ENCODING = "input_encoding"
#: The name of the default MLP's :class:`TargetScaling`, before its head.
TARGET_SCALING = "target_scaling"


#: The layer of an :func:`ensemble` with its members' outputs side by side (trained).
ENSEMBLE_MEMBERS = "ensemble_members"


def body(model):
    """What the training data go through, sharing ``model``'s layers:
    ``model`` after its :class:`InputScaling` and its
    :class:`PiecewiseLinearEncoding` if it has one (the data are mapped once
    by ``as_tensors``), up to its members' outputs side by side for an
    ensemble (:func:`ensemble`). None for ``model`` itself (a single network
    without an input scaling)."""
    names = {layer.name for layer in model.layers}
    end = model.outputs[0]
    if ENSEMBLE_MEMBERS in names:
        end = model.get_layer(ENSEMBLE_MEMBERS).output
    if INPUT_SCALING not in names:
        if end is model.outputs[0]:
            return None
        return keras.Model(model.inputs[0], end, name="body")
    first = INPUT_ENCODING if INPUT_ENCODING in names else INPUT_SCALING
    return keras.Model(model.get_layer(first).output, end, name="body")


def ensemble_size(model):
    """The number of members of ``model`` (1: a single network)."""
    for layer in model.layers:
        if isinstance(layer, EnsembleMean):
            return layer.members
    return 1


def ensemble_tail(model):
    """For an ensemble, what its members' outputs side by side go through to
    the predictions (their mean, and the projection back onto a sphere), as
    a function; None for a single network."""
    names = {layer.name for layer in model.layers}
    if ENSEMBLE_MEMBERS not in names:
        return None
    return keras.Model(
        model.get_layer(ENSEMBLE_MEMBERS).output, model.outputs[0], name="tail"
    )


def ensemble(members, reproject=None):
    """One network whose prediction is the mean of ``members``' (built
    networks of one architecture, differing by their initial weights).

    Members that start with an :class:`InputScaling` (and a
    :class:`PiecewiseLinearEncoding`) share it (the first member's, a fixed
    map), so :func:`body` trains them on the
    standardised data. Their outputs are put side by side
    (:data:`ENSEMBLE_MEMBERS`), averaged by :class:`EnsembleMean`, then, with
    ``reproject`` (the parameters of a set that is not convex: the sphere),
    projected back onto the set by an :class:`OutputProjection`.
    """
    inputs = keras.Input(members[0].inputs[0].shape[1:], dtype="float64")
    first = {layer.name for layer in members[0].layers}
    z = inputs
    for name, kind in ((INPUT_SCALING, InputScaling), (INPUT_ENCODING, None)):
        if name in first:
            source = members[0].get_layer(name)
            layer = (kind or type(source)).from_config(source.get_config())
            z = layer(z)
            with keras_numpy_quiet():
                layer.set_weights(source.get_weights())
    outputs = []
    for m, member in enumerate(members):
        net = body(member) if INPUT_SCALING in first else member
        net = keras.Model(net.inputs[0], net.outputs[0], name=f"member_{m}")
        outputs.append(net(z))
    side = keras.layers.Concatenate(axis=-1, name=ENSEMBLE_MEMBERS)(outputs)
    out = EnsembleMean(len(members), name="ensemble_mean")(side)
    if reproject is not None:
        out = OutputProjection(**reproject, name="ensemble_projection")(out)
    return keras.Model(inputs, out, name="constrained_ensemble")


def ensemble_row_loss(row_loss, members, n_outputs):
    """The training loss of each row of an ensemble: the sum over its
    ``members`` of each member's ``row_loss`` (None: squared error) on its
    columns of the outputs side by side, times ``members``, so that the
    engines' division by the number of columns leaves the sum over members of
    each one's loss: each member's gradient is that of its own fit."""

    def loss(y, outputs):
        total = 0.0
        for m in range(members):
            part = outputs[..., m * n_outputs : (m + 1) * n_outputs]
            if row_loss is None:
                y_ = keras.ops.cast(y, part.dtype)
                total = total + keras.ops.sum(keras.ops.square(y_ - part), axis=-1)
            else:
                total = total + row_loss(y, part)
        return total * members

    return loss


def training_parts(model, objective, n_outputs):
    """What an engine needs of ``model`` besides it: its kernel penalties,
    its output penalties, its body (after the fixed input layers) and the
    objective (``objective``, an ensemble's members each on their own loss,
    its predictions their mean)."""
    size = ensemble_size(model)
    if size > 1:
        tail = ensemble_tail(model)
        output_map = objective.output_map
        objective = dataclasses.replace(
            objective,
            row_loss=ensemble_row_loss(objective.row_loss, size, n_outputs),
            output_map=tail
            if output_map is None
            else (lambda outputs: output_map(tail(outputs))),
        )
    return dict(
        penalties=list(penalties(model)),
        output_penalties=output_penalties(model),
        body=body(model),
        objective=objective,
    )


def with_adam(model, learning_rate):
    """``model`` with its Adam optimizer built (its state saved with it)."""
    optimizer = keras.optimizers.Adam(learning_rate, name="adam")
    # Compiled only so that the optimizer (and its state) is saved with the
    # network; training does not use Model.fit.
    model.compile(optimizer=optimizer)
    build_optimizer(optimizer, model.trainable_variables)
    return model


def set_penalty_scale(model, scale):
    """``alpha / n_samples`` into every kernel penalty of ``model``.

    A network loaded from ``.keras`` bytes holds one ``Scaled`` per kernel
    (a fresh build shares one), so each is set. Training feeds the same
    value to the engine's network.
    """
    for regularizer in penalties(model):
        regularizer.scale = scale


def penalties(model):
    """The distinct ``Scaled`` kernel penalties of ``model``."""
    found = {}
    # private: Keras has no public walk of nested layers (see apply_weight_settings)
    for layer in model._flatten_layers(include_self=False):
        regularizer = getattr(getattr(layer, "kernel", None), "regularizer", None)
        if isinstance(regularizer, _regularizers.Scaled):
            found[id(regularizer)] = regularizer
    return found.values()


def output_penalties(model):
    """The :class:`OutputPenaltyLayer` of ``model`` whose input is a column
    range of :func:`body`'s outputs, as ``(columns, layer)``: the last layer
    of a single network (all columns), or of each member of an ensemble
    (its columns). The engines average these penalties over a batch's own
    rows (masked); any other output penalty is Keras's own."""
    net = body(model) or model
    last = net.layers[-1]
    if isinstance(last, OutputPenaltyLayer):
        return [(slice(None), last)]
    if last.name != ENSEMBLE_MEMBERS:
        return []
    members = [x for x in net.layers if x.name.startswith("member_")]
    width = int(last.output.shape[-1]) // max(len(members), 1)
    found = []
    for m, member in enumerate(members):
        end = getattr(member, "layers", [None])[-1]
        if isinstance(end, OutputPenaltyLayer):
            found.append((slice(m * width, (m + 1) * width), end))
    return found


def to_bytes(model):
    with tempfile.TemporaryDirectory() as folder, keras_numpy_quiet():
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as f:
            return f.read()


def from_bytes(data):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "Could not load the network of a pickled ConstrainedRegressor "
                "from its .keras bytes (Keras's safe mode). Custom layers, "
                "regularizers or constraints of your own must be registered with "
                "keras.saving.register_keras_serializable and imported before "
                f"loading. Keras said: {exc}"
            ) from exc


def mlp(
    n_features,
    n_outputs,
    hidden_layer_sizes,
    activation,
    seed,
    scaling=None,
    n_bins=0,
    columns=None,
):
    """The default MLP: float64 input, :class:`InputScaling` (``scaling``:
    ``(offset, scale[, bins])``; None: the identity, for an engine's copy
    whose weights are loaded), with ``n_bins`` a
    :class:`PiecewiseLinearEncoding` (keeping ``columns``), Dense hidden
    layers, a linear output layer."""
    layers = [
        keras.Input((n_features,), dtype="float64"),
        *_input_layers(scaling, n_bins, columns),
    ]
    # the first kernel: the rows of the kept columns of the one with them all
    first = "hidden_1" if len(hidden_layer_sizes) else "output"
    rows = None if columns is None else _kept_rows(n_features, n_bins, columns)
    # Fixed names: TensorFlow caches an eager kernel per distinct variable name
    # (about 35 KiB each, never freed), so Keras's auto-numbered names (dense_17,
    # ...) grew the memory of a process by every fit (benchmarks/bench_memory.py).
    layers += [
        keras.layers.Dense(
            int(h),
            activation,
            kernel_initializer=_kernel_initializer(
                seed, f"hidden_{i}", rows if i == 1 else None
            ),
            bias_initializer=HostZeros(),
            name=f"hidden_{i}",
        )
        for i, h in enumerate(hidden_layer_sizes, start=1)
    ]
    layers.append(
        keras.layers.Dense(
            n_outputs,
            kernel_initializer=_kernel_initializer(
                seed, "output", rows if first == "output" else None
            ),
            bias_initializer=HostZeros(),
            name="output",
        )
    )
    return keras.Sequential(layers, name="mlp")


#: The monotone network's starting slope along its constrained features (the
#: ``lam`` of :class:`MonotoneResidual`): 0.5 rather than 1 fitted a
#: synthetic monotone problem 8% better in the same 200 epochs and Auto MPG
#: as well (benchmarks/bench_quality.py); its log moves about 0.001 per
#: Adam step, so a start far from the data's slopes takes many steps.
MONOTONE_INITIAL_LAM = 0.5


def monotone_mlp(
    n_features,
    n_outputs,
    hidden_layer_sizes,
    activation,
    signs,
    seed,
    scaling=None,
    n_bins=0,
    encode_free=True,
    columns=None,
):
    """A network monotone in the features whose ``signs`` are -1 or +1.

    The sum of two branches after the :class:`InputScaling` (a positive
    scale per feature, which keeps every direction):

    - a Lipschitz monotonic network (Kitouni, Nolte, Williams et al.,
      "Expressive Monotonic Neural Networks", ICLR 2023) on all features:
      :class:`LipschitzDense` layers with :class:`GroupSort` activations form
      ``h``, whose slope in each constrained feature is at most 1 in every
      output (the first layer bounds the constrained features' rows, the
      others each unit's L1 norm; the unconstrained features' rows are free),
      and :class:`MonotoneResidual` returns ``lam * (h + sum_i signs_i x_i)``:
      monotone for any weights. At least two layers: a single
      ``hidden_layer_sizes`` layer is repeated;
    - an ordinary MLP (``activation``) on the unconstrained features only
      (:class:`SelectFeatures`), which cannot break monotonicity and learns
      their effects at the pace of an unconstrained network (in the first
      branch they pass through layers of bounded norm); with ``n_bins``, on
      the unconstrained features and their piecewise-linear encodings
      (:class:`PiecewiseLinearEncoding`, its kept ``columns``), or with
      ``encode_free`` False on those features alone.

    With ``n_bins``, the first branch (its layers and its ramp) takes each
    constrained feature through a non-decreasing piecewise-linear calibrator
    of its bins (:class:`MonotoneCalibration`), which keeps the direction:
    the network can then be as steep as the data where they are dense.
    """
    signs = [int(s) for s in signs]
    inputs = keras.Input((n_features,), dtype="float64")
    prefix = _input_layers(scaling, n_bins, columns)
    scaled = encoded = prefix[0](inputs)
    if n_bins:
        encoded = prefix[1](scaled)
        # the constrained features through their monotone calibrators
        scaled = MonotoneCalibration(
            [j for j, s in enumerate(signs) if s != 0],
            n_bins,
            None if scaling is None else scaling[2],
            columns=columns,
            name="monotone_calibration",
        )(encoded)
    z = scaled
    # One GroupSort layer gives each unit one bend (a max or a min of two
    # slopes), so h cannot go from slope -1 to +1 and back: S-shaped and step
    # functions were fitted with R^2 0.92 and 0.87 by (32,), 0.999 and 0.97
    # by (32, 32) (tests/test_monotonic.py). One layer is repeated.
    lipschitz_sizes = list(hidden_layer_sizes) * (
        2 if len(hidden_layer_sizes) == 1 else 1
    )
    for i, h in enumerate(lipschitz_sizes, start=1):
        z = LipschitzDense(
            int(h),
            bound="rows" if i == 1 else "columns",
            rows=[s != 0 for s in signs] if i == 1 else None,
            kernel_initializer=_kernel_initializer(seed, f"hidden_{i}"),
            bias_initializer=HostZeros(),
            name=f"hidden_{i}",
        )(z)
        z = GroupSort(name=f"groupsort_{i}")(z)
    z = LipschitzDense(
        n_outputs,
        kernel_initializer=_kernel_initializer(seed, "output"),
        bias_initializer=HostZeros(),
        name="output",
    )(z)
    outputs = MonotoneResidual(
        signs, initial_lam=MONOTONE_INITIAL_LAM, name="monotone_residual"
    )([z, scaled])
    free = [j for j, s in enumerate(signs) if s == 0]
    if free:
        selected, rows = free, None
        if n_bins and encode_free:  # each free feature, then its kept bins
            kept = range(n_features * n_bins) if columns is None else columns
            selected = free + [
                n_features + p for p, c in enumerate(kept) if signs[c // n_bins] == 0
            ]
            if columns is not None:  # as in _kept_rows, among the free ones
                at = {j: i for i, j in enumerate(free)}
                b = n_bins
                own = [at[c // b] * b + c % b for c in kept if c // b in at]
                rows = _kept_rows(len(free), b, own)
        u = SelectFeatures(selected, name="unconstrained_features")(encoded)
        for i, h in enumerate(hidden_layer_sizes, start=1):
            u = keras.layers.Dense(
                int(h),
                activation,
                kernel_initializer=_kernel_initializer(
                    seed, f"free_hidden_{i}", rows if i == 1 else None
                ),
                bias_initializer=HostZeros(),
                name=f"free_hidden_{i}",
            )(u)
        u = keras.layers.Dense(
            n_outputs,
            kernel_initializer=_kernel_initializer(
                seed, "free_output", None if hidden_layer_sizes else rows
            ),
            bias_initializer=HostZeros(),
            name="free_output",
        )(u)
        outputs = keras.layers.Add(name="monotone_plus_free")([outputs, u])
    return keras.Model(inputs, outputs, name="monotone_mlp")


#: Where the seed of each default network's layer lies from the network's
#: seed, by the layer's name (``hidden_<i>``: ``i``).
_KERNEL_SEEDS = {"output": 0, "free_output": 100, "hidden_": 0, "free_hidden_": 100}


def _kept_rows(n_features, n_bins, columns):
    """``(fan_in, rows)`` of a first kernel on ``[x, e[:, columns]]``: its
    rows in the kernel on the whole encoding ``[x, e]``."""
    rows = list(range(n_features)) + [n_features + c for c in columns]
    return n_features * (n_bins + 1), rows


def _kernel_initializer(seed, name, kept=None):
    """The Glorot initializer of the kernel of the default networks' layer
    ``name`` (``hidden_<i>``, ``output``, ``free_hidden_<i>``,
    ``free_output``) in a network seeded with ``seed``: each layer its own
    seed, and no dependence on Python's global ``random``, which other
    threads of the process (a dask worker's, for one) may draw from
    meanwhile; with ``kept`` (``(fan_in, rows)``), the rows of a wider one."""
    stem, _, index = name.rpartition("_")
    if index.isdigit():
        offset = _KERNEL_SEEDS[f"{stem}_"] + int(index)
    else:
        offset = _KERNEL_SEEDS[name]
    fan_in, rows = kept or (None, None)
    return HostGlorotUniform((int(seed) + offset) % 2**31, fan_in, rows)


def _input_layers(scaling, n_bins, columns=None):
    """The fixed layers that start the default networks: an
    :class:`InputScaling`, then with ``n_bins`` a :class:`PiecewiseLinearEncoding`
    keeping ``columns`` (None: all; ``scaling``: ``(offset, scale[, bins,
    ...])``, or None: weights to be loaded)."""
    offset, scale, *bins = (0.0, 1.0) if scaling is None else scaling
    layers = [InputScaling(offset, scale, dtype="float64", name=INPUT_SCALING)]
    if n_bins:
        layers.append(
            PiecewiseLinearEncoding(
                bins[0] if bins else None,
                n_bins=n_bins,
                columns=columns,
                dtype="float64",
                name=INPUT_ENCODING,
            )
        )
    return layers


def user_model(build, meta, seed):
    """The user's model from its callable ``build``, checked: a built
    ``keras.Model`` with one input and one output of ``n_outputs`` units.

    ``build`` receives whichever of ``n_features_in``, ``n_outputs``,
    ``meta`` and ``seed`` it accepts; initializers without a seed are seeded
    through Python's ``random`` (:func:`keras_seeded`).
    """
    n_outputs = meta["n_outputs_"]
    given = {
        "n_features_in": meta["n_features_in_"],
        "n_outputs": n_outputs,
        "meta": meta,
        "seed": seed,
    }
    params = inspect.signature(build).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    kwargs = {k: v for k, v in given.items() if takes_all or k in params}
    with keras_seeded(seed):
        net = build(**kwargs)
    if not isinstance(net, keras.Model) or not net.built or not net.inputs:
        raise ValueError(
            "The 'model' callable must return a built keras.Model (e.g. "
            f"starting with keras.Input); got {net!r}."
        )
    if len(net.inputs) != 1:
        raise ValueError(f"The model must have one input; it has {len(net.inputs)}.")
    width = net.outputs[0].shape[-1]
    if len(net.outputs) != 1 or width != n_outputs:
        raise ValueError(
            f"The model has {len(net.outputs)} output(s) of width {width}, "
            f"but y has {n_outputs} column(s); the model must end in one "
            f"output with {n_outputs} unit(s)."
        )
    return net


def apply_weight_settings(net, penalty, kernel_constraint, bias_constraint):
    """The penalty (a regularizer at unit strength, or None) and the
    constraints on every kernel-bearing layer of ``net``.

    The penalty is wrapped in one :class:`~skconstrain.keras.regularizers.
    Scaled` whose scale (``alpha / n``) is set before training; each layer
    gets its own copy of a constraint, which decides its axes. A
    :class:`LipschitzDense` kernel takes no penalty: its norm is bounded by
    construction, and a penalty would only lower the slopes the monotone
    network can take (benchmarks/bench_quality.py, 6 interacting monotone
    features: with alpha=1 on those kernels 0.34 -> 1.13 times
    HGBR(monotonic_cst)'s test MSE; without, 0.34).
    """
    regularizer = None if penalty is None else _regularizers.Scaled(penalty, scale=0.0)
    # ``_flatten_layers`` (private) walks nested models and layers; Keras has
    # no public recursive walk.
    for layer in net._flatten_layers(include_self=False):
        kernel = getattr(layer, "kernel", None)
        if not isinstance(kernel, keras.Variable):
            continue
        bounded = isinstance(layer, LipschitzDense)
        settings = [("kernel", "regularizer", None if bounded else regularizer)]
        settings.append(("kernel", "constraint", kernel_constraint))
        if isinstance(getattr(layer, "bias", None), keras.Variable):
            settings.append(("bias", "constraint", bias_constraint))
        for weight, kind, value in settings:
            if value is None:
                continue
            if kind == "constraint":  # its own copy; it decides its axes
                value = clone(_constraints.get(value), safe=False)
            getattr(layer, weight).__setattr__(kind, value)
            # keep the layer's config in step, for saving and cloning
            setattr(layer, f"{weight}_{kind}", value)


def initial_weights(model, seed, bins=None):
    """The weights ``model`` (a default network, or an ensemble of them, as
    :func:`build_network` builds it) would start from had it been built with
    ``seed`` on rows whose encoding is ``bins``, without building it: in the
    order of ``model.trainable_variables``, each kernel drawn by its layer's
    initializer (:func:`_kernel_initializer`; an ensemble's members with
    their :func:`member_seed`), each calibrator's rises from ``bins``
    (:meth:`MonotoneCalibration.start`), every other weight as ``model`` was
    built (biases, a monotone ramp's slope: the same for every seed and
    rows). So a stack's members start as their single fits do.
    """
    size = ensemble_size(model)
    nets = [model]
    if size > 1:
        nets = [model.get_layer(f"member_{m}") for m in range(size)]
    values = {}
    for m, net in enumerate(nets):
        net_seed = seed if size == 1 else member_seed(seed, m)
        for layer in net._flatten_layers(include_self=False):
            if isinstance(layer, keras.Model):
                continue
            for variable in layer.trainable_weights:
                shape = tuple(int(d) for d in variable.shape)
                if variable is getattr(layer, "kernel", None):
                    start = layer.kernel_initializer
                    kept = getattr(start, "rows", None) and (start.fan_in, start.rows)
                    init = _kernel_initializer(net_seed, layer.name, kept)
                    value = init(shape, "float32")
                elif isinstance(layer, MonotoneCalibration):
                    value = layer.start(bins)[0]
                else:
                    with keras_numpy_quiet():
                        value = keras.ops.convert_to_numpy(variable.value)
                values[id(variable)] = np.asarray(value, np.float32)
    return [values[id(v)] for v in model.trainable_variables]


def units(model):
    """The units of ``model``'s dense layers (hidden and output, every
    branch and member): what a step's activations take per row, for the
    memory of a stack."""
    return sum(
        int(layer.units)
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.Dense)
    )


def calibrations(model):
    """The :class:`MonotoneCalibration` layers of ``model`` (one per member of
    an ensemble; empty: ``model`` has none)."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, MonotoneCalibration)
    ]


def own_weights(model):
    """The weights of ``model`` that training does not change but that each
    fit sets from its own rows (beside its input scaling), as ``(variable,
    name)``: ``name`` the attribute of a stack's
    :class:`skconstrain._training.Member` that holds its value. Its target
    scalings' ``offset`` and ``scale`` (one per member of an ensemble) and
    its calibrators' ``first_edge``."""
    found = []
    for target in target_scalings(model):
        found += [(target.offset_weight, "offset"), (target.scale_weight, "scale")]
    found += [(layer.first_edge, "first_edge") for layer in calibrations(model)]
    return found


@dataclass(frozen=True)
class FitSpec:
    """What a new fit built, and how: set once per new fit (the estimator's
    ``_spec``), read by every later step, and the one thing a continued fit
    checks.

    Whether an estimator is fitted, its engine's cache key and what a
    continued fit may not change are derived from it; a failed new fit
    forgets it with every other fitted attribute. The batch size, the
    shuffling and the learning rate are not in it: they are inputs of the
    compiled epoch, and a warm start or ``partial_fit`` may change them.

    Attributes
    ----------
    hyperparameters : tuple of (str, object)
        The structural hyperparameters (``_structural_params``), as comparable
        values: the architecture and the objective.
    fit_shape : tuple of int
        The shape of the training rows the network was built for.
    n_outputs : int
        The network's outputs.
    y_ndim : int
        The dimensions of the predictions (1: one column, raveled).
    output_set : dict or None
        ``{"set": name, **parameters}`` of the output constraint.
    monotonic_cst : tuple of int or None
        -1/0/1 per feature; None when no feature is constrained.
    loss_weight : float
        What the objective's gradient is multiplied by (1 / the targets'
        variance).
    input_bins : int
        The bins per feature of the network's piecewise-linear encoding
        (``feature_encoding``); 0: none.
    free_encoding : bool
        With bins, whether the unconstrained features' encodings enter the
        network (False: a monotone network's calibrators alone take bins).
    encoded_columns : tuple of int or None
        The columns its encoding keeps
        (:func:`skconstrain._fit_data.encoded_columns`); None: all.
    """

    hyperparameters: tuple
    fit_shape: tuple
    n_outputs: int
    y_ndim: int
    output_set: dict | None
    monotonic_cst: tuple | None
    loss_weight: float
    input_bins: int = 0  # a spec pickled by 0.4 has none
    free_encoding: bool = True  # nor one pickled before 0.5
    encoded_columns: tuple | None = None


@dataclass(frozen=True)
class Settings:
    """What the estimator's hyperparameters say about its network, resolved:
    ``penalty`` is the regularizer at unit strength (or None), and
    ``projects_after`` whether the loss projects after predict (no head)."""

    model: object
    hidden_layer_sizes: tuple
    activation: object
    penalty: object
    kernel_constraint: object
    bias_constraint: object
    output_strategy: str
    output_penalty: str
    output_penalty_strength: float
    ensemble_size: int
    projects_after: bool

    @classmethod
    def of(cls, estimator, penalty, projects_after):
        """The settings of ``estimator``'s hyperparameters, with its
        ``penalty`` resolved (a regularizer at unit strength, or None)."""
        sizes = np.atleast_1d(np.asarray(estimator.hidden_layer_sizes))
        return cls(
            model=estimator.model,
            hidden_layer_sizes=tuple(int(h) for h in sizes),
            activation=estimator.activation,
            penalty=penalty,
            kernel_constraint=estimator.kernel_constraint,
            bias_constraint=estimator.bias_constraint,
            output_strategy=estimator.output_strategy,
            output_penalty=estimator.output_penalty,
            output_penalty_strength=estimator.output_penalty_strength,
            ensemble_size=int(estimator.ensemble_size),
            projects_after=projects_after,
        )


def build_network(spec, settings, seed, start=None, scaling=None):
    """The estimator's network for ``spec`` (a :class:`FitSpec`) under
    ``settings`` (:class:`Settings`): one member, or with ``ensemble_size >
    1`` an ensemble of members seeded from ``seed`` whose prediction is their
    mean (:func:`ensemble`), projected back onto the sphere when the head
    keeps outputs on it.

    Each member is the architecture (the default MLP, monotone with
    ``monotonic_cst``, or the user's ``model``) with the weight settings and,
    unless the loss projects after predict, the output strategy's head. The
    default MLP starts with its :class:`InputScaling` (and encoding),
    ``scaling`` = ``(offset, scale, bins)``, and its outputs go through a
    :class:`TargetScaling` of ``start`` = ``(offset, scale)``
    (:func:`score_start`) before the head. ``start`` and ``scaling`` None: a
    twin whose weights will be loaded (an engine's).
    """
    size = int(settings.ensemble_size)
    if size == 1:
        return _member_network(spec, settings, seed, start, scaling)
    members = [
        _member_network(spec, settings, member_seed(seed, m), start, scaling)
        for m in range(size)
    ]
    output_set = spec.output_set
    reproject = None
    if (
        output_set is not None
        and output_set["set"] == "l2_sphere"
        and settings.output_strategy in ("project", "activation")
        and not settings.projects_after
    ):
        reproject = output_set
    return ensemble(members, reproject)


def member_seed(seed, m):
    """The seed of member ``m`` of an ensemble built from ``seed`` (member 0:
    ``seed`` itself, so an ensemble's first member is the single network)."""
    return (int(seed) + 7919 * m) % 2**31


def _architecture(spec, settings, seed, scaling):
    """The default MLP (monotone with ``monotonic_cst``), or the user's model."""
    n_features, n_outputs = spec.fit_shape[1], spec.n_outputs
    if settings.model is not None:
        meta = {
            "n_features_in_": n_features,
            "n_outputs_": n_outputs,
            "X_shape_": spec.fit_shape,
        }
        return user_model(settings.model, meta, seed)
    hidden = list(settings.hidden_layer_sizes)
    if spec.monotonic_cst is not None:
        return monotone_mlp(
            n_features,
            n_outputs,
            hidden,
            settings.activation,
            spec.monotonic_cst,
            seed,
            scaling,
            spec.input_bins,
            spec.free_encoding,
            spec.encoded_columns,
        )
    return mlp(
        n_features,
        n_outputs,
        hidden,
        settings.activation,
        seed,
        scaling,
        spec.input_bins,
        spec.encoded_columns,
    )


def _member_network(spec, settings, seed, start, scaling):
    """One network of :func:`build_network`."""
    net = _architecture(spec, settings, seed, scaling)
    apply_weight_settings(
        net, settings.penalty, settings.kernel_constraint, settings.bias_constraint
    )
    outputs = net.outputs[0]
    if settings.model is None:
        offset, scale = (0.0, 1.0) if start is None else start
        outputs = TargetScaling(offset, scale, name=TARGET_SCALING)(outputs)
    output_set = spec.output_set
    if output_set is not None and not settings.projects_after:
        head, name = HEADS[settings.output_strategy]
        extra = {}
        if settings.output_strategy == "penalty":
            extra = dict(
                kind=settings.output_penalty,
                strength=settings.output_penalty_strength,
            )
        name = free_name(net, name)
        outputs = head(**output_set, **extra, name=name)(outputs)
    return keras.Model(net.inputs[0], outputs, name="constrained_network")


def stack_parts(model, objective, n_outputs):
    """What a :class:`skconstrain._training.StackEngine` needs of ``model``
    (a default network, or an ensemble of it) besides its size: its body, its
    penalties, the weights each member sets from its rows
    (:func:`own_weights`) and the row loss of ``objective`` (an ensemble's
    members each on their own loss); and ``output_map``, what the stack's
    outputs go through to be scored."""
    parts = training_parts(model, objective, n_outputs)
    objective = parts.pop("objective")
    return dict(
        parts,
        own_weights=own_weights(model),
        row_loss=objective.row_loss,
        output_map=objective.output_map,
    )


def target_scalings(model):
    """The default MLP's :class:`TargetScaling` layers, one per member of an
    ensemble (in the members' order; empty: ``model`` has none)."""
    found = []
    for layer in [model, *model.layers]:
        if isinstance(layer, keras.Model):
            try:
                found.append(layer.get_layer(TARGET_SCALING))
            except ValueError:
                continue
    return found


def set_input_scaling(model, scaling):
    """The default MLP ``model``'s input layers set to ``scaling`` (see
    :func:`fitted_input_scaling`; the encoded features are the model's)."""
    offset, scale, *bins = scaling
    model.get_layer(INPUT_SCALING).set_weights(
        [np.asarray(v, dtype=np.float64) for v in (offset, scale)]
    )
    if bins and bins[0] is not None:
        model.get_layer(INPUT_ENCODING).set_weights(list(bins[0]))


def fitted_input_scaling(model, n_bins):
    """``(offset, scale, bins, columns)`` of the default MLP ``model``'s input
    layers (float64; ``bins`` None without an encoding; ``columns`` None: all)."""
    layer = model.get_layer(INPUT_SCALING)
    offset, scale = (np.asarray(w, dtype=np.float64) for w in layer.weights)
    bins = columns = None
    if n_bins:
        layer = model.get_layer(INPUT_ENCODING)
        bins = tuple(np.asarray(w, dtype=np.float64) for w in layer.weights)
        columns = layer.columns
    return offset, scale, bins, columns
