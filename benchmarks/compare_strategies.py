"""The demo's strategy comparison at a larger scale: more rows, several seeds.

Prints mean test MSE (with its standard deviation over seeds), the largest
distance of a test prediction to the set, the share of test predictions farther
than 1e-5 from it, and the grid-search seconds, for every output strategy and the
``ProjectedRegressor(MLPRegressor)`` baseline. The README quotes this table.

Run: ``python benchmarks/compare_strategies.py [--seeds 3] [--rows 2000]``
(about 10 minutes on 2 cores with the defaults).
"""

import argparse
import warnings

from sklearn.exceptions import ConvergenceWarning

from skconstrain.demo import format_table, run_comparison, summary_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = run_comparison(
            seeds=tuple(range(args.seeds)),
            n_samples=args.rows,
            epochs=args.epochs,
            progress=lambda line: print(line, flush=True),
        )
    print(f"\n{args.rows} rows (75% train), {args.seeds} seeds, {args.epochs} epochs")
    print(format_table(summary_table(results)))


if __name__ == "__main__":
    main()
