"""The penalty-strength search: ConstrainedRegressorCV against GridSearchCV.

Contenders, each ``n_jobs=1``, over the same alphas, the same ``KFold``
splits, the same network (10 features -> hidden relu -> 4 outputs on the
simplex for ours, ``feature_encoding=None``; unconstrained for
MLPRegressor), epochs (30, no early
stopping), batch size (64) and optimizer (Adam 1e-3), refit included:

- ``ours``: ``ConstrainedRegressorCV(alphas, cv)``: alphas x folds trained as
  one stack of networks (one compiled epoch for all), then the refit;
- ``GridSearchCV(ConstrainedRegressor)``: the same fits one after another;
- ``GridSearchCV(MLPRegressor)``: scikit-learn's network.

Runs are interleaved and repeated; medians are printed with the ratios, the
time of the first search (which traces the stacked epoch; later searches of
that architecture and size reuse it, as the medians do), and the memory the
stack holds as the library sizes it (its data, padded, its weights with their
Adam moments, a step's activations), with the measured peak on a GPU.

With ``--ensemble-size M``, ours and ``GridSearchCV(ConstrainedRegressor)``
search an ensemble of M networks (``ensemble_size=M``: ours trains alphas x
folds x members as one stack); ``MLPRegressor`` stays one network.

With ``--monotonic K``, ours and ``GridSearchCV(ConstrainedRegressor)``
search the monotone network, increasing in the first K features
(``monotonic_cst``, with the ``nonneg`` head: the simplex's projection
would mix the outputs); ``MLPRegressor`` stays unconstrained.

Run: ``python benchmarks/bench_cv.py [--quick] [--repeat 3] [--rows ...]
[--hidden ...] [--grids 4x3 16x5] [--ensemble-size M] [--monotonic K]
[--backend tensorflow|jax|both]`` (each backend in its own process, beside
the same peers).
"""

import argparse
import itertools
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# one process per Keras backend (--backend both, the default), before Keras
from _backends import per_backend

per_backend()

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

import keras
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPRegressor

from skconstrain import ConstrainedRegressor, ConstrainedRegressorCV, _training

D, K, BATCH, EPOCHS = 10, 4, 64, 30


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    logits = np.tanh(X[:, :K]) + 0.5 * X[:, K : 2 * K]
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return X, Y


def contenders(hidden, alphas, cv, ensemble_size=1, monotonic=0):
    net = dict(
        hidden_layer_sizes=hidden,
        ensemble_size=ensemble_size,
        epochs=EPOCHS,
        batch_size=BATCH,
        n_iter_no_change=EPOCHS,
        random_state=0,
        output_constraint="simplex",
        # MLPRegressor's network at every size (the default encodes each
        # feature from 4 000 rows: 20 000 rows' folds would train a wider one)
        feature_encoding=None,
    )
    if monotonic:  # the monotone default, its calibrators included
        cst = [1] * monotonic + [0] * (D - monotonic)
        net.update(
            monotonic_cst=cst, output_constraint="nonneg", feature_encoding="auto"
        )
    mlp = MLPRegressor(
        hidden_layer_sizes=hidden,
        batch_size=BATCH,
        max_iter=EPOCHS,
        n_iter_no_change=EPOCHS,
        random_state=0,
    )
    return {
        "ours": lambda: ConstrainedRegressorCV(alphas=alphas, cv=cv, **net),
        "GridSearchCV(ConstrainedRegressor)": lambda: GridSearchCV(
            ConstrainedRegressor(**net),
            {"alpha": alphas},
            cv=cv,
        ),
        "GridSearchCV(MLPRegressor)": lambda: GridSearchCV(
            mlp, {"alpha": alphas}, cv=cv
        ),
    }


