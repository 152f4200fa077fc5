import warnings

import matplotlib.pyplot as plt
import numpy as np

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import make_constrained_regression

warnings.simplefilter("ignore")
X, Y = make_constrained_regression(300, 6, 2, set="l2_ball", random_state=0)
alphas = np.logspace(-3, 1.5, 7)
rows = []
for alpha in alphas:
    reg = ConstrainedRegressor(
        hidden_layer_sizes=(8,),
        penalty="l1",
        alpha=alpha,
        epochs=40,
        learning_rate=0.01,
        random_state=0,
    ).fit(X, Y)
    W = reg.model_.get_layer("hidden_1").kernel.numpy()
    rows.append(np.abs(W).sum(axis=1))  # each input's total weight
rows = np.array(rows)
fig, ax = plt.subplots(figsize=(6, 3))
for j in range(rows.shape[1]):
    ax.plot(alphas, rows[:, j], marker="o", label=f"input {j}")
ax.set(
    xscale="log",
    xlabel="alpha (penalty='l1')",
    ylabel="sum |W| of an input's row",
    title="Regularisation path",
)
ax.legend(fontsize=7, ncol=2)
fig.tight_layout()
