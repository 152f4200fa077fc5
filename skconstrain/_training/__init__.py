"""The training engine: M >= 1 networks trained by one compiled call per epoch.

``keras.Model.fit`` pays, for every mini-batch, a data iterator, the
callbacks and a return to Python. For the small dense networks that
:class:`skconstrain.ConstrainedRegressor` trains, that per-step overhead, not the
arithmetic, is the cost of a fit. Here instead:

- ``X``, ``y`` and the sample weights become tensors once (:func:`as_tensors`),
  with any fixed scaling of the features done then, in float64, not per step;
- an engine compiles one function that runs a whole epoch, written once in
  ``keras.ops`` for every backend (:mod:`._engine`): the epoch's order of the
  rows (drawn on the host with NumPy), then a loop over the mini-batches
  inside the compiled program, each with the network's ``stateless_call``
  (``training=True``), the loss plus the penalties, the gradient and the
  optimizer's update written as a pure function over the Keras optimizer's
  own variables, then the weights' constraints; the last, partial batch is
  masked;
- one module per Keras backend gives what differs (:mod:`._tensorflow`,
  :mod:`._jax`): the gradient (``tf.GradientTape`` / ``jax.grad``),
  vectorising the members of a stack (``tf.vectorized_map`` / ``jax.vmap``)
  and compiling (``tf.function`` / ``jax.jit``);
- engines are kept per architecture (:func:`borrow`): a fit copies its
  network's and optimizer's variables into one, trains, and copies them back,
  so the fits of a grid search, of cross-validation folds or of ``partial_fit``
  calls compile once. What varies between them without changing the program
  (the penalty's ``alpha / n``, the loss weight, the learning rate, the data)
  is an input;
- a ``Predictor`` predicts through one compiled forward pass in float64 (so a
  row's prediction does not depend on its batch or the CPU);
- :func:`train` runs Python once per epoch, for one network or the M
  members of a stack alike: history, early stopping, progress. It is the
  same on every backend.

Only Keras and its backend are imported here; nothing of the estimator.
Under ``KERAS_BACKEND=jax`` TensorFlow is not imported.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module

import keras
import numpy as np
import scipy.sparse as sp

from skconstrain._compat import host_tensor, keras_numpy_quiet
from skconstrain._training._engine import (
    Engine,
    SparseRows,
    first_dense,
    sparse_rows,
)
from skconstrain._training._loop import (
    DECAY,
    DECAYS,
    WARMUP_UPDATES,
    NonFiniteLossError,
    Plateau,
    _Progress,
    r2_scores,
    train,
    warmup_epochs,
)
from skconstrain._training._stack import NotStackable, StackEngine
from skconstrain.keras.layers import piecewise_linear

__all__ = [
    "DECAY",
    "DECAYS",
    "WARMUP_UPDATES",
    "Plateau",
    "warmup_epochs",
    "_Progress",
    "Data",
    "Engine",
    "SparseRows",
    "StackEngine",
    "NonFiniteLossError",
    "NotStackable",
    "Predictor",
    "as_tensors",
    "borrow",
    "clear_cache",
    "configure_runtime",
    "moments",
    "r2_scores",
    "shapes_key",
    "Objective",
    "thread_budget",
    "train",
    "widened",
]


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
    """Keras runs on a backend that the estimators do not train on."""


#: The Keras backends the estimators train on, and their engine modules.
BACKENDS = {"tensorflow": "_tensorflow", "jax": "_jax"}


def check_backend():
    """Raise :class:`BackendError` unless Keras runs on a backend of
    :data:`BACKENDS` (TensorFlow or JAX).

    The engine compiles an epoch per backend; under another one it would fail
    deep inside Keras. (The layers, ops and constraints of
    :mod:`skconstrain.keras` work on every backend.)
    """
    name = keras.backend.backend()
    if name not in BACKENDS:
        raise BackendError(
            f"skconstrain's estimators train on the 'tensorflow' (the default) "
            f"and 'jax' Keras backends, but Keras runs on {name!r} "
            f"(KERAS_BACKEND={name}). Set KERAS_BACKEND=tensorflow or "
            "KERAS_BACKEND=jax before Keras is imported. The Keras components "
            "of skconstrain.keras work on every backend."
        )
    return name


def backend():
    """The engine module of Keras's backend (:mod:`._tensorflow` or :mod:`._jax`)."""
    return import_module(f"{__name__}.{BACKENDS[check_backend()]}")


def precision():
    """A context in which float64 is float64: JAX's x64 mode, scoped to the
    estimator's call (``jax.enable_x64``; the user's global flag is not
    touched), so the float64 input scaling and prediction keep their digits;
    nothing on TensorFlow."""
    return backend().precision()


