import warnings

import matplotlib.pyplot as plt
import numpy as np

from skconstrain import ConstrainedRegressor

warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, size=(150, 2))
y = np.tanh(2 * X[:, 0]) + 0.3 * X[:, 1] + 0.3 * rng.normal(size=150)
grid = np.column_stack([np.linspace(-4, 4, 300), np.zeros(300)])
fig, ax = plt.subplots(figsize=(6, 3))
for cst in (None, [1, 0]):
    reg = ConstrainedRegressor(
        monotonic_cst=cst,
        hidden_layer_sizes=(32,),
        batch_size=16,
        epochs=150,
        random_state=0,
    ).fit(X, y)
    ax.plot(
        grid[:, 0],
        reg.predict(grid),
        label="monotonic_cst=[1, 0]" if cst else "unconstrained",
    )
ax.scatter(X[:, 0], y - 0.3 * X[:, 1], s=5, color="0.6", label="data")
ax.set(xlabel="x0 (x1 = 0)", ylabel="prediction")
ax.legend(fontsize=8)
fig.tight_layout()
