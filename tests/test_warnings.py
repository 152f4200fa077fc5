"""Nothing silently wrong: a warning (or an error) wherever a fit cannot mean
what the user thinks, and behaviour that does not depend on the units of X,
the order of the rows or the CPU."""

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, StackingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

from skconstrain import (
    ConstrainedRegressor,
    NormProjector,
    ProjectedRegressor,
    _training,
)
from skconstrain.datasets import make_constrained_regression
from skconstrain.projections import distance

FAST = dict(hidden_layer_sizes=(16,), epochs=20, random_state=0)


@pytest.fixture(scope="module")
def shares():
    return make_constrained_regression(
        200, 4, 3, set="simplex", random_state=0, as_frame=True
    )


def _no_warning(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        return call()


# ------------------------------------------------------------ alpha is L2


def test_alpha_is_an_l2_penalty_by_default(shares):
    X, Y = shares
    assert ConstrainedRegressor().penalty == "l2"
    weak = ConstrainedRegressor(**FAST, alpha=1e-4).fit(X, Y)
    strong = ConstrainedRegressor(**FAST, alpha=10.0).fit(X, Y)
    assert np.abs(weak.predict(X) - strong.predict(X)).max() > 1e-3
    kernels = [w for w in strong.model_.trainable_weights if "kernel" in w.path]
    weak_kernels = [w for w in weak.model_.trainable_weights if "kernel" in w.path]
    assert sum(float(np.sum(np.asarray(k) ** 2)) for k in kernels) < sum(
        float(np.sum(np.asarray(k) ** 2)) for k in weak_kernels
    )


def test_alpha_means_the_same_in_any_units_of_y(shares):
    X, Y = shares
    base = ConstrainedRegressor(**FAST, alpha=1.0).fit(X, Y)
    big = ConstrainedRegressor(**FAST, alpha=1.0).fit(X, 1e3 * Y)
    np.testing.assert_allclose(big.predict(X), 1e3 * base.predict(X), rtol=1e-3)


def test_auto_alpha_grows_with_the_features_and_regularises_small_data(shares):
    """alpha="auto" is AUTO_ALPHA_PER_FEATURE times the features: the fit of
    the explicit value; on 200 noisy rows of 20 features it fits the
    signal better than MLPRegressor's 1e-4, which fits the noise."""
    from skconstrain import _validation

    X, Y = shares
    assert ConstrainedRegressor().alpha == "auto"
    auto = ConstrainedRegressor(**FAST).fit(X, Y)
    same = _validation.AUTO_ALPHA_PER_FEATURE * X.shape[1]
    explicit = ConstrainedRegressor(**FAST, alpha=same).fit(X, Y)
    np.testing.assert_allclose(auto.predict(X), explicit.predict(X), atol=1e-5)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 20))
    signal = X[:, 0] + 0.5 * np.tanh(X[:, 1])
    y = signal + rng.normal(size=400)
    errors = {}
    for alpha in ("auto", 1e-4):
        reg = ConstrainedRegressor(alpha=alpha, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.fit(X[:200], y[:200])
        errors[alpha] = np.mean((reg.predict(X[200:]) - signal[200:]) ** 2)
    # measured (4 seeds of the data): 0.38-0.51 against 0.75-1.03
    assert errors["auto"] < 0.75 * errors[1e-4]


def test_the_lipschitz_layers_of_a_monotone_network_take_no_penalty(shares):
    """Their norms are bounded; the free features' branch is penalised."""
    X, Y = shares
    y = Y.iloc[:, 0]
    every = dict(FAST, monotonic_cst=[1, -1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        weak = ConstrainedRegressor(**every, alpha=0.0).fit(X, y)
        strong = ConstrainedRegressor(**every, alpha=100.0).fit(X, y)
    np.testing.assert_allclose(weak.predict(X), strong.predict(X), atol=1e-6)
    some = dict(FAST, monotonic_cst=[1, 0, 0, 1])
    weak = ConstrainedRegressor(**some, alpha=0.0).fit(X, y)
    strong = ConstrainedRegressor(**some, alpha=100.0).fit(X, y)
    assert np.abs(weak.predict(X) - strong.predict(X)).max() > 1e-3


def _small_model(n_features_in, n_outputs):
    import keras

    return keras.Sequential(
        [keras.Input((n_features_in,)), keras.layers.Dense(n_outputs)]
    )


@pytest.mark.parametrize(
    "params, ignored",
    [
        (dict(penalty=None, alpha=1.0), "alpha=1.0 is ignored with penalty=None"),
        (dict(penalty="l1", l1_ratio=0.9), "l1_ratio=0.9 is ignored"),
        (
            dict(monotonic_cst=[1, 1, -1, 1], alpha=1.0, penalty="l1"),
            "alpha=1.0 is ignored with monotonic_cst constraining every feature.*"
            "penalty='l1' is ignored with monotonic_cst",
        ),
        (dict(output_radius=2.0), "output_radius=2.0 is ignored"),
        (
            dict(output_constraint="nonneg", output_radius=2.0),
            "output_radius=2.0 is ignored with output_constraint='nonneg'",
        ),
        (
            dict(output_constraint="simplex", output_lower=0.0),
            "output_lower=0.0 is ignored",
        ),
        (dict(output_strategy="post"), "output_strategy='post' is ignored"),
        (
            dict(output_constraint="simplex", output_penalty_strength=5.0),
            "output_penalty_strength=5.0 is ignored",
        ),
        (dict(validation_fraction=0.3), "validation_fraction=0.3 is ignored"),
        (
            dict(model=_small_model, activation="tanh"),
            "activation='tanh' is ignored with a 'model' callable",
        ),
    ],
)
def test_a_hyperparameter_that_does_nothing_is_warned_about(shares, params, ignored):
    X, Y = shares
    reg = ConstrainedRegressor(**{**FAST, "epochs": 2, **params})
    if "model" in params:
        reg.set_params(hidden_layer_sizes=(100,))  # the default: not warned about
    with pytest.warns(UserWarning, match=ignored):
        reg.fit(X, Y)


def test_defaults_and_used_hyperparameters_are_not_warned_about(shares):
    X, Y = shares
    for params in (
        {},
        dict(penalty="elasticnet", l1_ratio=0.9, alpha=1e-2),
        dict(output_constraint="box", output_lower=0.0, output_upper=1.0),
        dict(
            output_constraint="simplex",
            output_strategy="penalty",
            output_penalty_strength=5.0,
        ),
        dict(early_stopping=True, validation_fraction=0.3),
    ):
        _no_warning(lambda p=params: ConstrainedRegressor(**FAST, **p).fit(X, Y))


# ------------------------------------------------ targets outside the set


def test_targets_outside_the_set_are_warned_about_with_a_radius(shares):
    X, Y = shares
    reg = ConstrainedRegressor(**FAST, output_constraint="simplex")
    with pytest.warns(UserWarning, match=r"100\.0% of the training targets lie "):
        reg.fit(X, Y * 100)  # shares in percent
    with pytest.warns(UserWarning, match=r"try output_radius=100\b"):
        reg.fit(X, Y * 100)
    assert reg.target_violation_["fraction"] == 1.0
    assert reg.target_violation_["max"] > 50
    assert reg.constraint_violation_["fraction"] == 0.0  # predictions: in the set
    fitted = _no_warning(
        lambda: ConstrainedRegressor(
            **FAST, output_constraint="simplex", output_radius=100
        ).fit(X, Y * 100)
    )
    assert fitted.target_violation_["fraction"] == 0.0


@pytest.mark.parametrize(
    "name, params, targets, hint",
    [
        ("l2_sphere", {}, lambda Y: 3 * Y, r"norms' median suggests output_radius="),
        ("l1_ball", {}, lambda Y: 5 * Y, r"output_radius=5 would hold them all"),
        ("nonneg", {}, lambda Y: Y - 0.5, "Some are negative"),
        ("box", dict(lower=0.0, upper=0.2), lambda Y: Y, r"They range over \[0, "),
    ],
)
def test_every_set_reports_its_targets(shares, name, params, targets, hint):
    X, Y = shares
    Y = targets(np.asarray(Y))
    reg = ConstrainedRegressor(
        **FAST,
        output_constraint=name,
        **{f"output_{k}": v for k, v in params.items()},
    )
    with pytest.warns(UserWarning, match=hint):
        reg.fit(X, Y)
    found = distance(Y, name, **params)
    assert reg.target_violation_["max"] == pytest.approx(found.max())
    assert 0 < reg.target_violation_["fraction"] <= 1


def test_noise_below_the_tolerance_is_not_reported(shares):
    X, Y = shares
    noisy = np.asarray(Y) * (1 + 1e-4)  # rows summing to 1.0001
    reg = _no_warning(
        lambda: ConstrainedRegressor(**FAST, output_constraint="simplex").fit(X, noisy)
    )
    assert reg.target_violation_["fraction"] == 0.0
    assert ConstrainedRegressor(**FAST).fit(X, Y).target_violation_ is None


# ---------------------------------------------------------- degenerate sets


@pytest.mark.parametrize(
    "name, left",
    [("simplex", "the single point 1.0"), ("l2_sphere", "the two points -1.0 and 1.0")],
)
def test_a_set_of_one_or_two_points_is_warned_about(shares, name, left):
    X, Y = shares
    reg = ConstrainedRegressor(**FAST, output_constraint=name)
    with pytest.warns(UserWarning, match=f"on a y of 1 column is only {left}"):
        reg.fit(X, np.asarray(Y)[:, 0])


def test_projected_regressor_default_projector_on_1d_y_is_warned_about():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X[:, 0] * 3
    with pytest.warns(UserWarning, match="only the two points -1.0 and 1.0"):
        model = ProjectedRegressor(HistGradientBoostingRegressor(max_iter=5)).fit(X, y)
    np.testing.assert_allclose(np.abs(model.predict(X)), 1.0)  # what it warns of
    _no_warning(
        lambda: ProjectedRegressor(
            Ridge(), NormProjector("box", lower=-1.0, upper=1.0)
        ).fit(X, y)
    )


def test_a_box_without_bounds_is_an_error(shares):
    X, Y = shares
    from skconstrain.keras import ops
    from skconstrain.projections import project

    message = "The set 'box' needs"
    for call in (
        lambda: ConstrainedRegressor(**FAST, output_constraint="box").fit(X, Y),
        lambda: NormProjector("box").fit(Y),
        lambda: project(np.asarray(Y), "box"),
        lambda: ops.project(np.asarray(Y), "box"),
    ):
        with pytest.raises(ValueError, match=message):
            call()


# --------------------------------------------------------------- convergence


def test_epochs_running_out_is_a_convergence_warning(shares):
    X, Y = shares
    with pytest.warns(ConvergenceWarning, match="all 3 epochs ran"):
        ConstrainedRegressor(**{**FAST, "epochs": 3}).fit(X, Y)
    with pytest.warns(ConvergenceWarning, match="validation loss"):
        ConstrainedRegressor(**{**FAST, "epochs": 3}, early_stopping=True).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # a stopping rule met: no warning (tol=1 stops after n_iter_no_change)
        reg = ConstrainedRegressor(**FAST, tol=1.0, n_iter_no_change=2).fit(X, Y)
        assert reg.n_iter_ < 20
        reg.partial_fit(X, Y)  # one pass by design: no warning


def test_the_quantile_models_warning_speaks_of_its_loss(shares):
    from skconstrain import ConstrainedQuantileRegressor

    X, Y = shares
    with pytest.warns(ConvergenceWarning, match="the pinball loss") as record:
        ConstrainedQuantileRegressor(**{**FAST, "epochs": 3}).fit(X, Y.iloc[:, 0])
    assert "squared error" not in str(record[0].message)
    assert record[0].filename == __file__
    with pytest.warns(ConvergenceWarning, match="squared error") as record:
        ConstrainedRegressor(**{**FAST, "epochs": 3}).fit(X, Y)
    assert record[0].filename == __file__


# ------------------------------------------------------------ any units of X


def test_inputs_in_any_units(shares):
    X, Y = shares
    base = ConstrainedRegressor(**FAST, output_constraint="simplex").fit(X, Y)
    moved = ConstrainedRegressor(**FAST, output_constraint="simplex").fit(
        X * 1e4 + 7, Y
    )
    np.testing.assert_allclose(moved.predict(X * 1e4 + 7), base.predict(X), atol=1e-4)
    huge = ConstrainedRegressor(**FAST, output_constraint="simplex").fit(X * 1e30, Y)
    np.testing.assert_allclose(huge.predict(X * 1e30), base.predict(X), atol=1e-4)


def _income_data():
    rng = np.random.default_rng(0)
    income = rng.uniform(1e4, 1e5, 400)
    age = rng.uniform(20, 70, 400)
    t = (income - 5.5e4) / 2.6e4 + 0.5 * (age - 45) / 14
    logits = np.c_[t, -t, np.sin(2 * t)]
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    X = pd.DataFrame({"income": income, "age": age})
    return train_test_split(X, Y, random_state=0)


@pytest.mark.parametrize("strategy", ["project", "activation"])
def test_an_unscaled_income_column_is_learned(strategy):
    X, X_test, Y, Y_test = _income_data()
    reg = ConstrainedRegressor(
        hidden_layer_sizes=(32,),
        output_constraint="simplex",
        output_strategy=strategy,
        epochs=150,
        random_state=0,
    ).fit(X, Y)
    P = reg.predict(X_test)
    # without the input scaling: R^2 -3.2, every prediction one corner
    assert r2_score(Y_test, P) > 0.7
    assert len({tuple(row) for row in np.round(P, 3)}) > 50


def test_stacking_on_unscaled_inputs():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1e5, size=(300, 3))
    y = 50 + 1000 * (X[:, 0] / 1e5) ** 2 + rng.normal(0, 10, 300)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    stack = StackingRegressor(
        [("ridge", Ridge())],
        final_estimator=ConstrainedRegressor(hidden_layer_sizes=(8,), random_state=0),
        passthrough=True,
        cv=3,
    ).fit(X_train, y_train)
    assert stack.score(X_test, y_test) > 0.9


def test_warm_start_and_partial_fit_keep_the_first_scaling(shares):
    X, Y = shares
    reg = ConstrainedRegressor(**FAST, warm_start=True).fit(X, Y)
    layer = reg.model_.get_layer("input_scaling")
    before = [np.asarray(w).copy() for w in layer.weights]
    reg.fit(X * 10 + 3, Y)
    reg.partial_fit(X - 100, Y)
    for old, new in zip(before, layer.weights, strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))


# --------------------------------------------- predictions on any CPU, any order


@pytest.mark.parametrize("strategy", ["project", "activation", "penalty", "post"])
def test_predictions_do_not_depend_on_the_rows_beside_them(shares, strategy):
    X, Y = shares
    reg = ConstrainedRegressor(
        **FAST, output_constraint="simplex", output_strategy=strategy
    ).fit(X, Y)
    P = reg.predict(X)
    order = np.random.default_rng(0).permutation(len(X))
    # float64 forward pass: agreement to float64 rounding, not float32's 1e-7
    np.testing.assert_allclose(reg.predict(X.iloc[order]), P[order], rtol=1e-12)
    single = np.vstack([reg.predict(X.iloc[[i]]) for i in range(7)])
    np.testing.assert_allclose(single, P[:7], rtol=1e-12, atol=1e-15)
    if strategy != "penalty":  # in the set to float64 rounding
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
        assert P.min() >= 0


# ----------------------------------------------------------- smaller things


def test_set_names_are_case_insensitive_everywhere(shares):
    X, Y = shares
    reg = ConstrainedRegressor(**FAST, output_constraint="Simplex").fit(X, Y)
    np.testing.assert_allclose(reg.predict(X).sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        NormProjector("L2_Sphere").fit_transform(Y),
        NormProjector("l2_sphere").fit_transform(Y),
    )
    with pytest.raises(ValueError, match=r"must be one of .* \(in any case\)"):
        ConstrainedRegressor(output_constraint="simplexx").fit(X, Y)


def test_verbose_writes_plain_lines_off_a_terminal(shares, capsys):
    X, Y = shares
    ConstrainedRegressor(**{**FAST, "epochs": 3}, verbose=1).fit(X, Y)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Epoch 1/3 - loss: ")
    assert len(out.splitlines()) == 3
    assert "\r" not in out and "\b" not in out


def test_progress_bar_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    progress = _training._Progress(3, 1, stream=stream)
    assert progress.bar is not None and not progress.lines
    lines = _training._Progress(3, 2, stream=stream)  # verbose=2: always lines
    assert lines.lines and lines.bar is None


def test_mlp_regressor_scores(shares):
    """best_loss_, validation_scores_ and best_validation_score_ mean what
    they mean in MLPRegressor."""
    X, Y = shares
    reg = ConstrainedRegressor(**FAST).fit(X, Y)
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.validation_scores_ is None and reg.best_validation_score_ is None
    y = np.asarray(Y)[:, 0]
    reg = ConstrainedRegressor(**FAST, early_stopping=True, tol=0.0).fit(X, y)
    assert reg.best_loss_ is None
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    # the R^2 of the held-out rows (split as fit splits them: the first draw
    # of random_state) with the weights kept, those of the best epoch
    seed = np.random.RandomState(0).randint(2**31 - 1)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.1, random_state=seed)
    assert reg.score(X_val, y_val) == pytest.approx(
        reg.best_validation_score_, abs=1e-4
    )


