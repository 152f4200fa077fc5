"""ConstrainedQuantileRegressor: quantiles that never cross, the pinball
loss, its score, and everything it shares with ConstrainedRegressor."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import d2_pinball_score, mean_pinball_loss
from sklearn.model_selection import GridSearchCV

from skconstrain import ConstrainedQuantileRegressor
from skconstrain.datasets import make_heteroscedastic_regression

LEVELS = (0.1, 0.5, 0.9)
FAST = dict(hidden_layer_sizes=(16,), epochs=5, random_state=0)


@pytest.fixture(autouse=True)
def _short_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


X, y = make_heteroscedastic_regression(n_samples=400, n_features=3, random_state=0)


def crossings(Q):
    return int((np.diff(Q, axis=1) < 0).sum())


@pytest.mark.parametrize("strategy", ["project", "activation", "post"])
def test_never_cross_anywhere(strategy):
    est = ConstrainedQuantileRegressor(
        (0.05, 0.1, 0.5, 0.52, 0.9, 0.95), output_strategy=strategy, **FAST
    ).fit(X, y)
    rng = np.random.default_rng(1)
    far = np.vstack([rng.normal(size=(500, 3)), 100 * rng.normal(size=(500, 3))])
    Q = est.predict(far)
    assert Q.shape == (1000, 6)
    assert crossings(Q) == 0
    assert est.constraint_violation_["max"] <= 1e-12
    # even with random weights
    for variable in est.model_.trainable_variables:
        variable.assign(rng.normal(scale=3, size=variable.shape).astype("float32"))
    assert crossings(est.predict(far)) == 0


def test_an_unconstrained_network_crosses_where_ours_does_not():
    # the same network without the ordered head ("penalty" at strength 0)
    free = ConstrainedQuantileRegressor(
        (0.45, 0.5, 0.55),
        output_strategy="penalty",
        output_penalty_strength=0.0,
        **FAST,
    ).fit(X, y)
    ours = ConstrainedQuantileRegressor((0.45, 0.5, 0.55), **FAST).fit(X, y)
    assert crossings(free.predict(X)) > 0
    assert crossings(ours.predict(X)) == 0


def test_levels_are_learned_coverage_and_score():
    X_train, y_train = make_heteroscedastic_regression(3000, 3, random_state=1)
    X_test, y_test = make_heteroscedastic_regression(3000, 3, random_state=2)
    est = ConstrainedQuantileRegressor(
        LEVELS, hidden_layer_sizes=(32,), epochs=60, batch_size=64, random_state=0
    ).fit(X_train, y_train)
    Q = est.predict(X_test)
    coverage = (y_test[:, None] <= Q).mean(axis=0)
    np.testing.assert_allclose(coverage, LEVELS, atol=0.04)
    expected = np.mean(
        [d2_pinball_score(y_test, Q[:, k], alpha=t) for k, t in enumerate(LEVELS)]
    )
    assert est.score(X_test, y_test) == pytest.approx(expected)
    assert est.score(X_test, y_test) > 0.3
    # the interval widens where the noise does (the second feature)
    width = Q[:, 2] - Q[:, 0]
    calm, wild = np.abs(X_test[:, 1]) < 0.3, np.abs(X_test[:, 1]) > 1.5
    assert width[wild].mean() > 2 * width[calm].mean()


def test_early_stopping_on_the_pinball_loss():
    stopped = ConstrainedQuantileRegressor(
        LEVELS,
        early_stopping=True,
        n_iter_no_change=3,
        hidden_layer_sizes=(16,),
        epochs=300,
        learning_rate=0.01,
        random_state=0,
    ).fit(X, y)
    assert stopped.n_iter_ < 300
    # validation scores are D^2 pinball scores, as score() gives
    assert stopped.best_validation_score_ == max(stopped.validation_scores_)
    assert 0 < stopped.best_validation_score_ < 1
    assert len(stopped.history_["val_loss"]) == stopped.n_iter_


def test_the_training_loss_is_the_mean_pinball_loss():
    # one full batch with a vanishing step: the loss reported is that of the
    # network's outputs (here the predictions: the projection is in the
    # network), the pinball loss averaged over the levels (as sklearn's)
    est = ConstrainedQuantileRegressor(
        LEVELS,
        output_strategy="project",
        penalty=None,
        epochs=1,
        batch_size=len(X),
        learning_rate=1e-12,
        hidden_layer_sizes=(16,),
        random_state=0,
    ).fit(X, y)
    Q = est.predict(X)
    theirs = np.mean(
        [mean_pinball_loss(y, Q[:, k], alpha=t) for k, t in enumerate(LEVELS)]
    )
    assert est.loss_curve_[0] == pytest.approx(theirs, rel=1e-5)


def test_one_dimensional_y_only_and_column_vectors_warn():
    est = ConstrainedQuantileRegressor(LEVELS, **FAST)
    with pytest.raises(ValueError, match="y must be 1-D; got 2 columns"):
        est.fit(X, np.column_stack([y, y]))
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        est.fit(X, y[:, None])
    assert est.predict(X).shape == (len(X), 3)


@pytest.mark.parametrize(
    "quantiles", [(0.5, 0.1), (0.0, 0.5), (0.5, 1.0), (), (0.2, 0.2), ("a",)]
)
def test_bad_quantiles(quantiles):
    with pytest.raises(ValueError, match="'quantiles' parameter must be strictly"):
        ConstrainedQuantileRegressor(quantiles, **FAST).fit(X, y)


def test_persistence_partial_fit_warm_start_and_frames():
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = ConstrainedQuantileRegressor(LEVELS, **FAST).fit(frame, y)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(frame), est.predict(frame))
    back.partial_fit(frame, y)
    assert back.n_iter_ == est.n_iter_ + 1
    est.set_params(warm_start=True).fit(frame, y)
    assert est.n_iter_ == 10
    est.set_params(quantiles=(0.2, 0.8))
    with pytest.raises(ValueError, match=r"\['quantiles'\] changed"):
        est.fit(frame, y)
    assert list(est.feature_names_in_) == ["a", "b", "c"]


def test_monotone_in_a_feature_and_never_crossing():
    est = ConstrainedQuantileRegressor(LEVELS, monotonic_cst=[1, 0, 0], **FAST).fit(
        X, y
    )
    rng = np.random.default_rng(0)
    base = rng.normal(size=(20, 3))
    grid = np.linspace(-50, 50, 300)
    rows = np.repeat(base, len(grid), axis=0)
    rows[:, 0] = np.tile(grid, 20)
    Q = est.predict(rows).reshape(20, len(grid), 3)
    assert (np.diff(Q, axis=1) >= -1e-12).all()
    assert crossings(Q.reshape(-1, 3)) == 0


def test_grid_search_over_the_strategy():
    search = GridSearchCV(
        ConstrainedQuantileRegressor(LEVELS, **FAST),
        {"output_strategy": ["project", "activation"]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["output_strategy"] in ("project", "activation")
