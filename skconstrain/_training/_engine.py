"""The epoch, written once in ``keras.ops`` for every backend, and the engines
that run it: one network (:class:`Engine`; M networks of one architecture
are :class:`~._stack.StackEngine`'s, in :mod:`._stack`).

One member's epoch is a pure function (:func:`epoch_function`) of its state
(trainable, non-trainable and optimizer values), its rows (``X``, ``y``, the
weights), the epoch's batches (row indices and mask, laid out on the host
with NumPy from the epoch's seed: :func:`batches`) and its settings (rows,
loss weight, penalty strength; the learning rate is one of the optimizer's
values). A step:

- takes its batch's rows; the last, partial batch is padded to the
  program's width by repeating its rows, and the padding is *masked*: its
  weight is zero in the data loss and in an output penalty's mean (a step
  without rows changes nothing);
- runs the network's ``stateless_call`` (``training=True``, with
  ``return_losses=True`` for the losses of a user's own layers);
- adds the weight penalties at the strength given as an input
  (``penalty_scale`` times each ``Scaled`` penalty's own regularizer; the
  engine's network does not compute them itself, so no object is changed
  while tracing) and the output penalties' masked means;
- updates by the optimizer written as a pure function over the Keras
  optimizer's own variables (:func:`pure_update`: Adam, or plain SGD), then
  applies each weight's constraint.

Only what differs between backends comes from the backend's module: the
gradient, vectorising the members, compiling (on TensorFlow a graph, then
XLA: :func:`compiled_with_xla`) and float64 precision. The loop
(``keras.ops.fori_loop``) and the branch (``keras.ops.cond``) are Keras's.

Rows are padded to a few buckets (:func:`bucket`; on JAX the steps too), so
a new number of rows, a fold one row shorter or another batch size reuses
one compiled program. A fit that watches validation rows scores them in its
epoch's program (:func:`with_validation`), not in a call of its own.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
import scipy.sparse as sp
from keras import ops

from skconstrain._compat import build_optimizer, host_tensor


def _backend():
    from skconstrain import _training

    return _training.backend()


def bucket(n, smallest=8):
    """``n`` rounded up to the next of ``smallest`` and 2^k x (1, 1.25, 1.5,
    1.75): at most 25% of padding, and few distinct shapes to compile.

    Examples
    --------
    >>> [bucket(n) for n in (1, 9, 100, 101, 1000, 2000)]
    [8, 10, 112, 112, 1024, 2048]
    """
    n = max(int(n), int(smallest))
    power = 1 << max(0, n.bit_length() - 3)  # a quarter of the power of two
    return -(-n // power) * power


# ------------------------------------------------------------------ rows
class SparseRows(NamedTuple):
    """Sparse rows, each padded to the row with most stored values (``(n, r)``
    columns and values), with the affine map ``offset + scale * x`` done in
    float64 when a batch is densified, as :func:`as_tensors` maps dense rows."""

    indices: object  # int32 (n, r)
    values: object  # float64 (n, r)
    offset: object  # float64 (d,)
    scale: object  # float64 (d,)

    @property
    def shape(self):
        return (int(self.indices.shape[0]), int(self.offset.shape[0]))


def sparse_rows(X, x_scaling=None):
    """:class:`SparseRows` of a SciPy sparse matrix."""
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    X.sum_duplicates()
    n, d = X.shape
    counts = np.diff(X.indptr)
    width = max(1, int(counts.max()) if n else 1)
    indices = np.zeros((n, width), np.int32)
    values = np.zeros((n, width), np.float64)
    rows = np.repeat(np.arange(n), counts)
    slots = np.arange(X.nnz) - np.repeat(X.indptr[:-1], counts)
    indices[rows, slots] = X.indices
    values[rows, slots] = X.data
    offset, scale, *bins = (np.zeros(d), np.ones(d)) if x_scaling is None else x_scaling
    if bins and bins[0] is not None:
        raise ValueError("sparse rows take no piecewise-linear encoding")
    with _backend().precision():
        return SparseRows(
            ops.convert_to_tensor(indices),
            ops.convert_to_tensor(values),
            ops.convert_to_tensor(
                np.broadcast_to(np.asarray(offset, np.float64), (d,))
            ),
            ops.convert_to_tensor(np.broadcast_to(np.asarray(scale, np.float64), (d,))),
        )


def gather_rows(X, idx):
    """The rows ``idx`` of ``X`` (a tensor, or :class:`SparseRows`, densified
    and mapped in float64) as a dense float32 tensor."""
    if not isinstance(X, SparseRows):
        return ops.take(X, idx, axis=0)
    columns = ops.take(X.indices, idx, axis=0)
    values = ops.take(X.values, idx, axis=0)
    rows = ops.broadcast_to(
        ops.expand_dims(ops.arange(ops.shape(idx)[0], dtype="int32"), 1),
        ops.shape(columns),
    )
    where = ops.stack([ops.reshape(rows, (-1,)), ops.reshape(columns, (-1,))], axis=1)
    dense = ops.scatter(
        where,
        ops.reshape(values, (-1,)),
        (ops.shape(idx)[0], ops.shape(X.offset)[0]),
    )
    return ops.cast(X.offset + X.scale * dense, "float32")


class SparseFirst(NamedTuple):
    """How a network whose input goes through one ``Dense`` layer, and
    only through it, takes sparse rows without densifying them: its
    kernel's and bias's places among the trainable values, its activation,
    and the network after that layer (``tail``) with the places of its
    values (:func:`sparse_first`)."""

    kernel: int
    units: int
    bias: object  # int or None
    activation: object
    tail: object
    tail_trainable: list
    tail_non_trainable: list


def first_dense(network):
    """``(scaling, dense, tail)`` where ``network`` reads its input through
    an optional :class:`~skconstrain.keras.InputScaling` (``scaling``, else
    None) into one plain ``Dense`` layer and nothing else, and ``tail`` is
    the network after that layer (sharing its layers); None otherwise (an
    ensemble's members, a monotone network, a ``model`` that starts with
    another layer).

    Sparse rows go through such a network as ``x @ kernel`` of their stored
    values only (:func:`sparse_forward`; on the host,
    :class:`~skconstrain._training.SparseHead`)."""
    from skconstrain.keras.layers import InputScaling

    layers = [
        layer
        for layer in network.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    scaling = None
    if layers and isinstance(layers[0], InputScaling):
        scaling, layers = layers[0], layers[1:]
    if not layers or type(layers[0]) is not keras.layers.Dense:
        return None
    dense = layers[0]
    reads = network.inputs[0] if scaling is None else scaling.output
    try:
        if dense.input is not reads:
            return None
        # Keras refuses a graph whose output needs more than the layer's output
        tail = keras.Model(dense.output, network.outputs[0], name="sparse_tail")
    except (ValueError, AttributeError):
        return None
    return scaling, dense, tail


def sparse_first(model, body):
    """:class:`SparseFirst` of ``body`` (``model`` after its
    :class:`~skconstrain.keras.InputScaling`, whose map the sparse rows
    carry), or None where ``model`` is not one ``Dense`` layer then the rest
    (:func:`first_dense`)."""
    split = first_dense(model)
    if split is None:
        return None
    scaling, dense, tail = split
    if scaling is None and body is not model:
        return None
    trainable = {id(v): i for i, v in enumerate(body.trainable_variables)}
    non_trainable = {id(v): i for i, v in enumerate(body.non_trainable_variables)}
    own = [dense.kernel] + ([dense.bias] if dense.use_bias else [])
    try:
        tail_trainable = [trainable[id(v)] for v in tail.trainable_variables]
        tail_non_trainable = [
            non_trainable[id(v)] for v in tail.non_trainable_variables
        ]
        places = [trainable[id(v)] for v in own]
    except KeyError:
        return None
    if sorted(places + tail_trainable) != list(range(len(trainable))) or sorted(
        tail_non_trainable
    ) != list(range(len(non_trainable))):
        return None
    return SparseFirst(
        kernel=places[0],
        units=int(dense.kernel.shape[-1]),
        bias=places[1] if dense.use_bias else None,
        activation=dense.activation,
        tail=tail,
        tail_trainable=tail_trainable,
        tail_non_trainable=tail_non_trainable,
    )


def _takes_sparse(first, X):
    """Whether the rows ``X`` go through ``first`` sparse: they are
    :class:`SparseRows` and a row's gathered kernel rows (its stored values
    times the units) take no more memory than 4 dense rows."""
    if first is None or not isinstance(X, SparseRows):
        return False
    return int(X.indices.shape[1]) * first.units <= 4 * int(X.offset.shape[0])


def sparse_forward(body, first, tv, ntv, X, idx, training, return_losses=False):
    """``body.stateless_call`` on the rows ``idx`` of ``X``: where they go
    through ``first`` sparse (:func:`_takes_sparse`), the first layer is
    ``offset @ kernel + (scale * values) @ kernel[columns] + bias`` of the
    stored values alone (no dense row; the gradient reaches the kernel's
    rows of those columns, and all of it through the offset), then
    ``first.tail``; else the rows densified (:func:`gather_rows`)."""
    if not _takes_sparse(first, X):
        return body.stateless_call(
            tv, ntv, gather_rows(X, idx), training=training, return_losses=return_losses
        )
    kernel = tv[first.kernel]
    columns = ops.take(X.indices, idx, axis=0)
    values = ops.take(X.values, idx, axis=0) * ops.take(X.scale, columns)
    z = ops.einsum(
        "br,brh->bh",
        ops.cast(values, kernel.dtype),
        ops.take(kernel, columns, axis=0),
    )
    z = z + ops.matmul(ops.cast(ops.expand_dims(X.offset, 0), kernel.dtype), kernel)
    if first.bias is not None:
        z = z + tv[first.bias]
    hidden = z if first.activation is None else first.activation(z)
    out = first.tail.stateless_call(
        [tv[i] for i in first.tail_trainable],
        [ntv[i] for i in first.tail_non_trainable],
        hidden,
        training=training,
        return_losses=return_losses,
    )
    new_ntv = list(ntv)
    for i, value in zip(first.tail_non_trainable, out[1], strict=True):
        new_ntv[i] = value
    return (out[0], new_ntv, *out[2:])


def _pad_rows(X, rows):
    """``X`` (a tensor or :class:`SparseRows`) with zero rows up to ``rows``,
    padded on the host (no compiled program per shape; see
    :func:`~skconstrain._compat.host_tensor`)."""
    if isinstance(X, SparseRows):
        return X._replace(
            indices=_pad_rows(X.indices, rows), values=_pad_rows(X.values, rows)
        )
    extra = rows - int(X.shape[0])
    if extra == 0:
        return X
    value = _numpy(X)
    return host_tensor(np.pad(value, ((0, extra),) + ((0, 0),) * (value.ndim - 1)))


def padded(data):
    """``data``'s X, y and weights padded to a bucket of rows, and its rows:
    made once per :class:`~skconstrain._training.Data`."""
    found = data.__dict__.get("_padded")
    if found is None:
        n = int(data.y.shape[0])
        rows = bucket(n)
        with _backend().precision():
            found = (
                _pad_rows(data.X, rows),
                _pad_rows(data.y, rows),
                _pad_rows(data.sample_weight, rows),
                n,
            )
        data.__dict__["_padded"] = found
    return found


class Batches(NamedTuple):
    """An epoch's mini-batches as laid out by :func:`batches`: row indices
    and mask, both ``(steps, width)`` (a stack's with the members first).
    Their shapes change with the batch size and the rows, so a graph takes
    them of any shape."""

    index: object
    valid: object


def batches(seed, n, batch, width, steps, shuffle=True):
    """Epoch ``seed``'s mini-batches of ``n`` rows, laid out on the host:
    ``(index, valid)``, both of shape ``(steps, width)``.

    The rows go in an order drawn with NumPy from ``seed`` (as given where
    not ``shuffle``), ``batch`` a step; so a member of a stack and its single
    fit see the same rows on every backend and at every bucket. A step's
    slots past its rows (the last, partial batch; the steps past the rows)
    repeat its rows, or row 0, and are masked (``valid`` 0).

    Examples
    --------
    >>> index, valid = batches(0, 3, 2, 2, 3, shuffle=False)
    >>> index.tolist(), valid.tolist()
    ([[0, 1], [2, 2], [0, 0]], [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    """
    order = (
        np.random.default_rng(int(seed)).permutation(n) if shuffle else np.arange(n)
    ).astype(np.int32)
    positions = np.arange(steps)[:, None] * batch + np.arange(width)[None, :]
    slot = np.arange(width)[None, :]
    starts = np.arange(steps)[:, None] * batch
    count = np.clip(np.minimum(starts + batch, n) - starts, 0, None)
    valid = slot < count
    positions = np.where(valid, positions, starts + slot % np.maximum(count, 1))
    positions = np.where(positions < n, positions, 0)
    index = order[positions] if n else np.zeros((steps, width), np.int32)
    return index.astype(np.int32), valid.astype(np.float32)


# ----------------------------------------------------------------- losses
def _row_losses(y, pred, row_loss):
    """Each row's loss, averaged over the outputs: the squared error, or
    ``row_loss(y, pred)`` (summed over the outputs) divided by their number."""
    pred = ops.cast(pred, y.dtype)
    if row_loss is None:
        return ops.mean(ops.square(y - pred), axis=-1)
    return row_loss(y, pred) / pred.shape[-1]


def detach_penalties(body, penalties, output_penalties):
    """Take the weight and output penalties out of ``body`` (an engine's own
    network, configured once here), for the epoch to add them itself: the
    weight penalties at the strength of each call, the output penalties as
    masked means.

    Parameters
    ----------
    body : keras.Model
    penalties : iterable
        ``Scaled`` regularizers: the variables of ``body`` that hold one are
        penalised by ``penalty_scale * scaled.regularizer(value)``.
    output_penalties : iterable of (columns, layer)
        :class:`~skconstrain.keras.layers.OutputPenaltyLayer` whose input is
        ``outputs[:, columns]`` (a slice) of the body's outputs.

    Returns
    -------
    weight : list of (int, callable)
        Index among ``body.trainable_variables`` and unscaled penalty.
    output : list of (slice, OutputPenalty)
    """
    scaled = {id(p) for p in penalties}
    weight = []
    for i, variable in enumerate(body.trainable_variables):
        regularizer = variable.regularizer
        if regularizer is not None and id(regularizer) in scaled:
            weight.append((i, regularizer.regularizer))
            variable.regularizer = None
    output = []
    for columns, layer in output_penalties:
        if layer.activity_regularizer is not None:
            output.append((columns, layer.activity_regularizer))
            layer.activity_regularizer = None
    return weight, output


# -------------------------------------------------------------- optimizer
def learning_rate_index(optimizer):
    """Where the learning rate sits among ``optimizer.variables`` (a Keras
    variable when the optimizer was made with a float rate)."""
    for i, variable in enumerate(optimizer.variables):
        if variable.path.endswith("learning_rate"):
            return i
    raise ValueError("the optimizer's learning rate is not a variable")


def pure_update(optimizer, trainable):
    """The optimizer's update as a pure function of its variables' values:
    ``update(ov, grads, tv) -> (tv, ov)``, the trainable values after the step
    (each constrained by its variable's ``constraint``) and the optimizer's.

    Written in ``keras.ops`` for every backend (Keras refuses
    ``stateless_apply`` on TensorFlow) over the Keras optimizer's own
    variables, so its state saves, loads and continues: Adam (as
    ``keras.optimizers.Adam.update_step`` computes it) or SGD without
    momentum. ``optimizer`` must be built for ``trainable``.
    """
    variables = list(optimizer.variables)
    index = {id(v): i for i, v in enumerate(variables)}
    if [id(v) for v in optimizer._trainable_variables] != [id(v) for v in trainable]:
        # private: the order of the optimizer's slots; pinned by the tests
        raise ValueError("the optimizer was not built for the network's weights")
    step = index[id(optimizer.iterations)]
    rate = learning_rate_index(optimizer)
    constraints = [v.constraint for v in trainable]
    unsupported = (
        getattr(optimizer, "weight_decay", None)
        or optimizer.clipnorm
        or optimizer.clipvalue
        or optimizer.global_clipnorm
        or optimizer.use_ema
    )
    if isinstance(optimizer, keras.optimizers.Adam) and not (
        optimizer.amsgrad or unsupported
    ):
        b1, b2 = float(optimizer.beta_1), float(optimizer.beta_2)
        eps = float(optimizer.epsilon)
        slots = [
            (index[id(m)], index[id(v)])
            for m, v in zip(optimizer._momentums, optimizer._velocities, strict=True)
        ]

        def update(ov, grads, tv):
            ov = list(ov)
            t = ops.cast(ov[step] + 1, "float32")
            lr = ops.cast(ov[rate], "float32")
            alpha = lr * ops.sqrt(1.0 - ops.power(b2, t)) / (1.0 - ops.power(b1, t))
            out = []
            for k, (p, g) in enumerate(zip(tv, grads, strict=True)):
                mi, vi = slots[k]
                g = ops.cast(g, p.dtype)
                m = ov[mi] + (g - ov[mi]) * (1.0 - b1)
                v = ov[vi] + (ops.square(g) - ov[vi]) * (1.0 - b2)
                ov[mi], ov[vi] = m, v
                out.append(_constrained(p - m * alpha / (ops.sqrt(v) + eps), k))
            ov[step] = ov[step] + 1
            return out, ov

    elif type(optimizer) is keras.optimizers.SGD and not (
        optimizer.momentum or optimizer.nesterov or unsupported
    ):

        def update(ov, grads, tv):
            ov = list(ov)
            lr = ops.cast(ov[rate], "float32")
            out = [
                _constrained(p - lr * ops.cast(g, p.dtype), k)
                for k, (p, g) in enumerate(zip(tv, grads, strict=True))
            ]
            ov[step] = ov[step] + 1
            return out, ov

    else:
        raise ValueError(
            f"The engine trains with Adam or plain SGD, not {optimizer!r}."
        )

    def _constrained(value, k):
        constraint = constraints[k]
        return value if constraint is None else constraint(value)

    return update


# ------------------------------------------------------------------ epoch
def epoch_function(
    body,
    update,
    row_loss,
    weight_penalties,
    output_penalties,
    guard,
    vectorize=None,
    first=None,
):
    """One member's epoch, or M members' (``vectorize``), as a pure function
    (see the module's docstring).

    ``epoch(state, data, settings)``: ``state`` the lists ``(tv, ntv, ov)``;
    ``data`` ``(X, y, w, Batches(index, valid))``, the rows then the epoch's
    batches (:func:`batches`: one step per row of ``index``); ``settings``
    ``(n, loss_weight, penalty_scale)``. Returns the new state and the mean
    of the steps' losses weighted by their rows. With ``guard``, a step
    without rows (past a member's own) changes nothing, and the loop ends
    after the last step with rows (the steps padded to a bucket are part
    of the program's shapes, not of its work); without, every step must
    have rows.

    With ``vectorize`` (the backend's), every input has M members on its
    first axis (``index`` and ``valid``: ``(M, steps, width)``): the loop
    runs over the steps, each step the single member's step vectorised over
    the members (vectorising one step, not the loop, keeps TensorFlow's
    ``vectorized_map`` fast to trace).

    With ``first`` (:func:`sparse_first`), sparse rows go through the first
    layer without being densified (:func:`sparse_forward`).
    """
    gradient = _backend().gradient

    def objective(tv, ntv, X, idx, yb, wb, valid, count, loss_weight, penalty_scale):
        outputs, ntv, losses = sparse_forward(
            body, first, tv, ntv, X, idx, training=True, return_losses=True
        )
        outputs = ops.cast(outputs, "float32")
        rows = ops.maximum(count, 1.0)
        loss = ops.sum(wb * _row_losses(yb, outputs, row_loss)) / rows
        for value in losses:
            loss = loss + ops.cast(value, "float32")
        for i, penalty in weight_penalties:
            loss = loss + penalty_scale * ops.cast(penalty(tv[i]), "float32")
        for columns, penalty in output_penalties:
            per_row = ops.cast(penalty.row_penalty(outputs[:, columns]), "float32")
            loss = loss + penalty.strength * ops.sum(per_row * valid) / rows
        return loss * loss_weight, (loss, ntv)

    grad = gradient(objective)

    def step(tv, ntv, ov, total, X, y, w, idx, mask, loss_weight, penalty_scale):
        """One step of one member: its state after the rows ``idx``."""
        count = ops.sum(mask)

        def run():
            grads, (loss, new_ntv) = grad(
                tv,
                ntv,
                X,
                idx,
                ops.take(y, idx, axis=0),
                ops.take(w, idx) * mask,
                mask,
                count,
                loss_weight,
                penalty_scale,
            )
            new_tv, new_ov = update(ov, grads, tv)
            return list(new_tv), list(new_ntv), list(new_ov), total + loss * count

        if not guard:
            return run()

        def skip():  # a step without rows (past the member's own)
            return list(tv), list(ntv), list(ov), total

        if vectorize is None:
            return ops.cond(count > 0, run, skip)
        # vectorised over members: a select, not a branch (TensorFlow's
        # vectorized_map converts a branch on each member's own condition
        # into both branches traced and run on partitions of the members)
        keep = count > 0
        return tuple(
            [ops.where(keep, a, b) for a, b in zip(new, old, strict=True)]
            if isinstance(new, list)
            else ops.where(keep, new, old)
            for new, old in zip(run(), skip(), strict=True)
        )

    def epoch(state, data, settings):
        tv, ntv, ov = (list(part) for part in state)
        X, y, w, (index, valid) = data
        n, loss_weight, penalty_scale = settings
        if vectorize is None:

            def each(i, carry):
                return step(*carry, X, y, w, index[i], valid[i], *settings[1:])

            total = ops.zeros((), "float32")
        else:
            members = vectorize(step)

            def each(i, carry):
                return members(
                    *carry,
                    X,
                    y,
                    w,
                    index[:, i],
                    valid[:, i],
                    loss_weight,
                    penalty_scale,
                )

            total = ops.zeros(ops.shape(n), "float32")
        steps = ops.shape(valid)[-2]  # (steps, width), a stack's members first
        if guard:
            # the steps that have rows (of any member) come first: the
            # padded ones after them change nothing, and are not run (a
            # vectorised step would compute them, then select the old state)
            steps = _steps_with_rows(valid)
        tv, ntv, ov, total = ops.fori_loop(0, steps, each, (tv, ntv, ov, total))
        return (tv, ntv, ov), total / ops.cast(ops.maximum(n, 1), "float32")

    return epoch


def _steps_with_rows(valid):
    """How many of an epoch's steps (:func:`batches`' ``valid``, a stack's
    with the members first) have rows, of any member: a step's rows come
    before the steps without (past a member's own, or padded to a bucket)."""
    axes = tuple(a for a in range(len(valid.shape)) if a != len(valid.shape) - 2)
    return ops.sum(ops.cast(ops.max(valid, axis=axes) > 0, "int32"))


def evaluate_function(body, output_map, column_loss, first=None):
    """``evaluate(tv, ntv, X, y, w, n)``: the loss per output column on the
    ``n`` real rows of ``X`` (the squared error, or ``column_loss``),
    ``sum_i w_i loss_ik / n``, of the outputs (through ``output_map``)
    without penalties; sparse rows through ``first`` as in
    :func:`epoch_function`."""

    def evaluate(tv, ntv, X, y, w, n):
        idx = ops.arange(ops.shape(y)[0], dtype="int32")
        pred, _ = sparse_forward(body, first, tv, ntv, X, idx, training=False)
        if output_map is not None:
            pred = output_map(pred)
        pred = ops.cast(pred, y.dtype)
        losses = ops.square(y - pred) if column_loss is None else column_loss(y, pred)
        weight = w * ops.cast(idx < n, w.dtype)
        total = ops.sum(ops.expand_dims(weight, 1) * losses, axis=0)
        return total / ops.cast(ops.maximum(n, 1), "float32")

    return evaluate


def with_validation(epoch, evaluate):
    """``epoch`` (:func:`epoch_function`, or a stack's run of it) followed by
    ``evaluate`` (:func:`evaluate_function`, or its vectorised form) on the
    new weights, in one program: ``run(*args, validation) -> (state, loss,
    errors)`` for ``epoch(*args) -> (state, loss)``, ``validation`` the
    arguments of ``evaluate`` after the weights (``X, y, w, n``).

    An early-stopped fit scores its validation rows after every epoch; one
    call instead of two saved a quarter of a small fit's time on TensorFlow,
    where a call has a fixed cost: 300 rows, 5 steps an epoch, 100 epochs
    took 0.23-0.24 s against 0.30-0.35 s (``benchmarks/bench_fit.py --only
    validation``); on JAX the same within noise.
    """

    def epoch_then_score(*args):
        *args, validation = args
        state, loss = epoch(*args)
        return state, loss, evaluate(state[0], state[1], *validation)

    return epoch_then_score


#: The steps after which a fit on TensorFlow compiles its epoch with XLA;
#: before, the epoch runs as a graph. A switch once a fit has run as many
#: steps as XLA's compile would have saved pays at most twice the better
#: choice made in hindsight (the ski-rental rule), and short or
#: early-stopped fits never compile with XLA. A fit whose stopping rule
#: cannot end it before then (``sure_steps`` of :meth:`Engine.run_epoch`)
#: would switch all the same: it compiles with XLA from the start. Measured
#: on 2 cores (10 -> 32 -> 4 with a simplex head, 2 000 rows, batch 64, 960
#: steps; fresh processes, alternated), with XLA's quick code generator
#: (``_tensorflow.QUICK_XLA_FLAG``): a graph step costs about 200 us, an XLA
#: step about 65 us, and a new architecture's first fit 0.05-0.1 s more
#: under XLA than as a graph (0.78-0.87 s against 0.73-0.78 s), the savings
#: of about 500 steps; every later fit of that architecture and bucket of
#: rows (a search's folds, a refit, a notebook's next fit) then saves about
#: 70% of its steps' time. (XLA's default code generator compiled 0.2-0.4 s
#: longer, and this was 2 000.) The bound does not hold for a new bucket of
#: rows of an architecture already traced: XLA compiles a program per shape
#: (about 0.7 s) where the graph takes any, so there a fit of 500 to about
#: 5 000 steps pays up to about 0.7 s more than in hindsight (a learning
#: curve's sizes, say). The monotone network's heavier step saves less
#: (about 320 against 195 us) for a longer compile (0.5 s more): its fits
#: of 500 to about 4 000 steps pay up to about 0.5 s more, its longer ones
#: gain.
XLA_STEPS = 500

# A stack (StackEngine) on TensorFlow compiles its epoch with XLA from the
# first epoch when its members will run XLA_STEPS steps in all (members x
# steps per epoch x epochs), and a search's refit then does too. A stack is
# compiled once for every search of its architecture and size in the
# process, and its step does the work of its M members, so XLA's compile is
# paid back by the next search or sooner. Measured on 2 cores
# (benchmarks/bench_cv.py --grids 4x3 --backend tensorflow: 10 -> 32 -> 4 on
# the simplex, batch 64, 30 epochs, refit included, graph and XLA
# alternated): 4 x 3 on 500 rows (2 160 member-steps) searched in 0.21-0.23 s
# under XLA against 0.39-0.44 s as a graph, its first search 1.90-2.04 s
# against 1.75 s; on 1 000 rows 0.33-0.36 s against 0.52-0.62 s; on 2 000
# rows (7 560) 0.45 s against 0.81 s, first 2.20 s against 1.80 s. The
# monotone network's heavier step gains less: its 4 x 3 search on 2 000 rows
# (--monotonic 3, three alternated pairs) took 2.57-2.79 s warm against
# 2.81-3.50 s, its first 4.53-4.91 s against 3.81-4.53 s. The choice is the
# search's own (its members, rows and epochs).


def compiled_with_xla(jit_compile, steps_done, member_steps=0):
    """Whether TensorFlow compiles an epoch with XLA: ``jit_compile`` where it
    is a bool, else whether the fit has run, or will surely run,
    :data:`XLA_STEPS` steps (``steps_done``) or, for a stack, plans as many
    member-steps in all (``member_steps``).
    The choice is the fit's own (its settings and rows), so a fit gives the
    same model whatever ran before it in the process.

    Examples
    --------
    >>> compiled_with_xla(None, 0), compiled_with_xla(None, 5000)
    (False, True)
    >>> compiled_with_xla(None, 0, member_steps=12 * 6 * 30)
    True
    >>> compiled_with_xla(False, 10**6)
    False
    """
    if jit_compile is not None:
        return bool(jit_compile)
    return max(int(steps_done), int(member_steps)) >= XLA_STEPS


def _padded_steps(backend, xla):
    """Whether an epoch's steps are padded to a bucket (:func:`bucket`), the
    steps past the rows skipped: where the number of steps is a shape of the
    compiled program (JAX's, and TensorFlow's under XLA), so that fits of
    other row counts in the bucket reuse it. A single fit skips a step by a
    branch (:func:`epoch_function`): the padding costs no arithmetic."""
    return bool(backend.PADDED_STEPS or xla)


def _float32(value):
    """``value`` as float32; beyond its range, inf (a training that then
    diverges says so), without NumPy's overflow warning."""
    with np.errstate(over="ignore"):
        return np.float32(value)


def _numpy(value):
    return np.asarray(ops.convert_to_numpy(value))


def _values(variables):
    return [v.value for v in variables]


class Engine:
    """Trains a template network: one compiled call per epoch, reused across fits.

    The engine owns a network and an optimizer of one architecture, and its
    compiled programs. A fit copies its own network's and optimizer's
    variables in (:meth:`load`), trains, and copies them back out
    (:meth:`store`), so every fit of that architecture in the process (a grid
    search over ``alpha``, the folds of a cross-validation, ``partial_fit``
    calls) reuses one program; see :func:`~skconstrain._training.borrow`.
    Between epochs the state is held as the backend's arrays.

    Parameters
    ----------
    model : keras.Model
        Built, with one input and one output: the engine's own (its weight
        and output penalties are taken out of it, see
        :func:`detach_penalties`).
    optimizer : keras.optimizers.Adam or keras.optimizers.SGD
        Built for ``model.trainable_variables`` (or built here).
    batch_size : int
        Rows per step by default; an input of the compiled epoch, so
        :meth:`run_epoch` may use another.
    penalties : sequence, default=()
        ``Scaled`` regularizers of ``model`` whose strength is fed at run time
        (``penalty_scale`` of :meth:`run_epoch`).
    output_penalties : sequence of (slice, layer), default=()
        Output penalty layers of ``model`` whose mean is masked on a partial
        batch (see :func:`detach_penalties`); others are Keras's own.
    objective : Objective or None, default=None
        The row loss trained on, and the output map and column loss that
        :meth:`evaluate` reports; None: the squared error.
    body : keras.Model or None, default=None
        What the data go through in training and :meth:`evaluate`: ``model``
        after fixed first layers whose work :func:`as_tensors` did once on the
        data, sharing its layers and variables; None: ``model`` itself.
    jit_compile : bool or None, default=None
        On TensorFlow, compile the epoch with XLA (True), as a graph (False),
        or choose (None: a graph for a fit's first :data:`XLA_STEPS` steps,
        XLA after them, see :meth:`run_epoch`). JAX always
        compiles with XLA.
    """

    def __init__(
        self,
        model,
        optimizer,
        *,
        batch_size,
        penalties=(),
        output_penalties=(),
        objective=None,
        body=None,
        jit_compile=None,
    ):
        from skconstrain._training import Objective

        self.model = model
        self.body = model if body is None else body
        self.optimizer = optimizer
        if not optimizer.built:
            build_optimizer(optimizer, model.trainable_variables)
        self.batch_size = int(batch_size)
        objective = Objective() if objective is None else objective
        self.row_loss = objective.row_loss
        self.output_map = objective.output_map
        self.column_loss = objective.column_loss
        self.jit_compile = jit_compile
        self._update = pure_update(optimizer, self.body.trainable_variables)
        self._weight_penalties, self._output_penalties = detach_penalties(
            self.body, penalties, output_penalties
        )
        # where the body's variables sit among the model's
        position = {id(v): i for i, v in enumerate(model.variables)}
        self._trainable = [position[id(v)] for v in self.body.trainable_variables]
        self._non_trainable = [
            position[id(v)] for v in self.body.non_trainable_variables
        ]
        self._rate = learning_rate_index(optimizer)
        self._first = sparse_first(model, self.body)
        self._read(model, optimizer)  # until a fit loads its own
        self._epochs = {}
        self._evaluate = None
        self._xla_failed = False

    def _epoch(self, sparse, xla, validating=False):
        key = (sparse, xla, validating)
        found = self._epochs.get(key)
        if found is None:
            backend = _backend()
            epoch = epoch_function(
                self.body,
                self._update,
                self.row_loss,
                self._weight_penalties,
                self._output_penalties,
                guard=_padded_steps(backend, xla),
                first=self._first,
            )
            if validating:
                epoch = with_validation(epoch, self._evaluation())
            found = self._epochs[key] = backend.compile(
                epoch, kind="epoch", jit_compile=xla
            )
        return found

    def _evaluation(self):
        return evaluate_function(
            self.body, self.output_map, self.column_loss, self._first
        )

    def load(self, model):
        """Take ``model``'s weights and its optimizer's state (of the engine's
        architecture) as the state to train from (the engine's own network
        and optimizer hold it too)."""
        self._read(model, model.optimizer)
        self._write(self.model, self.optimizer)

    def _read(self, model, optimizer):
        values = _values(model.variables)
        self._state = (
            [values[i] for i in self._trainable],
            [values[i] for i in self._non_trainable],
            _values(optimizer.variables),
        )

    def store(self, model):
        """Write the trained state into ``model`` and its optimizer (if it
        has one)."""
        self._write(model, getattr(model, "optimizer", None))

    def _write(self, model, optimizer):
        tv, ntv, ov = self._state
        variables = model.variables
        for i, value in zip(
            self._trainable + self._non_trainable, tv + ntv, strict=True
        ):
            variables[i].assign(value)
        if optimizer is not None:
            for variable, value in zip(optimizer.variables, ov, strict=True):
                variable.assign(value)

    def weights(self):
        """The network's weights now (for :meth:`set_weights`)."""
        return self._state[:2]

    def set_weights(self, weights):
        """Back to :meth:`weights`' weights (the optimizer's state stays)."""
        self._state = (*weights, self._state[2])

    def set_learning_rate(self, value):
        """The optimizer's learning rate from the next step on (an input of
        the compiled epoch: nothing compiles again)."""
        ov = list(self._state[2])
        ov[self._rate] = host_tensor(np.float32(value))
        self._state = (*self._state[:2], ov)

    def run_epoch(
        self,
        data,
        seed,
        *,
        loss_weight=1.0,
        penalty_scale=0.0,
        batch_size=None,
        shuffle=True,
        steps_done=0,
        sure_steps=0,
        validation=None,
        jit_compile=None,
    ):
        """Train one epoch over ``data``; returns the mean loss of its steps
        (and with ``validation``, the errors of the new weights on it).

        Parameters
        ----------
        data : Data
        seed : int
            Seed of this epoch's order of the rows (:func:`batches`).
        loss_weight : float, default=1.0
            Multiplier of the objective in the gradient (not in the loss
            returned); with Adam it acts as dividing ``epsilon`` by it.
        penalty_scale : float, default=0.0
            The strength of the ``penalties`` (``alpha / n``).
        batch_size : int or None, default=None
            Rows per step (an input of the program); None: the engine's.
        shuffle : bool, default=True
            Whether the rows go in the order drawn from ``seed`` or as given.
        steps_done : int, default=0
            The steps this fit has run before this epoch, from which
            TensorFlow chooses how to compile it (see
            :func:`compiled_with_xla`).
        sure_steps : int, default=0
            The steps this fit runs at least, its stopping rule
            notwithstanding (:func:`~._loop.least_epochs`): from
            :data:`XLA_STEPS`, TensorFlow compiles with XLA from the start.
        validation : Data or None, default=None
            Rows scored after the epoch, as :meth:`evaluate` scores them, in
            the epoch's own program (:func:`with_validation`; sparse rows by
            :meth:`evaluate`, in chunks).
        jit_compile : bool or None, default=None
            On TensorFlow, this fit's choice, where it has one: True
            compiles with XLA from the start (a search's refit after a stack
            compiled so); None, the engine's ``jit_compile``.

        Returns
        -------
        loss : float
            Mean over the steps, weighted by their rows, of the objective
            (weighted data loss plus the penalties).
        errors : ndarray of shape (n_outputs,)
            With ``validation`` only: :meth:`evaluate` of it after the epoch.
        """
        batch = int(batch_size or self.batch_size)
        X, y, w, n = padded(data)
        backend = _backend()
        xla = None
        if backend.CHOOSES_XLA:
            chosen = self.jit_compile if jit_compile is None else jit_compile
            xla = compiled_with_xla(chosen, max(steps_done, sure_steps))
        if xla and self._xla_failed:
            xla = False
        width = bucket(min(batch, max(n, 1)), smallest=1)
        sparse = isinstance(X, SparseRows)
        # dense validation rows are scored in the epoch's program
        validating = validation is not None and not sparse

        def inputs(xla):
            steps = max(-(-n // batch), 1)
            if _padded_steps(backend, xla):
                steps = bucket(steps, smallest=1)
            index, valid = batches(seed, n, min(batch, width), width, steps, shuffle)
            inputs = (
                self._state,
                (X, y, w, Batches(index, valid)),
                (np.int32(n), _float32(loss_weight), _float32(penalty_scale)),
            )
            if validating:
                Xv, yv, wv, nv = padded(validation)
                inputs = (*inputs, (Xv, yv, wv, np.int32(nv)))
            return inputs

        try:
            out = self._epoch(sparse, xla, validating)(*inputs(xla))
        except backend.COMPILE_ERRORS:
            if not xla:
                raise
            # ops that XLA cannot compile (a model callable's): a graph
            self._xla_failed = True
            out = self._epoch(sparse, False, validating)(*inputs(False))
        self._state = tuple(list(part) for part in out[0])
        if validation is None:
            return float(out[1])
        if validating:
            return float(out[1]), _numpy(out[2]).astype(np.float64)
        return float(out[1]), self.evaluate(validation)

    def evaluate(self, data):
        """The loss per output column on ``data`` (no penalty terms):
        ``sum_i w_i (y_ik - p_ik)**2 / n`` (or the ``column_loss``), a float64
        array of shape (n_outputs,)."""
        if self._evaluate is None:
            self._evaluate = _backend().compile(self._evaluation(), kind="evaluate")
        X, y, w, n = padded(data)
        tv, ntv, _ = self._state
        if not isinstance(X, SparseRows):
            return _numpy(self._evaluate(tv, ntv, X, y, w, np.int32(n))).astype(
                np.float64
            )
        # sparse rows: a chunk of fixed size at a time (densified, or their
        # kernel rows gathered), sums added
        from skconstrain._training import _sparse_chunk

        width = X.shape[1]  # a dense row's, or a row's gathered kernel rows'
        if _takes_sparse(self._first, X):
            width = self._first.units * int(X.indices.shape[1])
        step = _sparse_chunk(width)
        rows = -(-max(n, 1) // step) * step
        found = data.__dict__.get(f"_padded_{rows}")  # made once, as padded's
        if found is None:
            found = data.__dict__[f"_padded_{rows}"] = tuple(
                _pad_rows(part, rows) for part in (X, y, w)
            )
        X, y, w = found
        total = 0.0
        for start in range(0, n, step):
            part = slice(start, start + step)
            count = min(step, n - start)
            errors = self._evaluate(
                tv,
                ntv,
                X._replace(indices=X.indices[part], values=X.values[part]),
                y[part],
                w[part],
                np.int32(count),
            )
            total = total + _numpy(errors).astype(np.float64) * count
        return total / max(n, 1)
