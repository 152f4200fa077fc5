"""The training engine: a Keras model trained by one traced call per epoch.

``keras.Model.fit`` pays, for every mini-batch, a ``tf.data`` iteration, the
callbacks and a return to Python. For the small dense networks that
:class:`skconstrain.ConstrainedRegressor` trains, that per-step overhead, not the
arithmetic, is the cost of a fit. Here instead:

- ``X``, ``y`` and the sample weights become tensors once (:func:`as_tensors`);
- :class:`Engine` traces one TensorFlow function per model that runs a whole
  epoch: a seeded permutation of the rows, then a ``tf.while_loop`` over the
  mini-batches, each sliced from the tensors in the graph, with the forward pass
  (``training=True``), the loss plus ``model.losses`` (weight penalties, output
  penalties), the gradient and ``optimizer.apply`` (which also applies the
  weights' constraints);
- :func:`train` runs Python once per epoch: history, early stopping, progress.

Shapes are dynamic in the traced functions (``[None, n_features]``), so data of
any number of rows (``partial_fit``'s chunks, cross-validation folds) reuses one
trace. XLA (``jit_compile``) is off: measured on 2 CPU cores it made the epoch
no faster for these networks and cost 1-2 s of compilation per fit
(``benchmarks/bench_fit.py --xla`` prints both).

Only TensorFlow and Keras are imported here; nothing of the estimator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

__all__ = ["Data", "Engine", "NonFiniteLossError", "Predictor", "as_tensors", "train"]


class NonFiniteLossError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite."""


@dataclass
class Data:
    """Training or validation rows as tensors, with the scale of their targets.

    ``target_scale`` is the weighted mean squared deviation of ``y`` from its
    weighted mean (the loss of the best constant prediction, weighted as the
    loss is); losses divided by it are on the scale of ``1 - R^2``.
    """

    X: tf.Tensor
    y: tf.Tensor
    sample_weight: tf.Tensor
    target_scale: float


