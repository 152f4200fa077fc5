"""The training engine: a Keras model trained by one traced call per epoch.

``keras.Model.fit`` pays, for every mini-batch, a ``tf.data`` iteration, the
callbacks and a return to Python. For the small dense networks that
:class:`skconstrain.ConstrainedRegressor` trains, that per-step overhead, not the
arithmetic, is the cost of a fit. Here instead:

- ``X``, ``y`` and the sample weights become tensors once (:func:`as_tensors`),
  with any fixed scaling of the features done then, in float64, not per step;
- an :class:`Engine` traces one TensorFlow function that runs a whole epoch: a
  seeded permutation of the rows, then a ``tf.while_loop`` over the
  mini-batches, each sliced from the tensors in the graph, with the forward pass
  (``training=True``), the loss plus ``model.losses`` (weight penalties, output
  penalties), the gradient and ``optimizer.apply`` (which also applies the
  weights' constraints);
- engines are kept per architecture (:func:`borrow`): a fit copies its
  network's and optimizer's variables into one, trains, and copies them back,
  so the fits of a grid search, of cross-validation folds or of ``partial_fit``
  calls trace once. What varies between them without changing the graph (the
  penalty's ``alpha / n``, the loss weight, the learning rate) is an input;
- :class:`Predictor` predicts through one traced forward pass in float64 (so a
  row's prediction does not depend on its batch or the CPU), shared per
  architecture for a model's first calls;
- :func:`train` runs Python once per epoch: history, early stopping, progress.

Shapes are dynamic in the traced functions (``[None, n_features]``), so data of
any number of rows reuses one trace. XLA (``jit_compile``) is off: measured on 2
CPU cores it made epochs slower for these networks and cost 1-2 s of
compilation per fit (``benchmarks/bench_fit.py --xla`` prints it).

Only TensorFlow and Keras are imported here; nothing of the estimator.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import keras
import numpy as np
import scipy.sparse as sp


class _TensorFlow:
    """TensorFlow, imported on first use: importing the estimators under
    another Keras backend (which they refuse, :func:`check_backend`) does
    not load it."""

    def __getattr__(self, name):
        import tensorflow

        return getattr(tensorflow, name)


tf = _TensorFlow()

__all__ = [
    "Data",
    "Engine",
    "NonFiniteLossError",
    "Predictor",
    "as_tensors",
    "borrow",
    "clear_cache",
    "configure_runtime",
    "moments",
    "r2_scores",
    "signature",
    "thread_budget",
    "train",
    "widened",
]


class NonFiniteLossError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite."""


# ------------------------------------------------------------------- runtime
#: Environment variables through which a process is given a thread budget:
#: joblib's loky workers set them all to ``cpu_count // n_jobs``, dask's nanny
#: sets the first three to 1.
THREAD_BUDGET_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_RUNTIME_LOCK = threading.Lock()
_runtime_configured = False


def thread_budget(environ=None):
    """The number of threads this process is given, or None if none is set.

    The first of :data:`THREAD_BUDGET_VARS` that holds a positive integer.

    Examples
    --------
    >>> thread_budget({"OMP_NUM_THREADS": "1"})
    1
    >>> thread_budget({}) is None
    True
    """
    environ = os.environ if environ is None else environ
    for name in THREAD_BUDGET_VARS:
        try:
            value = int(environ.get(name, ""))
        except ValueError:
            continue
        if value > 0:
            return value
    return None


class BackendError(RuntimeError):
    """Keras runs on a backend that the estimators do not train on (yet)."""


