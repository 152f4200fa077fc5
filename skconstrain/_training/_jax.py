"""The engine compiled by JAX: an epoch as one ``jax.jit`` of a ``lax.scan``.

The epoch (:func:`_epoch`) is written once on Keras's stateless API: the
network's ``stateless_call`` (with ``return_losses=True``: the weight and
output penalties at the traced weights), the optimizer's ``stateless_apply``
(Keras's own Adam, which applies the weights' constraints), ``jax.grad`` and
``jax.random``. One member's epoch is a pure function of its variables, its
data and its settings (rows, batch size, seed, loss weight, penalty scale;
the learning rate is one of the optimizer's variables):

- an :class:`Engine` (one network: a single fit) compiles it with ``jax.jit``;
- a :class:`StackEngine` (M networks of one architecture: the alphas x folds of
  a search) compiles ``jax.vmap`` of the same function over the members, each
  with its own rows, order, batch size, strength and learning rate, and
  freezes the members whose stopping rule ended their training.

Shapes are padded to a few buckets (:func:`bucket`), so a new number of rows,
a fold one row shorter or another batch size reuses one compiled program: the
rows past a member's own are masked (they add nothing to the loss, and a step
without rows leaves weights and optimizer untouched). On an epoch's last,
partial batch the rows of the padding repeat the batch's rows for what the
network computes over a batch (an output penalty's mean, batch statistics):
their weight in the data loss is zero.

Without JAX's x64 mode, JAX computes float64 as float32. The estimators run in
:func:`precision` (``jax.enable_x64``, a scoped context: the user's global flag
is untouched), so the input scaling and the float64 forward pass of
:class:`Predictor` keep their digits; the networks still train in float32.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import NamedTuple

import jax
import jax.numpy as jnp
import keras
import numpy as np
import scipy.sparse as sp

from skconstrain._training import (
    _FORWARDS,
    _TWINS,
    Objective,
    _sparse_chunk,
    widened,
)


def _no_tensorflow_in_keras_serialization():
    """Keras's serialization (saving a network, and the float64 twin of
    :func:`widened`) asks ``tf.available``, a lazy module of Keras, for every
    object it serializes, which imports TensorFlow wherever it is installed
    (as it is with skconstrain), seconds of start-up and memory. Under JAX
    no object can be TensorFlow's while TensorFlow is not imported, so the
    answer is no. Private (``keras.src.utils.module_utils``, no public
    equivalent); pinned by
    ``tests/test_estimators.py::test_a_model_fitted_on_one_backend_predicts_the_same_on_the_other``.
    A process that imported TensorFlow itself is left as it is."""
    from keras.src.utils import module_utils

    lazy = getattr(module_utils, "tensorflow", None)
    if "tensorflow" not in sys.modules and getattr(lazy, "_available", 0) is None:
        lazy._available = False


_no_tensorflow_in_keras_serialization()


def configure(budget):
    """Nothing to configure: XLA's threads are set by ``XLA_FLAGS`` before
    JAX starts."""


@contextmanager
def precision():
    """Float64 as float64 for the duration of an estimator's call: JAX's x64
    mode (``jax.enable_x64``, scoped to this thread), and Keras's type
    promotion told to keep float64 (:func:`_keras_keeps_float64`)."""
    with jax.enable_x64(True), _keras_keeps_float64():
        yield


_PROMOTION_LOCK = threading.Lock()
_promotion_users = 0


@contextmanager
def _keras_keeps_float64():
    """Keras's JAX backend maps every float64 result of its type promotion to
    float32 (``keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE``, "to be
    aligned with JAX's default behavior", whatever JAX's x64 flag says), so
    ``keras.ops.tanh`` of a float64 array is float32 even in x64 mode, and a
    float64 forward pass is not. While any estimator call is in
    :func:`precision`, that table maps float64 to itself (private Keras API:
    there is no public switch; pinned by ``tests/test_training.py``). Only
    float64 inputs are affected, which outside x64 mode JAX truncates anyway.
    """
    global _promotion_users
    from keras.src.backend.common import dtypes

    table = dtypes.BIT64_TO_BIT32_DTYPE
    with _PROMOTION_LOCK:
        _promotion_users += 1
        if _promotion_users == 1:
            _keras_keeps_float64.saved = table.get("float64")
            table["float64"] = "float64"
    try:
        yield
    finally:
        with _PROMOTION_LOCK:
            _promotion_users -= 1
            if _promotion_users == 0:
                table["float64"] = _keras_keeps_float64.saved


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
    offset, scale = (np.zeros(d), np.ones(d)) if x_scaling is None else x_scaling
    with precision():
        return SparseRows(
            jnp.asarray(indices),
            jnp.asarray(values),
            jnp.asarray(np.broadcast_to(np.asarray(offset, np.float64), (d,))),
            jnp.asarray(np.broadcast_to(np.asarray(scale, np.float64), (d,))),
        )


def gather_rows(X, idx):
    """The rows ``idx`` of ``X`` (an array, or :class:`SparseRows`, densified
    and mapped) as a dense float32 array."""
    if not isinstance(X, SparseRows):
        return X[idx]
    columns, values = X.indices[idx], X.values[idx]
    dense = jnp.zeros((idx.shape[0], X.offset.shape[0]), values.dtype)
    dense = dense.at[jnp.arange(idx.shape[0])[:, None], columns].add(values)
    return (X.offset + X.scale * dense).astype(jnp.float32)


def _pad_rows(X, rows):
    """``X`` (an array or :class:`SparseRows`) with zero rows up to ``rows``."""
    if isinstance(X, SparseRows):
        extra = rows - X.indices.shape[0]
        return X._replace(
            indices=jnp.pad(X.indices, ((0, extra), (0, 0))),
            values=jnp.pad(X.values, ((0, extra), (0, 0))),
        )
    X = jnp.asarray(X)
    return jnp.pad(X, ((0, rows - X.shape[0]),) + ((0, 0),) * (X.ndim - 1))


def _rows(data):
    """``data``'s X, y and weights padded to a bucket of rows, and its rows:
    made once per :class:`~skconstrain._training.Data`."""
    found = data.__dict__.get("_jax_rows")
    if found is None:
        n = int(data.y.shape[0])
        rows = bucket(n)
        found = (
            _pad_rows(data.X, rows),
            _pad_rows(data.y, rows),
            _pad_rows(data.sample_weight, rows),
            n,
        )
        data.__dict__["_jax_rows"] = found
    return found


def _row_losses(y, pred, row_loss):
    """Each row's loss, averaged over the outputs: the squared error, or
    ``row_loss(y, pred)`` (summed over the outputs) divided by their number."""
    pred = pred.astype(y.dtype)
    if row_loss is None:
        return jnp.mean(jnp.square(y - pred), axis=-1)
    return row_loss(y, pred) / pred.shape[-1]


def _epoch(body, optimizer, penalties, row_loss, width):
    """One member's epoch as a pure function (see the module's docstring).

    ``epoch(trainable, non_trainable, optimizer_variables, X, y, w, n, batch,
    seed, shuffle, loss_weight, penalty_scale, steps)`` returns the three
    lists of new values and the mean of the steps' losses weighted by their
    rows. ``X``, ``y``, ``w`` hold ``n`` real rows, then padding; a step
    takes ``batch`` rows (at most ``width``, a constant of the program) of
    the real rows in an order drawn from ``seed`` (or as given, where
    ``shuffle`` is false); ``steps`` (static) is at least ``ceil(n /
    batch)``.
    """
    penalties = list(penalties)

    def objective(trainable, non_trainable, xb, yb, wb, count, loss_weight):
        outputs, non_trainable, losses = body.stateless_call(
            trainable, non_trainable, xb, training=True, return_losses=True
        )
        data = jnp.sum(wb * _row_losses(yb, outputs, row_loss)) / jnp.maximum(
            count, 1.0
        )
        loss = data + sum((jnp.asarray(v, data.dtype) for v in losses), 0.0)
        return loss * loss_weight, (loss, non_trainable)

    gradient = jax.grad(objective, has_aux=True)

    def epoch(
        tv, ntv, ov, X, y, w, n, batch, seed, shuffle, loss_weight, penalty_scale, steps
    ):
        rows = y.shape[0]
        draw = jax.random.uniform(jax.random.PRNGKey(seed), (rows,))
        drawn = jnp.argsort(jnp.where(jnp.arange(rows) < n, draw, 2.0))
        order = jnp.where(shuffle, drawn, jnp.arange(rows)).astype(jnp.int32)
        offsets = jnp.arange(width, dtype=jnp.int32)
        saved = [obj.scale for obj in penalties]
        for obj in penalties:  # alpha / n: an input of the program, not a constant
            obj.scale = penalty_scale

        def update(carry, xb, yb, wb, count):
            tv, ntv, ov, total = carry
            grads, (loss, ntv) = gradient(tv, ntv, xb, yb, wb, count, loss_weight)
            tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return tv, ntv, ov, total + loss * count

        def skip(carry, *_):
            return carry

        def step(carry, i):
            start = i.astype(jnp.int32) * batch
            positions = start + offsets
            valid = (positions < jnp.minimum(start + batch, n)) & (offsets < batch)
            # the padding repeats the batch's rows (its weight is zero)
            positions = jnp.where(valid, positions, start + offsets % batch)
            idx = order[jnp.clip(positions, 0, jnp.maximum(n - 1, 0))]
            count = jnp.sum(valid.astype(jnp.float32))
            xb = gather_rows(X, idx)
            wb = w[idx] * valid.astype(w.dtype)
            # a step without rows (past the member's own) changes nothing
            carry = jax.lax.cond(count > 0, update, skip, carry, xb, y[idx], wb, count)
            return carry, None

        try:
            (tv, ntv, ov, total), _ = jax.lax.scan(
                step,
                (list(tv), list(ntv), list(ov), jnp.float32(0.0)),
                jnp.arange(steps, dtype=jnp.int32),
            )
        finally:
            for obj, value in zip(penalties, saved, strict=True):
                obj.scale = value
        return tv, ntv, ov, total / jnp.maximum(n, 1).astype(total.dtype)

    return epoch


def _evaluate(body, output_map, column_loss):
    """``evaluate(trainable, non_trainable, X, y, w, n)``: the loss per output
    column on the ``n`` real rows of ``X`` (the squared error, or
    ``column_loss``), ``sum_i w_i loss_ik / n``, of the outputs (through
    ``output_map``) without penalties."""

    def evaluate(tv, ntv, X, y, w, n):
        idx = jnp.arange(y.shape[0])
        pred, _ = body.stateless_call(tv, ntv, gather_rows(X, idx), training=False)
        if output_map is not None:
            pred = output_map(pred)
        pred = pred.astype(y.dtype)
        losses = jnp.square(y - pred) if column_loss is None else column_loss(y, pred)
        weight = w * (idx < n).astype(w.dtype)
        return jnp.sum(weight[:, None] * losses, axis=0) / jnp.maximum(n, 1)

    return evaluate


def _values(variables):
    return [v.value for v in variables]


def _assign(variables, values):
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


class Engine:
    """Trains a template network: one compiled call per epoch, reused across fits.

    The JAX twin of :class:`skconstrain._training._tensorflow.Engine`, with
    its parameters (but ``jit_compile``: every epoch is compiled by XLA) and
    methods; the batch size is an input of the compiled epoch (padded to a
    bucket), not a constant of it. The state trained from :meth:`load` is
    held as arrays between epochs and written to a model by :meth:`store`.
    """

    def __init__(
        self,
        model,
        optimizer,
        *,
        batch_size,
        penalties=(),
        objective=None,
        body=None,
    ):
        self.model = model
        self.body = model if body is None else body
        self.optimizer = optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        if [id(v) for v in optimizer._trainable_variables] != [
            id(v) for v in self.body.trainable_variables
        ]:  # private: the order stateless_apply expects; pinned by the tests
            raise ValueError("the optimizer was not built for the body's weights")
        self.batch_size = int(batch_size)
        objective = Objective() if objective is None else objective
        self.row_loss = objective.row_loss
        self.output_map = objective.output_map
        self.column_loss = objective.column_loss
        self._penalties = list(penalties)
        # where the body's variables sit among the model's
        position = {id(v): i for i, v in enumerate(model.variables)}
        self._trainable = [position[id(v)] for v in self.body.trainable_variables]
        self._non_trainable = [
            position[id(v)] for v in self.body.non_trainable_variables
        ]
        self._read(model, optimizer)  # until a fit loads its own
        self._epochs = {}
        self._evaluate = jax.jit(
            _evaluate(self.body, self.output_map, self.column_loss)
        )

    def _epoch(self, width):
        found = self._epochs.get(width)
        if found is None:
            found = self._epochs[width] = jax.jit(
                _epoch(
                    self.body,
                    self.optimizer,
                    self._penalties,
                    self.row_loss,
                    width,
                ),
                static_argnames="steps",
            )
        return found

    def load(self, model):
        """Take ``model``'s weights and its optimizer's state (of the engine's
        architecture) as the state to train from."""
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

    def weights(self):
        """The network's weights now (for :meth:`set_weights`)."""
        return self._state[:2]

    def set_weights(self, weights):
        """Back to :meth:`weights`' weights (the optimizer's state stays)."""
        self._state = (*weights, self._state[2])

    def set_learning_rate(self, value):
        """The optimizer's learning rate from the next step on."""
        ov = list(self._state[2])
        i = _learning_rate_index(self.optimizer)
        ov[i] = jnp.asarray(value, ov[i].dtype)
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
    ):
        """Train one epoch over ``data``; returns the mean loss of its steps
        (see the TensorFlow engine's method). ``batch_size``: this fit's
        (default: the engine's); ``shuffle``: an input of the program."""
        batch = int(batch_size or self.batch_size)
        X, y, w, n = _rows(data)
        width = bucket(min(batch, max(n, 1)), smallest=1)
        steps = bucket(-(-n // batch) if n else 0, smallest=1)
        *state, loss = self._epoch(width)(
            *self._state,
            X,
            y,
            w,
            np.int32(n),
            np.int32(min(batch, width)),
            np.uint32(int(seed) % (2**31 - 1)),
            np.bool_(shuffle),
            np.float32(loss_weight),
            np.float32(penalty_scale),
            steps=steps,
        )
        self._state = tuple(state)
        return float(loss)

    def _write(self, model, optimizer):
        tv, ntv, ov = self._state
        variables = model.variables
        for i, value in zip(
            self._trainable + self._non_trainable, tv + ntv, strict=True
        ):
            variables[i].assign(value)
        if optimizer is not None:
            _assign(optimizer.variables, ov)

    def evaluate(self, data):
        """The loss per output column on ``data`` (float64, (n_outputs,))."""
        X, y, w, n = _rows(data)
        errors = self._evaluate(
            *self._state[:2],
            X,
            y,
            w,
            jnp.int32(n),
        )
        return np.asarray(errors, dtype=np.float64)


class StackEngine:
    """M networks of the architecture of ``template`` (the default MLP and its
    head) trained as one: :func:`jax.vmap` of the single network's epoch over
    the members' variables, data and settings. The API of
    :class:`skconstrain._training._tensorflow.StackEngine`.
    """

    def __init__(self, template, size, row_loss=None, width=200):
        from skconstrain._networks import NotStackable, body, penalties

        net = body(template)
        if net is None:
            raise NotStackable("only the default MLP is stacked")
        self.body = net
        self.size = int(size)
        self.width = int(width)
        self.optimizer = keras.optimizers.Adam(name="adam")
        self.optimizer.build(net.trainable_variables)
        self._penalties = list(penalties(template))
        self._row_loss = row_loss
        self._runs = {}
        self._targets = [_target_role(v, template) for v in net.non_trainable_variables]

    def _run(self, width):
        found = self._runs.get(width)
        if found is None:
            one = _epoch(
                self.body,
                self.optimizer,
                self._penalties,
                self._row_loss,
                width,
            )
            members = jax.vmap(one, in_axes=(0,) * 12 + (None,))

            def run(state, inputs, active, steps):
                new = members(*state, *inputs, steps)
                keep = lambda a, b: jnp.where(  # noqa: E731
                    active.reshape((-1,) + (1,) * (a.ndim - 1)), a, b
                )
                tv, ntv, ov = (jax.tree.map(keep, new[i], state[i]) for i in range(3))
                return (tv, ntv, ov), new[3]

            found = self._runs[width] = jax.jit(run, static_argnames="steps")
        return found

    def start(self, members, learning_rate):
        """The members' starting weights, target scalings and data; Adam reset."""
        with precision():
            tv = [
                jnp.asarray(np.stack([m.weights[i] for m in members]), jnp.float32)
                for i in range(len(self.body.trainable_variables))
            ]
            for value, variable in zip(tv, self.body.trainable_variables, strict=True):
                if tuple(value.shape[1:]) != tuple(variable.shape):
                    from skconstrain._networks import NotStackable

                    raise NotStackable("the members' weights do not fit the network")
            ntv = []
            for variable, role in zip(
                self.body.non_trainable_variables, self._targets, strict=True
            ):
                if role is None:
                    value = np.stack([np.asarray(variable.value)] * len(members))
                else:  # rounded to float32 as TargetScaling holds them
                    value = np.stack(
                        [
                            np.broadcast_to(
                                np.asarray(getattr(m, role), np.float32),
                                variable.shape,
                            )
                            for m in members
                        ]
                    )
                ntv.append(jnp.asarray(value, variable.dtype))
            ov = []
            for variable in self.optimizer.variables:
                if (
                    variable
                    is self.optimizer.variables[_learning_rate_index(self.optimizer)]
                ):
                    value = np.full(len(members), learning_rate, np.float32)
                else:
                    value = np.zeros((len(members), *variable.shape), variable.dtype)
                ov.append(jnp.asarray(value))
            self._state = (tv, ntv, ov)
            parts = [_rows(m.data) for m in members]
            rows = max(int(p[0].shape[0]) for p in parts)
            n = np.array([p[3] for p in parts])
            batch = np.array(
                [min(m.batch_size, max(k, 1)) for m, k in zip(members, n, strict=True)]
            )
            self._width = bucket(int(batch.max()), smallest=1)
            self._steps = bucket(int((-(-n // batch)).max()), smallest=1)
            self._inputs = [
                _stacked([_pad_rows(p[i], rows) for p in parts]) for i in range(3)
            ]
            self._inputs += [
                jnp.asarray(n, jnp.int32),
                jnp.asarray(batch, jnp.int32),
                None,  # the seeds, per epoch
                jnp.asarray([m.shuffle for m in members], bool),
                jnp.asarray([m.loss_weight for m in members], jnp.float32),
                jnp.asarray([m.penalty_scale for m in members], jnp.float32),
            ]
            self._validation = None
            if members[0].validation is not None:
                parts = [_rows(m.validation) for m in members]
                rows = max(int(p[0].shape[0]) for p in parts)
                self._validation = [
                    _stacked([_pad_rows(p[i], rows) for p in parts]) for i in range(3)
                ] + [jnp.asarray([p[3] for p in parts], jnp.int32)]

    def run_epoch(self, seeds, active):
        """One epoch of the members where ``active``; their mean losses (M,)."""
        with precision():
            inputs = list(self._inputs)
            inputs[5] = jnp.asarray(seeds, jnp.uint32)
            self._state, losses = self._run(self._width)(
                self._state,
                inputs,
                jnp.asarray(active, bool),
                steps=self._steps,
            )
            return np.asarray(losses)

    def errors(self, output_map=None):
        """Squared errors per member and output column on their validation
        rows (the outputs through ``output_map``)."""
        with precision():
            tv, ntv, _ = self._state
            key = ("errors", output_map)
            found = self._runs.get(key)
            if found is None:
                found = self._runs[key] = jax.jit(
                    jax.vmap(_evaluate(self.body, output_map, None))
                )
            errors = found(tv, ntv, *self._validation)
            return np.asarray(errors, dtype=np.float64)

    def weights(self):
        """The members' weights, each array with the members on its first axis."""
        return [np.array(v) for v in self._state[0]]

    def set_weights(self, weights):
        """Set what :meth:`weights` returned."""
        with precision():
            tv = [jnp.asarray(v) for v in weights]
            self._state = (tv, *self._state[1:])

    def set_learning_rates(self, rates):
        """Each member's learning rate from its next step on ((M,))."""
        ov = list(self._state[2])
        i = _learning_rate_index(self.optimizer)
        ov[i] = jnp.asarray(np.asarray(rates, np.float32).reshape(ov[i].shape))
        self._state = (*self._state[:2], ov)

    def snapshot(self):
        """The members' trained state, for :meth:`write`."""
        tv, ntv, _ = self._state
        return [np.asarray(v) for v in tv], [np.asarray(v) for v in ntv]

    def write(self, k, model, x_scaling, snapshot):
        """Member ``k`` of ``snapshot`` into ``model`` (of the template's
        architecture) with the input scaling ``(offset, scale)`` of its data."""
        from skconstrain._networks import INPUT_SCALING, TARGET_SCALING, NotStackable

        tv, ntv = snapshot
        if len(model.trainable_variables) != len(tv):
            raise NotStackable("model is not of the stack's architecture")
        with precision():
            model.get_layer(INPUT_SCALING).set_weights(
                [np.asarray(v, dtype=np.float64) for v in x_scaling]
            )
            for variable, value in zip(model.trainable_variables, tv, strict=True):
                variable.assign(value[k])
            for role, value in zip(self._targets, ntv, strict=True):
                if role is not None:
                    target = model.get_layer(TARGET_SCALING)
                    weight = getattr(
                        target, "offset_weight" if role == "offset" else "scale_weight"
                    )
                    weight.assign(np.asarray(value[k]).astype(weight.dtype))


def _learning_rate_index(optimizer):
    """Where Adam's learning rate sits among ``optimizer.variables`` (a
    Keras variable when the optimizer was made with a float rate)."""
    for i, variable in enumerate(optimizer.variables):
        if variable.path.endswith("learning_rate"):
            return i
    raise ValueError("the optimizer's learning rate is not a variable")


def _target_role(variable, template):
    """``"offset"`` or ``"scale"`` for the template's target scaling's
    weights (a member's own), None for another non-trainable variable."""
    from skconstrain._networks import TARGET_SCALING

    try:
        target = template.get_layer(TARGET_SCALING)
    except ValueError:
        return None
    if variable is target.offset_weight:
        return "offset"
    if variable is target.scale_weight:
        return "scale"
    return None


def _stacked(parts):
    # dense rows only: a search over sparse X fits one network after another
    return jnp.stack(parts)


#: The most rows a prediction's compiled program takes at once.
PREDICT_CHUNK = 1024


class Predictor:
    """The model's forward pass in float64, compiled once for every number
    of rows.

    The JAX twin of :class:`skconstrain._training._tensorflow.Predictor`: the
    layers of a float64 copy of the model's architecture (:func:`widened`)
    compute on the model's own weights, in JAX's x64 mode (:func:`precision`),
    so a row's prediction does not depend on the rows predicted with it.
    Every call runs in one fixed shape (``chunk`` rows, fewer for wide rows:
    about 32 MiB of float64, :func:`_sparse_chunk`; the last chunk padded
    with zeros), so predicting 1 row, 333 or 6 000 runs the
    program compiled once for the architecture (when the fit scored its
    training rows), not one per row count; the copy and its program are
    shared by the models of one ``key``.
    """

    def __init__(self, model, key=None, chunk=PREDICT_CHUNK):
        self.model = model
        self.key = key
        self.chunk = int(chunk)
        self._twin = None
        self._forward = None
        self._sources = None

    def _network(self):
        if self._twin is None:
            with precision():
                twin = None if self.key is None else _TWINS.get(self.key)
                if twin is None:
                    twin = widened(self.model)
                    if self.key is not None and twin is not None:
                        twin = _TWINS.put(self.key, twin)
            self._twin = self.model if twin is None else twin
        return self._twin

    def _function(self):
        if self._forward is None:
            network = self._network()
            found = None if self.key is None else _FORWARDS.get(("jax", self.key))
            if found is None:
                found = jax.jit(_forward(network))
                if self.key is not None:
                    found = _FORWARDS.put(("jax", self.key), found)
            self._forward = found
        return self._forward

    def __call__(self, X):
        """Network outputs for ``X`` as a float64 array of shape (n, n_outputs)."""
        with precision():
            forward = self._function()
            network = self._network()
            # the model's own values: cast to the copy's dtypes inside the
            # compiled function, not op by op here
            if self._sources is None:
                model = self.model
                self._sources = (
                    model.trainable_variables + model.non_trainable_variables
                )
            values = [v.value for v in self._sources]
            dtype = np.dtype(network.inputs[0].dtype)
            step = min(self.chunk, _sparse_chunk(X.shape[1]))
            if sp.issparse(X):
                X = sp.csr_matrix(X)
                blocks = (X[i : i + step].toarray() for i in range(0, X.shape[0], step))
            else:
                X = np.asarray(X)
                blocks = (X[i : i + step] for i in range(0, len(X), step))
            parts = []
            for block in blocks:
                padded = np.zeros((step, *X.shape[1:]), dtype)
                padded[: len(block)] = block
                parts.append(np.asarray(forward(values, padded))[: len(block)])
            return np.concatenate(parts).astype(np.float64)


def _forward(network):
    n_trainable = len(network.trainable_variables)
    dtypes = [
        v.dtype for v in network.trainable_variables + network.non_trainable_variables
    ]

    def forward(values, X):
        values = [v.astype(d) for v, d in zip(values, dtypes, strict=True)]
        return network.stateless_call(
            values[:n_trainable], values[n_trainable:], X, training=False
        )[0]

    return forward
