import matplotlib.pyplot as plt
import numpy as np

from skconstrain.projections import project_simplex

rng = np.random.default_rng(0)
V = rng.normal(loc=1 / 3, scale=0.5, size=(300, 3))
P = project_simplex(V)


def ternary(Q):
    return Q[:, 1] + 0.5 * Q[:, 2], (np.sqrt(3) / 2) * Q[:, 2]


fig, ax = plt.subplots(figsize=(4.5, 4))
ax.plot([0, 1, 0.5, 0], [0, 0, np.sqrt(3) / 2, 0], color="k", lw=0.8)
ax.scatter(*ternary(P), s=8, color="C0")
on_edge = (P == 0).any(axis=1)
ax.set_title(f"simplex: {on_edge.mean():.0%} of the projections on an edge")
ax.set_aspect("equal")
ax.axis("off")
