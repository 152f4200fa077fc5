import copy

import matplotlib.pyplot as plt
import numpy as np

from skconstrain import ConstrainedQuantileRegressor
from skconstrain.datasets import make_heteroscedastic_regression

levels = [0.05, 0.25, 0.5, 0.75, 0.95]
X, y = make_heteroscedastic_regression(6300, 1, random_state=0)
# 300 rows to train (a network that overfits them: its intervals are too
# narrow), 1000 held out to calibrate, 5000 to test
raw = ConstrainedQuantileRegressor(
    levels, hidden_layer_sizes=(64,), batch_size=16, epochs=150, random_state=0
).fit(X[:300], y[:300])
calibrated = copy.deepcopy(raw).calibrate(X[300:1300], y[300:1300])
X_test, y_test = X[1300:], y[1300:]

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
ax = axes[0]
for model, label in [(raw, "network"), (calibrated, "calibrated")]:
    coverage = (y_test[:, None] <= model.predict(X_test)).mean(axis=0)
    ax.plot(levels, coverage - levels, "o-", label=label)
ax.axhline(0, color="0.6", lw=1, label="nominal")
ax.set(
    xlabel="level",
    ylabel="share of test rows below, minus the level",
    title="coverage error (5000 test rows)",
)
ax.legend(fontsize=8)
ax = axes[1]
grid = np.linspace(-2, 2, 300)[:, None]
ax.scatter(X_test[:800, 0], y_test[:800], s=3, color="0.7")
for model, color, label in [(raw, "C0", "network"), (calibrated, "C1", "calibrated")]:
    Q = model.predict(grid)
    ax.plot(grid[:, 0], Q[:, 0], color=color, lw=1, label=f"{label}: 0.05 and 0.95")
    ax.plot(grid[:, 0], Q[:, -1], color=color, lw=1)
try:  # MAPIE's conformalized quantile regression over the same network
    from mapie.regression import ConformalizedQuantileRegressor
except ImportError:
    pass
else:
    mapie = ConformalizedQuantileRegressor(
        [raw.level_estimator(q) for q in (0.05, 0.95, 0.5)],
        confidence_level=0.9,
        prefit=True,
    ).conformalize(X[300:1300], y[300:1300])
    _, intervals = mapie.predict_interval(grid)
    ax.plot(grid[:, 0], intervals[:, 0, 0], "--", color="C2", lw=1, label="MAPIE CQR")
    ax.plot(grid[:, 0], intervals[:, 1, 0], "--", color="C2", lw=1)
ax.set(xlabel="x0", title="the 90% interval, before and after")
ax.legend(fontsize=8)
fig.tight_layout()