def check_backend():
    """Raise :class:`BackendError` unless Keras runs on TensorFlow.

    The training engine and the float64 predictor are TensorFlow's in 0.3;
    under another backend they would fail deep inside Keras with a
    TensorFlow error. (The layers, ops and constraints of
    :mod:`skconstrain.keras` work on every backend.)
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise BackendError(
            f"skconstrain's estimators train and predict with TensorFlow, but "
            f"Keras runs on the {backend!r} backend (KERAS_BACKEND={backend}). "
            "Set KERAS_BACKEND=tensorflow (the default) before Keras is "
            "imported; the JAX backend is planned for skconstrain 0.4. The "
            "Keras components of skconstrain.keras work on every backend."
        )


def configure_runtime():
    """Fit TensorFlow to this process, once, before TensorFlow first runs.

    Called by the estimator before it first touches TensorFlow; first checks
    that Keras runs on TensorFlow (:func:`check_backend`). It changes
    only what nobody set before and what TensorFlow still allows to change
    (its threads and GPU memory cannot change once it has run):

    - **threads**: in a process given a thread budget (:func:`thread_budget`:
      a joblib worker of ``GridSearchCV(n_jobs=k)``, a dask worker), TensorFlow
      runs each op on that many threads (``intra_op``) and one op at a time
      (``inter_op``), instead of on every core of the machine in every worker.
      Left alone where ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS``
      or ``tf.config.threading`` already set them;
    - **GPU memory**: memory growth is turned on for every visible GPU, so that
      several worker processes can share one GPU (TensorFlow otherwise takes
      nearly all of its memory in the first process). Left alone where
      ``TF_FORCE_GPU_ALLOW_GROWTH`` is set or a GPU's memory was configured.
    """
    global _runtime_configured
    check_backend()
    with _RUNTIME_LOCK:
        if _runtime_configured:
            return
        _runtime_configured = True
        if _tf_running():
            return
        _configure_threads(thread_budget())
        if "TF_FORCE_GPU_ALLOW_GROWTH" not in os.environ:
            _grow_gpu_memory()


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


@dataclass
class Data:
    """Training or validation rows as tensors, with the scale of their targets.

    ``target_scale`` is the weighted mean squared deviation of ``y`` from its
    weighted mean (the loss of the best constant prediction, weighted as the
    loss is); losses divided by it are on the scale of ``1 - R^2``.
    ``column_scale`` is the same per column of ``y`` (its mean is
    ``target_scale``), or, for another loss, the loss of the best constant
    per output column, as given to :func:`as_tensors`.
    ``target_mean`` and ``target_std`` are the weighted mean and standard
    deviation of each column of ``y`` (float64 arrays, :func:`moments`).
    ``X`` is a dense tensor, or, for sparse rows whose dense array would
    exceed :data:`DENSE_LIMIT`, :class:`SparseRows` (densified a batch at a
    time by the engine).
    """

    X: tf.Tensor
    y: tf.Tensor
    sample_weight: tf.Tensor
    target_scale: float
    column_scale: np.ndarray
    target_mean: np.ndarray
    target_std: np.ndarray


#: Bytes of a dense float32 copy of sparse training rows above which they stay
#: sparse on the device and the engine densifies one batch at a time.
DENSE_LIMIT = 256 << 20


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


def moments(A, w=None):
    """Weighted mean and standard deviation of each column of ``A`` (float64).

    The mean is taken of the rows minus the first (so a constant column has
    exactly its value as mean and 0 as deviation), the deviations are divided
    by their largest before squaring (so no square overflows).

    Parameters
    ----------
    A : array-like of shape (n_samples, n_columns)
    w : array-like of shape (n_samples,) or None
        Row weights; None weighs every row 1.

    Returns
    -------
    mean, std : ndarray of shape (n_columns,)

    Examples
    --------
    >>> mean, std = moments(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> mean.tolist(), std.tolist()
    ([1.0, 5.0], [1.0, 0.0])
    """
    A = np.asarray(A, dtype=np.float64)
    w = np.ones(len(A)) if w is None else np.asarray(w, dtype=np.float64)
    wsum = w.sum()
    if not len(A) or wsum <= 0:
        return np.zeros(A.shape[1]), np.zeros(A.shape[1])
    shift = A - A[0]
    mean = A[0] + w @ shift / wsum
    dev = shift - (mean - A[0])
    m = np.abs(dev).max(axis=0)
    m = np.where(m > 0, m, 1.0)
    return mean, m * np.sqrt(w @ (dev / m) ** 2 / wsum)


def as_tensors(X, y, sample_weight=None, x_scaling=None, column_scale=None):
    """Put ``X`` (n, d), ``y`` (n, k) and the weights (n,) on the device once.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
        None weighs every row 1.
    x_scaling : (offset, scale) or None, default=None
        A fixed affine map of the features, ``offset + scale * X``, done here
        once, in float64, before ``X`` becomes float32 (the work of a
        network's first layers, which the engine's ``body`` then skips;
        features in any units keep their precision).
    column_scale : ndarray of shape (n_outputs,) or None, default=None
        The loss of the best constant prediction per output column, for a
        loss other than the squared error (the pinball loss of the
        constant quantile, say); None: the weighted variance of each column
        of ``y``.

    Returns
    -------
    Data
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    w = (
        np.ones(len(y))
        if sample_weight is None
        else np.asarray(sample_weight, dtype=np.float64)
    )
    mean, std = moments(y, w)
    if sp.issparse(X):
        if 4 * X.shape[0] * X.shape[1] > DENSE_LIMIT:
            X = sparse_rows(X, x_scaling)
            x_scaling = None
        else:
            X = X.toarray()
    if x_scaling is not None:
        offset, scale = x_scaling
        X = np.asarray(offset) + np.asarray(scale) * np.asarray(X, dtype=np.float64)
    if column_scale is None:  # sum_i w_i (y_ik - mean_k)^2 / n, per column
        column_scale = w.sum() * std**2 / len(y) if len(y) else np.zeros(y.shape[1])
    column_scale = np.asarray(column_scale, dtype=np.float64)
    if not isinstance(X, SparseRows):
        X = tf.convert_to_tensor(np.asarray(X), dtype=tf.float32)
    return Data(
        X=X,
        y=tf.convert_to_tensor(y, dtype=tf.float32),
        sample_weight=tf.convert_to_tensor(w, dtype=tf.float32),
        target_scale=float(column_scale.mean()),
        column_scale=column_scale,
        target_mean=mean,
        target_std=std,
    )


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
    the ``scale`` of each object of ``scales`` (the weight penalties' ``alpha /
    n``), so neither is a constant of the trace.
    """

    def __init__(self, model, optimizer, batch_size, shuffle, scales, row_loss):
        self.model = model
        self.optimizer = optimizer
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.scales = list(scales)
        self.row_loss = row_loss

    def __call__(self, X, y, w, seed, loss_weight, penalty_scale):
        saved = [obj.scale for obj in self.scales]
        for obj in self.scales:
            obj.scale = penalty_scale
        try:
            return self._trace(X, y, w, seed, loss_weight)
        finally:
            for obj, value in zip(self.scales, saved, strict=True):
                obj.scale = value

    def _trace(self, X, y, w, seed, loss_weight):
        n = tf.shape(y)[0]
        if self.shuffle:
            order = tf.argsort(tf.random.stateless_uniform([n], seed=seed))
        else:
            order = tf.range(n)
        bs = tf.minimum(self.batch_size, n)
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
        Rows per step (the last step of an epoch takes the rest).
    shuffle : bool
        Draw a new order of the rows every epoch.
    scales : sequence, default=()
        Objects of ``model`` whose ``scale`` attribute is fed at run time
        (``penalty_scale`` of :meth:`run_epoch`).
    jit_compile : bool, default=False
        Compile the epoch with XLA.
    row_loss : callable or None, default=None
        ``row_loss(y, outputs)``: the training loss of each row, summed over
        the outputs (it is divided by their number); None: squared error.
    output_map : callable or None, default=None
        Maps the network's outputs to predictions for :meth:`evaluate` (e.g.
        the projection of scores trained with a Fenchel-Young ``row_loss``).
    column_loss : callable or None, default=None
        ``column_loss(y, predictions)``: the loss of each row and output
        column that :meth:`evaluate` reports (the pinball loss of each
        quantile level, say); None: squared error.
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
        shuffle,
        scales=(),
        jit_compile=False,
        row_loss=None,
        output_map=None,
        column_loss=None,
        body=None,
    ):
        self.row_loss = row_loss
        self.output_map = output_map
        self.column_loss = column_loss
        self.model = model
        self.body = model if body is None else body
        self.optimizer = optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.scales = list(scales)
        self.jit_compile = jit_compile
        self._epochs = {}
        self._evaluate = None

    def _signature(self, with_seed, sparse=False):
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
            ]
        return spec

    def load(self, model):
        """Copy ``model``'s variables and its optimizer's into the engine's."""
        _copy(model.variables, self.model.variables)
        _copy(model.optimizer.variables, self.optimizer.variables)

    def store(self, model):
        """Copy the engine's variables into ``model`` and its optimizer."""
        _copy(self.model.variables, model.variables)
        _copy(self.optimizer.variables, model.optimizer.variables)

    def run_epoch(self, data, seed, *, loss_weight=1.0, penalty_scale=0.0):
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
            Value given to the ``scale`` of the objects in ``scales``.

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
                    self.batch_size,
                    self.shuffle,
                    self.scales,
                    self.row_loss,
                ),
                input_signature=self._signature(with_seed=True, sparse=sparse),
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
                input_signature=self._signature(with_seed=False),
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


