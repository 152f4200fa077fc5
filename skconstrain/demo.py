"""The main job: ``python -m skconstrain.demo``."""

import numpy as np

from skconstrain._sets import SET_NAMES
from skconstrain.projections import project


def main():
    """Print the projections of a small batch onto every set."""
    V = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.1]])
    print("batch:\n", V)
    for name in SET_NAMES:
        params = {"lower": -0.5, "upper": 0.5} if name == "box" else {}
        print(f"\n{name}:\n", project(V, name, **params))


if __name__ == "__main__":
    main()