def as_tensors(X, y, sample_weight=None):
    """Put ``X`` (n, d), ``y`` (n, k) and the weights (n,) on the device once.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
        None weighs every row 1.

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
    wsum = w.sum()
    if len(y) and wsum > 0:
        mean = (w[:, None] * y).sum(axis=0) / wsum
        scale = float((w * ((y - mean) ** 2).mean(axis=1)).sum() / len(y))
    else:
        scale = 0.0
    return Data(
        X=tf.convert_to_tensor(np.asarray(X), dtype=tf.float32),
        y=tf.convert_to_tensor(y, dtype=tf.float32),
        sample_weight=tf.convert_to_tensor(w, dtype=tf.float32),
        target_scale=scale,
    )


def _data_loss(y, pred, w):
    """Weighted squared error summed over rows: ``sum_i w_i mean_k (y - p)**2``."""
    per_row = tf.reduce_mean(tf.square(y - tf.cast(pred, y.dtype)), axis=-1)
    return tf.reduce_sum(w * per_row)


def _total(losses, dtype):
    return tf.add_n([tf.cast(v, dtype) for v in losses]) if losses else 0.0


class _Epoch:
    """One epoch of mini-batch training, to be traced by ``tf.function``.

    A callable object rather than a function: TensorFlow's retracing warning
    counts traces per Python function code, so closures of one function would
    add up over the networks of a grid search; each object counts on its own.
    """

    def __init__(self, model, optimizer, batch_size, shuffle):
        self.model = model
        self.optimizer = optimizer
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)

    def __call__(self, X, y, w, seed):
        n = tf.shape(X)[0]
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
            xb, yb, wb = tf.gather(X, idx), tf.gather(y, idx), tf.gather(w, idx)
            rows = tf.cast(tf.shape(idx)[0], y.dtype)
            with tf.GradientTape() as tape:
                pred = self.model(xb, training=True)
                loss = _data_loss(yb, pred, wb) / rows + _total(
                    self.model.losses, y.dtype
                )
            grads = tape.gradient(loss, variables)
            self.optimizer.apply(grads, variables)
            return i + 1, total + loss * rows

        _, total = tf.while_loop(
            lambda i, _: i < n_batches,
            step,
            (tf.constant(0), tf.constant(0.0, y.dtype)),
        )
        return total / tf.cast(n, y.dtype)


class _Evaluate:
    """Weighted mean squared error of the model on ``(X, y)``, no penalty."""

    def __init__(self, model):
        self.model = model

    def __call__(self, X, y, w):
        pred = self.model(X, training=False)
        return _data_loss(y, pred, w) / tf.cast(tf.shape(X)[0], y.dtype)


class Engine:
    """Trains ``model`` with ``optimizer``: one traced call per epoch.

    The traced functions are made on first use and kept, so further fits of the
    same model (``warm_start``, ``partial_fit``) do not trace again; call
    :meth:`reset` after changing something a trace has captured (a penalty's
    scale).

    Parameters
    ----------
    model : keras.Model
        Built, with one input and one output.
    optimizer : keras.optimizers.Optimizer
    batch_size : int
        Rows per step (the last step of an epoch takes the rest).
    shuffle : bool
        Draw a new order of the rows every epoch.
    jit_compile : bool, default=False
        Compile the epoch with XLA.
    """

    def __init__(self, model, optimizer, *, batch_size, shuffle, jit_compile=False):
        self.model = model
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.jit_compile = jit_compile
        self.reset()

    def reset(self):
        """Forget the traced functions (the next epoch traces again)."""
        self._epoch = None
        self._evaluate = None

    def _signature(self, with_seed):
        n_features = self.model.inputs[0].shape[1:]
        spec = [
            tf.TensorSpec([None, *n_features], self.model.inputs[0].dtype),
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ]
        return spec + ([tf.TensorSpec([2], tf.int32)] if with_seed else [])

    def run_epoch(self, data, seed):
        """Train one epoch over ``data``; returns the mean loss of its steps.

        Parameters
        ----------
        data : Data
        seed : int
            Seed of this epoch's order of the rows.

        Returns
        -------
        loss : float
            Mean over the steps, weighted by their rows, of the objective
            (weighted squared error plus ``model.losses``).
        """
        if self._epoch is None:
            if not self.optimizer.built:
                self.optimizer.build(self.model.trainable_variables)
            self._epoch = tf.function(
                _Epoch(self.model, self.optimizer, self.batch_size, self.shuffle),
                input_signature=self._signature(with_seed=True),
                autograph=False,
                jit_compile=self.jit_compile,
            )
        seed = tf.constant([int(seed) % (2**31 - 1), 0], dtype=tf.int32)
        return float(self._epoch(data.X, data.y, data.sample_weight, seed))

    def evaluate(self, data):
        """Weighted mean squared error on ``data`` (no penalty terms)."""
        if self._evaluate is None:
            self._evaluate = tf.function(
                _Evaluate(self.model),
                input_signature=self._signature(with_seed=False),
                autograph=False,
            )
        return float(self._evaluate(data.X, data.y, data.sample_weight))


class Predictor:
    """The model's forward pass, traced once for inputs of any number of rows.

    Parameters
    ----------
    model : keras.Model
    chunk : int, default=16384
        Rows per call; larger inputs are predicted in chunks of this size.
    """

    def __init__(self, model, chunk=16384):
        self.model = model
        self.chunk = int(chunk)
        self._forward = None  # traced on the first call

    def __call__(self, X):
        """Network outputs for ``X`` as a float64 array of shape (n, n_outputs)."""
        if self._forward is None:
            inputs = self.model.inputs[0]
            spec = tf.TensorSpec([None, *inputs.shape[1:]], inputs.dtype)
            self._forward = tf.function(
                _Forward(self.model), input_signature=[spec], autograph=False
            ).get_concrete_function()
        X = np.asarray(X, dtype=np.float32)
        parts = [
            self._forward(tf.constant(X[i : i + self.chunk])).numpy()
            for i in range(0, len(X), self.chunk)
        ]
        return np.concatenate(parts).astype(np.float64)


class _Forward:
    def __init__(self, model):
        self.model = model

    def __call__(self, X):
        return self.model(X, training=False)


class _Progress:
    """Per-epoch progress bar (``verbose >= 1``), Keras's ``Progbar``."""

    def __init__(self, epochs, verbose):
        self.bar = (
            keras.utils.Progbar(epochs, stateful_metrics=["loss", "val_loss"])
            if verbose
            else None
        )

    def update(self, epoch, values):
        if self.bar is not None:
            self.bar.update(epoch, list(values.items()))

    def close(self, epoch, values):
        if self.bar is not None:
            self.bar.update(epoch, list(values.items()), finalize=True)


def _check_finite(loss, epoch, name):
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"The {name} became {loss} at epoch {epoch}: the training diverged. "
            "Scale X and y (e.g. with StandardScaler, and "
            "TransformedTargetRegressor for y) or lower 'learning_rate'."
        )


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
):
    """Train for up to ``epochs`` epochs, with early stopping; returns the history.

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
        >= 1 shows a per-epoch progress bar.

    Returns
    -------
    history : dict
        ``"loss"`` (and ``"val_loss"``): one float per epoch run.

    Raises
    ------
    NonFiniteLossError
        When a loss becomes NaN or infinite.
    """
    history = {"loss": []}
    if validation is not None:
        history["val_loss"] = []
    monitored = data if validation is None else validation
    scale = monitored.target_scale if monitored.target_scale > 0 else 1.0
    best, best_weights, waited = math.inf, None, 0
    progress = _Progress(epochs, verbose)
    values = {}
    epoch = 0
    for epoch in range(1, epochs + 1):
        loss = engine.run_epoch(data, seed + epoch)
        _check_finite(loss, epoch, "training loss")
        history["loss"].append(loss)
        values = {"loss": loss}
        current = loss
        if validation is not None:
            current = engine.evaluate(validation)
            _check_finite(current, epoch, "validation loss")
            history["val_loss"].append(current)
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
                break
    if epoch < epochs:  # stopped early: the bar did not reach its end
        progress.close(epoch, values)
    if best_weights is not None:
        engine.model.set_weights(best_weights)
    return history
