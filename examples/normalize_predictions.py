"""Predict unit direction vectors: a regressor whose predictions are normalised.
=============================================================================

The targets are 3-D directions (unit vectors). Any regressor predicts vectors of
the wrong length; wrapping it in ``ProjectedRegressor`` with the default
``NormProjector()`` (the unit L2 sphere) returns unit vectors, and the
normalisation now lives inside the estimator, so ``GridSearchCV`` tunes the
regressor on the normalised predictions and the whole model pickles.

Run: ``python examples/normalize_predictions.py``
"""

import numpy as np
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import NormProjector, ProjectedRegressor

# %%
# Noisy measurements of 3-D unit vectors that depend on three features.
rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 3))
raw = np.column_stack([np.sin(X[:, 0]), np.cos(X[:, 0]) * X[:, 1], 1 + X[:, 2]])
Y = raw / np.linalg.norm(raw, axis=1, keepdims=True)  # unit direction vectors
Y += 0.02 * rng.normal(size=Y.shape)  # noisy measurements of the directions
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

# %%
# A grid over the regressor's neighbours and over the projection itself
# (the sphere against none at all).
model = make_pipeline(StandardScaler(), ProjectedRegressor(KNeighborsRegressor()))
grid = GridSearchCV(
    model,
    {
        "projectedregressor__regressor__n_neighbors": [3, 10, 30],
        # compare against no normalisation: a huge ball leaves predictions as they are
        "projectedregressor__projector": [
            NormProjector("l2_sphere"),
            NormProjector("l2_ball", radius=1e9),
        ],
    },
    cv=3,
    scoring="neg_mean_squared_error",
).fit(X_train, Y_train)

pred = grid.predict(X_test)
raw_knn = make_pipeline(
    StandardScaler(),
    KNeighborsRegressor(
        grid.best_params_["projectedregressor__regressor__n_neighbors"]
    ),
).fit(X_train, Y_train)
print("best parameters:", grid.best_params_)
print(
    f"norms of the predictions: min {np.linalg.norm(pred, axis=1).min():.6f}, "
    f"max {np.linalg.norm(pred, axis=1).max():.6f}"
)
print(
    f"test MSE, normalised by the grid's choice: {mean_squared_error(Y_test, pred):.4f}"
)
print(
    f"test MSE, raw KNN predictions:             "
    f"{mean_squared_error(Y_test, raw_knn.predict(X_test)):.4f}"
)

# %%
# The predicted directions of 200 test rows, seen from above (their first two
# coordinates): the normalised predictions lie on the unit sphere, the raw
# ones inside it (averaging neighbours' unit vectors shortens them).
import matplotlib.pyplot as plt  # noqa: E402

raw_pred = raw_knn.predict(X_test[:200])
fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharey=True)
for ax, P, title in [
    (axes[0], raw_pred, "raw KNN"),
    (axes[1], pred[:200], "ProjectedRegressor (sphere)"),
]:
    norms = np.linalg.norm(P, axis=1)
    points = ax.scatter(P[:, 0], P[:, 1], c=norms, s=10, vmin=0.5, vmax=1.0)
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="k", lw=0.6)
    ax.set(title=title, xlabel="y0", aspect="equal")
axes[0].set_ylabel("y1")
fig.colorbar(points, ax=axes, label="norm of the prediction")
