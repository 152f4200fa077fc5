"""Conformal calibration of every quantile level: coverage within the
finite-sample bound on data with known quantiles, levels still ordered; and
MAPIE's ConformalizedQuantileRegressor over our model."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skconstrain import ConstrainedQuantileRegressor
from skconstrain._conformal import (
    calibrated_quantiles,
    conformal_scores,
    min_calibration_rows,
)
from skconstrain.datasets import make_heteroscedastic_regression

LEVELS = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
FAST = dict(hidden_layer_sizes=(16,), epochs=10, random_state=0)


@pytest.fixture(autouse=True)
def _short_fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_heteroscedastic_regression(8000, 2, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # a short training: its raw quantiles are off, which calibration fixes
        return ConstrainedQuantileRegressor(LEVELS, **FAST).fit(X[:400], y[:400])


def test_coverage_within_the_finite_sample_bound(model, data):
    """Over many calibration sets of n rows, the mean coverage of each level on
    fresh rows lies in [tau, tau + 1/(n+1)] (tau >= 1/2) or [tau - 1/(n+1),
    tau] (below), up to the Monte-Carlo error of the test."""
    X, y = data
    pool_X, pool_y = X[400:3400], y[400:3400]
    test_X, test_y = X[3400:], y[3400:]
    # shifted up by a fifth of y's spread: miscalibrated whatever the short
    # training gave (its raw error differs between backends and seeds)
    shift = 0.2 * y.std()
    pool_Q, test_Q = model.predict(pool_X) + shift, model.predict(test_X) + shift
    raw = (test_y[:, None] <= test_Q).mean(axis=0)
    n, repeats = 60, 300
    rng = np.random.default_rng(0)
    covered = np.zeros((repeats, len(LEVELS)))
    for r in range(repeats):
        rows = rng.choice(len(pool_y), n, replace=False)
        scores, floor = conformal_scores(pool_y[rows], pool_Q[rows], LEVELS)
        assert (np.diff(scores) >= 0).all()
        calibrated = calibrated_quantiles(test_Q, LEVELS, scores, floor)
        assert (np.diff(calibrated, axis=1) >= 0).all()
        covered[r] = (test_y[:, None] <= calibrated).mean(axis=0)
    mean = covered.mean(axis=0)
    error = 4 * covered.std(axis=0) / np.sqrt(repeats) + 0.005
    bound = 1 / (n + 1)
    high = LEVELS >= 0.5
    lower = np.where(high, LEVELS, LEVELS - bound) - error
    upper = np.where(high, LEVELS + bound, LEVELS) + error
    assert ((lower <= mean) & (mean <= upper)).all(), (mean, raw)
    # the raw network is miscalibrated somewhere (else the test shows nothing)
    assert np.abs(raw - LEVELS).max() > 0.03


def test_calibration_on_small_examples():
    y = np.arange(9.0)
    Q = np.tile([2.0, 6.0], (9, 1))
    levels = np.array([0.2, 0.8])
    scores, floor = conformal_scores(y, Q, levels)
    # ranks 2 and 8 of 9: the targets 1 and 7, on every row of this model
    np.testing.assert_allclose(
        calibrated_quantiles(Q[:3], levels, scores, floor), [[1.0, 7.0]] * 3
    )
    # too few rows for an extreme level: an infinite bound, on its safe side
    scores, floor = conformal_scores(y[:3], Q[:3], np.array([0.05, 0.95]))
    assert scores.tolist() == [-np.inf, np.inf]
    assert min_calibration_rows([0.05, 0.95]) == 19


def test_a_calibrated_model_is_left_nearly_as_it_is():
    """Quantiles that are the true ones (a normal with a row's own scale)
    read their own levels back, up to the sampling error of n rows."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    scale = rng.uniform(0.5, 3, size=4000)
    y = scale * rng.normal(size=4000)
    Q = scale[:, None] * norm.ppf(LEVELS)[None, :]
    scores, _ = conformal_scores(y, Q, LEVELS)
    np.testing.assert_allclose(norm.cdf(scores), LEVELS, atol=0.015)


def test_rows_with_tied_quantiles_and_a_single_level():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    Q = np.zeros((200, 3))  # every level pooled into one value
    levels = np.array([0.1, 0.5, 0.9])
    scores, floor = conformal_scores(y, Q, levels)
    out = calibrated_quantiles(Q, levels, scores, floor)
    assert np.isfinite(out).all() and (np.diff(out, axis=1) >= 0).all()
    np.testing.assert_allclose(np.mean(y[:, None] <= out, axis=0), levels, atol=0.01)
    # one level: the ceil((n+1) tau)-th residual added to the model's quantile
    scores, floor = conformal_scores(y, Q[:, :1], np.array([0.9]))
    shift = np.sort(y)[int(np.ceil(201 * 0.9)) - 1]
    np.testing.assert_allclose(
        calibrated_quantiles(Q[:5, :1], [0.9], scores, floor), shift
    )


def test_conformal_fit_calibrate_predict_pickle(data):
    X, y = data
    est = ConstrainedQuantileRegressor(LEVELS, conformal=0.3, **FAST)
    est.fit(X[:500], y[:500])
    assert est.n_calibration_ == 150
    assert (np.diff(est.conformal_levels_) >= 0).all()
    Q = est.predict(X[500:1500])
    assert (np.diff(Q, axis=1) >= 0).all()
    assert not np.allclose(Q, est._uncalibrated(X[500:1500]))
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X[:50]), est.predict(X[:50]))
    # calibrate with rows of one's own replaces it; a new fit without
    # conformal drops it
    est.calibrate(X[2000:2100], y[2000:2100])
    assert est.n_calibration_ == 100
    est.set_params(conformal=None).fit(X[:200], y[:200])
    assert not hasattr(est, "conformal_levels_")
    # a scalar level is calibrated too, and stays 1-D
    one = ConstrainedQuantileRegressor(0.9, conformal=0.5, **FAST).fit(X[:300], y[:300])
    assert one.predict(X[:5]).shape == (5,)