def _sparse_chunk(n_features):
    """Rows of sparse data to densify at once: about 32 MiB of float64."""
    return max(1, min(16384, (4 << 20) // max(int(n_features), 1)))


def _copy(sources, targets):
    for source, target in zip(sources, targets, strict=True):
        target.assign(source)


def signature(model):
    """What an engine for ``model`` must match: input and variable shapes."""
    variables = list(model.variables) + list(model.optimizer.variables)
    return (
        tuple(model.inputs[0].shape[1:]),
        tuple((tuple(v.shape), str(v.dtype)) for v in variables),
    )


class _Cache:
    """Idle engines by key, least recently used first out; thread-safe.

    An engine is taken out while a fit uses it, so two fits in threads never
    share one; a second fit of the same key meanwhile makes its own.
    """

    def __init__(self, size):
        self.size = size
        self._idle = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key):
        with self._lock:
            engines = self._idle.get(key)
            if not engines:
                return None
            engine = engines.pop()
            if not engines:
                del self._idle[key]
            return engine

    def give(self, key, engine):
        with self._lock:
            self._idle.setdefault(key, []).append(engine)
            self._idle.move_to_end(key)
            while sum(len(v) for v in self._idle.values()) > self.size:
                oldest = next(iter(self._idle))
                self._idle[oldest].pop(0)
                if not self._idle[oldest]:
                    del self._idle[oldest]

    def clear(self):
        with self._lock:
            self._idle.clear()


#: Engines kept between fits (each holds one small network, its optimizer and
#: their traces).
CACHE_SIZE = 8
_CACHE = _Cache(CACHE_SIZE)


@contextmanager
def borrow(key, make):
    """An engine for ``key``: an idle one, or ``make()``; given back after.

    Parameters
    ----------
    key : hashable or None
        What the engine's traces depend on (the architecture, the settings
        captured by the trace, :func:`signature`). None: no reuse.
    make : callable
        Returns a new :class:`Engine`.
    """
    engine = None if key is None else _CACHE.take(key)
    if engine is None:
        engine = make()
    yield engine
    if key is not None:
        _CACHE.give(key, engine)


def clear_cache():
    """Drop the idle engines and the shared forward passes (and their traces)."""
    _CACHE.clear()
    _FORWARDS.clear()
    _TWINS.clear()


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


def widened(model):
    """A copy of ``model``'s architecture whose layers compute in float64.

    Rebuilt from the model's config with every float32 dtype (layers' dtype
    policies, inputs) replaced by float64; its own weights are not used (see
    :class:`Predictor`). None when the model cannot be rebuilt that way (a
    subclassed model without ``get_config``, a layer that is not registered,
    a ``Lambda`` refused by Keras's safe mode) or the copy's variables do not
    line up with the model's.

    Examples
    --------
    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> [v.dtype for v in widened(model).weights]
    ['float64', 'float64']
    """
    config = _widen_config(keras.saving.serialize_keras_object(model))
    try:
        twin = keras.saving.deserialize_keras_object(config)
    except Exception:
        return None
    ours = model.trainable_variables + model.non_trainable_variables
    theirs = twin.trainable_variables + twin.non_trainable_variables
    if len(twin.trainable_variables) != len(model.trainable_variables) or [
        tuple(v.shape) for v in ours
    ] != [tuple(v.shape) for v in theirs]:
        return None
    return twin


def _widen_config(config):
    """``config`` (a serialized Keras object) with float32 dtypes as float64."""
    if isinstance(config, list):
        return [_widen_config(v) for v in config]
    if not isinstance(config, dict):
        return config
    out = {}
    for key, value in config.items():
        if key == "dtype" and value == "float32":
            value = "float64"
        elif (
            key == "dtype"
            and isinstance(value, dict)
            and value.get("class_name") == "DTypePolicy"
            and value.get("config", {}).get("name") == "float32"
        ):
            value = {**value, "config": {**value["config"], "name": "float64"}}
        else:
            value = _widen_config(value)
        out[key] = value
    return out


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


class _Lru:
    """A small thread-safe mapping that forgets its least recently used entry."""

    def __init__(self, size):
        self.size = size
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key, value):
        """Store ``value`` unless ``key`` has one; return the stored one."""
        with self._lock:
            value = self._items.setdefault(key, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return value

    def clear(self):
        with self._lock:
            self._items.clear()


_FORWARDS = _Lru(CACHE_SIZE)
#: float64 copies of the architectures of the shared traces (:func:`widened`).
_TWINS = _Lru(CACHE_SIZE)


class _Progress:
    """Progress per epoch (``verbose >= 1``).

    On a terminal or in a notebook with ``verbose=1``, Keras's ``Progbar`` (one
    bar, redrawn in place); otherwise (a log file, CI output, a pipe, or
    ``verbose >= 2``) one plain line per epoch, as ``Model.fit(verbose=2)``
    writes, with no carriage returns or backspaces.
    """

    def __init__(self, epochs, verbose, stream=None):
        self.epochs = epochs
        self.stream = sys.stdout if stream is None else stream
        self.bar = None
        self.lines = False
        if verbose == 1 and _is_terminal(self.stream):
            self.bar = keras.utils.Progbar(
                epochs, stateful_metrics=["loss", "val_loss"]
            )
        elif verbose:
            self.lines = True

    def update(self, epoch, values):
        if self.bar is not None:
            self.bar.update(epoch, list(values.items()))
        elif self.lines:
            text = " - ".join(f"{k}: {v:.4g}" for k, v in values.items())
            self.stream.write(f"Epoch {epoch}/{self.epochs} - {text}\n")
            self.stream.flush()

    def close(self, epoch, values):
        if self.bar is not None:
            self.bar.update(epoch, list(values.items()), finalize=True)
        elif self.lines:
            self.stream.write(f"Stopped after epoch {epoch}/{self.epochs}\n")
            self.stream.flush()


def _is_terminal(stream):
    """Whether ``stream`` redraws a line in place: a terminal, or a notebook
    (whose output is no tty but renders carriage returns). Keras's own test
    also counts any POSIX system, which sent the bar's redraws into log files."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _check_finite(loss, epoch, name):
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"The {name} became {loss} at epoch {epoch}: the training diverged. "
            "Scale X and y (e.g. with StandardScaler, and "
            "TransformedTargetRegressor for y) or lower 'learning_rate'."
        )


def r2_scores(errors, data):
    """R^2 of each output column from :meth:`Engine.evaluate`'s ``errors`` on
    ``data``, averaged uniformly, as :func:`sklearn.metrics.r2_score` does (a
    constant column scores 1 when predicted exactly, else 0).

    Examples
    --------
    >>> y = np.array([[0.0, 1], [2, 1], [0, 1], [2, 1]])  # variance 1, and 0
    >>> data = as_tensors(np.zeros((4, 1)), y)
    >>> float(r2_scores(np.array([0.5, 0.0]), data))  # 1 - 0.5 / 1, and 1
    0.75
    """
    errors = np.asarray(errors, dtype=np.float64)
    scale = data.column_scale
    positive = scale > 0
    scores = np.where(
        positive, 1.0 - errors / np.where(positive, scale, 1.0), errors == 0
    )
    return float(scores.mean())


def train(
    engine,
    data,
    *,
    epochs,
    validation=None,
    tol=0.0,
    n_iter_no_change=None,
    seed=0,
    verbose=0,
    loss_weight=1.0,
    penalty_scale=0.0,
):
    """Train for up to ``epochs`` epochs, with early stopping.

    Early stopping watches the training loss, or the validation loss when
    ``validation`` is given, divided by the monitored rows' ``target_scale``
    (so ``tol`` is on the scale of R^2 and does not depend on the targets'
    units). An epoch improves when that drops by more than ``tol`` below the
    best so far; training stops after ``n_iter_no_change`` epochs without
    improvement. With ``validation``, the weights of the best epoch are
    restored at the end.

    Parameters
    ----------
    engine : Engine
    data : Data
    epochs : int
    validation : Data or None
    tol : float
    n_iter_no_change : int or None
        None: never stop early.
    seed : int
        Epoch ``e`` shuffles with seed ``seed + e``.
    verbose : int
        >= 1 shows the progress per epoch (see :class:`_Progress`).
    loss_weight, penalty_scale : float
        Passed to :meth:`Engine.run_epoch`.

    Returns
    -------
    history : dict
        ``"loss"`` (and ``"val_loss"``, the weighted mean squared error on the
        validation rows, and ``"val_score"``, their R^2 averaged over the
        outputs): one float per epoch run.
    stopped : bool
        Whether the stopping rule ended the training (False when the epochs
        ran out first, or when ``n_iter_no_change`` is None).

    Raises
    ------
    NonFiniteLossError
        When a loss becomes NaN or infinite.
    """
    history = {"loss": []}
    if validation is not None:
        history["val_loss"] = []
        history["val_score"] = []
    monitored = data if validation is None else validation
    scale = monitored.target_scale if monitored.target_scale > 0 else 1.0
    best, best_weights, waited, stopped = math.inf, None, 0, False
    progress = _Progress(epochs, verbose)
    values = {}
    epoch = 0
    for epoch in range(1, epochs + 1):
        loss = engine.run_epoch(
            data, seed + epoch, loss_weight=loss_weight, penalty_scale=penalty_scale
        )
        _check_finite(loss, epoch, "training loss")
        history["loss"].append(loss)
        values = {"loss": loss}
        current = loss
        if validation is not None:
            errors = engine.evaluate(validation)
            current = float(errors.mean())
            _check_finite(current, epoch, "validation loss")
            history["val_loss"].append(current)
            history["val_score"].append(r2_scores(errors, validation))
            values["val_loss"] = current
        progress.update(epoch, values)
        if n_iter_no_change is None:
            continue
        if current / scale < best - tol:
            best, waited = current / scale, 0
            if validation is not None:
                best_weights = engine.model.get_weights()
        else:
            waited += 1
            if waited >= n_iter_no_change:
                stopped = True
                break
    if epoch < epochs:  # stopped early: the progress did not reach its end
        progress.close(epoch, values)
    if best_weights is not None:
        engine.model.set_weights(best_weights)
    return history, stopped


# ------------------------------------------------------------------- stacks
@dataclass
class Member:
    """One network of a stack: its data and its settings, as a single fit
    would train it (:func:`train`'s arguments), and its starting point (the
    initial weights of its network, :func:`skconstrain._networks.mlp_weights`,
    and its target scaling's ``offset`` and ``scale``)."""

    data: Data
    validation: Data | None
    seed: int
    loss_weight: float
    penalty_scale: float
    batch_size: int
    weights: list
    offset: np.ndarray
    scale: np.ndarray


#: The memory a stack may take (its data, weights, optimizer state and the
#: activations of a step); a search that needs more trains in chunks.
STACK_MEMORY = 1 << 30


def member_bytes(members, n_weights, units):
    """The bytes one member of a stack of ``members`` takes
    (:func:`stack_member_bytes` for their rows, widths and ``n_weights``)."""
    return stack_member_bytes(
        rows=max(len(m.data.y) for m in members),
        validation_rows=max(
            (len(m.validation.y) for m in members if m.validation), default=0
        ),
        n_features=members[0].data.X.shape[1],
        n_outputs=members[0].data.y.shape[1],
        batch_size=max(m.batch_size for m in members),
        n_weights=n_weights,
        units=units,
    )


def stack_member_bytes(
    rows, validation_rows, n_features, n_outputs, batch_size, n_weights, units
):
    """The bytes one member of a stack takes: its ``rows`` (padded to the
    longest member's: features, targets and weights, and the epoch's
    permuted copy with its order), its validation rows, its ``n_weights``
    weights with their Adam moments and update, and a step's activations
    (``units``: the units of its layers, forward and backward)."""
    d, k = n_features, n_outputs
    data = 2 * rows * (d + k + 2) * 4 + validation_rows * (d + k + 1) * 4
    return data + 6 * n_weights * 4 + 8 * batch_size * (units + d + k) * 4


def chunks(members, n_weights, units, budget=None):
    """Consecutive slices of ``members`` whose stacks each take at most
    ``budget`` bytes (default :data:`STACK_MEMORY`; at least one member in
    each), of sizes as equal as possible."""
    budget = STACK_MEMORY if budget is None else budget
    each = member_bytes(members, n_weights, units)
    size = max(1, min(len(members), budget // each))
    n_chunks = -(-len(members) // size)
    bounds = [len(members) * i // n_chunks for i in range(n_chunks + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


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

    def __init__(
        self, stack, row_loss, shuffle=True, width=200, beta_1=0.9, beta_2=0.999
    ):
        self.stack = stack
        self.row_loss = row_loss
        self.shuffle = bool(shuffle)
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

    def signature(self):
        """The inputs' specs: any number of rows."""
        m, d, k = self.stack.size, self.stack.n_inputs, self.stack.n_outputs
        return [
            tf.TensorSpec([m, None, d], tf.float32),  # X
            tf.TensorSpec([m, None, k], tf.float32),  # y
            tf.TensorSpec([m, None], tf.float32),  # w
            tf.TensorSpec([m], tf.int32),  # seeds
            tf.TensorSpec([m], tf.int32),  # n
            tf.TensorSpec([m], tf.int32),  # batch
            tf.TensorSpec([m], tf.float32),  # active
            tf.TensorSpec([m], tf.float32),  # loss_weight
            tf.TensorSpec([m], tf.float32),  # penalty_scale
            tf.TensorSpec([], tf.float32),  # learning_rate
        ]

    def _orders(self, seeds, n, rows):
        """Each member's order of its ``n`` rows, as :class:`_Epoch` draws it
        from the epoch's seed (padded to ``rows``)."""
        if not self.shuffle:
            return tf.tile(tf.range(rows)[None, :], [self.stack.size, 1])

        def one(args):
            seed, count = args
            draw = tf.random.stateless_uniform([count], seed=tf.stack([seed, 0]))
            return tf.pad(tf.argsort(draw), [[0, rows - count]])

        return tf.map_fn(
            one, (seeds, n), fn_output_signature=tf.TensorSpec([None], tf.int32)
        )

    def __call__(
        self, X, y, w, seeds, n, batch, active, loss_weight, penalty_scale, rate
    ):
        stack = self.stack
        rows = tf.shape(X)[1]
        # the members' rows one after another, each in its epoch's order:
        # a step gathers its batches from these with one op per array
        first = tf.range(stack.size) * rows
        order = tf.reshape(self._orders(seeds, n, rows) + first[:, None], [-1])
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
        alpha = rate * tf.sqrt(1 - b2**steps) / (1 - b1**steps)
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
    (through :func:`borrow`) by every search of one architecture, size, head
    and loss: the data, the members' weights, batch sizes, penalty scales and
    the learning rate are inputs or variables, not constants of the trace."""

    def __init__(self, stack, row_loss=None, shuffle=True, width=200):
        self.stack = stack
        self.epoch = _StackEpoch(stack, row_loss, shuffle, width)
        self.run_epoch = tf.function(
            self.epoch, input_signature=self.epoch.signature(), autograph=False
        )

    def load(self, members):
        """The members' starting weights and target scalings; Adam reset."""
        self.stack.load(
            [m.weights for m in members],
            [m.offset for m in members],
            [m.scale for m in members],
        )
        self.epoch.reset()


def _stack_errors(stack, validation, output_map):
    """Squared errors per member and output column on their validation rows."""
    X, y, w, n = validation
    pred = stack.outputs(X)
    if output_map is not None:
        pred = output_map(pred)
    per_column = tf.reduce_sum(w[:, :, None] * tf.square(y - pred), axis=1)
    return (per_column / tf.cast(n, tf.float32)[:, None]).numpy().astype(np.float64)


def _stack_progress(epoch, epochs, active, losses, validating, stream=None):
    """One line of a stack's progress: members training, best and worst loss."""
    stream = sys.stdout if stream is None else stream
    name = "val_loss" if validating else "loss"
    training = losses[active]
    stream.write(
        f"Epoch {epoch}/{epochs} - members training: {int(active.sum())}/"
        f"{len(active)} - {name}: best {training.min():.4g}, worst "
        f"{training.max():.4g}\n"
    )
    stream.flush()


def train_stack(
    engine,
    members,
    *,
    epochs,
    learning_rate,
    tol=0.0,
    n_iter_no_change=None,
    output_map=None,
    verbose=0,
):
    """Train the M members of ``engine``'s stack together, as :func:`train`
    trains one, from their starting points.

    Member ``k`` sees its own rows (``members[k].data``) in its own order
    (the seeds of :func:`train`), with its own batch size, loss weight and
    penalty scale, and stops by its own rule: a member that stops is frozen
    (weights and Adam moments) while the others go on, and with validation
    data its best epoch's weights are restored. So each member trains as the
    single fit with its data and seed would (to float32 rounding).

    With ``verbose >= 1``, one line per epoch: the members still training,
    and the best and worst of their losses (validation losses with
    validation data).

    Returns
    -------
    results : list of (history, stopped)
        Per member, as :func:`train` returns them.
    """
    size = len(members)
    stack = engine.stack
    if size != stack.size:
        raise ValueError(f"{size} members for a stack of {stack.size}")
    if max(m.batch_size for m in members) > engine.epoch.width:
        raise ValueError("a member's batch is larger than the stack's width")
    engine.load(members)
    n = np.array([len(m.data.y.numpy()) for m in members])
    width = int(n.max())
    X = _padded([m.data.X.numpy() for m in members], width, np.float32)
    y = _padded([m.data.y.numpy() for m in members], width, np.float32)
    w = _padded([m.data.sample_weight.numpy() for m in members], width, np.float32)
    batch = tf.constant([m.batch_size for m in members], tf.int32)
    loss_weight = tf.constant([m.loss_weight for m in members], tf.float32)
    penalty_scale = tf.constant([m.penalty_scale for m in members], tf.float32)
    n_tensor = tf.constant(n, tf.int32)
    validation = None
    if members[0].validation is not None:
        vn = np.array([len(m.validation.y.numpy()) for m in members])
        vwidth = int(vn.max())
        validation = (
            _padded([m.validation.X.numpy() for m in members], vwidth, np.float32),
            _padded([m.validation.y.numpy() for m in members], vwidth, np.float32),
            _padded(
                [m.validation.sample_weight.numpy() for m in members],
                vwidth,
                np.float32,
            ),
            vn,
        )
    rate = tf.constant(learning_rate, tf.float32)
    histories = [
        {"loss": [], **({"val_loss": [], "val_score": []} if validation else {})}
        for _ in members
    ]
    monitored = [m.data if validation is None else m.validation for m in members]
    scales = np.array(
        [d.target_scale if d.target_scale > 0 else 1.0 for d in monitored]
    )
    best = np.full(size, math.inf)
    waited = np.zeros(size, dtype=int)
    active = np.ones(size, dtype=bool)
    stopped = np.zeros(size, dtype=bool)
    best_weights = stack.flat.numpy() if validation else None
    for epoch in range(1, epochs + 1):
        seeds = tf.constant(
            [int(m.seed + epoch) % (2**31 - 1) for m in members], tf.int32
        )
        losses = engine.run_epoch(
            X,
            y,
            w,
            seeds,
            n_tensor,
            batch,
            tf.constant(active, tf.float32),
            loss_weight,
            penalty_scale,
            rate,
        ).numpy()
        current = losses.astype(np.float64)
        if validation is not None:
            errors = _stack_errors(stack, validation, output_map)
        for k in np.flatnonzero(active):
            _check_finite(float(losses[k]), epoch, "training loss")
            histories[k]["loss"].append(float(losses[k]))
            if validation is not None:
                current[k] = float(errors[k].mean())
                histories[k]["val_loss"].append(current[k])
                histories[k]["val_score"].append(
                    r2_scores(errors[k], members[k].validation)
                )
        if verbose:
            _stack_progress(epoch, epochs, active, current, validation is not None)
        if n_iter_no_change is None:
            continue
        flat = stack.flat.numpy() if validation is not None else None
        for k in np.flatnonzero(active):
            if current[k] / scales[k] < best[k] - tol:
                best[k], waited[k] = current[k] / scales[k], 0
                if validation is not None:
                    best_weights[k] = flat[k]
            else:
                waited[k] += 1
                if waited[k] >= n_iter_no_change:
                    stopped[k], active[k] = True, False
        if not active.any():
            break
    if best_weights is not None:
        stack.flat.assign(best_weights)
    return [(histories[k], bool(stopped[k])) for k in range(size)]
