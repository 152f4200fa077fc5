"""Monotone predictions on real data: Auto MPG (fuel economy of 392 cars).

Protocol. ``skconstrain.datasets.load_auto_mpg``: 7 features, target mpg,
which should not increase with weight, displacement or horsepower (the
constraints of the monotone-network literature). For each seed, a shuffled
80/20 split (314 training rows, 78 test rows; the same split for every
contender). Each contender is fitted on the training rows only, with its
defaults but for what is listed below, and scored on the test rows:

- ``ours, monotonic_cst``: ``ConstrainedRegressor(monotonic_cst=...)``,
  hidden (32,), batch 32, 300 epochs (all of them: no stopping rule);
- ``ours, unconstrained``: the same without ``monotonic_cst``;
- ``ours, unconstrained (32, 32)``: the same with two hidden layers, as many
  as the monotone network's Lipschitz branch has (a single layer is
  repeated there), for the fit time;
- ``HGBR, monotonic_cst``: ``HistGradientBoostingRegressor(monotonic_cst=...)``
  with its defaults;
- ``MLPRegressor``: ``StandardScaler`` then ``MLPRegressor``, hidden (32,),
  batch 32, 300 epochs (sklearn's own standardisation, as ours standardises
  its inputs and targets inside).

Violations: for 50 test rows (as base points) and each constrained feature,
the feature is swept over 200 values from its training minimum minus its
training range to its maximum plus its range, the other features fixed; a
sweep violates when one step moves the prediction the forbidden way by more
than 1e-9 times the target's standard deviation. The share of violating
sweeps is reported.

Columns: test MSE (mpg^2; mean and standard deviation over seeds), the share
of violating sweeps (mean over seeds; and the most of any seed), and the fit
time (median over seeds) with its ratio to ``ours, unconstrained``.
``--quick``: 2 seeds, 60 epochs.

Run: ``python benchmarks/bench_monotonic.py [--seeds 5] [--quick]
[--backend tensorflow|jax|both]`` (each backend in its own process).
"""

import argparse
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

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import load_auto_mpg

HIDDEN, BATCH, EPOCHS = (32,), 32, 300


def contenders(cst, epochs):
    net = dict(batch_size=BATCH, epochs=epochs, n_iter_no_change=epochs)
    return {
        "ours, monotonic_cst": lambda seed: ConstrainedRegressor(
            hidden_layer_sizes=HIDDEN, monotonic_cst=cst, random_state=seed, **net
        ),
        "ours, unconstrained": lambda seed: ConstrainedRegressor(
            hidden_layer_sizes=HIDDEN, random_state=seed, **net
        ),
        "ours, unconstrained (32, 32)": lambda seed: ConstrainedRegressor(
            hidden_layer_sizes=(32, 32), random_state=seed, **net
        ),
        "HGBR, monotonic_cst": lambda seed: HistGradientBoostingRegressor(
            monotonic_cst=cst, random_state=seed
        ),
        "MLPRegressor": lambda seed: make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=HIDDEN,
                batch_size=BATCH,
                max_iter=epochs,
                n_iter_no_change=epochs,
                random_state=seed,
            ),
        ),
    }


def violations(model, X_train, X_test, cst, y_std, n_base=50, n_grid=200):
    """Share of one-feature sweeps that go the forbidden way somewhere."""
    columns = list(X_train.columns)
    base = X_test.iloc[:n_base].to_numpy()
    bad = total = 0
    for name, sign in cst.items():
        j = columns.index(name)
        low, high = X_train[name].min(), X_train[name].max()
        grid = np.linspace(low - (high - low), high + (high - low), n_grid)
        rows = np.repeat(base, n_grid, axis=0)
        rows[:, j] = np.tile(grid, len(base))
        pred = model.predict(pd.DataFrame(rows, columns=columns))
        steps = np.diff(pred.reshape(len(base), n_grid), axis=1) * sign
        bad += int((steps < -1e-9 * y_std).any(axis=1).sum())
        total += len(base)
    return bad / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 60 epochs")
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds
    epochs = 60 if args.quick else EPOCHS
    data = load_auto_mpg(as_frame=True)
    X, y, cst = data.data, data.target, data.monotonic_cst
    makers = contenders(cst, epochs)
    results = {name: {"mse": [], "viol": [], "time": []} for name in makers}
    for seed in range(seeds):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.2, random_state=seed
        )
        for name, make in makers.items():  # interleaved
            model = make(seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train, y_train)
            results[name]["time"].append(time.perf_counter() - start)
            mse = mean_squared_error(y_test, model.predict(X_test))
            results[name]["mse"].append(mse)
            results[name]["viol"].append(
                violations(model, X_train, X_test, cst, float(y_train.std()))
            )
    base_time = np.median(results["ours, unconstrained"]["time"])
    print(
        f"Auto MPG, {seeds} seeds of an 80/20 split, hidden {HIDDEN}, batch "
        f"{BATCH}, {epochs} epochs\n"
    )
    print(
        "| model | test MSE | violating sweeps (mean / worst seed) "
        "| fit time (median) | ratio to ours unconstrained |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, r in results.items():
        mse, viol, t = np.array(r["mse"]), np.array(r["viol"]), np.median(r["time"])
        print(
            f"| {name} | {mse.mean():.2f} ± {mse.std():.2f} | {viol.mean():.1%} / "
            f"{viol.max():.1%} | {t:.2f} s | {t / base_time:.2f} |"
        )


if __name__ == "__main__":
    main()
