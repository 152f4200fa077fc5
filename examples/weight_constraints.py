"""Weight constraints on your own Keras model: UnitNorm on a Conv2D kernel,
MaxNorm, and NonNeg together with an L1 penalty.

``model`` is a function that builds the network; ConstrainedRegressor applies
``kernel_constraint`` and ``penalty`` to every layer that has a kernel, here the
convolution and the dense head. A constraint's default (``axis=None``) means "each
unit's incoming weights" of a Dense kernel and "each filter" of a Conv2D kernel.

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

rng = np.random.default_rng(0)
images = rng.normal(size=(400, 8, 8))
X = images.reshape(400, -1)  # scikit-learn wants 2-D X: the model reshapes it
y = images[:, 2:6, 2:6].mean(axis=(1, 2)) + 0.1 * rng.normal(size=400)


def conv_net(n_features_in, n_outputs):
    return keras.Sequential(
        [
            keras.Input((n_features_in,)),
            keras.layers.Reshape((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(n_outputs),
        ]
    )


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
    conv = next(x for x in model.model_.layers if isinstance(x, keras.layers.Conv2D))
    kernel = np.asarray(conv.kernel).reshape(-1, 4)
    print(
        f"{name:<24} R^2 {model.score(X, y):6.3f}  filter norms "
        f"{np.round(np.linalg.norm(kernel, axis=0), 3)}  min weight {kernel.min():.3f}"
    )
