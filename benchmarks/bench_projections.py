"""Time skconstrain.projections against its peers, in the same run.

Peers: POT's ``ot.utils.proj_simplex`` (simplex; for the L1 ball, sign times the
simplex projection of ``|v|``), ``sklearn.preprocessing.normalize`` (L2 sphere).
References: the one-pass floor ``np.abs(V).sum(axis=1)`` and ``np.sort(V, axis=1)``.

Run: ``make bench`` or ``python benchmarks/bench_projections.py [--repeat 7]``.
POT projects columns, so it is given ``V.T`` (a view) and its result is transposed
back (a view): no copy is charged to it.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # POT imports TensorFlow if present

import numpy as np
import ot
from sklearn.preprocessing import normalize

from skconstrain.projections import project_l1_ball, project_l2_sphere, project_simplex

SHAPES = [(100_000, 32), (10_000, 512), (500, 16_384)]


def median_time(fn, repeat):
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def pot_l1_ball(V, radius=1.0):
    A = np.abs(V)
    return np.sign(V) * ot.utils.proj_simplex(A.T, radius).T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    header = (
        f"{'projection':<10} {'data':<12} {'shape':>13} {'ours ms':>8} "
        f"{'peer':<10} {'peer ms':>8} {'peer/ours':>9} {'ours/floor':>10} "
        f"{'ours/sort':>9}"
    )
    print(header)
    print("-" * len(header))
    for n, d in SHAPES:
        for data_name, scale in (("N(0,1)", 1.0), ("N(0,1e-3)", 1e-3)):
            V = scale * rng.standard_normal((n, d))
            floor = median_time(lambda V=V: np.abs(V).sum(axis=1), args.repeat)
            sort = median_time(lambda V=V: np.sort(V, axis=1), args.repeat)
            cases = [
                (
                    "simplex",
                    lambda V=V: project_simplex(V),
                    "POT",
                    lambda V=V: ot.utils.proj_simplex(V.T).T,
                ),
                (
                    "l1_ball",
                    lambda V=V: project_l1_ball(V),
                    "POT",
                    lambda V=V: pot_l1_ball(V),
                ),
            ]
            if scale == 1.0:
                cases.append(
                    (
                        "l2_sphere",
                        lambda V=V: project_l2_sphere(V),
                        "normalize",
                        lambda V=V: normalize(V),
                    )
                )
            for name, ours_fn, peer_name, peer_fn in cases:
                ours = median_time(ours_fn, args.repeat)
                peer = median_time(peer_fn, args.repeat)
                print(
                    f"{name:<10} {data_name:<12} {f'{n}x{d}':>13} {ours * 1e3:8.1f} "
                    f"{peer_name:<10} {peer * 1e3:8.1f} {peer / ours:9.2f} "
                    f"{ours / floor:10.2f} {ours / sort:9.2f}"
                )
    print(
        "\npeer/ours > 1 means ours is faster. N(0,1e-3) rows project with large "
        "supports (most or all entries positive): the simplex projection finds "
        "them by filtering rounds (Michelot) and a partial sort instead of the "
        "16-entry prefix."
    )


if __name__ == "__main__":
    main()
