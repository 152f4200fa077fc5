"""Parallel grid search: GridSearchCV(n_jobs=2) against n_jobs=1, same result.

joblib's loky workers are given a thread budget (``OMP_NUM_THREADS`` and friends
= cores // n_jobs), which TensorFlow ignores: each worker's TensorFlow would use
every core, and two workers fight over them. ``ConstrainedRegressor`` configures
TensorFlow from that budget before it first runs
(``skconstrain._training.configure_runtime``).

Each configuration runs in a fresh Python process (a fresh loky pool), which
runs the same search three times in a row:

- ``cold``: the first search, paying for the workers' start (importing
  TensorFlow) and each worker's first trace of the architecture;
- ``warm``: the median of the next two, whose workers are kept by loky between
  searches (as in a session that searches several times).

Configurations: ``n_jobs=1``; ``n_jobs=2``; ``n_jobs=2`` in joblib's threads
(``joblib.parallel_backend("threading")``: no worker process imports
TensorFlow, and the compiled epochs release the GIL); ``n_jobs=2`` with the budget
ignored (``TF_NUM_INTRAOP_THREADS=0``, ``TF_NUM_INTEROP_THREADS=0``: TensorFlow's
defaults, which is what every worker did before).

The search: ``ConstrainedRegressor(hidden_layer_sizes=(64,))`` with the
simplex projection, 20 epochs (``--epochs``), over 4 ``alpha`` x 2
``learning_rate``, cv=3 (24 fits) on 4 000 rows. The ratio column is the
time of ``n_jobs=1`` over the row's; ``best_params_`` must be the same in
every row.

Run: ``python benchmarks/bench_parallel.py`` (about 3 minutes on 2 cores).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

ROWS, D, K = 4000, 10, 4
GRID = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1], "learning_rate": [1e-3, 3e-3]}


def search(n_jobs, epochs):
    import numpy as np
    from sklearn.model_selection import GridSearchCV

    from skconstrain import ConstrainedRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, D))
    logits = np.tanh(X[:, :K]) + 0.5 * X[:, K : 2 * K]
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    est = ConstrainedRegressor(
        hidden_layer_sizes=(64,),
        output_constraint="simplex",
        penalty="l2",
        epochs=epochs,
        batch_size=64,
        random_state=0,
    )
    start = time.perf_counter()
    if os.environ.get("BENCH_THREADS"):  # joblib's threads: no worker imports
        import joblib

        with joblib.parallel_backend("threading", n_jobs=n_jobs):
            found = GridSearchCV(est, GRID, cv=3, n_jobs=n_jobs).fit(X, Y)
    else:
        found = GridSearchCV(est, GRID, cv=3, n_jobs=n_jobs).fit(X, Y)
    return time.perf_counter() - start, found.best_params_


def worker(n_jobs, epochs):
    times, params = [], None
    for _ in range(3):
        seconds, params = search(n_jobs, epochs)
        times.append(seconds)
    print(json.dumps({"times": times, "best": params}))


CONFIGS = {
    "n_jobs=1": (1, {}),
    "n_jobs=2": (2, {}),
    "n_jobs=2, threads": (2, {"BENCH_THREADS": "1"}),
    "n_jobs=2, budget ignored": (
        2,
        {"TF_NUM_INTRAOP_THREADS": "0", "TF_NUM_INTEROP_THREADS": "0"},
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.epochs)
        return
    print(
        f"GridSearchCV, 24 fits of {ROWS} rows x {args.epochs} epochs; "
        f"cores: {os.cpu_count()}"
    )
    print(
        f"{'configuration':26s} {'cold s':>7s} {'ratio':>6s} "
        f"{'warm s':>7s} {'ratio':>6s}"
    )
    base = None
    for name, (n_jobs, env) in CONFIGS.items():
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                str(n_jobs),
                "--epochs",
                str(args.epochs),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        cold, warm = result["times"][0], statistics.median(result["times"][1:])
        base = base or (cold, warm)
        print(
            f"{name:26s} {cold:7.2f} {base[0] / cold:5.2f}x {warm:7.2f} "
            f"{base[1] / warm:5.2f}x  best_params_={result['best']}"
        )


if __name__ == "__main__":
    main()
