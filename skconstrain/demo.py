"""The main job: which way of getting predictions that obey a constraint wins?

``python -m skconstrain.demo [--quick] [--output DIR] [--seed N]``

On real and synthetic problems whose targets lie in a set, every model below is
a ``Pipeline(StandardScaler(), model)`` tuned by a small ``GridSearchCV`` over
``alpha`` (and, for the penalty, its strength), with the same network, epoch
budget (no early stopping on validation rows), batch size and learning rate:

- ``ConstrainedRegressor`` with ``output_strategy="project"`` (exact projection
  inside the network, trained with squared error), the same trained with
  ``loss="fenchel_young"`` ("project_fy"), ``"activation"`` (a smooth map into
  the set), ``"penalty"`` (penalty in the loss) and ``"post"`` (projection
  after predict);
- the external baselines: ``ProjectedRegressor(MLPRegressor(), NormProjector(set))``
  ("mlp_projected") and, on the simplex, a Keras network ending in a softmax,
  built by hand and trained by ``Model.fit`` ("keras_softmax"), which is what
  practitioners build for proportions today.

The problems (:func:`load_problem`): the age structure of countries (real, the
simplex; train and test countries apart), its five-year change (real, the L1
ball of radius 2), a synthetic simplex with half its target entries exactly 0,
a synthetic L1 ball and a synthetic unit sphere.

It prints one table per problem (test MSE and its spread over seeds, ratio to
the best, mean rank, largest distance of a test prediction to the set, share of
test predictions farther than 1e-5 from it, seconds for the grid search), checks
that the best strategy of the library beats every external baseline, and, when
matplotlib is installed, plots the ranking per problem.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
)
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from skconstrain import ConstrainedRegressor, NormProjector, ProjectedRegressor
from skconstrain.datasets import load_age_structure, make_constrained_regression
from skconstrain.projections import distance

PROBLEMS = ("age_structure", "age_change", "sparse_simplex", "l1_ball", "l2_sphere")
#: What each of our strategies sets on ConstrainedRegressor.
_SETTINGS = {
    "project": {"output_strategy": "project"},
    "project_fy": {"output_strategy": "project", "loss": "fenchel_young"},
    "activation": {"output_strategy": "activation"},
    "penalty": {"output_strategy": "penalty"},
    "post": {"output_strategy": "post"},
}
LIBRARY = tuple(_SETTINGS)
BASELINES = ("mlp_projected", "keras_softmax")
STRATEGIES = LIBRARY + BASELINES
VIOLATION_TOL = 1e-5
ALPHAS = (1e-5, 1e-3)
PENALTY_STRENGTHS = (1.0, 10.0, 100.0)


@dataclass(frozen=True)
class Problem:
    """A regression problem whose targets lie in a set.

    ``groups`` (or None) label rows that must stay on one side of every split
    (the countries of the real data).
    """

    name: str
    set: str
    radius: float
    X: np.ndarray
    Y: np.ndarray
    groups: np.ndarray | None
    real: bool


def load_problem(name, n_samples=800, seed=0):
    """One problem of the comparison.

    Parameters
    ----------
    name : str
        One of :data:`PROBLEMS`.
    n_samples : int, default=800
        Rows of the synthetic problems (the real ones have all theirs).
    seed : int, default=0
        Seed of the synthetic problems.

    Returns
    -------
    Problem
    """
    if name in ("age_structure", "age_change"):
        target = "shares" if name == "age_structure" else "change"
        bunch = load_age_structure(target=target, as_frame=True)
        return Problem(
            name,
            "simplex" if target == "shares" else "l1_ball",
            1.0 if target == "shares" else 2.0,
            bunch.data.to_numpy(),
            bunch.target.to_numpy(),
            bunch.frame["country"].to_numpy(),
            real=True,
        )
    synthetic = {
        "sparse_simplex": ("simplex", {"sparsity": 0.5}),
        "l1_ball": ("l1_ball", {}),
        "l2_sphere": ("l2_sphere", {}),
    }
    if name not in synthetic:
        raise ValueError(f"Unknown problem {name!r}; choose one of {PROBLEMS}.")
    set_name, extra = synthetic[name]
    X, Y = make_constrained_regression(
        n_samples, 8, 5, set=set_name, noise=0.1, random_state=seed, **extra
    )
    return Problem(name, set_name, 1.0, X, Y, None, real=False)


class KerasSoftmaxBaseline(RegressorMixin, BaseEstimator):
    """The external Keras baseline: an MLP ending in ``radius * softmax``.

    What practitioners build for proportions today, by hand: ``keras.Sequential``
    of ``Dense`` relu layers and a softmax output, L2 kernel penalty ``alpha /
    n`` (scikit-learn's scale), Adam, squared error, ``Model.fit`` with
    ``EarlyStopping(restore_best_weights=True)`` on a random
    ``validation_fraction`` of the rows. Only for the simplex.

    Examples
    --------
    >>> import numpy as np
    >>> from skconstrain.demo import KerasSoftmaxBaseline
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> Y = np.full((40, 2), 0.5)
    >>> P = KerasSoftmaxBaseline((4,), epochs=2, random_state=0).fit(X, Y).predict(X)
    >>> bool(np.allclose(P.sum(axis=1), 1, atol=1e-6))
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(32,),
        alpha=1e-4,
        radius=1.0,
        epochs=30,
        batch_size=64,
        learning_rate=1e-3,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.radius = radius
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    def fit(self, X, y):
        import keras

        X, y = validate_data(self, X, y, multi_output=True, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        seed = 0 if self.random_state is None else int(self.random_state)
        keras.utils.set_random_seed(seed)
        penalty = keras.regularizers.L2(self.alpha / len(X))
        layers = [keras.Input((X.shape[1],))]
        layers += [
            keras.layers.Dense(units, activation="relu", kernel_regularizer=penalty)
            for units in self.hidden_layer_sizes
        ]
        layers += [
            keras.layers.Dense(
                y.shape[1], activation="softmax", kernel_regularizer=penalty
            ),
            keras.layers.Rescaling(self.radius),
        ]
        model = keras.Sequential(layers)
        model.compile(keras.optimizers.Adam(self.learning_rate), loss="mse")
        fit_args = {}
        if self.early_stopping:
            order = np.random.default_rng(seed).permutation(len(X))
            n_val = max(1, round(self.validation_fraction * len(X)))
            val, train = order[:n_val], order[n_val:]
            fit_args["validation_data"] = (X[val], y[val])
            fit_args["callbacks"] = [
                keras.callbacks.EarlyStopping(
                    patience=self.n_iter_no_change, restore_best_weights=True
                )
            ]
            X, y = X[train], y[train]
        model.fit(
            X, y, batch_size=self.batch_size, epochs=self.epochs, verbose=0, **fit_args
        )
        self.model_ = model
        return self

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        # a direct call: Model.predict traces a new function for every
        # network, and TensorFlow warns about it after five
        return np.asarray(self.model_(X, training=False), dtype=float)


def make_models(problem, seed, epochs, hidden=(32,), learning_rate=3e-3):
    """The models of the comparison, each a grid search over ``alpha`` (and the
    penalty's strength) of ``Pipeline(StandardScaler(), model)``."""
    # Equal budgets: no early stopping on validation rows (it would stop each
    # network by its own rule: Keras watches a validation loss that includes
    # the weight penalty, the others the squared error alone). With tol=0,
    # ours and MLPRegressor stop only when the training loss has not
    # decreased at all for 10 epochs.
    common = dict(epochs=epochs, batch_size=64, early_stopping=False)
    tol = dict(tol=0.0)
    models = {
        strategy: ConstrainedRegressor(
            hidden_layer_sizes=hidden,
            penalty="l2",
            output_constraint=problem.set,
            output_radius=problem.radius,
            learning_rate=learning_rate,
            random_state=seed,
            **common,
            **tol,
            **settings,
        )
        for strategy, settings in _SETTINGS.items()
    }
    models["mlp_projected"] = ProjectedRegressor(
        MLPRegressor(
            hidden_layer_sizes=hidden,
            max_iter=epochs,
            batch_size=64,
            early_stopping=True,
            learning_rate_init=learning_rate,
            random_state=seed,
            **tol,
        ),
        NormProjector(problem.set, radius=problem.radius),
    )
    if problem.set == "simplex":
        models["keras_softmax"] = KerasSoftmaxBaseline(
            hidden,
            radius=problem.radius,
            learning_rate=learning_rate,
            random_state=seed,
            **common,
        )
    cv = GroupKFold(2) if problem.groups is not None else KFold(2)
    searches = {}
    for name, model in models.items():
        key = "model__regressor__alpha" if name == "mlp_projected" else "model__alpha"
        grid = {key: list(ALPHAS)}
        if name == "penalty":
            grid["model__output_penalty_strength"] = list(PENALTY_STRENGTHS)
        pipe = Pipeline([("scale", StandardScaler()), ("model", model)])
        searches[name] = GridSearchCV(
            pipe, grid, cv=cv, scoring="neg_mean_squared_error"
        )
    return searches


def split(problem, seed):
    """Train and test rows (a quarter for test; countries kept apart)."""
    if problem.groups is not None:
        splitter = GroupShuffleSplit(1, test_size=0.25, random_state=seed)
    else:
        splitter = ShuffleSplit(1, test_size=0.25, random_state=seed)
    return next(splitter.split(problem.X, problem.Y, problem.groups))


def run_comparison(
    problems=PROBLEMS,
    seeds=(0,),
    n_samples=800,
    epochs=60,
    hidden=(32,),
    learning_rate=3e-3,
    progress=print,
):
    """Fit every model on every problem and seed; one row of results per fit.

    Parameters
    ----------
    problems : tuple of str
        Names from :data:`PROBLEMS`.
    seeds : tuple of int
        Each seed draws the synthetic data, the split and the initial weights.
    n_samples : int
        Rows of each synthetic problem.
    epochs, hidden, learning_rate
        The budget of every network (no early stopping on validation rows).
    progress : callable
        Receives one line per finished grid search.

    Returns
    -------
    results : DataFrame
        Columns: problem, set, strategy, seed, test_mse, max_violation,
        violating_fraction, fit_seconds.
    """
    rows = []
    done = 0
    for seed in seeds:
        for name in problems:
            problem = load_problem(name, n_samples, seed)
            train, test = split(problem, seed)
            fit_args = {}
            if problem.groups is not None:
                fit_args["groups"] = problem.groups[train]
            models = make_models(problem, seed, epochs, hidden, learning_rate)
            for strategy, search in models.items():
                start = time.perf_counter()
                search.fit(problem.X[train], problem.Y[train], **fit_args)
                seconds = time.perf_counter() - start
                pred = search.predict(problem.X[test])
                dist = distance(pred, problem.set, radius=problem.radius)
                rows.append(
                    {
                        "problem": name,
                        "set": problem.set,
                        "strategy": strategy,
                        "seed": seed,
                        "test_mse": mean_squared_error(problem.Y[test], pred),
                        "max_violation": float(dist.max()),
                        "violating_fraction": float((dist > VIOLATION_TOL).mean()),
                        "fit_seconds": seconds,
                    }
                )
                done += 1
                progress(
                    f"[{done:>3}] seed {seed} {name:<14} {strategy:<13} "
                    f"test MSE {rows[-1]['test_mse']:.3e}  ({seconds:.1f} s)"
                )
    return pd.DataFrame(rows)


def summary_table(results):
    """Per problem and strategy: mean test MSE, its standard deviation over
    seeds, the ratio of the mean to the problem's best mean, the mean rank
    (1: best of its seed), violations and seconds; best first."""
    results = results.assign(
        rank=results.groupby(["problem", "seed"])["test_mse"].rank()
    )
    grouped = results.groupby(["problem", "strategy"], sort=False)
    table = grouped.agg(
        test_mse=("test_mse", "mean"),
        mse_std=("test_mse", "std"),
        mean_rank=("rank", "mean"),
        max_violation=("max_violation", "max"),
        violating_fraction=("violating_fraction", "mean"),
        fit_seconds=("fit_seconds", "mean"),
    )
    table["mse_std"] = table["mse_std"].fillna(0.0)
    best = table.groupby(level="problem", sort=False)["test_mse"].transform("min")
    table.insert(2, "vs_best", table["test_mse"] / best)
    order = list(dict.fromkeys(results["problem"]))
    table = table.reset_index()
    table["problem"] = pd.Categorical(table["problem"], order, ordered=True)
    table = table.sort_values(["problem", "test_mse"])
    return table.set_index(["problem", "strategy"])


def format_table(table):
    """The summary as text, one block per problem."""
    header = (
        f"{'strategy':<14} {'test MSE':>9} {'± std':>9} {'vs best':>8} "
        f"{'rank':>5} {'max viol.':>10} {'violating':>10} {'fit s':>7}"
    )
    lines = []
    for problem, part in table.groupby(level="problem", sort=False, observed=True):
        lines += ["", f"{problem}", header, "-" * len(header)]
        for (_, strategy), r in part.iterrows():
            lines.append(
                f"{strategy:<14} {r.test_mse:9.3e} {r.mse_std:9.1e} "
                f"{r.vs_best:7.2f}x {r.mean_rank:5.1f} {r.max_violation:10.2e} "
                f"{r.violating_fraction:10.1%} {r.fit_seconds:7.1f}"
            )
    return "\n".join(lines[1:])


def goal_check(table):
    """Per problem: does the best feasible library strategy beat every
    external baseline? One line per problem, and True if all do.

    "Feasible": no test prediction farther than ``VIOLATION_TOL`` from the set.
    """
    lines, met = [], True
    for problem, part in table.groupby(level="problem", sort=False, observed=True):
        part = part.droplevel("problem")
        ours = part.loc[[s for s in LIBRARY if s in part.index]]
        ours = ours[ours["violating_fraction"] == 0]
        baselines = part.loc[[s for s in BASELINES if s in part.index]]
        best = ours["test_mse"].idxmin()
        ok = bool((ours.loc[best, "test_mse"] <= baselines["test_mse"]).all())
        met &= ok
        versus = ", ".join(
            f"{name} {value / ours.loc[best, 'test_mse']:.2f}x"
            for name, value in baselines["test_mse"].items()
        )
        lines.append(
            f"{problem:<14} best: {best} ({ours.loc[best, 'test_mse']:.3e}); "
            f"baselines: {versus}  {'ok' if ok else 'NOT MET'}"
        )
    return met, "\n".join(lines)


def plot(results, path):
    """Write the ranking per problem as a PNG; returns its path, or None
    without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    table = summary_table(results)
    problems = list(table.index.get_level_values("problem").unique())
    fig, axes = plt.subplots(
        1, len(problems), figsize=(4.2 * len(problems), 4), squeeze=False
    )
    for ax, problem in zip(axes[0], problems, strict=True):
        part = table.loc[problem][::-1]
        best = part["test_mse"].min()
        colors = [
            "tab:red"
            if r.violating_fraction > 0
            else ("tab:gray" if s in BASELINES else "tab:blue")
            for s, r in part.iterrows()
        ]
        ax.barh(
            part.index,
            part["test_mse"] / best,
            xerr=part["mse_std"] / best,
            color=colors,
        )
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(problem)
        ax.set_xlabel("test MSE / best (blue: ours, gray: baselines, red: violates)")
        ax.xaxis.label.set_fontsize(7)
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
        dict(n_samples=300, epochs=15) if args.quick else dict(n_samples=600, epochs=40)
    )
    print(
        f"Comparing output strategies on {', '.join(PROBLEMS)} "
        f"(synthetic: {size['n_samples']} rows; {size['epochs']} epochs; "
        f"grid search over alpha; seed {args.seed})",
        flush=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = run_comparison(
            seeds=(args.seed,), progress=lambda line: print(line, flush=True), **size
        )
    table = summary_table(results)
    print()
    print(format_table(table))
    print(
        f"\nvs best: mean test MSE over the problem's best; rank: 1 is the best. "
        f"max viol.: largest distance of a test prediction to the set; violating: "
        f"share farther than {VIOLATION_TOL:g}. fit s: seconds for the grid search."
    )
    _, lines = goal_check(table)
    print("\nBest feasible strategy of the library against the external baselines:")
    print(lines)
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
