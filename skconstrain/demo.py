"""The main job: compare the ways of getting predictions that obey a constraint.

``python -m skconstrain.demo [--quick] [--output DIR] [--seed N]``

For targets on the simplex, in the L1 ball and on the unit L2 sphere, six models
are each tuned by a small ``GridSearchCV`` over ``alpha`` (and, for the penalty,
its strength):

- ``ConstrainedRegressor`` with ``output_strategy="project"`` (exact projection
  inside the network, trained with squared error), the same trained with
  ``loss="fenchel_young"`` ("project_fy"), ``"activation"`` (a smooth map into
  the set), ``"penalty"`` (penalty in the loss) and ``"post"`` (projection
  after predict);
- the baseline ``ProjectedRegressor(MLPRegressor(), NormProjector(set))``.

It prints one table (test MSE, largest distance of a test prediction to the set,
fraction of test predictions farther than 1e-5 from it, seconds for the grid
search) and, when matplotlib is installed, writes a PNG with the test MSE per
strategy and the distribution of the prediction norms per strategy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPRegressor

from skconstrain import ConstrainedRegressor, NormProjector, ProjectedRegressor
from skconstrain.datasets import make_constrained_regression
from skconstrain.projections import distance

SETS = ("simplex", "l1_ball", "l2_sphere")
STRATEGIES = ("project", "project_fy", "activation", "penalty", "post", "baseline")
#: What each of our strategies sets on ConstrainedRegressor.
_SETTINGS = {
    "project": {"output_strategy": "project"},
    "project_fy": {"output_strategy": "project", "loss": "fenchel_young"},
    "activation": {"output_strategy": "activation"},
    "penalty": {"output_strategy": "penalty"},
    "post": {"output_strategy": "post"},
}
VIOLATION_TOL = 1e-5
NORM_ORDER = {"simplex": 1, "l1_ball": 1, "l2_sphere": 2}


def make_models(set_name, seed, epochs):
    """The models of the comparison, each a grid search over ``alpha`` (and
    the penalty's strength)."""
    hidden = (32,)
    models = {
        strategy: ConstrainedRegressor(
            hidden_layer_sizes=hidden,
            penalty="l2",
            output_constraint=set_name,
            epochs=epochs,
            batch_size=64,
            learning_rate=0.01,
            random_state=seed,
            **settings,
        )
        for strategy, settings in _SETTINGS.items()
    }
    models["baseline"] = ProjectedRegressor(
        MLPRegressor(
            hidden_layer_sizes=hidden,
            max_iter=epochs,
            batch_size=64,
            learning_rate_init=0.01,
            random_state=seed,
        ),
        NormProjector(set_name),
    )
    grids = {name: {"alpha": [1e-3, 1e-1]} for name in models}
    grids["penalty"]["output_penalty_strength"] = [1.0, 10.0, 100.0]
    grids["baseline"] = {"regressor__alpha": [1e-3, 1e-1]}
    return {
        name: GridSearchCV(model, grids[name], cv=2, scoring="neg_mean_squared_error")
        for name, model in models.items()
    }


def run_comparison(
    sets=SETS,
    seeds=(0,),
    n_samples=800,
    n_features=8,
    n_targets=4,
    epochs=60,
    progress=print,
):
    """Fit every strategy on every set and seed; one row of results per fit.

    Parameters
    ----------
    sets : tuple of str
    seeds : tuple of int
    n_samples, n_features, n_targets : int
        Size of each synthetic problem (75% train, 25% test).
    epochs : int
        Epoch budget of every network.
    progress : callable
        Receives one line per finished grid search.

    Returns
    -------
    results : DataFrame
        Columns: set, strategy, seed, test_mse, max_violation,
        violating_fraction, fit_seconds, and the test prediction norms
        (column ``norms``, one array per row).
    """
    rows = []
    total = len(sets) * len(seeds) * len(STRATEGIES)
    done = 0
    for seed in seeds:
        for set_name in sets:
            X, Y = make_constrained_regression(
                n_samples,
                n_features,
                n_targets,
                set=set_name,
                noise=0.1,
                random_state=seed,
            )
            X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, random_state=seed)
            for strategy, grid in make_models(set_name, seed, epochs).items():
                start = time.perf_counter()
                grid.fit(X_tr, Y_tr)
                seconds = time.perf_counter() - start
                pred = grid.predict(X_te)
                dist = distance(pred, set_name)
                done += 1
                rows.append(
                    {
                        "set": set_name,
                        "strategy": strategy,
                        "seed": seed,
                        "test_mse": mean_squared_error(Y_te, pred),
                        "max_violation": float(dist.max()),
                        "violating_fraction": float((dist > VIOLATION_TOL).mean()),
                        "fit_seconds": seconds,
                        "norms": np.linalg.norm(pred, ord=NORM_ORDER[set_name], axis=1),
                    }
                )
                progress(
                    f"[{done:>2}/{total}] {set_name:<9} {strategy:<10} "
                    f"test MSE {rows[-1]['test_mse']:.5f}  ({seconds:.1f} s)"
                )
    return pd.DataFrame(rows)


