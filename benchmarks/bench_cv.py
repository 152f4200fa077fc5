"""The penalty-strength search: ConstrainedRegressorCV against GridSearchCV.

Contenders, each ``n_jobs=1``, over the same alphas, the same ``KFold``
splits, the same network (10 features -> hidden relu -> 4 outputs on the
simplex for ours; unconstrained for MLPRegressor), epochs (30, no early
stopping), batch size (64) and optimizer (Adam 1e-3), refit included:

- ``ours``: ``ConstrainedRegressorCV(alphas, cv)``: alphas x folds trained as
  one stack of networks (one compiled epoch for all), then the refit;
- ``GridSearchCV(ConstrainedRegressor)``: the same fits one after another;
- ``GridSearchCV(MLPRegressor)``: scikit-learn's network.

Runs are interleaved and repeated; medians are printed with the ratios, and
the memory the stack holds (its data, padded, and its weights with their
Adam moments).

Run: ``python benchmarks/bench_cv.py [--quick] [--repeat 3]``.
"""

import argparse
import itertools
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPRegressor

from skconstrain import ConstrainedRegressor, ConstrainedRegressorCV

D, K, BATCH, EPOCHS = 10, 4, 64, 30


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    logits = np.tanh(X[:, :K]) + 0.5 * X[:, K : 2 * K]
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return X, Y


def contenders(hidden, alphas, cv):
    net = dict(
        hidden_layer_sizes=hidden,
        epochs=EPOCHS,
        batch_size=BATCH,
        n_iter_no_change=EPOCHS,
        random_state=0,
    )
    mlp = MLPRegressor(
        hidden_layer_sizes=hidden,
        batch_size=BATCH,
        max_iter=EPOCHS,
        n_iter_no_change=EPOCHS,
        random_state=0,
    )
    return {
        "ours": lambda: ConstrainedRegressorCV(
            alphas=alphas, cv=cv, output_constraint="simplex", **net
        ),
        "GridSearchCV(ConstrainedRegressor)": lambda: GridSearchCV(
            ConstrainedRegressor(output_constraint="simplex", **net),
            {"alpha": alphas},
            cv=cv,
        ),
        "GridSearchCV(MLPRegressor)": lambda: GridSearchCV(
            mlp, {"alpha": alphas}, cv=cv
        ),
    }


def stack_bytes(n_rows, n_alphas, n_folds, hidden):
    members = n_alphas * n_folds
    train_rows = n_rows - n_rows // n_folds
    data_bytes = members * train_rows * (D + K + 2) * 4
    sizes = [D, *hidden, K]
    weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    return data_bytes + members * weights * 3 * 4  # weights and 2 Adam moments


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 000 rows, hidden 32")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = [2000] if args.quick else [2000, 20000]
    hiddens = [(32,)] if args.quick else [(32,), (100,)]
    grids = [(4, 3), (16, 5)]
    print(
        "| rows | hidden | alphas x folds | ours | GridSearchCV(ours) | "
        "GridSearchCV(MLP) | vs GridSearchCV(ours) | vs GridSearchCV(MLP) "
        "| stack memory |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in rows:
        X, Y = data(n)
        for hidden in hiddens:
            for n_alphas, n_folds in grids:
                alphas = list(np.logspace(-5, 1, n_alphas))
                cv = KFold(n_folds, shuffle=True, random_state=0)
                makers = contenders(hidden, alphas, cv)
                times = {name: [] for name in makers}
                for _ in range(args.repeat):  # interleaved
                    for name, make in makers.items():
                        start = time.perf_counter()
                        make().fit(X, Y)
                        times[name].append(time.perf_counter() - start)
                med = {name: float(np.median(t)) for name, t in times.items()}
                ours = med["ours"]
                grid = med["GridSearchCV(ConstrainedRegressor)"]
                mlp = med["GridSearchCV(MLPRegressor)"]
                memory = stack_bytes(n, n_alphas, n_folds, hidden) / 2**20
                print(
                    f"| {n} | {hidden} | {n_alphas} x {n_folds} | {ours:.2f} s | "
                    f"{grid:.2f} s | {mlp:.2f} s | {grid / ours:.2f}x | "
                    f"{mlp / ours:.2f}x | {memory:.1f} MiB |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
