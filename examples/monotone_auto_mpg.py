"""Fuel economy that never rises with weight: monotone predictions on Auto MPG.
============================================================================

Heavier cars, larger engines and more horsepower should never *raise* the
predicted miles per gallon, the other features fixed. An unconstrained
network learns that trend on average, but its predictions wiggle: somewhere,
adding weight raises mpg. ``monotonic_cst`` (scikit-learn's convention, as in
``HistGradientBoostingRegressor``) makes the network monotone in those
features by construction, everywhere, for any weights.

Run: ``python examples/monotone_auto_mpg.py`` (needs the ``data`` extra).
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

from skconstrain import ConstrainedRegressor
from skconstrain.datasets import load_auto_mpg

# a short, fixed budget (no stopping rule reached): quiet about it
warnings.filterwarnings("ignore", category=ConvergenceWarning)

data = load_auto_mpg(as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.2, random_state=0
)
print("constraints:", data.monotonic_cst)  # weight, displacement, hp: -1

params = dict(hidden_layer_sizes=(32,), batch_size=32, epochs=150, random_state=0)
models = {
    "unconstrained": ConstrainedRegressor(**params),
    "monotonic_cst": ConstrainedRegressor(monotonic_cst=data.monotonic_cst, **params),
}

# every test car, its weight swept from 1 500 to 6 000 pounds
weights = np.linspace(1500, 6000, 200)
sweeps = X_test.loc[X_test.index.repeat(len(weights))].reset_index(drop=True)
sweeps["weight"] = np.tile(weights, len(X_test))

for name, model in models.items():
    model.fit(X_train, y_train)
    mse = mean_squared_error(y_test, model.predict(X_test))
    mpg = model.predict(sweeps).reshape(len(X_test), len(weights))
    rising = int((np.diff(mpg, axis=1) > 0).any(axis=1).sum())
    print(
        f"{name:>14}: test MSE {mse:5.2f} mpg^2; mpg rises with weight "
        f"somewhere for {rising} of {len(X_test)} test cars"
    )

# %%
# The chart.
try:
    import matplotlib.pyplot as plt
except ImportError:
    pass
else:
    # the car whose unconstrained sweep rises the most
    free = models["unconstrained"].predict(sweeps).reshape(len(X_test), -1)
    car = int(np.argmax(np.diff(free, axis=1).max(axis=1)))
    rows = sweeps.iloc[car * len(weights) : (car + 1) * len(weights)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, model in models.items():
        ax.plot(weights, model.predict(rows), label=name)
    title = data.frame.loc[X_test.index[car], "name"]
    ax.set(xlabel="weight (pounds)", ylabel="predicted mpg", title=title)
    ax.legend()
    fig.tight_layout()
