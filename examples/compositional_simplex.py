"""Compositional data: predict proportions (shares that are >= 0 and sum to 1).

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

X, Y = make_constrained_regression(
    n_samples=1500, n_features=8, n_targets=4, set="simplex", random_state=1
)
X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)

print(f"{'strategy':<9} {'test MSE':>9} {'min share':>10} {'max |sum-1|':>12}")
for strategy in ("project", "penalty", "post"):
    # the penalty's strength matters to "penalty" only (the others would warn)
    strength = {"output_penalty_strength": 10.0} if strategy == "penalty" else {}
    model = ConstrainedRegressor(
        hidden_layer_sizes=(64,),
        output_constraint="simplex",
        output_strategy=strategy,
        **strength,
        epochs=60,
        random_state=0,
    ).fit(X_train, Y_train)
    P = model.predict(X_test)
    print(
        f"{strategy:<9} {mean_squared_error(Y_test, P):9.5f} {P.min():10.4f} "
        f"{np.abs(P.sum(axis=1) - 1).max():12.2e}"
    )
