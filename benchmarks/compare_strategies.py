"""The strategy comparison at full size: real and synthetic problems, seeds.

Every output strategy of ``ConstrainedRegressor`` and the external baselines
(``ProjectedRegressor(MLPRegressor)``; on the simplex, a Keras softmax network
trained by ``Model.fit``), each ``Pipeline(StandardScaler(), model)`` tuned by
``GridSearchCV`` over ``alpha`` (the penalty's strength too), with the same
network, epochs (no early stopping), batch size and learning rate. Problems:
the age structure of countries (real, simplex; test countries unseen), its
five-year change (real, L1 ball of radius 2), a sparse synthetic simplex (half
the target entries 0), a synthetic L1 ball and a synthetic unit sphere.

Prints, per problem, the mean test MSE and its standard deviation over seeds
(each seed draws the split, the synthetic data and the initial weights), the
ratio to the best, the mean rank, violations and grid-search seconds; then
whether the best feasible strategy of the library beats every baseline. Writes
the ranking plot to ``--output``. The README quotes this output.

Run: ``python benchmarks/compare_strategies.py [--seeds 3] [--epochs 150]``
(about 25 minutes on 2 cores with the defaults).
"""

import argparse
import os
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

from sklearn.exceptions import ConvergenceWarning

from skconstrain import demo


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000, help="synthetic rows")
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--problems", nargs="*", default=list(demo.PROBLEMS))
    parser.add_argument("--output", default="demo_output")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = demo.run_comparison(
            problems=tuple(args.problems),
            seeds=tuple(range(args.seeds)),
            n_samples=args.rows,
            epochs=args.epochs,
            hidden=(args.hidden,),
            learning_rate=args.learning_rate,
            progress=lambda line: print(line, flush=True),
        )
    table = demo.summary_table(results)
    print(
        f"\n{args.seeds} seeds; synthetic problems {args.rows} rows; hidden "
        f"({args.hidden},); {args.epochs} epochs; "
        f"Adam {args.learning_rate:g}; batch 64; alpha in {demo.ALPHAS}\n"
    )
    print(demo.format_table(table))
    met, lines = demo.goal_check(table)
    print("\nBest feasible strategy of the library against the external baselines:")
    print(lines)
    print("goal met on every problem" if met else "goal NOT met everywhere")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "compare_strategies.csv", index=False)
    png = demo.plot(results, out / "compare_strategies.png")
    print(
        f"results in {out / 'compare_strategies.csv'}"
        + (f", plot {png}" if png else "")
    )


if __name__ == "__main__":
    main()
