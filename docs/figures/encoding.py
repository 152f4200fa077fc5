import warnings

import matplotlib.pyplot as plt
import numpy as np

from skconstrain import ConstrainedRegressor

warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
fig, axes = plt.subplots(1, 2, figsize=(8, 3))

# a step in x0 and one in x1: the plain MLP rounds them off
X = rng.uniform(-2, 2, size=(400, 2))
y = np.where(X[:, 0] > 0.3, 2.0, 0.0) + np.where(X[:, 1] > -1.0, 1.0, 0.0)
grid = np.column_stack([np.linspace(-2, 2, 400), np.zeros(400)])  # the data
for encoding in (None, "piecewise_linear"):
    reg = ConstrainedRegressor(
        feature_encoding=encoding, hidden_layer_sizes=(16,), random_state=0
    ).fit(X, y)
    axes[0].plot(grid[:, 0], reg.predict(grid), label=f"feature_encoding={encoding!r}")
axes[0].plot(grid[:, 0], np.where(grid[:, 0] > 0.3, 3.0, 1.0), "k:", label="truth")
axes[0].set(xlabel="x0 (x1 = 0)", ylabel="prediction", title="a step")
axes[0].legend(fontsize=7)

# steep, then flat, and monotone: with and without calibrators
x = rng.uniform(-3, 3, size=(600, 1))
y = np.where(x[:, 0] < 0, 3 * np.tanh(4 * x[:, 0]), 0.1 * x[:, 0])
sweep = np.linspace(-4, 4, 400).reshape(-1, 1)
for encoding in (None, "piecewise_linear"):
    reg = ConstrainedRegressor(
        monotonic_cst=[1],
        feature_encoding=encoding,
        hidden_layer_sizes=(16,),
        random_state=0,
    ).fit(x, y)
    axes[1].plot(sweep, reg.predict(sweep), label=f"feature_encoding={encoding!r}")
axes[1].scatter(x[::3], y[::3], s=3, color="0.6", label="data")
axes[1].set(xlabel="x", title="steep then flat, monotonic_cst=[1]")
axes[1].legend(fontsize=7)
fig.tight_layout()
