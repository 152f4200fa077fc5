"""Choose a weight penalty and its strength by grid search, like Ridge's alpha.
============================================================================

The grid covers the penalty kind (L2, elastic net, orthogonality of the kernels,
a soft box on the weights) and ``alpha``, weighed against the squared error
divided by the targets' variance: with "l2", MLPRegressor's objective (times 2)
on standardised targets with ``solver="lbfgs"``, so the same alphas make sense.

Run: ``python examples/grid_search_penalty.py``
"""

import warnings

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import make_constrained_regression
from skconstrain.keras import ClipPenalty

# A short, fixed training budget for a quick example: the fits stop before
# their stopping rule is met, which ConstrainedRegressor reports as a
# ConvergenceWarning (as MLPRegressor does).
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# A nonlinear problem with targets in the L2 ball, and a grid over the kind
# of weight penalty and its strength ``alpha``.
X, Y = make_constrained_regression(
    n_samples=600,
    n_features=10,
    n_targets=3,
    set="l2_ball",
    noise=0.3,
    random_state=0,
    as_frame=True,
)
pipe = make_pipeline(
    StandardScaler(),
    ConstrainedRegressor(
        hidden_layer_sizes=(32,), epochs=25, learning_rate=0.01, random_state=0
    ),
)
grid = GridSearchCV(
    pipe,
    {
        "constrainedregressor__penalty": [
            "l2",
            "elasticnet",
            "orthogonality",
            ClipPenalty(1.0, lower=-0.5, upper=0.5),
        ],
        "constrainedregressor__alpha": [1e-3, 1e-2, 1e-1, 1.0, 10.0],
    },
    cv=2,
).fit(X, Y)

# %%
# The scores of every candidate, best first.
results = pd.DataFrame(grid.cv_results_)[
    [
        "param_constrainedregressor__penalty",
        "param_constrainedregressor__alpha",
        "mean_test_score",
    ]
].sort_values("mean_test_score", ascending=False)
print(results.to_string(index=False))
print("best:", grid.best_params_)

# %%
# The validation curve of each penalty: the cross-validated R^2 against
# ``alpha``. Too strong a penalty flattens the network; the best strength
# depends on the kind.
import matplotlib.pyplot as plt  # noqa: E402

table = pd.DataFrame(grid.cv_results_)
table["penalty"] = table["param_constrainedregressor__penalty"].map(
    lambda p: p if isinstance(p, str) else type(p).__name__
)
fig, ax = plt.subplots(figsize=(6, 3.5))
for penalty, rows in table.groupby("penalty"):
    rows = rows.sort_values("param_constrainedregressor__alpha")
    ax.errorbar(
        rows["param_constrainedregressor__alpha"].astype(float),
        rows["mean_test_score"],
        yerr=rows["std_test_score"],
        marker="o",
        capsize=3,
        label=penalty,
    )
ax.set(xscale="log", xlabel="alpha", ylabel="cross-validated R^2")
ax.legend()
ax.set_title("Validation curves of the weight penalties")
fig.tight_layout()
