"""Memory across many fits in one process: ConstrainedRegressor against plain Keras.

A grid search runs hundreds of fits in one process; the memory each fit leaves
behind must not add up. Each contender runs in a fresh Python process that fits
a new estimator (or a new Keras model) ``--fits`` times on the same data, predicts
with it and drops it, and records the resident set size (RSS) after each fit.
The figure is the growth per fit after ``--warmup`` fits (a least-squares slope
of RSS against the fit's index), in MiB.

- ``ours``: ``ConstrainedRegressor`` (hidden (32,), simplex projection head,
  ``alpha`` changing from fit to fit, as in a grid search).
- ``ours, 3 architectures``: the same, with hidden (16,), (32,), (64,) in turn.
- ``keras``: the same network built with ``keras.Sequential`` + the
  ``OutputProjection`` head, ``compile`` + ``Model.fit`` + ``predict``, as a
  user of plain Keras would write it (no ``clear_session``).

Goal: ours <= 0.5 MiB per fit.

Run: ``python benchmarks/bench_memory.py [--fits 30] [--warmup 5]`` (about two
minutes on 2 cores).
"""

import argparse
import gc
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

D, K, ROWS, EPOCHS = 10, 4, 500, 5


def rss_mib():
    """Resident set size of this process, in MiB (Linux /proc, else psutil)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def data():
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, D)).astype("float32")
    logits = np.tanh(X[:, :K]) + 0.5 * X[:, K : 2 * K]
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return X, Y.astype("float32")


def fit_ours(X, Y, i, hidden):
    from skconstrain import ConstrainedRegressor

    model = ConstrainedRegressor(
        hidden_layer_sizes=hidden,
        output_constraint="simplex",
        penalty="l2",
        alpha=10.0 ** -(i % 4),
        epochs=EPOCHS,
        batch_size=64,
        random_state=i,
    )
    model.fit(X, Y).predict(X)


def fit_keras(X, Y, i, hidden):
    import keras

    from skconstrain.keras import OutputProjection

    model = keras.Sequential(
        [
            keras.Input((D,)),
            keras.layers.Dense(hidden[0], activation="relu"),
            keras.layers.Dense(K),
            OutputProjection("simplex"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(X, Y, epochs=EPOCHS, batch_size=64, verbose=0)
    model.predict(X, verbose=0)


CONTENDERS = {
    "ours": (fit_ours, [(32,)]),
    "ours, 3 architectures": (fit_ours, [(16,), (32,), (64,)]),
    "keras": (fit_keras, [(32,)]),
}


def worker(name, fits):
    fit, architectures = CONTENDERS[name]
    X, Y = data()
    curve = []
    for i in range(fits):
        fit(X, Y, i, architectures[i % len(architectures)])
        gc.collect()
        curve.append(rss_mib())
    print(json.dumps(curve))


def slope(values):
    """Least-squares growth per step of ``values``."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--worker", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.fits)
        return
    print(f"{args.fits} fits of {ROWS} rows x {EPOCHS} epochs, one process each")
    print(f"{'contender':24s} {'RSS after warm-up':>18s} {'final':>8s} {'MiB/fit':>8s}")
    for name in CONTENDERS:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", name, "--fits", str(args.fits)],
            capture_output=True,
            text=True,
            check=True,
        )
        curve = json.loads(out.stdout.strip().splitlines()[-1])
        after = curve[args.warmup - 1 :]
        print(f"{name:24s} {after[0]:16.1f} M {curve[-1]:7.1f}M {slope(after):8.2f}")


if __name__ == "__main__":
    main()
