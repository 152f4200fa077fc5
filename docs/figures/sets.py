import matplotlib.pyplot as plt
import numpy as np

from skconstrain.projections import project

rng = np.random.default_rng(1)
V = rng.normal(scale=1.3, size=(40, 2))
panels = [
    ("l2_sphere", {}, lambda ax: ax.add_patch(plt.Circle((0, 0), 1, fill=False))),
    ("l2_ball", {}, lambda ax: ax.add_patch(plt.Circle((0, 0), 1, alpha=0.15))),
    ("l1_ball", {}, lambda ax: ax.fill([1, 0, -1, 0], [0, 1, 0, -1], alpha=0.15)),
    ("linf_ball", {}, lambda ax: ax.fill([1, -1, -1, 1], [1, 1, -1, -1], alpha=0.15)),
    (
        "box",
        {"lower": [-0.5, 0.0], "upper": [1.5, 1.0]},
        lambda ax: ax.fill([-0.5, 1.5, 1.5, -0.5], [0, 0, 1, 1], alpha=0.15),
    ),
    ("ordered", {}, lambda ax: ax.fill([-3, 3, -3], [-3, 3, 3], alpha=0.15)),
]
fig, axes = plt.subplots(2, 3, figsize=(9, 6))
for ax, (name, params, draw) in zip(axes.ravel(), panels, strict=True):
    draw(ax)
    P = project(V, name, **params)
    for v, p in zip(V, P, strict=True):
        ax.plot([v[0], p[0]], [v[1], p[1]], color="0.75", lw=0.7)
    ax.scatter(*V.T, s=6, color="0.5")
    ax.scatter(*P.T, s=9, color="C0", zorder=3)
    ax.set(title=name, xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
    ax.tick_params(labelsize=7)
fig.tight_layout()
