"""skconstrain.metrics: quantile metrics and scorers that scikit-learn's
model selection accepts; a single level scored by scikit-learn's own."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import d2_pinball_score, make_scorer, mean_pinball_loss
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import ConstrainedQuantileRegressor, ConstrainedRegressorCV
from skconstrain.datasets import make_heteroscedastic_regression
from skconstrain.metrics import (
    coverage_scorer,
    interval_coverage,
    interval_width,
    make_quantile_scorer,
    multi_d2_pinball_score,
    multi_d2_pinball_scorer,
    multi_pinball_loss,
    neg_interval_width_scorer,
    neg_multi_pinball_scorer,
)

FAST = dict(hidden_layer_sizes=(8,), epochs=3, random_state=0)
X, y = make_heteroscedastic_regression(n_samples=150, n_features=2, random_state=0)


@pytest.fixture(autouse=True)
def _short_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def test_metrics_are_scikit_learns_averaged_over_levels():
    rng = np.random.default_rng(0)
    yt = rng.normal(size=50)
    Q = np.sort(rng.normal(size=(50, 3)), axis=1)
    levels = [0.1, 0.5, 0.9]
    w = rng.uniform(0.5, 2, size=50)
    assert multi_pinball_loss(yt, Q, quantiles=levels, sample_weight=w) == (
        pytest.approx(
            np.mean(
                [
                    mean_pinball_loss(yt, Q[:, k], alpha=t, sample_weight=w)
                    for k, t in enumerate(levels)
                ]
            )
        )
    )
    assert multi_d2_pinball_score(yt, Q, quantiles=levels) == pytest.approx(
        np.mean([d2_pinball_score(yt, Q[:, k], alpha=t) for k, t in enumerate(levels)])
    )
    inside = (Q[:, 0] <= yt) & (yt <= Q[:, 2])
    assert interval_coverage(yt, Q[:, 0], Q[:, 2]) == pytest.approx(inside.mean())
    assert interval_coverage(yt, Q[:, 0], Q[:, 2], sample_weight=w) == pytest.approx(
        np.average(inside, weights=w)
    )
    assert interval_width(Q[:, 0], Q[:, 2]) == pytest.approx(np.mean(Q[:, 2] - Q[:, 0]))


def test_metrics_check_shapes():
    with pytest.raises(ValueError, match="one column per level"):
        multi_pinball_loss(np.zeros(4), np.zeros((4, 2)), quantiles=[0.1, 0.5, 0.9])
    with pytest.raises(ValueError, match="'quantiles' parameter"):
        multi_pinball_loss(np.zeros(4), np.zeros((4, 1)), quantiles=[1.5])
    with pytest.raises(ValueError, match="one target"):
        multi_pinball_loss(np.zeros((4, 2)), np.zeros((4, 1)), quantiles=[0.5])


y4 = np.arange(4.0)
INTERVAL_CASES = {
    "no rows": (([], [], []), {}, "0 sample"),
    "NaN bound": ((y4, y4 - np.nan, y4 + 1), {}, "y_lower contains NaN"),
    "infinite target": ((y4 + np.inf, y4 - 1, y4 + 1), {}, "y_true contains inf"),
    "several columns": ((y4, np.zeros((4, 2)), np.ones((4, 2))), {}, "one column"),
    "rows differ": ((y4, y4[:3] - 1, y4 + 1), {}, "inconsistent numbers"),
    "weights of zero": ((y4, y4 - 1, y4 + 1), {"sample_weight": [0] * 4}, "non-zero"),
    "weights' length": ((y4, y4 - 1, y4 + 1), {"sample_weight": [1] * 3}, "shape"),
}


@pytest.mark.parametrize("case", INTERVAL_CASES)
@pytest.mark.parametrize("metric", ["coverage", "width"])
def test_interval_metrics_refuse_what_scikit_learns_metrics_refuse(metric, case):
    # as mean_pinball_loss does: no NaN from empty or NaN input, no error of
    # NumPy's from weights that do not fit
    (y, lower, upper), kwargs, match = INTERVAL_CASES[case]
    if metric == "width" and case == "infinite target":
        lower = y  # the width takes no target: its bound is the infinite one
        match = "y_lower contains inf"
    with pytest.raises(ValueError, match=match):
        if metric == "coverage":
            interval_coverage(y, lower, upper, **kwargs)
        else:
            interval_width(lower, upper, **kwargs)
    # a column vector is one column
    assert interval_width(np.c_[y4], np.c_[y4 + 2]) == 2.0


def test_a_scalar_level_is_scored_by_scikit_learns_scorers():
    # with one level given as a float, predictions are 1-D, as
    # QuantileRegressor's: every scikit-learn regression scorer takes them
    est = ConstrainedQuantileRegressor(0.5, **FAST)
    assert est.fit(X, y).predict(X).shape == (len(X),)
    pinball = make_scorer(mean_pinball_loss, alpha=0.5, greater_is_better=False)
    for scoring in (pinball, "r2", "neg_mean_absolute_error"):
        scores = cross_val_score(est, X, y, cv=3, scoring=scoring)
        assert np.isfinite(scores).all()
    grid = GridSearchCV(est, {"alpha": [1e-4, 1.0]}, cv=2, scoring=pinball)
    assert grid.fit(X, y).best_estimator_.predict(X).shape == (len(X),)
    # a list of one level keeps its column
    assert ConstrainedQuantileRegressor([0.5], **FAST).fit(X, y).predict(X).shape == (
        len(X),
        1,
    )


def test_quantile_scorers_in_model_selection():
    est = ConstrainedQuantileRegressor([0.1, 0.5, 0.9], **FAST)
    scoring = {
        "pinball": neg_multi_pinball_scorer,
        "d2": multi_d2_pinball_scorer,
        "coverage": coverage_scorer,
        "width": neg_interval_width_scorer,
        "inner": make_quantile_scorer("coverage", interval=(0.1, 0.5)),
    }
    result = cross_validate(
        make_pipeline(StandardScaler(), est), X, y, cv=3, scoring=scoring
    )
    fitted = est.fit(X, y)
    Q = fitted.predict(X)
    assert (result["test_pinball"] < 0).all()
    assert ((result["test_coverage"] >= 0) & (result["test_coverage"] <= 1)).all()
    assert (result["test_width"] <= 0).all()
    assert neg_multi_pinball_scorer(fitted, X, y) == pytest.approx(
        -multi_pinball_loss(y, Q, quantiles=[0.1, 0.5, 0.9])
    )
    assert multi_d2_pinball_scorer(fitted, X, y) == pytest.approx(fitted.score(X, y))
    assert coverage_scorer(fitted, X, y) == pytest.approx(
        interval_coverage(y, Q[:, 0], Q[:, 2])
    )
    grid = GridSearchCV(
        est, {"alpha": [1e-4, 1.0]}, cv=2, scoring=neg_multi_pinball_scorer
    )
    assert grid.fit(X, y).best_score_ < 0
    search = ConstrainedRegressorCV(
        alphas=[1e-4, 1.0], cv=2, scoring=neg_multi_pinball_scorer
    )
    assert search.get_params()["scoring"] is neg_multi_pinball_scorer


def test_scorer_errors_name_what_is_missing():
    fitted = ConstrainedQuantileRegressor([0.1, 0.9], **FAST).fit(X, y)
    with pytest.raises(ValueError, match="not one of the model's quantiles"):
        make_quantile_scorer("coverage", interval=(0.05, 0.9))(fitted, X, y)
    with pytest.raises(ValueError, match="'metric' parameter"):
        make_quantile_scorer("mae")
    with pytest.raises(ValueError, match="'interval' parameter"):
        make_quantile_scorer("coverage", interval=(0.9, 0.1))
    from sklearn.linear_model import LinearRegression

    with pytest.raises(ValueError, match="Cannot tell the quantile levels"):
        neg_multi_pinball_scorer(LinearRegression().fit(X, y), X, y)
    # scikit-learn's quantile models: the level from their parameter
    from sklearn.ensemble import HistGradientBoostingRegressor

    hgbr = HistGradientBoostingRegressor(loss="quantile", quantile=0.9, max_iter=5)
    assert neg_multi_pinball_scorer(hgbr.fit(X, y), X, y) == pytest.approx(
        -mean_pinball_loss(y, hgbr.predict(X), alpha=0.9)
    )


def test_score_refuses_y_of_several_columns():
    fitted = ConstrainedQuantileRegressor([0.1, 0.9], **FAST).fit(X, y)
    with pytest.raises(ValueError, match="one column"):
        fitted.score(X, np.column_stack([y, y]))
    assert fitted.score(X, y.reshape(-1, 1)) == pytest.approx(fitted.score(X, y))
