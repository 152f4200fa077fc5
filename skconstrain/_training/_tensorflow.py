"""The engine compiled by TensorFlow: an epoch as one ``tf.function``.

An :class:`Engine` traces one TensorFlow function that runs a whole epoch: a
seeded permutation of the rows, then a ``tf.while_loop`` over the
mini-batches, each sliced from the tensors in the graph, with the forward pass
(``training=True``), the loss plus ``model.losses`` (weight penalties, output
penalties), the gradient and ``optimizer.apply`` (which also applies the
weights' constraints). A :class:`StackEngine` trains the M members of a
:class:`~skconstrain._networks.Stack` (batched kernels) in one such epoch.

Shapes are dynamic in the traced functions (``[None, n_features]``), so data of
any number of rows reuses one trace. XLA (``jit_compile``) is off: measured on 2
CPU cores it made epochs slower for these networks and cost 1-2 s of
compilation per fit (``benchmarks/bench_fit.py --xla`` prints it).

TensorFlow is imported on first use (:class:`_TensorFlow`), not on import.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from skconstrain._training import (
    _FORWARDS,
    _TWINS,
    Objective,
    _sparse_chunk,
    widened,
)


class _TensorFlow:
    """TensorFlow, imported on first use: importing the estimators under
    another Keras backend (which they refuse, :func:`check_backend`) does
    not load it."""

    def __getattr__(self, name):
        import tensorflow

        return getattr(tensorflow, name)


tf = _TensorFlow()


def configure(budget):
    """Threads and GPU memory (see :func:`skconstrain._training.configure_runtime`)."""
    if _tf_running():
        return
    _configure_threads(budget)
    if "TF_FORCE_GPU_ALLOW_GROWTH" not in os.environ:
        _grow_gpu_memory()


def precision():
    """TensorFlow computes float64 as float64: nothing to scope."""
    return nullcontext()


def _tf_running():
    # private, and the only way to ask: tf.config raises once the context is up
    from tensorflow.python.eager import context

    return context.context()._initialized


def _configure_threads(budget):
    if budget is None:
        return
    threading_config = tf.config.threading
    unset = "TF_NUM_INTRAOP_THREADS" not in os.environ
    if unset and threading_config.get_intra_op_parallelism_threads() == 0:
        threading_config.set_intra_op_parallelism_threads(budget)
    unset = "TF_NUM_INTEROP_THREADS" not in os.environ
    if unset and threading_config.get_inter_op_parallelism_threads() == 0:
        threading_config.set_inter_op_parallelism_threads(1)


def _grow_gpu_memory():
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            if tf.config.get_logical_device_configuration(gpu) is None:
                tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # configured or started meanwhile
            pass


class SparseRows(NamedTuple):
    """Sparse rows (CSR) as tensors, with the affine map ``offset + scale * x``
    applied to each row when it is densified (float64, then float32, as
    :func:`as_tensors` maps dense rows)."""

    indptr: tf.Tensor  # int32 (n + 1,)
    indices: tf.Tensor  # int32 (nnz,)
    values: tf.Tensor  # float64 (nnz,)
    offset: tf.Tensor  # float64 (d,)
    scale: tf.Tensor  # float64 (d,)

    @property
    def shape(self):
        return (int(self.indptr.shape[0]) - 1, int(self.offset.shape[0]))

    @staticmethod
    def spec(n_features):
        return SparseRows(
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float64),
            tf.TensorSpec([n_features], tf.float64),
            tf.TensorSpec([n_features], tf.float64),
        )


def sparse_rows(X, x_scaling=None):
    """:class:`SparseRows` of a SciPy sparse matrix."""
    X = sp.csr_matrix(X, dtype=np.float64, copy=True)
    X.sum_duplicates()
    d = X.shape[1]
    offset, scale = (np.zeros(d), np.ones(d)) if x_scaling is None else x_scaling
    return SparseRows(
        tf.constant(X.indptr.astype(np.int32)),
        tf.constant(X.indices.astype(np.int32)),
        tf.constant(X.data),
        tf.constant(np.broadcast_to(np.asarray(offset, np.float64), (d,))),
        tf.constant(np.broadcast_to(np.asarray(scale, np.float64), (d,))),
    )


def gather_rows(X, idx):
    """The rows ``idx`` of ``X`` (a tensor, or :class:`SparseRows`, densified
    and mapped) as a dense float32 tensor."""
    if not isinstance(X, SparseRows):
        return tf.gather(X, idx)
    starts = tf.gather(X.indptr, idx)
    ends = tf.gather(X.indptr, idx + 1)
    positions = tf.ragged.range(starts, ends)
    flat = positions.flat_values
    rows = tf.cast(positions.value_rowids(), tf.int32)
    cols = tf.gather(X.indices, flat)
    dense = tf.scatter_nd(
        tf.stack([rows, cols], axis=1),
        tf.gather(X.values, flat),
        tf.stack([tf.shape(idx)[0], tf.shape(X.offset)[0]]),
    )
    return tf.cast(X.offset + X.scale * dense, tf.float32)


def _data_loss(y, pred, w, row_loss=None):
    """Weighted loss summed over rows: ``sum_i w_i mean_k (y - p)**2``, or with
    ``row_loss(y, pred)`` (per row, summed over outputs) divided by their number
    (the width of ``pred``) in place of the squared error."""
    pred = tf.cast(pred, y.dtype)
    if row_loss is None:
        per_row = tf.reduce_mean(tf.square(y - pred), axis=-1)
    else:
        per_row = row_loss(y, pred) / tf.cast(tf.shape(pred)[-1], y.dtype)
    return tf.reduce_sum(w * per_row)


def _total(losses, dtype):
    return tf.add_n([tf.cast(v, dtype) for v in losses]) if losses else 0.0


class _Epoch:
    """One epoch of mini-batch training, to be traced by ``tf.function``.

    A callable object rather than a function: TensorFlow's retracing warning
    counts traces per Python function code, so closures of one function would
    add up over the networks of a grid search; each object counts on its own.

    ``loss_weight`` multiplies the whole objective that the gradient sees (the
    reported loss is unweighted); ``penalty_scale`` is fed, at run time, into
    the ``scale`` of each object of ``penalties`` (the weight penalties' ``alpha /
    n``), so neither is a constant of the trace.
    """

    def __init__(self, model, optimizer, penalties, row_loss):
        self.model = model
        self.optimizer = optimizer
        self.penalties = list(penalties)
        self.row_loss = row_loss

    def __call__(self, X, y, w, seed, loss_weight, penalty_scale, batch_size, shuffle):
        saved = [obj.scale for obj in self.penalties]
        for obj in self.penalties:
            obj.scale = penalty_scale
        try:
            return self._trace(X, y, w, seed, loss_weight, batch_size, shuffle)
        finally:
            for obj, value in zip(self.penalties, saved, strict=True):
                obj.scale = value

    def _trace(self, X, y, w, seed, loss_weight, batch_size, shuffle):
        n = tf.shape(y)[0]
        # shuffle is an input: one trace for both orders
        drawn = tf.argsort(tf.random.stateless_uniform([n], seed=seed))
        order = tf.where(shuffle, drawn, tf.range(n))
        bs = tf.maximum(tf.minimum(batch_size, n), 1)
        n_batches = (n + bs - 1) // bs
        variables = self.model.trainable_variables

        def step(i, total):
            start = i * bs
            idx = order[start : tf.minimum(start + bs, n)]
            xb, yb, wb = gather_rows(X, idx), tf.gather(y, idx), tf.gather(w, idx)
            rows = tf.cast(tf.shape(idx)[0], y.dtype)
            with tf.GradientTape() as tape:
                pred = self.model(xb, training=True)
                loss = _data_loss(yb, pred, wb, self.row_loss) / rows + _total(
                    self.model.losses, y.dtype
                )
                weighted = loss * loss_weight
            grads = tape.gradient(weighted, variables)
            self.optimizer.apply(grads, variables)
            return i + 1, total + loss * rows

        _, total = tf.while_loop(
            lambda i, _: i < n_batches,
            step,
            (tf.constant(0), tf.constant(0.0, y.dtype)),
        )
        return total / tf.cast(n, y.dtype)


class _Evaluate:
    """Weighted squared error of the model's predictions on ``(X, y)`` (its
    outputs through ``output_map``, when given), no penalty, per output column:
    ``sum_i w_i (y_ik - p_ik)**2 / n``; or ``column_loss(y, p)`` (per row and
    column) in place of the squared error."""

    def __init__(self, model, output_map, column_loss=None):
        self.model = model
        self.output_map = output_map
        self.column_loss = column_loss

    def __call__(self, X, y, w):
        pred = self.model(X, training=False)
        if self.output_map is not None:
            pred = self.output_map(pred)
        pred = tf.cast(pred, y.dtype)
        if self.column_loss is None:
            losses = tf.square(y - pred)
        else:
            losses = self.column_loss(y, pred)
        per_column = tf.reduce_sum(w[:, None] * losses, axis=0)
        return per_column / tf.cast(tf.shape(X)[0], y.dtype)


class Engine:
    """Trains a template network: one traced call per epoch, reused across fits.

    The engine owns a network and an optimizer of one architecture, and its
    traced functions. A fit copies its own network's and optimizer's variables
    in (:meth:`load`), trains, and copies them back out (:meth:`store`), so
    every fit of that architecture in the process (a grid search over
    ``alpha``, the folds of a cross-validation, ``partial_fit`` calls) reuses
    one trace; see :func:`borrow`.

    Parameters
    ----------
    model : keras.Model
        Built, with one input and one output.
    optimizer : keras.optimizers.Optimizer
        Built for ``model.trainable_variables``.
    batch_size : int
        Rows per step by default (the last step of an epoch takes the rest);
        an input of the traced epoch, so :meth:`run_epoch` may use another.
    penalties : sequence, default=()
        Objects of ``model`` whose ``scale`` attribute is fed at run time
        (``penalty_scale`` of :meth:`run_epoch`).
    jit_compile : bool, default=False
        Compile the epoch with XLA.
    objective : Objective or None, default=None
        The row loss trained on (divided by the outputs' number), and the
        output map and column loss that :meth:`evaluate` reports; None: the
        squared error.
    body : keras.Model or None, default=None
        What the data go through in training and :meth:`evaluate`: ``model``
        after fixed first layers whose work :func:`as_tensors` did once on the
        data (``x_scaling``), sharing its layers and variables; None:
        ``model`` itself. So a fixed standardisation of the features costs
        nothing per step.
    """

    def __init__(
        self,
        model,
        optimizer,
        *,
        batch_size,
        penalties=(),
        jit_compile=False,
        objective=None,
        body=None,
    ):
        objective = Objective() if objective is None else objective
        self.row_loss = objective.row_loss
        self.output_map = objective.output_map
        self.column_loss = objective.column_loss
        self.model = model
        self.body = model if body is None else body
        self.optimizer = optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        self.batch_size = batch_size
        self.penalties = list(penalties)
        self.jit_compile = jit_compile
        self._epochs = {}
        self._evaluate = None

    def _input_specs(self, with_seed, sparse=False):
        n_features = self.body.inputs[0].shape[1:]
        spec = [
            SparseRows.spec(n_features[0])
            if sparse
            else tf.TensorSpec([None, *n_features], tf.float32),  # as_tensors' X
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ]
        if with_seed:
            spec += [
                tf.TensorSpec([2], tf.int32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.int32),  # batch size
                tf.TensorSpec([], tf.bool),  # shuffle
            ]
        return spec

    def load(self, model):
        """Copy ``model``'s variables and its optimizer's into the engine's."""
        _copy(model.variables, self.model.variables)
        _copy(model.optimizer.variables, self.optimizer.variables)

    def store(self, model):
        """Copy the engine's variables into ``model`` and its optimizer (if it
        has one)."""
        _copy(self.model.variables, model.variables)
        if getattr(model, "optimizer", None) is not None:
            _copy(self.optimizer.variables, model.optimizer.variables)

    def weights(self):
        """The network's weights now (for :meth:`set_weights`)."""
        return self.model.get_weights()

    def set_weights(self, weights):
        """Back to :meth:`weights`' weights (the optimizer's state stays)."""
        self.model.set_weights(weights)

    def set_learning_rate(self, value):
        """The optimizer's learning rate from the next step on (a variable
        the traced epoch reads: no new trace)."""
        self.optimizer.learning_rate.assign(value)

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
        """Train one epoch over ``data``; returns the mean loss of its steps.

        Parameters
        ----------
        data : Data
        seed : int
            Seed of this epoch's order of the rows.
        loss_weight : float, default=1.0
            Multiplier of the objective in the gradient (not in the loss
            returned); with Adam it acts as dividing ``epsilon`` by it.
        penalty_scale : float, default=0.0
            Value given to the ``scale`` of the objects in ``penalties``.
        batch_size : int or None, default=None
            Rows per step (an input of the trace); None: the engine's.
        shuffle : bool, default=True
            Whether the rows go in the order drawn from ``seed`` or as given
            (an input of the trace).

        Returns
        -------
        loss : float
            Mean over the steps, weighted by their rows, of the objective
            (weighted squared error plus ``model.losses``).
        """
        sparse = isinstance(data.X, SparseRows)
        epoch = self._epochs.get(sparse)
        if epoch is None:  # one trace for dense rows, one for sparse rows
            epoch = self._epochs[sparse] = tf.function(
                _Epoch(
                    self.body,
                    self.optimizer,
                    self.penalties,
                    self.row_loss,
                ),
                input_signature=self._input_specs(with_seed=True, sparse=sparse),
                autograph=False,
                jit_compile=self.jit_compile,
            )
        seed = tf.constant([int(seed) % (2**31 - 1), 0], dtype=tf.int32)
        loss = epoch(
            data.X,
            data.y,
            data.sample_weight,
            seed,
            tf.constant(loss_weight, tf.float32),
            tf.constant(penalty_scale, tf.float32),
            tf.constant(int(batch_size or self.batch_size), tf.int32),
            tf.constant(bool(shuffle)),
        )
        return float(loss)

    def evaluate(self, data):
        """Weighted squared error on ``data`` per output column (no penalty
        terms): ``sum_i w_i (y_ik - p_ik)**2 / n``, a float64 array of shape
        (n_outputs,); its mean is the weighted mean squared error. (With a
        ``column_loss``, that loss instead.)"""
        if self._evaluate is None:
            self._evaluate = tf.function(
                _Evaluate(self.body, self.output_map, self.column_loss),
                input_signature=self._input_specs(with_seed=False),
                autograph=False,
            )
        if not isinstance(data.X, SparseRows):
            errors = self._evaluate(data.X, data.y, data.sample_weight)
            return errors.numpy().astype(np.float64)
        # sparse rows: densified a chunk at a time, the sums added up
        n = int(data.y.shape[0])
        step = _sparse_chunk(data.X.shape[1])
        total = 0.0
        for start in range(0, n, step):
            idx = tf.range(start, min(start + step, n))
            part = self._evaluate(
                gather_rows(data.X, idx),
                tf.gather(data.y, idx),
                tf.gather(data.sample_weight, idx),
            )
            total = total + part.numpy().astype(np.float64) * len(idx)
        return total / max(n, 1)


def _copy(sources, targets):
    for source, target in zip(sources, targets, strict=True):
        target.assign(source)


class Predictor:
    """The model's forward pass, traced once for inputs of any number of rows.

    The forward pass runs in float64: on a copy of the model's architecture
    whose layers compute in float64 (:func:`widened`), fed the model's own
    weights (the estimator's predictions). A float32 matrix
    product rounds a row differently depending on where it sits in the batch
    (and on the instruction set: AVX2 and AVX-512 differ), so float32
    predictions of a row change in the 7th digit with the rows predicted
    beside it; in float64 they agree to about 1e-15, and a projection head puts
    every prediction in its set to float64 rounding. A model whose
    architecture cannot be rebuilt from its config (a subclassed model
    without ``get_config``) predicts in its own dtype.

    With a ``key``, the first ``shared_calls`` calls use a trace shared by every
    model of that key in the process: a stateless forward pass
    (``Layer.stateless_call``) that takes the model's variables as inputs, so a
    newly fitted network of a known architecture (each fit of a grid search,
    scored once) predicts without tracing. Later calls use a trace of the
    model's own, which reads its variables itself and is faster per call.

    Parameters
    ----------
    model : keras.Model
    key : hashable or None, default=None
        What the trace depends on (see :func:`borrow`); None: a trace of its own.
    chunk : int, default=16384
        Rows per call; larger inputs are predicted in chunks of this size.
    shared_calls : int, default=8
    """

    def __init__(self, model, key=None, chunk=16384, shared_calls=8):
        self.model = model
        self.key = key
        self.chunk = int(chunk)
        self.shared_calls = shared_calls
        self._calls = 0
        self._own = None
        self._twin = None

    def _network(self):
        """The network whose layers compute: the float64 copy, or the model."""
        if self._twin is None:
            twin = None if self.key is None else _TWINS.get(self.key)
            if twin is None:
                twin = widened(self.model)
                if self.key is not None and twin is not None:
                    twin = _TWINS.put(self.key, twin)
            self._twin = self.model if twin is None else twin
        return self._twin

    def _variables(self):
        return self.model.trainable_variables + self.model.non_trainable_variables

    def _input_spec(self):
        network = self._network()
        inputs = network.inputs[0]
        return tf.TensorSpec([None, *inputs.shape[1:]], inputs.dtype)

    def _forward(self):
        """The function to call now, and the variable values it takes."""
        self._calls += 1
        if self.key is not None and self._calls <= self.shared_calls:
            state = [v.value for v in self._variables()]
            return self._shared(), state
        if self._own is None:
            self._own = tf.function(
                _StatelessForward(self._network(), self._variables()),
                input_signature=[self._input_spec()],
                autograph=False,
            ).get_concrete_function()
        return self._own, []

    def _shared(self):
        found = _FORWARDS.get(self.key)
        if found is None:
            spec = [self._input_spec()] + [
                tf.TensorSpec(v.shape, v.dtype) for v in self._variables()
            ]
            traced = tf.function(
                _StatelessForward(self._network()),
                input_signature=spec,
                autograph=False,
            )
            found = _FORWARDS.put(self.key, traced.get_concrete_function())
        return found

    def __call__(self, X):
        """Network outputs for ``X`` as a float64 array of shape (n, n_outputs)."""
        forward, state = self._forward()
        dtype = self._input_spec().dtype.as_numpy_dtype
        if sp.issparse(X):  # densified a chunk at a time
            X = sp.csr_matrix(X)
            step = min(self.chunk, _sparse_chunk(X.shape[1]))
            parts = [
                forward(tf.constant(X[i : i + step].toarray().astype(dtype)), *state)
                for i in range(0, X.shape[0], step)
            ]
        else:
            X = np.asarray(X, dtype=dtype)
            parts = [
                forward(tf.constant(X[i : i + self.chunk]), *state)
                for i in range(0, len(X), self.chunk)
            ]
        return np.concatenate([p.numpy() for p in parts]).astype(np.float64)


class _StatelessForward:
    """``network``'s forward pass on given variable values, each cast to the
    dtype of the network's own variable (float32 weights into a float64 copy).

    The values are the call's inputs, or, with ``variables``, read from those
    (a model's own variables, captured by the trace).
    """

    def __init__(self, network, variables=None):
        self.network = network
        self.n_trainable = len(network.trainable_variables)
        self.variables = variables

    def __call__(self, X, *values):
        if self.variables is not None:
            values = [v.value for v in self.variables]
        targets = (
            self.network.trainable_variables + self.network.non_trainable_variables
        )
        values = [
            tf.cast(value, target.dtype)  # the identity where the dtypes agree
            for value, target in zip(values, targets, strict=True)
        ]
        return self.network.stateless_call(
            values[: self.n_trainable],
            values[self.n_trainable :],
            X,
            training=False,
        )[0]


def _padded(parts, width, dtype):
    """Arrays of different lengths, zero-padded to ``width``, stacked."""
    out = np.zeros((len(parts), width, *parts[0].shape[1:]), dtype=dtype)
    for i, part in enumerate(parts):
        out[i, : len(part)] = part
    return tf.convert_to_tensor(out)


class _StackEpoch:
    """One epoch of every member of a stack, each on its own rows in its own
    order with its own batch size, by Adam written out per member (its own
    step count), skipping the members that are done or out of rows."""

    def __init__(self, stack, row_loss, width=200, beta_1=0.9, beta_2=0.999):
        self.stack = stack
        self.row_loss = row_loss
        # the largest batch, a constant of the trace: every step's tensors
        # have static shapes (smaller batches are masked)
        self.width = int(width)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, 1e-7
        self.moment = tf.Variable(tf.zeros_like(stack.flat))
        self.velocity = tf.Variable(tf.zeros_like(stack.flat))
        self.steps = tf.Variable(tf.zeros([stack.size], tf.float32))

    def reset(self):
        """Adam's state back to its start (a new training)."""
        for variable in (self.moment, self.velocity, self.steps):
            variable.assign(tf.zeros_like(variable))

    def input_specs(self):
        """The inputs' specs: any number of rows."""
        m, d, k = self.stack.size, self.stack.n_inputs, self.stack.n_outputs
        return [
            tf.TensorSpec([m, None, d], tf.float32),  # X
            tf.TensorSpec([m, None, k], tf.float32),  # y
            tf.TensorSpec([m, None], tf.float32),  # w
            tf.TensorSpec([m], tf.int32),  # seeds
            tf.TensorSpec([m], tf.int32),  # n
            tf.TensorSpec([m], tf.int32),  # batch
            tf.TensorSpec([m], tf.bool),  # shuffle
            tf.TensorSpec([m], tf.float32),  # active
            tf.TensorSpec([m], tf.float32),  # loss_weight
            tf.TensorSpec([m], tf.float32),  # penalty_scale
            tf.TensorSpec([m], tf.float32),  # learning_rate
        ]

    def _orders(self, seeds, n, rows, shuffle):
        """Each member's order of its ``n`` rows, as :class:`_Epoch` draws it
        from the epoch's seed (padded to ``rows``), or as given where not
        ``shuffle``."""

        def one(args):
            seed, count = args
            draw = tf.random.stateless_uniform([count], seed=tf.stack([seed, 0]))
            return tf.pad(tf.argsort(draw), [[0, rows - count]])

        drawn = tf.map_fn(
            one, (seeds, n), fn_output_signature=tf.TensorSpec([None], tf.int32)
        )
        given = tf.tile(tf.range(rows)[None, :], [self.stack.size, 1])
        return tf.where(shuffle[:, None], drawn, given)

    def __call__(
        self,
        X,
        y,
        w,
        seeds,
        n,
        batch,
        shuffle,
        active,
        loss_weight,
        penalty_scale,
        rate,
    ):
        stack = self.stack
        rows = tf.shape(X)[1]
        # the members' rows one after another, each in its epoch's order:
        # a step gathers its batches from these with one op per array
        first = tf.range(stack.size) * rows
        order = tf.reshape(self._orders(seeds, n, rows, shuffle) + first[:, None], [-1])
        X = tf.gather(tf.reshape(X, [-1, stack.n_inputs]), order)
        y = tf.gather(tf.reshape(y, [-1, stack.n_outputs]), order)
        w = tf.gather(tf.reshape(w, [-1]), order)
        n_steps = tf.reduce_max((n + batch - 1) // batch)
        offsets = tf.range(self.width)

        def step(i, totals):
            start = i * batch
            positions = start[:, None] + offsets[None, :]
            end = tf.minimum(start + batch, n)
            valid = tf.cast(positions < end[:, None], tf.float32)
            index = tf.minimum(positions, rows - 1) + first[:, None]
            xb, yb = tf.gather(X, index), tf.gather(y, index)
            wb = tf.gather(w, index) * valid
            count = tf.reduce_sum(valid, axis=1)
            moving = active * tf.cast(count > 0, tf.float32)
            with tf.GradientTape() as tape:
                views = stack.views()
                pred = stack.outputs(xb, views)
                if self.row_loss is None:
                    per_row = tf.reduce_mean(tf.square(yb - pred), axis=-1)
                else:
                    per_row = self.row_loss(yb, pred) / tf.cast(
                        tf.shape(pred)[-1], pred.dtype
                    )
                data = tf.reduce_sum(wb * per_row, axis=1) / tf.maximum(count, 1.0)
                loss = data + stack.penalties(pred, valid, penalty_scale, views)
                weighted = tf.reduce_sum(moving * loss_weight * loss)
            self._apply(tape.gradient(weighted, stack.flat), moving, rate)
            return i + 1, totals + moving * loss * count

        _, totals = tf.while_loop(
            lambda i, _: i < n_steps,
            step,
            (tf.constant(0), tf.zeros([stack.size], tf.float32)),
        )
        return totals / tf.maximum(tf.cast(n, tf.float32), 1.0)

    def _apply(self, grad, moving, rate):
        """Keras's Adam update, member by member where ``moving`` (others keep
        their weights and moments), then the weight constraints of each
        member, on the stack's one variable."""
        steps = self.steps + moving
        self.steps.assign(steps)
        b1, b2 = self.beta_1, self.beta_2
        alpha = rate * tf.sqrt(1 - b2**steps) / (1 - b1**steps)  # per member
        m, v, flat = self.moment, self.velocity, self.stack.flat
        mask = moving[:, None] > 0
        new_m = m + (grad - m) * (1 - b1)
        new_v = v + (tf.square(grad) - v) * (1 - b2)
        new = flat - (new_m * alpha[:, None]) / (tf.sqrt(new_v) + self.epsilon)
        new = self.stack.constrain(new)
        m.assign(tf.where(mask, new_m, m))
        v.assign(tf.where(mask, new_v, v))
        flat.assign(tf.where(mask, new, flat))


class StackEngine:
    """A :class:`~skconstrain._networks.Stack` and its compiled epoch, reused
    (through :func:`~skconstrain._training.borrow`) by every search of one
    architecture, size, head and loss: the data, the members' weights, batch
    sizes, penalty penalties and the learning rate are inputs or variables, not
    constants of the trace. :func:`~skconstrain._training.train_stack` drives
    it: :meth:`start`, then :meth:`run_epoch` (and :meth:`errors`) per epoch.

    Parameters
    ----------
    template : keras.Model
        A network of the members' architecture (:class:`Stack`'s template).
    size : int
    row_loss, width
        As :class:`Engine`'s; ``width`` is the largest batch.
    """

    def __init__(self, template, size, row_loss=None, width=200):
        from skconstrain._networks import Stack

        self.stack = Stack(template, size)
        self.size = self.stack.size
        self.width = int(width)
        self.epoch = _StackEpoch(self.stack, row_loss, width)
        self._run = tf.function(
            self.epoch, input_signature=self.epoch.input_specs(), autograph=False
        )

    def start(self, members, learning_rate):
        """The members' starting weights, target scalings and data; Adam reset."""
        self.stack.load(
            [m.weights for m in members],
            [m.offset for m in members],
            [m.scale for m in members],
        )
        self.epoch.reset()
        n = np.array([int(m.data.y.shape[0]) for m in members])
        rows = int(n.max())
        self._inputs = [
            _padded([np.asarray(m.data.X) for m in members], rows, np.float32),
            _padded([np.asarray(m.data.y) for m in members], rows, np.float32),
            _padded(
                [np.asarray(m.data.sample_weight) for m in members], rows, np.float32
            ),
        ]
        self._settings = [
            tf.constant(n, tf.int32),
            tf.constant([m.batch_size for m in members], tf.int32),
            tf.constant([m.shuffle for m in members], tf.bool),
        ]
        self._weights = [
            tf.constant([m.loss_weight for m in members], tf.float32),
            tf.constant([m.penalty_scale for m in members], tf.float32),
            tf.fill([len(members)], tf.constant(learning_rate, tf.float32)),
        ]
        self._validation = None
        if members[0].validation is not None:
            vn = np.array([int(m.validation.y.shape[0]) for m in members])
            vrows = int(vn.max())
            self._validation = (
                *(
                    _padded(
                        [np.asarray(getattr(m.validation, name)) for m in members],
                        vrows,
                        np.float32,
                    )
                    for name in ("X", "y", "sample_weight")
                ),
                vn,
            )

    def run_epoch(self, seeds, active):
        """One epoch of the members where ``active``; their mean losses (M,)."""
        X, y, w = self._inputs
        n, batch, shuffle = self._settings
        loss_weight, penalty_scale, rate = self._weights
        return self._run(
            X,
            y,
            w,
            tf.constant(seeds, tf.int32),
            n,
            batch,
            shuffle,
            tf.constant(active, tf.float32),
            loss_weight,
            penalty_scale,
            rate,
        ).numpy()

    def errors(self, output_map=None):
        """Squared errors per member and output column on their validation rows."""
        return _stack_errors(self.stack, self._validation, output_map)

    def weights(self):
        """The members' weights, each array with the members on its first axis."""
        return [self.stack.flat.numpy()]

    def set_weights(self, weights):
        """Set what :meth:`weights` returned."""
        self.stack.flat.assign(weights[0])

    def set_learning_rates(self, rates):
        """Each member's learning rate from its next step on ((M,))."""
        self._weights[2] = tf.constant(np.asarray(rates, np.float32))

    def snapshot(self):
        """The members' trained state, for :meth:`write`."""
        return self.stack.snapshot()

    def write(self, k, model, x_scaling, snapshot):
        """Member ``k`` of ``snapshot`` into ``model`` (of the template's
        architecture) with the input scaling of its data."""
        self.stack.write(k, model, x_scaling, snapshot)


def _stack_errors(stack, validation, output_map):
    """Squared errors per member and output column on their validation rows."""
    X, y, w, n = validation
    pred = stack.outputs(X)
    if output_map is not None:
        pred = output_map(pred)
    per_column = tf.reduce_sum(w[:, :, None] * tf.square(y - pred), axis=1)
    return (per_column / tf.cast(n, tf.float32)[:, None]).numpy().astype(np.float64)
