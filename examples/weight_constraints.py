"""Weight constraints on your own Keras model
==========================================

UnitNorm on a Conv1D kernel, MaxNorm, and NonNeg together with an L1 penalty.

``model`` is a function that builds the network; ConstrainedRegressor applies
``kernel_constraint`` and ``penalty`` to every layer that has a kernel, here the
convolution and the dense head. A constraint's default (``axis=None``) means "each
unit's incoming weights" of a Dense kernel and "each filter" of a Conv1D kernel.

Run: ``python examples/weight_constraints.py``
"""

import warnings

import keras
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skconstrain import ConstrainedRegressor
from skconstrain.keras import MaxNorm, NonNeg, UnitNorm

# A short, fixed training budget for a quick example: the fits stop before
# their stopping rule is met, which ConstrainedRegressor reports as a
# ConvergenceWarning (as MLPRegressor does).
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Signals of 32 steps; the target is the mean of a smoothed window of each.
rng = np.random.default_rng(0)
X = rng.normal(size=(400, 32))  # scikit-learn wants 2-D X: the model reshapes it
y = X[:, 10:20].mean(axis=1)
y = y + 0.1 * rng.normal(size=400)


def conv_net(n_features_in, n_outputs):
    """The user's model: Conv1D filters, pooling, a dense head."""
    return keras.Sequential(
        [
            keras.Input((n_features_in,)),
            keras.layers.Reshape((n_features_in, 1)),
            keras.layers.Conv1D(4, 5, activation="relu"),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(n_outputs),
        ]
    )


# %%
# The same model under three weight settings.
filters = {}


for name, constraint, penalty in [
    ("UnitNorm (each filter)", UnitNorm(), {"penalty": None}),
    ("MaxNorm 0.5", MaxNorm(max_value=0.5), {"penalty": None}),
    ("NonNeg + L1", NonNeg(), {"penalty": "l1", "alpha": 1.0}),
]:
    model = ConstrainedRegressor(
        conv_net,
        kernel_constraint=constraint,
        **penalty,
        epochs=30,
        learning_rate=0.01,
        random_state=0,
    ).fit(X, y)
    conv = next(x for x in model.model_.layers if isinstance(x, keras.layers.Conv1D))
    kernel = filters[name] = np.asarray(conv.kernel).reshape(-1, 4)
    print(
        f"{name:<24} R^2 {model.score(X, y):6.3f}  filter norms "
        f"{np.round(np.linalg.norm(kernel, axis=0), 3)}  min weight {kernel.min():.3f}"
    )

# %%
# The learned filters (5 taps each): unit norm, at most 0.5, or nonnegative
# and sparse.
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), sharey=True)
for ax, (name, kernel) in zip(axes, filters.items(), strict=True):
    for j in range(kernel.shape[1]):
        ax.plot(kernel[:, j], marker="o", label=f"filter {j}")
    ax.axhline(0, color="k", lw=0.5)
    ax.set(title=name, xlabel="tap")
axes[0].set_ylabel("weight")
axes[-1].legend(fontsize=7)
fig.tight_layout()
