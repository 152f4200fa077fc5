"""Quality with default settings: monotone and quantile networks against the
tools a user would pick instead, on small and larger tabular data.

Protocol. Every contender is ``make_pipeline(StandardScaler(), estimator)``
with the estimator's default settings (only the constraint is set); each
problem is split at random into 75% training and 25% test rows, once per
seed (``--seeds``, default 3), and every contender is fitted with
``random_state=seed`` where it has one.

Monotone problems (test mean squared error, lower is better):

- ``auto_mpg``: :func:`skconstrain.datasets.load_auto_mpg` (392 cars; mpg
  decreasing in weight, displacement and horsepower), extra ``data``;
- ``diabetes``: :func:`sklearn.datasets.load_diabetes` (442 patients;
  progression increasing in bmi, blood pressure and s5), ships with
  scikit-learn;
- ``synthetic_monotone``: ``y = 2 tanh(x0) + x1^3 / 4 + log(1 + e^(2 x2))
  + sin(2 x3) + 0.3 e`` on uniform ``[-2, 2]^5`` (increasing in x0, x1, x2;
  x3 free; x4 noise), 2 000 rows, and 50 000 with ``--large``.

Contenders: ``ours`` (``ConstrainedRegressor(monotonic_cst=...)``),
``ours, early_stopping`` (the same with ``early_stopping=True``),
``network, unconstrained`` (``ConstrainedRegressor()``), ``MLPRegressor``
and ``HGBR`` (``HistGradientBoostingRegressor(monotonic_cst=...)``).

Quantile problems (levels 0.1, 0.25, 0.5, 0.75, 0.9; mean pinball loss over
the levels on the test rows, lower is better):

- ``divorces``: US divorces per 1 000 people by year, 1867-2011 (145
  rows, 1 feature), ``bokeh_sampledata.us_marriages_divorces``, extra
  ``data``;
- ``glucose``: :func:`skconstrain.datasets.load_glucose` (every 11th
  reading: about 4 700 rows);
- ``synthetic_quantile``: :func:`skconstrain.datasets.
  make_heteroscedastic_regression` (3 features), 2 000 rows, and 50 000
  with ``--large``.

Contenders: ``ours`` (``ConstrainedQuantileRegressor``), ``ours,
early_stopping``, ``HGBR per level``
(``HistGradientBoostingRegressor(loss="quantile")``, one per level) and
``QuantileRegressor per level`` (linear, ``alpha=0``, solver "highs").

Columns: the metric's mean over the seeds, the worst seed's metric divided
by HGBR's on the same split, the mean fit time, and for ours the
violations (monotone: pairs of test rows moved along one constrained
feature whose prediction goes the wrong way; quantile: test rows whose
quantiles cross). The last lines check the targets: ours (both settings)
no worse than HGBR and than the unconstrained network (monotone) or
``QuantileRegressor`` (quantile) on average, and no seed worse than 1.3x
HGBR.

Run: ``python benchmarks/bench_quality.py [--seeds 3] [--large]
[--only NAME ...] [--backend tensorflow|jax|both]`` (about 10 minutes
per backend on 2 cores without ``--large``).
"""

import argparse
import ast
import os
import time
import warnings

from _backends import per_backend

per_backend()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import skconstrain._quiet_start  # noqa: F401

# isort: split

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_diabetes
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import QuantileRegressor
from sklearn.metrics import mean_pinball_loss, mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import ConstrainedQuantileRegressor, ConstrainedRegressor
from skconstrain.datasets import (
    load_auto_mpg,
    load_glucose,
    make_heteroscedastic_regression,
)

LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)


# ------------------------------------------------------------------ problems
def auto_mpg():
    data = load_auto_mpg()
    cst = [data.monotonic_cst.get(f, 0) for f in data.feature_names]
    return data.data, data.target, cst


def diabetes():
    data = load_diabetes()
    rising = {"bmi", "bp", "s5"}
    cst = [1 if f in rising else 0 for f in data.feature_names]
    return data.data, data.target, cst


def synthetic_monotone(n):
    def make():
        rng = np.random.default_rng(0)
        X = rng.uniform(-2, 2, size=(n, 5))
        y = (
            2 * np.tanh(X[:, 0])
            + X[:, 1] ** 3 / 4
            + np.logaddexp(0, 2 * X[:, 2])
            + np.sin(2 * X[:, 3])
            + 0.3 * rng.standard_normal(n)
        )
        return X, y, [1, 1, 1, 0, 0]

    return make


def divorces():
    from bokeh_sampledata.us_marriages_divorces import data

    return data[["Year"]].to_numpy(float), data["Divorces_per_1000"].to_numpy(float)


def glucose():
    X, y = load_glucose(horizon=30, return_X_y=True)
    return X[::11], y[::11]


def synthetic_quantile(n):
    def make():
        return make_heteroscedastic_regression(n, 3, random_state=0)

    return make


def problems(large):
    sizes = [2000, 50_000] if large else [2000]
    monotone = {"auto_mpg": auto_mpg, "diabetes": diabetes}
    quantile = {"divorces": divorces, "glucose": glucose}
    for n in sizes:
        monotone[f"synthetic_monotone_{n}"] = synthetic_monotone(n)
        quantile[f"synthetic_quantile_{n}"] = synthetic_quantile(n)
    return monotone, quantile


# --------------------------------------------------------------- contenders
class PerLevel(RegressorMixin, BaseEstimator):
    """One model per level; predictions (n, levels)."""

    def __init__(self, make=None):
        self.make = make

    def fit(self, X, y):
        self.models_ = [self.make(tau).fit(X, y) for tau in LEVELS]
        return self

    def predict(self, X):
        return np.column_stack([m.predict(X) for m in self.models_])


