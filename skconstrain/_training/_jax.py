"""What the engine needs of JAX: the gradient, vectorising members and
compiling (:mod:`._engine` holds the epoch, written once in ``keras.ops``),
float64 precision, and the float64 :class:`Predictor`.

An epoch is one ``jax.jit`` program (XLA): a ``lax.fori_loop`` over the
batches (Keras's ``fori_loop``); the batches are laid out on the host and
their number padded to a bucket (:data:`PADDED_STEPS`,
:func:`~._engine.bucket`), so a new number of rows reuses the program; the
members of a stack are ``jax.vmap`` of one member's epoch.

Without JAX's x64 mode, JAX computes float64 as float32. The estimators run in
:func:`precision` (``jax.enable_x64``, a scoped context: the user's global flag
is untouched), so the input scaling and the float64 forward pass of
:class:`Predictor` keep their digits; the networks still train in float32.
"""

from __future__ import annotations

import functools
import sys
import threading
from contextlib import contextmanager

import jax
import numpy as np
import scipy.sparse as sp

from skconstrain._training import (
    _FORWARDS,
    _TWINS,
    SparseHead,
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


_X64 = threading.local()


class _PromotionTable(dict):
    """Keras's ``BIT64_TO_BIT32_DTYPE`` that keeps float64 for the threads
    inside :func:`_keras_keeps_float64`, and is Keras's own table for every
    other thread."""

    def __getitem__(self, key):
        if key == "float64" and getattr(_X64, "depth", 0):
            return "float64"
        return super().__getitem__(key)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default


def _install_promotion_table():
    from keras.src.backend.common import dtypes

    if not isinstance(dtypes.BIT64_TO_BIT32_DTYPE, _PromotionTable):
        dtypes.BIT64_TO_BIT32_DTYPE = _PromotionTable(dtypes.BIT64_TO_BIT32_DTYPE)


_install_promotion_table()


@contextmanager
def _keras_keeps_float64():
    """Keras's JAX backend maps every float64 result of its type promotion to
    float32 (``keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE``, "to be
    aligned with JAX's default behavior", whatever JAX's x64 flag says), so
    ``keras.ops.tanh`` of a float64 array is float32 even in x64 mode, and a
    float64 forward pass is not. Inside this context, and for this thread
    only, the table maps float64 to itself: the table is a
    :class:`_PromotionTable` (installed when this module is imported, with
    Keras's own entries), which reads a thread-local flag, so another
    thread's Keras code sees Keras's mapping while an estimator runs.
    Private Keras API (no public switch); pinned by
    ``tests/test_training.py::test_float64_is_float64_inside_the_estimators_precision``
    and ``test_another_thread_keeps_keras_promotion_while_an_estimator_runs``.
    """
    _X64.depth = getattr(_X64, "depth", 0) + 1
    try:
        yield
    finally:
        _X64.depth -= 1


def gradient(objective):
    """``grad(tv, *args) -> (gradients, aux)`` of ``objective(tv, *args) ->
    (value, aux)`` with respect to ``tv``."""
    return jax.grad(objective, has_aux=True)


def vectorize(fn):
    """``fn`` over M members: every argument has the members on its first
    axis."""
    return jax.vmap(fn)


#: JAX compiles every epoch with XLA: nothing to choose (but the code
#: generator, see :func:`compile`).
CHOOSES_XLA = False
#: Errors of a compile that the engine answers by another way to compile.
COMPILE_ERRORS = ()

#: Whether an epoch's steps are padded to a bucket (so a step may have no
#: rows): the number of steps is a shape of the compiled program.
PADDED_STEPS = True


#: XLA's options for a program that pays for its compile once or a few times
#: (on a CPU): the classic code generator instead of the MLIR fusion
#: emitters. Measured on 2 cores (``benchmarks/bench_cold.py --backend
#: jax``: 10 -> 32 -> 4 on the simplex, 2 000 rows, batch 64, 30 epochs): a
#: first fit in a process took 1.09-1.15 s instead of 1.33-1.34 s (its
#: compiles about 0.52 s instead of 0.72 s), a warm fit about 10% longer. A
#: first 4 x 3 search (``bench_cv.py --quick``) took 1.9 s instead of 2.5 s.
QUICK_COMPILE = {"xla_cpu_use_fusion_emitters": False}

#: The member-steps (members x steps per epoch x epochs) from which a stack
#: (:class:`~._stack.StackEngine`) plans enough work to get XLA's default
#: code generator, whose steps run about 10% faster, instead of
#: :data:`QUICK_COMPILE` (whose first 4 x 3 search, 7 560 member-steps,
#: took 1.9 s against 2.5 s; see above). The rule under which TensorFlow
#: once compiled a stack with XLA; TensorFlow's stacks now switch sooner
#: (:data:`~._engine.XLA_STEPS`), where the graph's steps cost several
#: times XLA's.
FULL_CODEGEN_MEMBER_STEPS = 20_000


def compile(fn, kind, jit_compile=None):
    """``fn`` as one XLA program (``jax.jit``). ``kind`` is TensorFlow's
    choice. ``jit_compile`` True (a stack that plans much work, see
    :data:`FULL_CODEGEN_MEMBER_STEPS`): XLA's default code generator,
    whose programs run a little faster; else, on a CPU, the one that
    compiles faster (:func:`quick_jit`)."""
    return jax.jit(fn) if jit_compile else quick_jit(fn)


#: Whether this process's XLA refused :data:`QUICK_COMPILE` (an older JAX).
_refused = False


def quick_jit(fn):
    """``jax.jit(fn)`` compiled with :data:`QUICK_COMPILE` on a CPU. Where
    this JAX does not take them (``compiler_options`` and the option are
    recent), with XLA's defaults: the first refusal is remembered for the
    process, so nothing is compiled to find out."""
    if _refused or jax.default_backend() != "cpu":
        return jax.jit(fn)
    try:
        program = jax.jit(fn, compiler_options=QUICK_COMPILE)
    except TypeError:  # a jax.jit without compiler_options
        return jax.jit(fn)

    @functools.wraps(fn)
    def call(*args):
        nonlocal program
        try:
            return program(*args)
        except Exception as exc:
            if "compile option" not in str(exc):
                raise
            global _refused
            _refused = True
            program = jax.jit(fn)
            return program(*args)

    return call


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
        self._head = False  # SparseHead, None where the model has none
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
                found = quick_jit(_forward(network))
                if self.key is not None:
                    found = _FORWARDS.put(("jax", self.key), found)
            self._forward = found
        return self._forward

    def __call__(self, X):
        """Network outputs for ``X`` as a float64 array of shape (n, n_outputs)."""
        if sp.issparse(X):
            if self._head is False:
                self._head = SparseHead.of(self.model, type(self), self.key)
            if self._head is not None:
                return self._head(X)
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
