"""What the engine needs of TensorFlow: the gradient, vectorising members and
compiling (:mod:`._engine` holds the epoch, written once in ``keras.ops``),
the process's threads and GPU memory, and the float64 :class:`Predictor`.

An epoch is one ``tf.function``: a ``tf.while_loop`` over the batches
(Keras's ``fori_loop``) whose state (weights, optimizer) is carried as
tensors, no resource variable inside. Its inputs' rows are of any number
(``None`` in the signature), so data of any size reuse one trace; the
members of a stack are ``tf.vectorized_map`` of one member's epoch (no
fallback to a loop: ``NotStackable`` where an op cannot be vectorised).
Which epochs XLA compiles: see :func:`compile`.

TensorFlow is imported on first use (:class:`_TensorFlow`), not on import.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager, nullcontext

import numpy as np
import scipy.sparse as sp

from skconstrain._native_log import filtered_stderr, is_xla_start_up
from skconstrain._training import (
    _FORWARDS,
    _TWINS,
    SparseHead,
    _sparse_chunk,
    widened,
)
from skconstrain._training._engine import Batches, SparseRows


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


_WITHOUT_REMAPPER = threading.local()


@contextmanager
def _without_remapper():
    """This thread's function calls optimised without Grappler's remapper.

    With oneDNN (TensorFlow's default on x86), the remapper asks of every
    ``MatMul`` followed by ``BiasAdd`` whether oneDNN fuses it for that
    dtype, and for float64 it logs ``W… util.cc:163] Not handling type
    DT_DOUBLE`` (and fuses nothing) in the user's stderr. The float64
    :class:`Predictor` calls its functions in this scope: the options that
    TensorFlow reads when it instantiates a function (its call's
    ``config_proto`` attribute) are set for this thread only, from the
    thread's own, with the remapper off; the process's configuration is
    untouched. Private (``tensorflow.python.eager.context``:
    ``FunctionCallOptions``, which ``tf.function`` reads at every call);
    pinned by
    ``tests/test_quiet_start.py::test_a_user_script_prints_no_line_of_ours``.
    """
    from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2
    from tensorflow.python.eager import context

    ctx = context.context()
    saved = ctx.function_call_options
    options = getattr(_WITHOUT_REMAPPER, "options", {})
    key = (saved.config_proto_serialized, saved.executor_type)
    quiet = options.get(key)
    if quiet is None:
        config = config_pb2.ConfigProto.FromString(saved.config_proto_serialized)
        config.graph_options.rewrite_options.remapping = (
            rewriter_config_pb2.RewriterConfig.OFF
        )
        quiet = context.FunctionCallOptions(
            executor_type=saved.executor_type, config_proto=config
        )
        _WITHOUT_REMAPPER.options = {**options, key: quiet}
    ctx.function_call_options = quiet
    try:
        yield
    finally:
        ctx.function_call_options = saved


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


def gradient(objective):
    """``grad(tv, *args) -> (gradients, aux)`` of ``objective(tv, *args) ->
    (value, aux)`` with respect to ``tv`` (zeros for a weight the value does
    not depend on)."""

    def grad(tv, *args):
        with tf.GradientTape() as tape:
            tape.watch(tv)
            value, aux = objective(tv, *args)
        grads = tape.gradient(
            value, tv, unconnected_gradients=tf.UnconnectedGradients.ZERO
        )
        return grads, aux

    return grad


def vectorize(fn):
    """``fn`` over M members (``tf.vectorized_map``, no fallback to a loop):
    every argument has the members on its first axis."""
    return lambda *args: tf.vectorized_map(
        lambda a: fn(*a), args, fallback_to_while_loop=False
    )


#: TensorFlow runs an epoch as a graph or compiled by XLA: the engine chooses
#: (:func:`~._engine.compiled_with_xla`).
CHOOSES_XLA = True


def __getattr__(name):
    if name == "COMPILE_ERRORS":
        return (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError)
    raise AttributeError(name)


#: Whether an epoch's steps are padded (so a step may have no rows): not on
#: TensorFlow, whose programs take any number of steps.
PADDED_STEPS = False


def compile(fn, kind, jit_compile=None):
    """``fn`` as one ``tf.function`` whose inputs have any number of rows.

    ``kind``: ``"epoch"`` (``fn(state, data, settings[, validation])``),
    ``"evaluate"`` (``fn(tv, ntv, X, y, w, n)``), or ``"stack"``
    (``fn(state, data, settings, active[, validation])``): the epoch with the
    members on the first axis of every input. The state's shapes are fixed;
    in a graph (``jit_compile`` False or None) the data's rows are not, under
    XLA (True) every shape is (XLA compiles one program per shape; rows are
    padded to a few buckets).
    """
    state_args = 2 if kind == "evaluate" else 1
    rows_axis = 1 if kind.startswith("stack") else 0
    traced = {}

    def call(*args):
        args = _tensors(args)
        # the state's shapes, the other inputs' kinds (dense or sparse rows)
        # and their shapes past the rows (features); under XLA every shape
        # is exact (XLA compiles one program per shape)
        past = 0 if jit_compile else rows_axis + 1
        key = (
            tuple(
                (tuple(x.shape), x.dtype) for x in tf.nest.flatten(args[:state_args])
            ),
            _shapes(args[state_args:], past, exact=bool(jit_compile)),
        )
        found = traced.get(key)
        if found is None:
            spec = [
                tf.nest.map_structure(_exact, a)
                if i < state_args or jit_compile
                else _relaxed(a, rows_axis)
                for i, a in enumerate(args)
            ]
            structure = args

            def flat_fn(*flat):  # the inputs as flat tensors, packed again
                return fn(*tf.nest.pack_sequence_as(structure, list(flat)))

            found = traced[key] = _flat_call(
                tf.function(
                    flat_fn,
                    input_signature=tf.nest.flatten(spec),
                    autograph=False,
                    jit_compile=bool(jit_compile),
                ).get_concrete_function()
            )
        if jit_compile and not _XLA_STARTED.is_set():
            return _first_xla_call(found, tf.nest.flatten(args))
        return found(*tf.nest.flatten(args))

    return call


def _flat_call(concrete):
    """``concrete`` (a traced ``ConcreteFunction``) as a function of its flat
    input tensors, called without TensorFlow's per-call binding of the
    arguments to the signature.

    ``tf.function`` binds, checks and casts every argument at every call:
    about 2.7 ms for an epoch's 40 inputs on 2 cores, against 0.1 ms for the
    call itself, which is most of the cost of an epoch of 8 steps. The
    callers here pass tensors of the signature's dtypes and shapes (the
    trace's key), so the call goes straight to ``_call_flat`` (private:
    ``ConcreteFunction._call_flat(tensor_inputs, captured_inputs)``; pinned
    by every engine test, e.g.
    ``tests/test_training.py::test_epoch_is_minibatch_sgd_on_the_weighted_objective``).
    Where it is missing, the public call.
    """
    call_flat = getattr(concrete, "_call_flat", None)
    if call_flat is None:
        return concrete
    tensor, convert = tf.Tensor, tf.convert_to_tensor

    def call(*flat):
        # a variable's value (a Keras variable's, before the first epoch) is
        # read into a tensor, as the binding would
        inputs = [x if isinstance(x, tensor) else convert(x) for x in flat]
        return call_flat(inputs, concrete.captured_inputs)

    return call


_XLA_STARTED = threading.Event()
_XLA_START_LOCK = threading.Lock()

#: XLA's option for programs that pay for their compile once or a few times
#: on a CPU (JAX's :data:`~._jax.QUICK_COMPILE`): the classic code generator
#: instead of the MLIR fusion emitters. TensorFlow takes XLA's options from
#: ``XLA_FLAGS`` only, read once, at the first XLA compile of the process
#: (:func:`_first_xla_call`). Measured on 2 cores (10 -> 32 -> 4 on the
#: simplex, 2 000 rows, batch 64, 30 epochs under XLA; fresh processes,
#: alternated): a first fit took 0.78-0.87 s with it against 0.95-1.20 s
#: without (0.73-0.78 s as a graph), its warm fits 0.061-0.067 s either way.
QUICK_XLA_FLAG = "--xla_cpu_use_fusion_emitters=false"

#: The TensorFlow releases whose XLA is known to take :data:`QUICK_XLA_FLAG`:
#: XLA ends the process on a flag it does not know, so another release
#: compiles with its defaults.
QUICK_XLA_RELEASES = ((2, 21),)


def _release():
    """TensorFlow's (major, minor); (0, 0) for a version string of another
    form."""
    try:
        major, minor = tf.__version__.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return 0, 0


@contextmanager
def _quick_xla_flags():
    """``XLA_FLAGS`` with :data:`QUICK_XLA_FLAG` added while XLA reads it, at
    the process's first XLA compile, and as it was afterwards: the
    environment that the user and child processes see is unchanged, and
    XLA's code generator for the process's CPU programs is the classic one.
    Nothing is added where the user's ``XLA_FLAGS`` already chooses the code
    generator or where this TensorFlow's XLA is not known to take the flag
    (:data:`QUICK_XLA_RELEASES`). XLA reads the variable once (its
    ``GetDebugOptionsFromFlags``): where a program of the user's compiled
    first, the flag has no effect. Pinned by
    ``tests/test_training.py::test_the_first_xla_compile_takes_the_quick_flag``.
    """
    saved = os.environ.get("XLA_FLAGS")
    name = QUICK_XLA_FLAG.split("=")[0].lstrip("-")
    if name in (saved or "") or _release() not in QUICK_XLA_RELEASES:
        yield
        return
    os.environ["XLA_FLAGS"] = f"{saved or ''} {QUICK_XLA_FLAG}".strip()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("XLA_FLAGS", None)
        else:
            os.environ["XLA_FLAGS"] = saved


def _first_xla_call(function, args):
    """``function(*args)``, the first call of an XLA program in the process,
    with XLA's start-up INFO lines kept off descriptor 2
    (:func:`skconstrain._native_log.is_xla_start_up`: its service for the
    host, MLIR's notice and "Compiled cluster using XLA!", each logged once
    per process; every other line, errors included, is written back), and
    compiled by the quick code generator (:func:`_quick_xla_flags`)."""
    with _XLA_START_LOCK:
        if _XLA_STARTED.is_set():
            return function(*args)
        with filtered_stderr(is_xla_start_up), _quick_xla_flags():
            outputs = function(*args)
        _XLA_STARTED.set()
        return outputs


def _shapes(value, past, exact):
    """What a trace of ``value`` depends on: its structure, dtypes and shapes
    past the rows (all of them where ``exact``); a graph takes
    :class:`~._engine.Batches` of any shape."""
    if isinstance(value, Batches) and not exact:
        return ("Batches", tuple(v.dtype for v in value))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, *(_shapes(v, past, exact) for v in value))
    return (tuple(value.shape[past:]), value.dtype)


def _tensors(value):
    """``value`` (nested tuples, lists and named tuples) with every leaf a
    tensor: ``tf.nest.map_structure(tf.convert_to_tensor, value)`` without
    its cost (about 1.3 ms for an epoch's inputs on 2 cores, as much as 4
    steps of a small network; this walk takes a tenth of it)."""
    if isinstance(value, tf.Tensor):
        return value
    if isinstance(value, list):
        return [_tensors(v) for v in value]
    if isinstance(value, tuple):
        items = [_tensors(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, (np.ndarray, np.generic)):
        return tf.constant(value)  # a third of convert_to_tensor's time
    return tf.convert_to_tensor(value)


def _exact(value):
    return tf.TensorSpec(value.shape, value.dtype)


def _relaxed(value, axis):
    """The spec of ``value`` with any number of rows (on ``axis``); a sparse
    matrix's feature-wise offset and scale stay exact."""
    if isinstance(value, Batches):  # any number of steps, any batch width
        return Batches(
            *(
                tf.TensorSpec(
                    [*v.shape[:axis]] + [None] * (len(v.shape) - axis), v.dtype
                )
                for v in value
            )
        )
    if isinstance(value, SparseRows):
        return value._replace(
            indices=_relaxed(value.indices, axis),
            values=_relaxed(value.values, axis),
            offset=_exact(value.offset),
            scale=_exact(value.scale),
        )
    if isinstance(value, (tuple, list)):
        return type(value)(_relaxed(v, axis) for v in value)
    shape = list(value.shape)
    if len(shape) > axis:
        shape[axis] = None
    return tf.TensorSpec(shape, value.dtype)


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
        self._head = False  # SparseHead, None where the model has none

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
            self._own = _flat_call(
                tf.function(
                    _StatelessForward(self._network(), self._variables()),
                    input_signature=[self._input_spec()],
                    autograph=False,
                ).get_concrete_function()
            )
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
            found = _FORWARDS.put(self.key, _flat_call(traced.get_concrete_function()))
        return found

    def __call__(self, X):
        """Network outputs for ``X`` as a float64 array of shape (n, n_outputs)."""
        if sp.issparse(X):
            if self._head is False:
                self._head = SparseHead.of(self.model, type(self), self.key)
            if self._head is not None:
                return self._head(X)
        forward, state = self._forward()
        dtype = self._input_spec().dtype.as_numpy_dtype
        quiet = _without_remapper() if dtype == np.float64 else nullcontext()
        with quiet:
            parts = self._outputs(forward, state, X, dtype)
        return np.concatenate([p.numpy() for p in parts]).astype(np.float64)

    def _outputs(self, forward, state, X, dtype):
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
        return parts


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