def test_conformal_errors_and_warnings(data):
    X, y = data
    with pytest.raises(ValueError, match=r"conformal=0.1 holds out 5 of 50 rows.*19"):
        ConstrainedQuantileRegressor([0.05, 0.95], conformal=0.1, **FAST).fit(
            X[:50], y[:50]
        )
    with pytest.raises(ValueError, match="'conformal' parameter"):
        ConstrainedQuantileRegressor(conformal=1.5).fit(X[:50], y[:50])
    est = ConstrainedQuantileRegressor([0.1, 0.9], **FAST).fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="need at least 9"):
        est.calibrate(X[:5], y[:5])
    with pytest.raises(ValueError, match="one target per row"):
        est.calibrate(X[:20], np.column_stack([y[:20], y[:20]]))
    est.calibrate(X[100:200], y[100:200])
    with pytest.warns(UserWarning, match="no longer holds"):
        est.partial_fit(X[:100], y[:100])
    assert not hasattr(est, "conformal_levels_")
    with pytest.warns(UserWarning, match="ignored by partial_fit"):
        ConstrainedQuantileRegressor(conformal=0.2, **FAST).partial_fit(
            X[:100], y[:100]
        )


def test_level_estimator():
    X, y = make_heteroscedastic_regression(200, 2, random_state=1)
    est = ConstrainedQuantileRegressor([0.1, 0.5, 0.9], **FAST).fit(X, y)
    Q = est.predict(X)
    for k, tau in enumerate([0.1, 0.5, 0.9]):
        level = est.level_estimator(tau)
        assert level.quantile == tau and level.n_features_in_ == 2
        np.testing.assert_array_equal(level.fit(X, y).predict(X), Q[:, k])
    with pytest.raises(ValueError, match="not one of the fitted levels"):
        est.level_estimator(0.95)


def test_mapie_conformalized_quantile_regressor(data):
    mapie = pytest.importorskip("mapie.regression")
    X, y = data
    est = ConstrainedQuantileRegressor([0.05, 0.5, 0.95], **FAST).fit(X[:400], y[:400])
    cqr = mapie.ConformalizedQuantileRegressor(
        [est.level_estimator(q) for q in (0.05, 0.95, 0.5)],
        confidence_level=0.9,
        prefit=True,
    ).conformalize(X[400:1400], y[400:1400])
    points, intervals = cqr.predict_interval(X[2000:])
    np.testing.assert_allclose(points, est.predict(X[2000:])[:, 1])
    test_y = y[2000:]
    coverage = np.mean((intervals[:, 0, 0] <= test_y) & (test_y <= intervals[:, 1, 0]))
    # 1000 calibration rows: at least 0.9 in expectation, the test's 6000
    # rows and the calibration's draw add a few hundredths of noise
    assert 0.87 <= coverage <= 0.95
