import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from skconstrain import NormProjector
from skconstrain.datasets import make_heteroscedastic_regression

X, y = make_heteroscedastic_regression(600, 1, random_state=0)
levels = [0.1, 0.3, 0.5, 0.7, 0.9]
grid = np.linspace(-2, 2, 400)[:, None]
Q = np.column_stack(
    [
        HistGradientBoostingRegressor(
            loss="quantile", quantile=q, max_iter=60, random_state=0
        )
        .fit(X, y)
        .predict(grid)
        for q in levels
    ]
)
fixed = NormProjector("ordered").transform(Q)
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
for ax, P, title in [
    (axes[0], Q, "one model per level"),
    (axes[1], fixed, 'NormProjector("ordered")'),
]:
    ax.scatter(X[:, 0], y, s=3, color="0.7")
    for k, q in enumerate(levels):
        ax.plot(grid[:, 0], P[:, k], lw=1, label=f"q{q}")
    crossing = (np.diff(P, axis=1) < 0).any(axis=1).mean()
    ax.set(title=f"{title}: crossing on {crossing:.0%} of x", xlabel="x0")
axes[0].legend(fontsize=7)
fig.tight_layout()
