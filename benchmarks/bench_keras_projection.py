"""Training-step time with OutputProjection versus the same network without it.

Network: ``Dense(64, relu) -> Dense(d)`` (+ ``OutputProjection(set)``), MSE loss,
Adam, batches of 256 float32 rows, 32 input features. Each configuration is
compiled by Keras (``jit_compile`` as Keras chooses: XLA where available), warmed
up, then ``train_on_batch`` is timed; the table prints the median step time and
the ratio to the unconstrained network measured in the same run.

Run: ``make bench`` or ``python benchmarks/bench_keras_projection.py [--steps 200]``.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

import keras
import numpy as np

from skconstrain.keras import OutputProjection

SETS = [None, "l2_sphere", "l1_ball", "simplex"]


def step_time(d, set_name, steps, jit):
    keras.utils.set_random_seed(0)
    layers = [
        keras.Input((32,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(d),
    ]
    if set_name is not None:
        layers.append(OutputProjection(set_name))
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=jit)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 32)).astype("float32")
    Y = rng.normal(size=(256, d)).astype("float32")
    for _ in range(20):  # trace, compile, warm caches
        model.train_on_batch(X, Y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(X, Y)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--jit", default="auto", choices=["auto", "on", "off"])
    args = parser.parse_args()
    jit = {"auto": "auto", "on": True, "off": False}[args.jit]
    print(f"{'d':>5} {'output':<12} {'step ms':>8} {'vs none':>8}")
    print("-" * 36)
    for d in (8, 64, 512):
        base = None
        for set_name in SETS:
            t = step_time(d, set_name, args.steps, jit)
            base = t if set_name is None else base
            label = set_name or "none"
            print(f"{d:>5} {label:<12} {t * 1e3:8.3f} {t / base:8.2f}")
    print("\ntarget: at most 1.3x the unconstrained step for d <= 64")


if __name__ == "__main__":
    main()
