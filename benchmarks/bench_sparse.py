"""Wide sparse input: fit and predict on a CSR matrix of 5 000 x 100 000
with 50 000 stored values (10 a row), against ``MLPRegressor``.

Per Keras backend, in a process of its own (imports done first, not timed):
``ConstrainedRegressor`` and ``MLPRegressor`` with the same network (one
hidden layer of 32), epochs (10) and batch (64); the fit, then ``predict``
on the 5 000 training rows, each timed as the first call in the process and
again (warm). Prints the times, the ratio to ``MLPRegressor`` measured in the
same run, and R² on the training rows and on 1 000 held-out rows.

    python benchmarks/bench_sparse.py               # both backends
    python benchmarks/bench_sparse.py --backend jax
"""

from _backends import per_backend

per_backend()

import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401
from skconstrain import ConstrainedRegressor

ROWS, FEATURES, PER_ROW = 5000, 100_000, 10
SETTINGS = dict(hidden_layer_sizes=(32,), batch_size=64, random_state=0)
EPOCHS = 10


def data(seed=0):
    """5 000 training rows and 1 000 held-out rows of one linear model of
    the stored values, plus noise."""
    rng = np.random.default_rng(seed)
    n = ROWS + 1000
    columns = rng.integers(0, FEATURES, size=(n, PER_ROW))
    rows = np.repeat(np.arange(n), PER_ROW)
    X = sp.csr_matrix(
        (rng.normal(size=n * PER_ROW), (rows, columns.ravel())),
        shape=(n, FEATURES),
    )
    X.sum_duplicates()
    y = X @ rng.normal(size=FEATURES) + 0.1 * rng.normal(size=n)
    return X[:ROWS], y[:ROWS], X[ROWS:], y[ROWS:]


def timed(make, X, y):
    """The fit and ``predict`` on the training rows, first and again:
    their times, and the fitted model."""
    times = []
    for _ in range(2):
        start = time.perf_counter()
        model = make().fit(X, y)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict(X)
        times.append(time.perf_counter() - start)
    return [times[0], times[2], times[1], times[3]], model


def main():
    import keras

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y, X_test, y_test = data()
    contenders = {
        "ConstrainedRegressor": lambda: ConstrainedRegressor(epochs=EPOCHS, **SETTINGS),
        "MLPRegressor": lambda: MLPRegressor(max_iter=EPOCHS, **SETTINGS),
    }
    results = {}
    for name, make in contenders.items():
        times, model = timed(make, X, y)
        results[name] = (*times, model.score(X, y), model.score(X_test, y_test))
    ours, peer = results["ConstrainedRegressor"], results["MLPRegressor"]
    print(
        f"Keras backend {keras.backend.backend()}; CSR {ROWS} x {FEATURES}, "
        f"{X.nnz} stored values; hidden 32, {EPOCHS} epochs, batch 64"
    )
    print()
    print("| what | ConstrainedRegressor | MLPRegressor | ratio |")
    print("| --- | --- | --- | --- |")
    labels = ("fit, first", "fit, again", "predict 5 000 rows, first", "again")
    for i, label in enumerate(labels):
        ratio = ours[i] / peer[i]
        print(f"| {label} | {ours[i]:.3f} s | {peer[i]:.3f} s | {ratio:.2f}x |")
    print(f"| R², training rows | {ours[4]:.3f} | {peer[4]:.3f} | |")
    print(f"| R², 1 000 held-out rows | {ours[5]:.3f} | {peer[5]:.3f} | |")


if __name__ == "__main__":
    main()
