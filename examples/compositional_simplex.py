"""Compositional data: predict proportions (shares that are >= 0 and sum to 1).
============================================================================

Compares the three ways ConstrainedRegressor enforces the simplex: an exact
projection inside the network ("project"), a penalty in the loss ("penalty"), and
projection after predict ("post"), with the feasibility of each.

Run: ``python examples/compositional_simplex.py``
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import make_constrained_regression

# A short, fixed training budget for a quick example: the fits stop before
# their stopping rule is met, which ConstrainedRegressor reports as a
# ConvergenceWarning (as MLPRegressor does).
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Shares of three components (rows on the simplex), from 8 features.
X, Y = make_constrained_regression(
    n_samples=1500, n_features=8, n_targets=3, set="simplex", random_state=1
)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

# %%
# Each strategy: its test error, its smallest share and how far its rows
# sum from 1.
predictions = {}
print(f"{'strategy':<9} {'test MSE':>9} {'min share':>10} {'max |sum-1|':>12}")
for strategy in ("project", "penalty", "post"):
    # the penalty's strength matters to "penalty" only (the others would warn)
    strength = {"output_penalty_strength": 10.0} if strategy == "penalty" else {}
    model = ConstrainedRegressor(
        hidden_layer_sizes=(64,),
        output_constraint="simplex",
        output_strategy=strategy,
        **strength,
        epochs=40,
        random_state=0,
    ).fit(X_train, Y_train)
    P = predictions[strategy] = model.predict(X_test)
    print(
        f"{strategy:<9} {mean_squared_error(Y_test, P):9.5f} {P.min():10.4f} "
        f"{np.abs(P.sum(axis=1) - 1).max():12.2e}"
    )

# %%
# A ternary plot of the test rows: the truth, and the predictions of the
# exact projection ("project"), which can reach the triangle's edges (exact
# zeros), where the truth often is.
import matplotlib.pyplot as plt  # noqa: E402


def ternary(P):
    """Barycentric coordinates of rows of 3 shares in an equilateral triangle."""
    return P[:, 1] + 0.5 * P[:, 2], (np.sqrt(3) / 2) * P[:, 2]


fig, ax = plt.subplots(figsize=(5, 4.5))
ax.plot([0, 1, 0.5, 0], [0, 0, np.sqrt(3) / 2, 0], color="k", lw=0.8)
ax.scatter(*ternary(Y_test), s=6, color="0.6", label="truth")
ax.scatter(*ternary(predictions["project"]), s=6, color="C0", label='"project"')
for corner, (x, y) in zip(
    ["share 0", "share 1", "share 2"], [(0, 0), (1, 0), (0.5, 0.87)], strict=True
):
    ax.annotate(corner, (x, y), ha="center", va="top" if y == 0 else "bottom")
ax.set_aspect("equal")
ax.axis("off")
ax.legend(loc="upper right")
ax.set_title("Test shares on the simplex")