def summary_table(results):
    """Mean (and, over several seeds, standard deviation) per set and strategy."""
    cols = ["test_mse", "max_violation", "violating_fraction", "fit_seconds"]
    grouped = results.groupby(["set", "strategy"], sort=False)[cols]
    table = grouped.mean()
    if results["seed"].nunique() > 1:
        table = table.join(
            grouped.std()[["test_mse"]].rename(columns={"test_mse": "mse_std"})
        )
    return table


def format_table(table):
    lines = [
        f"{'set':<10} {'strategy':<11} {'test MSE':>9} {'max viol.':>10} "
        f"{'violating':>10} {'fit s':>7}"
        + (f" {'MSE std':>9}" if "mse_std" in table else "")
    ]
    lines.append("-" * len(lines[0]))
    for (set_name, strategy), r in table.iterrows():
        line = (
            f"{set_name:<10} {strategy:<11} {r.test_mse:9.5f} {r.max_violation:10.2e} "
            f"{r.violating_fraction:10.1%} {r.fit_seconds:7.1f}"
        )
        if "mse_std" in table:
            line += f" {r.mse_std:9.5f}"
        lines.append(line)
    return "\n".join(lines)


def plot(results, path):
    """Write the PNG; returns its path, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sets = list(dict.fromkeys(results["set"]))
    fig, axes = plt.subplots(2, len(sets), figsize=(5 * len(sets), 8), squeeze=False)
    for j, set_name in enumerate(sets):
        part = results[results["set"] == set_name]
        mse = part.groupby("strategy", sort=False)["test_mse"].mean()
        axes[0, j].bar(mse.index, mse.values, color="tab:blue")
        axes[0, j].set_title(f"{set_name}: test MSE")
        norms = [
            np.concatenate(part[part.strategy == s]["norms"].tolist())
            for s in mse.index
        ]
        axes[1, j].boxplot(norms, tick_labels=list(mse.index))
        axes[1, j].axhline(1.0, color="tab:red", linestyle="--", linewidth=1)
        label = "L1 norm" if NORM_ORDER[set_name] == 1 else "L2 norm"
        axes[1, j].set_title(f"{set_name}: {label} of test predictions (set: 1)")
        for ax in axes[:, j]:
            ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    """Run the comparison and print (and plot) the results."""
    parser = argparse.ArgumentParser(
        prog="python -m skconstrain.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    parser.add_argument("--output", default="demo_output", help="folder for the PNG")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    size = (
        dict(n_samples=300, epochs=15) if args.quick else dict(n_samples=500, epochs=30)
    )
    print(
        f"Comparing output strategies on {', '.join(SETS)} targets "
        f"({size['n_samples']} rows, grid search over alpha, seed {args.seed})",
        flush=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = run_comparison(
            seeds=(args.seed,), progress=lambda line: print(line, flush=True), **size
        )
    print()
    print(format_table(summary_table(results)))
    print(
        f"\nmax viol.: largest distance of a test prediction to the set; violating: "
        f"share farther than {VIOLATION_TOL:g}. fit s: seconds for the grid search."
    )
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    png = plot(results, out / "strategies.png")
    if png is not None:
        print(f"plot written to {png}")
    else:
        print("(install matplotlib for the plot: pip install skconstrain[plot])")
    return 0


if __name__ == "__main__":
    sys.exit(main())
