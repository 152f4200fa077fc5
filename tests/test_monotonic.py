"""monotonic_cst: predictions monotone in chosen features, by construction.

The guarantee is checked on dense one-feature sweeps at random base points,
far outside the training range too, for every output and every head that
keeps the order of coordinates; after training, partial_fit, a pickle round
trip and with random weights. The network must still fit non-convex
monotone functions.
"""

import pickle
import re
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV

from skconstrain import ConstrainedRegressor
from skconstrain.keras import (
    EnsembleMean,
    GroupSort,
    LipschitzDense,
    MonotoneResidual,
)

RNG = np.random.default_rng(0)
X = RNG.uniform(-2, 2, size=(120, 3))
# increasing in x0, decreasing in x1, free in x2; two outputs
Y = np.column_stack(
    [
        np.tanh(2 * X[:, 0]) - 0.5 * X[:, 1] + np.sin(2 * X[:, 2]),
        X[:, 0] - np.tanh(X[:, 1]) * (1 + 0.3 * X[:, 2] ** 2),
    ]
)
CST = [1, -1, 0]
FAST = dict(hidden_layer_sizes=(8, 8), epochs=3, random_state=0)


def sweep_steps(est, cst, n_base=30, n_grid=400, spread=100.0, seed=1):
    """For each constrained feature: the prediction's steps along a sweep of
    that feature at random base points, times its sign (all >= 0 when the
    guarantee holds), relative to the predictions' scale."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-2, 2, size=(n_base, len(cst)))  # cst: one per feature
    # far outside the training range too
    base[: n_base // 3] *= spread
    grid = np.concatenate(
        [
            np.linspace(-2 * spread, 2 * spread, n_grid // 2),
            np.linspace(-3, 3, n_grid // 2),
        ]
    )
    grid.sort()
    worst = np.inf
    for j, sign in enumerate(cst):
        if sign == 0:
            continue
        rows = np.repeat(base, len(grid), axis=0)
        rows[:, j] = np.tile(grid, n_base)
        pred = est.predict(rows).reshape(n_base, len(grid), -1)
        scale = max(1.0, float(np.abs(pred).max()))
        steps = sign * np.diff(pred, axis=1) / scale
        worst = min(worst, float(steps.min()))
    return worst


def assert_monotone(est, cst=CST, **kwargs):
    # float64 predictions: monotone to float64 rounding of the outputs' scale
    assert sweep_steps(est, cst, **kwargs) >= -1e-12


HEADS = [
    {},
    {"output_constraint": "box", "output_lower": -1.0, "output_upper": 1.0},
    {
        "output_constraint": "box",
        "output_lower": [-1.0, 0.0],
        "output_upper": [1.0, 2.0],
        "output_strategy": "activation",
    },
    {
        "output_constraint": "box",
        "output_lower": -0.5,
        "output_upper": 0.5,
        "output_strategy": "post",
    },
    {
        "output_constraint": "box",
        "output_lower": -0.5,
        "output_upper": 0.5,
        "loss": "fenchel_young",
    },
    {"output_constraint": "nonneg"},
    {"output_constraint": "nonneg", "output_strategy": "activation"},
    {"output_constraint": "linf_ball", "output_radius": 2.0},
    {"output_constraint": "linf_ball", "output_strategy": "activation"},
    {"output_constraint": "linf_ball", "output_strategy": "penalty"},
]


@pytest.mark.parametrize("head", HEADS, ids=lambda h: "-".join(map(str, h.values())))
def test_every_output_is_monotone_for_every_head(head):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # targets outside some sets
        est = ConstrainedRegressor(monotonic_cst=CST, **FAST, **head).fit(X, Y)
    assert_monotone(est)


@pytest.mark.parametrize("hidden", [(1,), (5,), (16, 7, 4)])
def test_monotone_with_random_weights_of_any_size(hidden):
    est = ConstrainedRegressor(
        monotonic_cst=CST, hidden_layer_sizes=hidden, epochs=1, random_state=0
    ).fit(X, Y)
    rng = np.random.default_rng(3)
    for _ in range(3):
        for variable in est.model_.trainable_variables:
            value = rng.normal(scale=3.0, size=variable.shape)
            variable.assign(value.astype(variable.dtype))
        assert_monotone(est, n_base=12, n_grid=200)


def test_monotone_after_partial_fit_pickle_and_warm_start():
    est = ConstrainedRegressor(monotonic_cst=CST, **FAST).fit(X, Y)
    for _ in range(3):
        est.partial_fit(X[:40], Y[:40])
    assert_monotone(est)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert_monotone(back)
    est.set_params(warm_start=True, epochs=2).fit(X, Y)
    assert est.n_iter_ == 3 + 3 + 2
    assert_monotone(est)
    est.set_params(monotonic_cst=[1, 0, 0])
    with pytest.raises(ValueError, match=r"\['monotonic_cst'\] changed"):
        est.fit(X, Y)


def test_one_dimensional_y_and_early_stopping():
    est = ConstrainedRegressor(monotonic_cst=CST, early_stopping=True, **FAST).fit(
        X, Y[:, 0]
    )
    assert est.predict(X).shape == (len(X),)
    assert_monotone(est)


def test_early_stopping_does_not_stop_a_slow_start_on_auto_mpg():
    """Auto MPG (294 training rows, 30 held out for early stopping): the
    validation loss of a monotone network dips, rises for some 20 epochs,
    then falls for 100 more. With a patience of 10 epochs counted from the
    first, one seed stopped at epoch 37 with 4.5 times HGBR's test error;
    the warm-up (1 000 updates, at most half the epochs) and the decays
    before a stop keep it training."""
    pytest.importorskip("bokeh_sampledata")
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skconstrain.datasets import load_auto_mpg

    data = load_auto_mpg()
    cst = [data.monotonic_cst.get(f, 0) for f in data.feature_names]
    ratios = []
    for seed in range(3):
        X_train, X_test, y_train, y_test = train_test_split(
            data.data, data.target, test_size=0.25, random_state=seed
        )
        ours = ConstrainedRegressor(
            monotonic_cst=cst, early_stopping=True, random_state=seed
        )
        pipe = make_pipeline(StandardScaler(), ours).fit(X_train, y_train)
        hgbr = HistGradientBoostingRegressor(monotonic_cst=cst, random_state=seed)
        hgbr.fit(X_train, y_train)
        mse = np.mean((pipe.predict(X_test) - y_test) ** 2)
        ratios.append(mse / np.mean((hgbr.predict(X_test) - y_test) ** 2))
        assert ours.n_iter_ >= 100  # the warm-up alone is 100 epochs here
    assert max(ratios) < 1.5, ratios


@pytest.mark.parametrize(
    "name, f",
    [
        ("tanh", lambda x: np.tanh(3 * x)),
        ("step", lambda x: (x > 0.3).astype(float)),
    ],
)
def test_fits_monotone_functions_that_are_not_convex(name, f):
    # S-shaped and step functions: a network with sign-constrained weights
    # and ReLU (convex in x0) cannot fit them; ours must (R^2 0.999 and 0.97
    # when written; one GroupSort layer gave 0.92 and 0.87).
    rng = np.random.default_rng(0)
    X_train = rng.uniform(-2, 2, size=(600, 2))
    X_test = rng.uniform(-2, 2, size=(600, 2))
    est = ConstrainedRegressor(
        monotonic_cst=[1, 0],
        hidden_layer_sizes=(32,),  # the monotone branch: (32, 32)
        epochs=150,
        batch_size=32,
        random_state=0,
    ).fit(X_train, f(X_train[:, 0]) + 0.3 * X_train[:, 1])
    score = r2_score(f(X_test[:, 0]) + 0.3 * X_test[:, 1], est.predict(X_test))
    assert score > 0.95, score


def test_dict_by_feature_name_and_grid_search():
    frame = pd.DataFrame(X, columns=["size", "age", "colour"])
    est = ConstrainedRegressor(monotonic_cst={"size": 1, "age": -1}, **FAST)
    est.fit(frame, Y[:, 0])
    assert_monotone(_Wrapped(est, frame.columns), cst=[1, -1, 0])
    search = GridSearchCV(
        ConstrainedRegressor(**FAST),
        {"monotonic_cst": [None, {"size": 1}, {"size": 1, "age": -1}]},
        cv=2,
    ).fit(frame, Y[:, 0])
    assert len(search.cv_results_["params"]) == 3


class _Wrapped:
    """An estimator fitted on a DataFrame, predicting from arrays."""

    def __init__(self, est, columns):
        self.est, self.columns = est, columns

    def predict(self, rows):
        return self.est.predict(pd.DataFrame(rows, columns=self.columns))


def test_all_zero_constraints_are_the_plain_network():
    plain = ConstrainedRegressor(**FAST).fit(X, Y)
    zeros = ConstrainedRegressor(monotonic_cst=[0, 0, 0], **FAST).fit(X, Y)
    np.testing.assert_array_equal(zeros.predict(X), plain.predict(X))


@pytest.mark.parametrize(
    "cst, X_fit",
    [
        ([1, 2, 0], X),
        ([1, 0], X),
        ([[1, 0, 0]], X),
        ({"size": 1}, X),
        ({"size": 1, "nope": -1}, pd.DataFrame(X, columns=["size", "age", "c"])),
        ({"size": 2}, pd.DataFrame(X, columns=["size", "age", "c"])),
    ],
    ids=["value", "length", "2d", "dict-no-names", "unknown-name", "dict-value"],
)
def test_bad_constraints_fail_as_in_hist_gradient_boosting(cst, X_fit):
    with pytest.raises(ValueError) as theirs:
        HistGradientBoostingRegressor(monotonic_cst=cst).fit(X_fit, Y[:, 0])
    message = str(theirs.value).replace("HistGradientBoostingRegressor", "\\w+")
    with pytest.raises(ValueError, match=re.sub(r"([\[\]().{}'])", r"\\\1", message)):
        ConstrainedRegressor(monotonic_cst=cst, **FAST).fit(X_fit, Y[:, 0])


@pytest.mark.parametrize("set_name", ["simplex", "l1_ball", "l2_ball", "l2_sphere"])
def test_sets_that_mix_outputs_are_refused(set_name):
    est = ConstrainedRegressor(monotonic_cst=CST, output_constraint=set_name, **FAST)
    with pytest.raises(ValueError, match=r"mixes the outputs.*'box'"):
        est.fit(X, np.abs(Y))


def test_a_model_callable_is_refused():
    def build(n_features_in, n_outputs):
        return keras.Sequential(
            [keras.Input((n_features_in,)), keras.layers.Dense(n_outputs)]
        )

    est = ConstrainedRegressor(build, monotonic_cst=CST, **FAST)
    with pytest.raises(ValueError, match="cannot make a 'model' callable monotone"):
        est.fit(X, Y)


def test_activation_is_ignored_only_when_every_feature_is_constrained():
    with pytest.warns(UserWarning, match="activation='tanh' is ignored"):
        ConstrainedRegressor(monotonic_cst=[1, 1, -1], activation="tanh", **FAST).fit(
            X, Y
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the unconstrained feature's branch uses it
        ConstrainedRegressor(monotonic_cst=CST, activation="tanh", **FAST).fit(X, Y)


# ------------------------------------------------------------------ layers
def test_lipschitz_dense_bounds_hold_for_any_kernel():
    rng = np.random.default_rng(0)
    kernel = rng.normal(scale=4.0, size=(4, 6)).astype("float32")
    columns = LipschitzDense(6, use_bias=False)
    columns.build((None, 4))
    columns.kernel.assign(kernel)
    bounded = np.asarray(columns.bounded_kernel())
    assert np.abs(bounded).sum(axis=0).max() <= 1 + 1e-6
    rows = LipschitzDense(6, bound="rows", rows=[True, False, True, False])
    rows.build((None, 4))
    rows.kernel.assign(kernel)
    bounded = np.asarray(rows.bounded_kernel())
    assert np.abs(bounded[[0, 2]]).max(axis=1).max() <= 1 + 1e-6
    np.testing.assert_array_equal(bounded[[1, 3]], kernel[[1, 3]])
    # a kernel within the bounds is used as it is
    small = kernel / 100
    columns.kernel.assign(small)
    np.testing.assert_allclose(np.asarray(columns.bounded_kernel()), small)


@pytest.mark.parametrize(
    "layer",
    [
        LipschitzDense(3, bound="rows", rows=[True, False]),
        GroupSort(),
        MonotoneResidual([1, 0, -1], initial_lam=0.5),
        EnsembleMean(3),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_layers_round_trip_their_config(layer):
    again = type(layer).from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="'bound' parameter must be"):
        LipschitzDense(2, bound="both")
    with pytest.raises(ValueError, match="signs must be -1, 0 or 1"):
        MonotoneResidual([2])
    with pytest.raises(ValueError, match="initial_lam must be > 0"):
        MonotoneResidual([1], initial_lam=0.0)
    with pytest.raises(ValueError, match="members must be >= 1"):
        EnsembleMean(0)


def test_the_residual_starts_at_its_initial_slope():
    layer = MonotoneResidual([1, -1], initial_lam=0.5)
    h = np.zeros((2, 1), dtype="float32")
    x = np.array([[1.0, 0.0], [0.0, 1.0]], dtype="float32")
    np.testing.assert_allclose(np.asarray(layer([h, x])).ravel(), [0.5, -0.5])


def test_group_sort_is_a_permutation_of_its_input():
    x = np.random.default_rng(0).normal(size=(5, 7)).astype("float32")
    y = np.asarray(GroupSort()(x))
    np.testing.assert_array_equal(np.sort(y, axis=1), np.sort(x, axis=1))
    assert (y[:, :3] >= y[:, 3:6]).all()