def __getattr__(name):
    # the backend's predictor: _training.Predictor is the backend's
    if name == "Predictor":
        return getattr(backend(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def configure_runtime():
    """Fit the backend to this process, once, before it first runs.

    Called by the estimator before it first trains or predicts; first checks
    the backend (:func:`check_backend`). On TensorFlow it changes only what
    nobody set before and what TensorFlow still allows to change (its threads
    and GPU memory cannot change once it has run):

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

    On JAX there is nothing to configure (XLA's threads are set by
    ``XLA_FLAGS`` before JAX starts).
    """
    global _runtime_configured
    module = backend()
    with _RUNTIME_LOCK:
        if _runtime_configured:
            return
        _runtime_configured = True
        module.configure(thread_budget())


@dataclass(frozen=True)
class Objective:
    """What an engine trains on and evaluates with (each None: the squared
    error on the outputs).

    Attributes
    ----------
    row_loss : callable or None
        ``row_loss(y, outputs)``: each row's training loss, summed over the
        outputs.
    output_map : callable or None
        Maps the network's outputs to the predictions that evaluation (and
        early stopping) scores: the projection of scores trained with a
        Fenchel-Young ``row_loss``, the mean of an ensemble's members.
    column_loss : callable or None
        ``column_loss(y, predictions)``: the evaluated loss of each row and
        output column (the pinball loss of each quantile level, say).
    """

    row_loss: object = None
    output_map: object = None
    column_loss: object = None


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
    ``X`` is a dense tensor of the backend, or, for sparse rows whose dense
    array would exceed :data:`DENSE_LIMIT`, the backend's sparse rows
    (``SparseRows``, densified a batch at a time by the engine).
    """

    X: object
    y: object
    sample_weight: object
    target_scale: float
    column_scale: np.ndarray
    target_mean: np.ndarray
    target_std: np.ndarray


#: Bytes of a dense float32 copy of sparse training rows above which they stay
#: sparse on the device and the engine densifies one batch at a time.
DENSE_LIMIT = 256 << 20


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


def map_inputs(X, x_scaling, rows=16_384):
    """``X`` (dense) through ``x_scaling`` (see :func:`as_tensors`),
    computed in float64: float64, or float32 when it encodes (``rows`` at a
    time, so the encoding's float64 temporaries stay small)."""
    offset, scale, *encoding = x_scaling
    X = np.asarray(X, dtype=np.float64)
    if not encoding or encoding[0] is None:
        return np.asarray(offset) + np.asarray(scale) * X
    bins, columns = encoding[0], (encoding[1:] or [None])[0]
    width = bins[0].size if columns is None else len(columns)
    out = np.empty((len(X), X.shape[1] + width), np.float32)
    for start in range(0, len(X), rows):
        part = np.asarray(offset) + np.asarray(scale) * X[start : start + rows]
        out[start : start + rows] = piecewise_linear(
            part, *bins, xp=np, columns=columns
        )
    return out


def as_tensors(X, y, sample_weight=None, x_scaling=None, column_scale=None):
    """Put ``X`` (n, d), ``y`` (n, k) and the weights (n,) on the device once.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
        None weighs every row 1.
    x_scaling : (offset, scale), (offset, scale, bins[, columns]) or None, default=None
        A fixed map of the features, ``offset + scale * X``, then with
        ``bins`` their piecewise-linear encoding (its ``columns``; None: all)
        (:class:`skconstrain.keras.PiecewiseLinearEncoding`), done here
        once, in float64, before ``X`` becomes float32 (the work of a
        network's first layers, which the engine's ``body`` then skips;
        features in any units keep their precision). Sparse ``X`` kept
        sparse takes no ``bins``.
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
    kept = None  # sparse rows kept sparse
    if sp.issparse(X):
        if 4 * X.shape[0] * X.shape[1] > DENSE_LIMIT:
            X = kept = sparse_rows(X, x_scaling)
            x_scaling = None
        else:
            X = X.toarray()
    if x_scaling is not None:
        X = map_inputs(X, x_scaling)
    if column_scale is None:  # sum_i w_i (y_ik - mean_k)^2 / n, per column
        column_scale = w.sum() * std**2 / len(y) if len(y) else np.zeros(y.shape[1])
    column_scale = np.asarray(column_scale, dtype=np.float64)
    if kept is None:
        X = host_tensor(np.asarray(X, dtype=np.float32))
    return Data(
        X=X,
        y=host_tensor(y.astype(np.float32)),
        sample_weight=host_tensor(w.astype(np.float32)),
        target_scale=float(column_scale.mean()),
        column_scale=column_scale,
        target_mean=mean,
        target_std=std,
    )


#: The smallest loss of the best constant prediction that float32 training
#: resolves: its inverse (the loss weight) must stay far below float32's
#: largest number, and the squared errors far above its smallest normal one.
SMALLEST_LOSS_SCALE = 1e2 * float(np.finfo(np.float32).tiny)

#: The largest loss of a step of the best constant prediction (its rows
#: times their loss) that float32 training takes: the objective's gradient
#: carries 1 / that product, which must stay a normal float32 number (above
#: 1.2e-38; a smaller one flushes to zero), and the step's sum of its rows'
#: losses far below float32's largest (3.4e38). Measured on both backends
#: (targets ``c * (x1 + 2 x2 + 3 x3)``, 2 000 rows, 20 epochs): in steps of
#: 2 000 rows, products up to 6.9e37 fitted as at c = 1 (R^2 0.60) and from
#: 1.35e38 silently scored 0.03; in steps of 200 rows, 2.8e37 fitted and
#: 6.2e37 diverged. So the bound is 1 / (8 float32 tiny), about 1.1e37.
LARGEST_STEP_LOSS = 1 / (8 * float(np.finfo(np.float32).tiny))


def check_targets(data, rows=1, weighted=False):
    """Raise a ``ValueError`` where the training targets of ``data`` vary by
    less, or more, than float32 training can resolve, instead of returning
    a fit that is silently wrong: a column whose spread is below one
    float32 step at its values' size (its variation is lost when the
    targets become float32), a loss of the best constant below
    :data:`SMALLEST_LOSS_SCALE` (squared errors of about 1e-19 and less), or
    one that steps of ``rows`` rows sum beyond :data:`LARGEST_STEP_LOSS`
    (for the squared error in steps of 200 rows, a spread of about 2e17).
    ``weighted``: whether the rows' losses are weighted by a
    ``sample_weight`` (the messages then say so).
    A constant column (a spread of exactly 0) is fine: it is predicted as
    its value. Any other spread, in any units, is trained alike.
    """
    mean, std = data.target_mean, data.target_std
    step = np.finfo(np.float32).eps * np.abs(mean)
    lost = (std > 0) & (std <= step)
    if lost.any():
        k = int(np.flatnonzero(lost)[0])
        raise ValueError(
            f"y's column {k} varies by {std[k]:.3g} (standard deviation) around "
            f"{mean[k]:.6g}: less than float32, in which the network computes, "
            "resolves at that size, so its variation cannot be fitted. Subtract "
            "the targets' mean first, e.g. with TransformedTargetRegressor("
            "regressor=..., transformer=StandardScaler())."
        )
    weights = " (weighted by sample_weight)" if weighted else ""
    step_loss = data.target_scale * rows
    if step_loss > LARGEST_STEP_LOSS:
        raise ValueError(
            f"y varies too much for float32 training: the loss of the best "
            f"constant prediction is {data.target_scale:.3g} a row{weights}, "
            f"{step_loss:.3g} in a step of {rows} rows, above "
            f"{LARGEST_STEP_LOSS:.3g} (the step's gradient would underflow "
            "float32, or its loss overflow). Divide y by a constant (e.g. with "
            "TransformedTargetRegressor and StandardScaler)"
            + (", or sample_weight." if weighted else ".")
        )
    if 0 < data.target_scale < SMALLEST_LOSS_SCALE:
        raise ValueError(
            f"y varies too little for float32 training: the loss of the best "
            f"constant prediction{weights} is {data.target_scale:.3g}, below "
            f"{SMALLEST_LOSS_SCALE:.3g} (squared errors this small underflow in "
            "float32). Multiply y by a constant (e.g. with "
            "TransformedTargetRegressor and StandardScaler) and divide the "
            "predictions by it."
        )


def _sparse_chunk(n_features):
    """Rows of sparse data to densify at once: about 32 MiB of float64
    (``n_features`` values a row)."""
    return max(1, min(16384, (4 << 20) // max(int(n_features), 1)))


class SparseHead:
    """Sparse rows through a network that reads them with one ``Dense``
    layer (:func:`~._engine.first_dense`), on the host: that layer in
    float64 with SciPy (``X @ (scale * kernel) + offset @ kernel + bias``,
    the stored values only, no dense row), its activation, then the float64
    forward pass of the rest (``predictor(tail, key)``, the backend's
    :class:`Predictor`). So predicting wide sparse rows costs what their
    stored values do, not their width.
    """

    def __init__(self, split, predictor, key=None):
        self.scaling, self.dense, tail = split
        self.tail = predictor(tail, key=None if key is None else (key, "tail"))

    @classmethod
    def of(cls, model, predictor, key=None):
        """The head of ``model``, or None where it has no such first layer."""
        split = first_dense(model)
        return None if split is None else cls(split, predictor, key)

    def __call__(self, X):
        kernel = np.asarray(self.dense.kernel.value, np.float64)
        offset = np.zeros(kernel.shape[0])
        scale = np.ones(kernel.shape[0])
        if self.scaling is not None:
            offset = np.broadcast_to(
                np.asarray(self.scaling.offset_weight.value, np.float64), offset.shape
            )
            scale = np.broadcast_to(
                np.asarray(self.scaling.scale_weight.value, np.float64), scale.shape
            )
        z = np.asarray(sp.csr_matrix(X, dtype=np.float64) @ (scale[:, None] * kernel))
        z = z + offset @ kernel
        if self.dense.use_bias:
            z = z + np.asarray(self.dense.bias.value, np.float64)
        activation = self.dense.activation
        if activation is not None and activation is not keras.activations.linear:
            with precision():
                z = keras.ops.convert_to_numpy(
                    activation(keras.ops.convert_to_tensor(z))
                )
        return self.tail(np.asarray(z, np.float64))


def shapes_key(model):
    """What an engine for ``model`` must match: input and variable shapes."""
    variables = list(model.variables) + list(model.optimizer.variables)
    return (
        tuple(model.inputs[0].shape[1:]),
        tuple((tuple(v.shape), str(v.dtype)) for v in variables),
    )


def engine_key(parts, model):
    """The key of the engines (and forward passes) that can train and
    predict ``model``: ``parts`` (what else decides them: the estimator's
    hooks and hyperparameters) and the variables' shapes; None when a part
    cannot be hashed (a callable that is not, say): no reuse."""
    key = (parts, shapes_key(model))
    try:
        hash(key)
    except TypeError:
        return None
    return key


class _Lru:
    """Values by key, the least recently used out first, at most ``size``
    values in all; thread-safe. A key holds one shared value (:meth:`get`,
    :meth:`put`: the compiled forward passes and float64 twins) or a pool of
    interchangeable ones that are taken out while in use (:meth:`take`,
    :meth:`give`: the engines, so two fits in threads never share one; a
    second fit of the same key meanwhile makes its own)."""

    def __init__(self, size):
        self.size = size
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            values = self._items.get(key)
            if not values:
                return None
            self._items.move_to_end(key)
            return values[0]

    def put(self, key, value):
        """Store ``value`` unless ``key`` has one; return the stored one."""
        with self._lock:
            values = self._items.setdefault(key, [])
            if not values:
                values.append(value)
            self._items.move_to_end(key)
            self._trim()
            return values[0]

    def take(self, key):
        """One of ``key``'s values, taken out (None if it has none)."""
        with self._lock:
            values = self._items.get(key)
            if not values:
                return None
            value = values.pop()
            if not values:
                del self._items[key]
            return value

    def give(self, key, value):
        """Put back a value of ``key``'s pool."""
        with self._lock:
            self._items.setdefault(key, []).append(value)
            self._items.move_to_end(key)
            self._trim()

    def _trim(self):
        while sum(len(v) for v in self._items.values()) > self.size:
            oldest = next(iter(self._items))
            self._items[oldest].pop(0)
            if not self._items[oldest]:
                del self._items[oldest]

    def clear(self):
        with self._lock:
            self._items.clear()


#: Engines kept between fits (each holds one small network, its optimizer and
#: their traces).
CACHE_SIZE = 8
_CACHE = _Lru(CACHE_SIZE)


@contextmanager
def borrow(key, make):
    """An engine for ``key``: an idle one, or ``make()``; given back after.

    Parameters
    ----------
    key : hashable or None
        What the engine's traces depend on (the architecture, the settings
        captured by the trace, :func:`shapes_key`). None: no reuse.
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
    with keras_numpy_quiet():
        config = _widen_config(keras.saving.serialize_keras_object(model))
    # the copy computes forward passes only: without the compiled model's
    # optimizer, which deserializing would build (its slots)
    config.pop("compile_config", None)
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


#: Compiled forward passes shared by the predictors of one architecture.
_FORWARDS = _Lru(CACHE_SIZE)
#: float64 copies of the architectures of the shared traces (:func:`widened`).
_TWINS = _Lru(CACHE_SIZE)


# ------------------------------------------------------------------- stacks
@dataclass
class Member:
    """One network of a stack: its data and its settings, as a single fit
    would train it (:func:`train`'s arguments), and its starting point (the
    initial weights of its network,
    :func:`skconstrain._networks.initial_weights`, its target scaling's
    ``offset`` and ``scale``, and a monotone network's calibrators'
    ``first_edge``, :meth:`~skconstrain.keras.MonotoneCalibration.start`)."""

    data: Data
    validation: Data | None
    seed: int
    loss_weight: float
    penalty_scale: float
    batch_size: int
    weights: list
    offset: np.ndarray
    scale: np.ndarray
    shuffle: bool = True
    first_edge: np.ndarray | None = None


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