def test_transformed_target_regressor_caveat_is_real(shares):
    """The user guide's caveat: a transform of y applied after the projection
    moves predictions off the set; the caveat is documented, not hidden."""
    X, Y = shares
    wrapped = TransformedTargetRegressor(
        ConstrainedRegressor(**FAST, output_constraint="simplex"),
        func=np.sqrt,
        inverse_func=np.square,
        check_inverse=False,
    ).fit(X, Y)
    sums = wrapped.predict(X).sum(axis=1)
    assert np.abs(sums - 1).max() > 1e-3
    from pathlib import Path

    guide = Path(__file__).resolve().parents[1] / "docs" / "user_guide"
    page = (guide / "training.md").read_text()
    assert "TransformedTargetRegressor" in page and "after the projection" in page


def test_a_first_partial_fit_that_leaves_a_calibrator_flat_is_warned_about():
    # the first batch fixes the bins of each constrained feature's calibrator:
    # "size" takes one value there, so its calibrator has no bin and no later
    # batch can teach the network its effect
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"size": rng.uniform(-2, 2, 400), "other": rng.normal(size=400)})
    y = X["size"].to_numpy() + 0.1 * X["other"].to_numpy()
    first = X.iloc[:50].assign(size=1.0)
    model = ConstrainedRegressor(
        monotonic_cst={"size": 1},
        feature_encoding="piecewise_linear",
        hidden_layer_sizes=(8,),
        random_state=0,
    )
    with pytest.warns(UserWarning, match=r"feature\(s\) size take a single value") as w:
        model.partial_fit(first, y[:50])
    assert w[0].filename == __file__  # points at the user's call
    for _ in range(20):
        model.partial_fit(X, y)
    sweep = pd.DataFrame({"size": np.linspace(-2, 2, 5), "other": 0.0})
    assert np.ptp(model.predict(sweep)) < 1e-6  # what the warning says: flat
    # no warning where the feature varies, for a fit (whatever its rows say,
    # they are all the data), or without calibrators
    _no_warning(lambda: clone(model).partial_fit(X.iloc[:50], y[:50]))
    _no_warning(lambda: clone(model).set_params(epochs=2).fit(first, y[:50]))
    _no_warning(
        lambda: (
            clone(model).set_params(feature_encoding=None).partial_fit(first, y[:50])
        )
    )
