"""Non-crossing quantiles: ConstrainedQuantileRegressor against per-level models.

Protocol. Nine levels, 0.1 to 0.9. Two problems:

- ``glucose``: ``skconstrain.datasets.load_glucose(horizon=30)``, one
  person's continuous glucose monitor, the glucose 30 minutes ahead from the
  glucose now, its recent changes and the time of day. Split by time: the
  first 70% of the rows train, the last 30% test; every 3rd row is kept
  (neighbouring readings, 5 minutes apart, are nearly copies).
- ``synthetic``: ``make_heteroscedastic_regression`` (noise growing with a
  feature), 5 000 training and 5 000 test rows.

Contenders, each fitted on the training rows:

- ``ours``: ``ConstrainedQuantileRegressor`` with its defaults (the
  predictions projected exactly onto the ordered set), hidden (64,), batch
  128, 60 epochs (all of them); and ``ours, "project"``: the projection ends
  the network and is trained through;
- ``network, unconstrained``: the same network and budget trained with the
  same pinball loss, without the ordering (``output_strategy="penalty"``
  with ``output_penalty_strength=0``);
- ``HGBR per level``: ``HistGradientBoostingRegressor(loss="quantile")``, one
  model per level, defaults; and the same predictions rearranged by
  ``NormProjector("ordered")`` (isotonic regression of each row);
- ``QuantileRegressor per level``: linear, ``alpha=0``, solver "highs".

Columns: mean pinball loss over the levels on the test rows (lower is
better), the worst coverage error ``max_k |mean(y <= q_k) - tau_k|``, the
share of test rows where some quantiles cross, and the fit time.

Then the NumPy "ordered" projection against
``sklearn.isotonic.isotonic_regression`` called row by row, 100 000 rows of
9 levels.

Run: ``python benchmarks/bench_quantile.py [--quick]`` (about 2 minutes).
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.isotonic import isotonic_regression
from sklearn.linear_model import QuantileRegressor
from sklearn.metrics import mean_pinball_loss

from skconstrain import ConstrainedQuantileRegressor, NormProjector
from skconstrain.datasets import load_glucose, make_heteroscedastic_regression
from skconstrain.projections import project_ordered

LEVELS = tuple(np.round(np.arange(0.1, 0.91, 0.1), 2))


def problems(quick):
    X, y = load_glucose(horizon=30, return_X_y=True)
    cut = int(0.7 * len(X))
    step = 9 if quick else 3
    yield "glucose", X[:cut:step], y[:cut:step], X[cut::step], y[cut::step]
    n = 2000 if quick else 5000
    X_train, y_train = make_heteroscedastic_regression(n, 3, random_state=0)
    X_test, y_test = make_heteroscedastic_regression(n, 3, random_state=1)
    yield "synthetic", X_train, y_train, X_test, y_test


class PerLevel:
    """One model per level; predictions (n, levels), optionally rearranged."""

    def __init__(self, make, rearrange=False):
        self.make, self.rearrange = make, rearrange

    def fit(self, X, y):
        self.models = [self.make(tau).fit(X, y) for tau in LEVELS]
        return self

    def predict(self, X):
        Q = np.column_stack([m.predict(X) for m in self.models])
        return NormProjector("ordered").transform(Q) if self.rearrange else Q


def contenders(epochs):
    net = dict(hidden_layer_sizes=(64,), batch_size=128, epochs=epochs)
    net["n_iter_no_change"] = epochs
    return {
        "ours": lambda: ConstrainedQuantileRegressor(LEVELS, random_state=0, **net),
        'ours, "project"': lambda: ConstrainedQuantileRegressor(
            LEVELS, output_strategy="project", random_state=0, **net
        ),
        "network, unconstrained": lambda: ConstrainedQuantileRegressor(
            LEVELS,
            output_strategy="penalty",
            output_penalty_strength=0.0,
            random_state=0,
            **net,
        ),
        "HGBR per level": lambda: PerLevel(
            lambda tau: HistGradientBoostingRegressor(
                loss="quantile", quantile=tau, random_state=0
            )
        ),
        "HGBR per level, rearranged": "HGBR per level",
        "QuantileRegressor per level": lambda: PerLevel(
            lambda tau: QuantileRegressor(quantile=tau, alpha=0.0, solver="highs")
        ),
    }


def report(name, Q, y, seconds):
    pinball = np.mean(
        [mean_pinball_loss(y, Q[:, k], alpha=t) for k, t in enumerate(LEVELS)]
    )
    coverage = (y[:, None] <= Q).mean(axis=0)
    worst = np.abs(coverage - np.asarray(LEVELS)).max()
    crossing = (np.diff(Q, axis=1) < 0).any(axis=1).mean()
    print(
        f"| {name} | {pinball:.5g} | {worst:.3f} | {crossing:.1%} | {seconds:.1f} s |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows, 20 epochs")
    args = parser.parse_args()
    epochs = 20 if args.quick else 60
    warnings.simplefilter("ignore", ConvergenceWarning)
    for problem, X_train, y_train, X_test, y_test in problems(args.quick):
        print(
            f"\n{problem}: {len(X_train)} training rows, {len(X_test)} test rows, "
            f"levels {LEVELS[0]}..{LEVELS[-1]}\n"
        )
        print(
            "| model | mean pinball loss | worst coverage error | rows crossing "
            "| fit time |"
        )
        print("| --- | --- | --- | --- | --- |")
        fitted = {}
        for name, make in contenders(epochs).items():
            if isinstance(make, str):  # the same fit, rearranged
                model, seconds = fitted[make]
                Q = NormProjector("ordered").transform(model.predict(X_test))
                report(name, Q, y_test, seconds)
                continue
            start = time.perf_counter()
            model = make().fit(X_train, y_train)
            seconds = time.perf_counter() - start
            fitted[name] = model, seconds
            report(name, model.predict(X_test), y_test, seconds)

    rng = np.random.default_rng(0)
    V = rng.normal(size=(100_000, 9))
    start = time.perf_counter()
    ours = project_ordered(V)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = np.array([isotonic_regression(v) for v in V])
    t_theirs = time.perf_counter() - start
    assert np.abs(ours - theirs).max() < 1e-12
    print(
        f"\nprojection onto 'ordered', 100 000 rows x 9: project_ordered "
        f"{t_ours * 1e3:.0f} ms, isotonic_regression row by row {t_theirs:.2f} s: "
        f"{t_theirs / t_ours:.0f}x faster"
    )


if __name__ == "__main__":
    main()
