"""ConstrainedRegressor overheads, with the peers measured in the same run.

1. fit: ConstrainedRegressor versus a raw Keras ``model.fit`` of the same network
   (Dense(64, relu) -> Dense(3)), data (5000 x 20), epochs (30), batch size (200),
   optimizer and compilation (``jit_compile=False``, which ours uses); no early
   stopping on either side. Keras's default (XLA) is timed too, for reference.
2. predict latency for 1, 100 and 100000 rows: ours versus scikeras's
   ``KerasRegressor`` (its ``model.predict`` path) on the same trained network
   size.

Run: ``make bench`` or ``python benchmarks/bench_estimator.py``.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from scikeras.wrappers import KerasRegressor

from skconstrain import ConstrainedRegressor

N, D, K, EPOCHS, BATCH = 5000, 20, 3, 30, 200


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype("float32")
    Y = np.tanh(X[:, :K] + 0.5 * X[:, K : 2 * K]).astype("float32")
    return X, Y


def network():
    return keras.Sequential(
        [
            keras.Input((D,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(K),
        ]
    )


def raw_keras_fit(X, Y, jit_compile=False):
    keras.utils.set_random_seed(0)
    model = network()
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=jit_compile)
    model.fit(X, Y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return model


def ours_fit(X, Y):
    return ConstrainedRegressor(
        hidden_layer_sizes=(64,),
        epochs=EPOCHS,
        batch_size=BATCH,
        n_iter_no_change=EPOCHS,  # never stop early: same work as the peer
        tol=0.0,
        random_state=0,
    ).fit(X, Y)


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    X, Y = data()
    raw_keras_fit(X[:400], Y[:400])  # warm TensorFlow up for both
    ours_fit(X[:400], Y[:400])
    # interleaved, so that a slow spell of the machine hits every contender
    runs = {"raw": [], "auto": [], "ours": []}
    for _ in range(5):
        runs["raw"].append(timed(lambda: raw_keras_fit(X, Y), 1))
        runs["auto"].append(timed(lambda: raw_keras_fit(X, Y, jit_compile="auto"), 1))
        runs["ours"].append(timed(lambda: ours_fit(X, Y), 1))
    t_raw, t_auto, t_ours = (float(np.median(runs[k])) for k in ("raw", "auto", "ours"))
    print(f"fit, {N}x{D}, {EPOCHS} epochs, batch {BATCH} (median of 5, interleaved)")
    print(f"  raw keras model.fit, jit_compile=False (as ours)  {t_raw:7.3f} s")
    print(f"  raw keras model.fit, jit_compile='auto' (XLA)     {t_auto:7.3f} s")
    print(
        f"  ConstrainedRegressor                              {t_ours:7.3f} s   "
        f"ratio to the same configuration {t_ours / t_raw:.2f}x"
    )

    ours = ours_fit(X, Y)
    theirs = KerasRegressor(
        lambda meta: network(), loss="mse", optimizer="adam", epochs=1, verbose=0
    ).fit(X, Y)
    print("\npredict latency (median)")
    print(f"  {'rows':>7} {'ours ms':>9} {'scikeras ms':>12} {'speed-up':>9}")
    big = np.tile(X, (20, 1))  # 100000 rows
    for rows in (1, 100, 100_000):
        Xr = big[:rows]
        repeat = 30 if rows < 1000 else 5
        ours.predict(Xr)
        theirs.predict(Xr)
        t_o = timed(lambda Xr=Xr: ours.predict(Xr), repeat)
        t_t = timed(lambda Xr=Xr: theirs.predict(Xr), repeat)
        print(f"  {rows:>7} {t_o * 1e3:9.2f} {t_t * 1e3:12.2f} {t_t / t_o:8.1f}x")
    print("\ntargets: fit at most 1.1x raw Keras; 1-row predict at least 10x faster")


if __name__ == "__main__":
    main()
