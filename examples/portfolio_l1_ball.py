"""Portfolio weights with a leverage limit: signed outputs with ‖w‖₁ ≤ 1
=====================================================================

Each row of features (signals) maps to weights on 5 assets; long and short
positions are allowed but gross leverage ``sum |w_i|`` may not exceed 1. The
network ends in an exact projection onto the L1 ball, so every predicted
portfolio respects the limit, and small positions come out exactly zero.

Run: ``python examples/portfolio_l1_ball.py``
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import make_constrained_regression

# A short, fixed training budget for a quick example: the fits stop before
# their stopping rule is met, which ConstrainedRegressor reports as a
# ConvergenceWarning (as MLPRegressor does).
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Signals and target portfolios of 5 assets in the L1 ball of radius 1.
X, W = make_constrained_regression(
    n_samples=1500,
    n_features=8,
    n_targets=5,
    set="l1_ball",
    radius=1.0,
    noise=0.1,
    random_state=0,
)
X_train, X_test, W_train, W_test = train_test_split(X, W, random_state=0)

# %%
# The network ends in the exact projection onto the L1 ball.
model = ConstrainedRegressor(
    hidden_layer_sizes=(64,),
    output_constraint="l1_ball",
    output_radius=1.0,
    epochs=40,
    random_state=0,
).fit(X_train, W_train)

pred = model.predict(X_test)
leverage = np.abs(pred).sum(axis=1)
print(f"test R^2: {model.score(X_test, W_test):.3f}")
print(f"gross leverage: max {leverage.max():.6f} (limit 1.0)")
print(f"share of exactly-zero positions: {(pred == 0).mean():.1%}")
print("first portfolio:", np.round(pred[0], 3))

# %%
# The gross leverage of every predicted portfolio, and its positions: no
# portfolio exceeds the limit, and many positions are exactly zero.
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
axes[0].hist(leverage, bins=30, color="C0")
axes[0].axvline(1.0, color="k", ls="--", label="limit")
axes[0].set(xlabel="gross leverage sum |w|", ylabel="portfolios")
axes[0].legend()
axes[1].imshow(pred[:30].T, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
axes[1].set(xlabel="portfolio", ylabel="asset", title="weights (white: exactly 0)")
fig.tight_layout()
