"""The one-epoch engine per step, cold and warm, beside MLPRegressor.

Per Keras backend, in a process of its own (imports done first, not timed):
``ConstrainedRegressor`` (10 -> 32 relu -> 4 on the simplex, 2 000 rows,
batch 64, Adam 1e-3, no early stopping) and ``MLPRegressor`` (the same
network, batch, rate and epochs), for 30 epochs (960 steps), 100 epochs
(3 200 steps) and 300 epochs; every epoch of them runs, so on TensorFlow
each fit compiles with XLA from the start (it will pass
``skconstrain._training._engine.XLA_STEPS``). The first
fit of each in the process, then the best of 3 interleaved warm fits;
prints microseconds per step and the ratio to ``MLPRegressor`` measured in
the same run.

    python benchmarks/bench_epoch.py               # both backends
    python benchmarks/bench_epoch.py --backend tensorflow
"""

from _backends import per_backend

per_backend()

import time
import warnings

import keras
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401
from skconstrain import ConstrainedRegressor

N, BATCH, LR = 2000, 64, 1e-3


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 10))
    Z = np.tanh(X @ rng.normal(size=(10, 4)))
    return X, np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)


def ours(X, Y, epochs):
    ConstrainedRegressor(
        hidden_layer_sizes=(32,),
        output_constraint="simplex",
        batch_size=BATCH,
        learning_rate=LR,
        epochs=epochs,
        n_iter_no_change=1000,  # never stops early: every epoch runs
        random_state=0,
    ).fit(X, Y)


def mlp(X, Y, epochs):
    MLPRegressor(
        hidden_layer_sizes=(32,),
        batch_size=BATCH,
        learning_rate_init=LR,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        tol=0.0,
        random_state=0,
    ).fit(X, Y)


def seconds(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main():
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X, Y = data()
    print(f"Keras backend: {keras.backend.backend()}; {N} rows, batch {BATCH}")
    print(
        "| epochs | steps | ours first fit | MLP first fit | ours per step | "
        "MLP per step | ours / MLP (warm) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for epochs in (30, 100, 300):
        steps = epochs * -(-N // BATCH)
        first = seconds(ours, X, Y, epochs)
        mlp_first = seconds(mlp, X, Y, epochs)
        warm, peer = [], []
        for _ in range(3):
            warm.append(seconds(ours, X, Y, epochs))
            peer.append(seconds(mlp, X, Y, epochs))
        t, p = min(warm), min(peer)
        print(
            f"| {epochs} | {steps} | {first:.2f} s | {mlp_first:.2f} s | "
            f"{1e6 * t / steps:.0f} us | {1e6 * p / steps:.0f} us | {t / p:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
