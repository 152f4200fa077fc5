"""Cold starts: the first fit in a process, and predicting at new row counts.

Per Keras backend, in a process of its own (its imports done first, not
timed): the first fit of ``ConstrainedRegressor`` (10 -> 32 relu -> 4 on the
simplex, 2 000 rows, 30 epochs, batch 64) and of ``MLPRegressor`` (the same
network, epochs and batch); then the first ``predict`` at each of 15 row
counts the process has not predicted before (1 ... 6 000), all together, then
the same calls again (warm). Prints a table with the ratio to
``MLPRegressor``, measured in the same run.

    python benchmarks/bench_cold.py               # both backends
    python benchmarks/bench_cold.py --backend jax
"""

from _backends import per_backend

per_backend()

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401
from skconstrain import ConstrainedRegressor
from skconstrain.datasets import make_constrained_regression

ROWS = (1, 7, 17, 33, 65, 100, 129, 257, 333, 513, 1000, 1025, 2049, 4097, 6000)


def timed(model, Xs):
    start = time.perf_counter()
    for X in Xs:
        model.predict(X)
    return time.perf_counter() - start


def main():
    import keras

    X, Y = make_constrained_regression(2000, 10, 4, set="simplex", random_state=0)
    rng = np.random.default_rng(1)
    Xs = [rng.normal(size=(n, 10)) for n in ROWS]
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    ours = ConstrainedRegressor(
        hidden_layer_sizes=(32,),
        output_constraint="simplex",
        feature_encoding=None,  # MLPRegressor's network (2 000 rows: the default's)
        epochs=30,
        batch_size=64,
        random_state=0,
    ).fit(X, Y)
    fits = [time.perf_counter() - start]
    start = time.perf_counter()
    peer = MLPRegressor(
        hidden_layer_sizes=(32,), max_iter=30, batch_size=64, random_state=0
    ).fit(X, Y)
    fits.append(time.perf_counter() - start)
    cold = timed(ours, Xs), timed(peer, Xs)
    warm = timed(ours, Xs), timed(peer, Xs)
    print(f"Keras backend {keras.backend.backend()}; predict: {len(ROWS)} new row ")
    print(f"counts ({ROWS[0]} ... {ROWS[-1]}) after the fit; ratio: ours / peer")
    print()
    print("| what | ConstrainedRegressor | MLPRegressor | ratio |")
    print("| --- | --- | --- | --- |")
    rows = (
        ("first fit in the process", fits),
        ("predict at new row counts (cold)", cold),
        ("the same calls again (warm)", warm),
    )
    for label, (a, b) in rows:
        print(f"| {label} | {a:.3f} s | {b:.3f} s | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
