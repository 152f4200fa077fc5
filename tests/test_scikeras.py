"""scikeras users put skconstrain.keras objects into their own KerasRegressor.

scikeras is an optional integration (extra "scikeras"), not our base class:
nothing of skconstrain imports it. This is the user guide's recipe
(docs/user_guide/keras.md), run.
"""

import keras
import numpy as np
import pytest
from _reference import violation

from skconstrain.keras import MaxNorm, OutputProjection, regularizers

wrappers = pytest.importorskip("scikeras.wrappers")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def build(meta, max_value=1.0, alpha=1e-4, output_set="simplex"):
    """A scikeras build function using our constraint, penalty and projection."""
    return keras.Sequential(
        [
            keras.Input((meta["n_features_in_"],)),
            keras.layers.Dense(
                16,
                activation="relu",
                kernel_constraint=MaxNorm(max_value),
                kernel_regularizer=regularizers.L2(alpha),
            ),
            keras.layers.Dense(meta["n_outputs_"]),
            OutputProjection(output_set),
        ]
    )


def test_grid_search_through_scikeras_model_routing():
    from sklearn.model_selection import GridSearchCV

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype("float32")
    Y = rng.dirichlet(np.ones(3), size=120).astype("float32")
    reg = wrappers.KerasRegressor(
        build,
        loss="mse",
        optimizer="adam",
        epochs=3,
        verbose=0,
        random_state=0,
        model__max_value=1.0,
        model__alpha=1e-4,
        model__output_set="simplex",
    )
    grid = GridSearchCV(
        reg,
        {"model__max_value": [0.5, 2.0], "model__output_set": ["simplex", "l1_ball"]},
        cv=2,
    ).fit(X, Y)
    best = grid.best_estimator_
    dense = best.model_.layers[0]
    assert dense.kernel.constraint.max_value == grid.best_params_["model__max_value"]
    norms = np.linalg.norm(np.asarray(dense.kernel), axis=0)
    assert norms.max() <= grid.best_params_["model__max_value"] + 1e-5
    pred = best.predict(X)
    assert violation(pred, grid.best_params_["model__output_set"]) <= 1e-5
