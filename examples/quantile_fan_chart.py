"""Prediction intervals that never cross: glucose 30 minutes ahead.
================================================================

A continuous glucose monitor reads every 5 minutes; how high will it be in
half an hour? A point forecast hides how uncertain that is, and the
uncertainty depends on the moment (glucose moves fast when it is high).
``ConstrainedQuantileRegressor`` predicts nine quantiles at once with one
network whose last layer projects them onto the ordered set, so the 10% line
is never above the 20% line, on any row. Fitting one model per level (here
``HistGradientBoostingRegressor(loss="quantile")``) gives no such guarantee;
``NormProjector("ordered")`` repairs such predictions after the fact.
``calibrate`` then adjusts every level on held-out recent rows (split
conformal prediction), keeping them ordered.

Run: ``python examples/quantile_fan_chart.py`` (needs the ``data`` extra;
draws the chart when matplotlib is installed).
"""

import copy
import warnings

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning

from skconstrain import ConstrainedQuantileRegressor, NormProjector
from skconstrain.datasets import load_glucose

# a short, fixed budget (no stopping rule reached): quiet about it
warnings.filterwarnings("ignore", category=ConvergenceWarning)

levels = [0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95]
data = load_glucose(horizon=30)
X, y, times = data.data, data.target, data.times
cut = int(0.7 * len(X))  # train on the past, test on the future
X_train, y_train = X[:cut:6], y[:cut:6]
X_test, y_test, t_test = X[cut:], y[cut:], times[cut:]

# the network trains on the earlier 80% of the training period; a copy of it
# has its levels calibrated on the latest 20% (held out in time order;
# readings of one person are not exchangeable, so the conformal guarantee is
# approximate)
split = int(0.8 * len(X_train))
ours = ConstrainedQuantileRegressor(
    levels, hidden_layer_sizes=(64,), batch_size=128, epochs=20, random_state=0
).fit(X_train[:split], y_train[:split])
Q = ours.predict(X_test)
calibrated = copy.deepcopy(ours).calibrate(X_train[split:], y_train[split:])

per_level = np.column_stack(
    [
        HistGradientBoostingRegressor(loss="quantile", quantile=q, random_state=0)
        .fit(X_train, y_train)
        .predict(X_test)
        for q in levels
    ]
)
repaired = NormProjector("ordered").transform(per_level)


def crossing(P):
    return (np.diff(P, axis=1) < 0).any(axis=1).mean()


score = ours.score(X_test, y_test)
print(f"test rows: {len(X_test)}; D^2 pinball score of ours: {score:.3f}")
for name, P in [
    ("ours", Q),
    ("ours, calibrated", calibrated.predict(X_test)),
    ("HGBR per level", per_level),
    ("HGBR rearranged", repaired),
]:
    coverage = (y_test[:, None] <= P).mean(axis=0)
    print(
        f"{name:>16}: rows with crossing quantiles {crossing(P):6.1%}; coverage "
        + " ".join(f"{c:.2f}" for c in coverage)
    )

# %%
# The chart.
try:
    import matplotlib.pyplot as plt
except ImportError:
    pass
else:
    day = slice(2000, 2000 + 288)  # one day of test readings
    fig, ax = plt.subplots(figsize=(8, 3.5))
    hours = (t_test[day] - t_test[day][0]) / np.timedelta64(1, "h")
    for lo, hi, alpha in [(0, 8, 0.15), (1, 7, 0.25), (2, 6, 0.35), (3, 5, 0.45)]:
        ax.fill_between(hours, Q[day, lo], Q[day, hi], color="C0", alpha=alpha, lw=0)
    ax.plot(hours, Q[day, 4], color="C0", lw=1, label="median forecast")
    ax.plot(hours, y_test[day], color="k", lw=1, label="glucose 30 min later")
    ax.set(xlabel="hours", ylabel="mg/dL", title="Glucose forecast: 5%-95% fan")
    ax.legend(loc="upper right")
    fig.tight_layout()