def stack_bytes(n_rows, n_alphas, n_folds, hidden, ensemble_size=1):
    """The memory of the search's stack, as the library sizes its chunks
    (``skconstrain._training.stack_member_bytes``)."""
    members = n_alphas * n_folds
    sizes = [D, *hidden, K]
    weights = ensemble_size * sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    each = _training.stack_member_bytes(
        rows=n_rows - n_rows // n_folds,
        validation_rows=0,
        n_features=D,
        n_outputs=K,
        batch_size=BATCH,
        n_weights=weights,
        units=ensemble_size * (sum(hidden) + K),
    )
    return members * each


def gpu_peak():
    """Peak bytes on the first GPU since the last reset (None without one)."""
    if keras.backend.backend() == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        stats = gpus[0].memory_stats() if gpus else None
        return None if not stats else stats.get("peak_bytes_in_use")
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def reset_gpu_peak():
    if keras.backend.backend() == "jax":
        return  # JAX's peak counts since the start of the process
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 000 rows, hidden 32")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--rows", type=int, nargs="*", help="row counts (default 2 000 and 20 000)"
    )
    parser.add_argument(
        "--hidden", type=int, nargs="*", help="hidden widths (default 32 and 100)"
    )
    parser.add_argument(
        "--ensemble-size", type=int, default=1, help="members of our ensembles"
    )
    parser.add_argument(
        "--monotonic",
        type=int,
        default=0,
        help="search the monotone network, increasing in this many features",
    )
    parser.add_argument(
        "--grids",
        nargs="*",
        default=["4x3", "16x5"],
        help="alphas x folds (default 4x3 16x5)",
    )
    args = parser.parse_args()
    members = args.ensemble_size
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = args.rows or ([2000] if args.quick else [2000, 20000])
    hiddens = [(h,) for h in (args.hidden or ([32] if args.quick else [32, 100]))]
    grids = [tuple(int(v) for v in grid.split("x")) for grid in args.grids]
    if members > 1:
        print(f"ensemble_size={members} (ours); MLPRegressor: one network")
    if args.monotonic:
        print(f"ours monotone in {args.monotonic} features; MLPRegressor: not")
    print(
        "| rows | hidden | alphas x folds | ours (first) | ours | GridSearchCV(ours) "
        "| GridSearchCV(MLP) | vs GridSearchCV(ours) | vs GridSearchCV(MLP) "
        "| stack memory |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in rows:
        X, Y = data(n)
        for hidden in hiddens:
            for n_alphas, n_folds in grids:
                alphas = list(np.logspace(-5, 1, n_alphas))
                cv = KFold(n_folds, shuffle=True, random_state=0)
                makers = contenders(hidden, alphas, cv, members, args.monotonic)
                times = {name: [] for name in makers}
                peak = None
                for _ in range(args.repeat):  # interleaved
                    for name, make in makers.items():
                        reset_gpu_peak()
                        start = time.perf_counter()
                        make().fit(X, Y)
                        times[name].append(time.perf_counter() - start)
                        if name == "ours":
                            peak = gpu_peak()
                # the first search of an architecture in a process traces its
                # stacked epoch; later ones (the medians) reuse the trace
                first = times["ours"][0]
                med = {name: float(np.median(t)) for name, t in times.items()}
                ours = med["ours"]
                grid = med["GridSearchCV(ConstrainedRegressor)"]
                mlp = med["GridSearchCV(MLPRegressor)"]
                memory = "-"  # the monotone network's is not sized here
                if not args.monotonic:
                    memory = stack_bytes(n, n_alphas, n_folds, hidden, members)
                    memory = f"{memory / 2**20:.1f} MiB"
                if peak is not None:
                    memory += f" (GPU peak {peak / 2**20:.0f} MiB)"
                print(
                    f"| {n} | {hidden} | {n_alphas} x {n_folds} | {first:.2f} s "
                    f"| {ours:.2f} s | {grid:.2f} s | {mlp:.2f} s | "
                    f"{grid / ours:.2f}x | {mlp / ours:.2f}x | {memory} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