#: Settings of ours and of the unconstrained network given on the command
#: line (``--ours ensemble_size=1``): empty for the defaults.
OURS = {}


def monotone_contenders(cst, seed):
    return {
        "ours": lambda: ConstrainedRegressor(
            monotonic_cst=cst, random_state=seed, **OURS
        ),
        "ours, early_stopping": lambda: ConstrainedRegressor(
            monotonic_cst=cst, early_stopping=True, random_state=seed, **OURS
        ),
        "network, unconstrained": lambda: ConstrainedRegressor(
            random_state=seed, **OURS
        ),
        "MLPRegressor": lambda: MLPRegressor(random_state=seed),
        "HGBR": lambda: HistGradientBoostingRegressor(
            monotonic_cst=cst, random_state=seed
        ),
    }


def quantile_contenders(seed):
    return {
        "ours": lambda: ConstrainedQuantileRegressor(LEVELS, random_state=seed, **OURS),
        "ours, early_stopping": lambda: ConstrainedQuantileRegressor(
            LEVELS, early_stopping=True, random_state=seed, **OURS
        ),
        "HGBR": lambda: PerLevel(
            lambda tau: HistGradientBoostingRegressor(
                loss="quantile", quantile=tau, random_state=seed
            )
        ),
        "QuantileRegressor": lambda: PerLevel(
            lambda tau: QuantileRegressor(quantile=tau, alpha=0.0, solver="highs")
        ),
    }


# -------------------------------------------------------------------- checks
def monotone_violations(pipe, X, cst):
    """Test rows moved up along each constrained feature (by 5% of its
    range): how many predictions went the wrong way by more than 1e-6 of
    the targets' scale."""
    base = pipe.predict(X)
    scale = max(np.ptp(base), 1e-12)
    bad = 0
    for j, s in enumerate(cst):
        if s == 0:
            continue
        moved = X.copy()
        moved[:, j] += 0.05 * np.ptp(X[:, j])
        bad += int((s * (pipe.predict(moved) - base) < -1e-6 * scale).sum())
    return bad


def crossings(Q):
    return int((np.diff(Q, axis=1) < 0).any(axis=1).sum())


def pinball(y, Q):
    return float(
        np.mean([mean_pinball_loss(y, Q[:, k], alpha=t) for k, t in enumerate(LEVELS)])
    )


# ----------------------------------------------------------------------- run
def run(name, make, kind, seeds):
    loaded = make()
    X, y = loaded[0], loaded[1]
    cst = loaded[2] if kind == "monotone" else None
    scores, times, bad = {}, {}, {}
    for seed in range(seeds):
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.25, random_state=seed
        )
        contenders = (
            monotone_contenders(cst, seed)
            if kind == "monotone"
            else quantile_contenders(seed)
        )
        for label, make_model in contenders.items():
            pipe = make_pipeline(StandardScaler(), make_model())
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                pipe.fit(X_tr, y_tr)
            times.setdefault(label, []).append(time.perf_counter() - start)
            P = pipe.predict(X_te)
            if kind == "monotone":
                score = mean_squared_error(y_te, P)
                if label.startswith("ours"):
                    bad[label] = bad.get(label, 0) + monotone_violations(
                        pipe, X_te, cst
                    )
            else:
                score = pinball(y_te, P)
                if label.startswith("ours"):
                    bad[label] = bad.get(label, 0) + crossings(P)
            scores.setdefault(label, []).append(score)
    return len(y_tr), scores, times, bad


def report(name, kind, n_train, scores, times, bad):
    metric = "MSE" if kind == "monotone" else "pinball"
    print(f"\n### {name} ({n_train} training rows, test {metric})\n")
    print(f"| contender | {metric} | worst seed / HGBR | fit (s) | violations |")
    print("| --- | --- | --- | --- | --- |")
    hgbr = np.asarray(scores["HGBR"])
    for label, values in scores.items():
        values = np.asarray(values)
        worst = float(np.max(values / hgbr))
        v = bad.get(label, "")
        print(
            f"| {label} | {values.mean():.4g} | {worst:.2f} | "
            f"{np.mean(times[label]):.2f} | {v} |"
        )
    peer = "network, unconstrained" if kind == "monotone" else "QuantileRegressor"
    checks = []
    for label in ("ours", "ours, early_stopping"):
        mine = np.asarray(scores[label])
        ok = (
            mine.mean() <= hgbr.mean()
            and mine.mean() <= np.mean(scores[peer])
            and np.max(mine / hgbr) <= 1.3
            and bad.get(label, 0) == 0
        )
        checks.append(f"{label}: {'met' if ok else 'NOT met'}")
    print(
        f"\ntargets ({metric} <= HGBR and <= {peer}, no seed > 1.3x HGBR, "
        f"no violation): " + "; ".join(checks)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument(
        "--ours",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="settings of ours and the unconstrained network (Python literals)",
    )
    args = parser.parse_args()
    for item in args.ours:
        name, value = item.split("=", 1)
        OURS[name] = ast.literal_eval(value)
    if OURS:
        print(f"ours with {OURS}")
    monotone, quantile = problems(args.large)
    for kind, table in (("monotone", monotone), ("quantile", quantile)):
        for name, make in table.items():
            if args.only and name not in args.only:
                continue
            n_train, scores, times, bad = run(name, make, kind, args.seeds)
            report(name, kind, n_train, scores, times, bad)


if __name__ == "__main__":
    main()
