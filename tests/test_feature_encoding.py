"""feature_encoding: the piecewise-linear encoding in front of the default
networks, and the monotone calibrators it feeds.

The encoding's math (a bin is filled from 0 to 1, the first and last bins
extrapolate linearly, so the bins' widths times their fill give back the
feature), the host's and the network's encodings agree, "auto" chooses by
the rows and the kind of X, the encoding fits what a plain MLP of the same
size fits badly (a step), and everything a fit has keeps it: pickles, warm
starts, partial_fit, ensembles, the stacked search, monotonicity.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score

from skconstrain import (
    ConstrainedQuantileRegressor,
    ConstrainedRegressor,
    _training,
    _validation,
)
from skconstrain.keras import MonotoneCalibration, PiecewiseLinearEncoding
from skconstrain.keras.layers import piecewise_linear, piecewise_linear_bins

RNG = np.random.default_rng(0)


def _quiet(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def _layer_names(est):
    return {layer.name for layer in est.model_.layers}


@pytest.mark.parametrize("n_bins", [1, 3, 8])
def test_the_bins_widths_times_their_fill_give_back_the_feature(n_bins):
    X = np.column_stack(
        [
            RNG.normal(size=200),
            RNG.exponential(size=200),
            RNG.integers(0, 2, 200),  # two values: one bin
            np.full(200, 3.0),  # one value: no bin
        ]
    )
    left, inv_width, below, above = bins = piecewise_linear_bins(X, n_bins)
    sweep = np.column_stack([np.linspace(-50, 50, 1001)] * X.shape[1])
    encoded = piecewise_linear(sweep, *bins, xp=np)
    np.testing.assert_array_equal(encoded[:, :4], sweep)
    fill = encoded[:, 4:].reshape(len(sweep), 4, n_bins)
    width = np.where(inv_width > 0, 1 / np.where(inv_width > 0, inv_width, 1), 0)
    for j in range(3):  # a feature with bins: the sum is x - its first edge
        np.testing.assert_allclose(
            (fill[:, j] * width[j]).sum(axis=1), sweep[:, j] - left[j, 0], atol=1e-9
        )
        inner = fill[:, j, (below[j] == 1) & (above[j] == 1) & (inv_width[j] > 0)]
        assert ((inner >= 0) & (inner <= 1)).all()
    assert (inv_width[2] > 0).sum() == 1  # a 0/1 feature: one linear bin
    assert not fill[:, 3].any()  # a constant feature: nothing


def test_the_network_encodes_as_the_host_does():
    X = RNG.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    bins = piecewise_linear_bins(X, 5)
    layer = PiecewiseLinearEncoding(bins, dtype="float64")
    with _training.precision():  # float64 on JAX too, as the estimators run it
        encoded = np.asarray(layer(X))
    np.testing.assert_allclose(encoded, piecewise_linear(X, *bins, xp=np), rtol=1e-12)
    # and through the estimator's fixed map, standardisation first
    est = _quiet(
        ConstrainedRegressor(feature_encoding="piecewise_linear", epochs=1),
        X,
        X[:, 0],
    )
    scaling = est.model_.get_layer("input_scaling")
    encoding = est.model_.get_layer("input_encoding")
    offset, scale = (np.asarray(w) for w in scaling.weights)
    bins = tuple(np.asarray(w) for w in encoding.weights)
    # the host computes in float64 and hands float32 (rows at a time)
    host = _training.map_inputs(X, (offset, scale, bins), rows=7)
    assert host.dtype == np.float32
    with _training.precision():
        network = np.asarray(encoding(scaling(X)))
    np.testing.assert_allclose(host, network.astype(np.float32), rtol=2.5e-7)


def test_auto_encodes_dense_rows_from_a_few_thousand():
    small = RNG.normal(size=(300, 3))
    large = RNG.normal(size=(_validation.AUTO_ENCODING_ROWS, 3))
    est = ConstrainedRegressor(epochs=1, hidden_layer_sizes=(4,))
    assert "input_encoding" not in _layer_names(_quiet(est, small, small[:, 0]))
    assert "input_encoding" in _layer_names(_quiet(est, large, large[:, 0]))
    assert "input_encoding" not in _layer_names(
        _quiet(est, sp.csr_matrix(large), large[:, 0])
    )
    est.set_params(feature_encoding=None)
    assert "input_encoding" not in _layer_names(_quiet(est, large, large[:, 0]))
    est.set_params(feature_encoding="piecewise_linear")
    assert "input_encoding" in _layer_names(_quiet(est, small, small[:, 0]))
    with pytest.raises(ValueError, match=r"'feature_encoding' parameter.*sparse"):
        est.fit(sp.csr_matrix(small), small[:, 0])
    with pytest.raises(ValueError, match="feature_encoding"):
        est.set_params(feature_encoding="quantile").fit(small, small[:, 0])


def test_auto_learning_rate_is_larger_where_the_network_encodes_its_features():
    """learning_rate="auto" is 3e-3 for a network built on its features'
    encodings, 1e-3 for any other (below 4 000 rows, a monotone network's
    calibrators do not count; from them, they do, even with every feature
    constrained); a warm start keeps the rate of the network it continues,
    and a number is taken as it is."""
    small = RNG.normal(size=(300, 3))
    large = RNG.normal(size=(_validation.AUTO_ENCODING_ROWS, 3))

    def rate(est, X, **params):
        _quiet(est.set_params(**params), X, X[:, 0])
        return float(np.asarray(est.model_.optimizer.learning_rate))

    encoded, plain = _validation.AUTO_LEARNING_RATE_ENCODED, 1e-3
    est = ConstrainedRegressor(epochs=1, hidden_layer_sizes=(4,))
    assert est.learning_rate == "auto"
    assert rate(est, small) == pytest.approx(plain)
    assert rate(est, large) == pytest.approx(encoded)
    assert rate(est, small, warm_start=True) == pytest.approx(encoded)
    assert rate(est, large, warm_start=False, feature_encoding=None) == (
        pytest.approx(plain)
    )
    assert rate(est, small, feature_encoding="piecewise_linear") == pytest.approx(
        encoded
    )
    assert rate(est, small, feature_encoding="auto", monotonic_cst=[1, 0, 0]) == (
        pytest.approx(plain)
    )
    assert rate(est, large, monotonic_cst=[1, -1, 1]) == pytest.approx(encoded)
    assert rate(est, large, monotonic_cst=None) == pytest.approx(encoded)
    assert rate(est, large, learning_rate=0.01) == pytest.approx(0.01)
    # a single feature's curve is encoded from a few rows, at 1e-3
    curve = est.set_params(learning_rate="auto", monotonic_cst=None)
    assert rate(curve, small[:, :1]) == pytest.approx(plain)
    assert "input_encoding" in _layer_names(curve)
    with pytest.raises(ValueError, match="'learning_rate' parameter"):
        est.set_params(learning_rate="fast").fit(small, small[:, 0])


def test_auto_encodes_one_feature_from_a_few_rows():
    """One unconstrained feature is a curve: "auto" encodes it from one row
    per bin; a constrained one keeps the calibrators' threshold."""
    x = RNG.uniform(-3, 3, size=(_validation.AUTO_CALIBRATION_ROWS - 10, 1))
    few = _validation.AUTO_ENCODING_ROWS_ONE_FEATURE
    est = ConstrainedRegressor(epochs=1, hidden_layer_sizes=(4,))
    assert "input_encoding" in _layer_names(_quiet(est, x, x[:, 0]))
    assert "input_encoding" in _layer_names(_quiet(est, x[:few], x[:few, 0]))
    assert "input_encoding" not in _layer_names(
        _quiet(est, x[: few - 1], x[: few - 1, 0])
    )
    est.set_params(monotonic_cst=[0])  # no constraint: the same network
    assert "input_encoding" in _layer_names(_quiet(est, x, x[:, 0]))
    est.set_params(monotonic_cst=[1])  # calibrators from AUTO_CALIBRATION_ROWS
    assert "input_encoding" not in _layer_names(_quiet(est, x, x[:, 0]))
    quantiles = ConstrainedQuantileRegressor(epochs=1, hidden_layer_sizes=(4,))
    assert "input_encoding" in _layer_names(_quiet(quantiles, x, x[:, 0]))


def _wave(n, noise):
    """``sin(3x)`` with noise at ``n`` rows of x in [-3, 3], and a grid of
    200 points with the noiseless curve."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(n, 1))
    grid = np.linspace(-3, 3, 200)[:, None]
    y = np.sin(3 * x[:, 0]) + noise * rng.standard_normal(n)
    return x, y, grid, np.sin(3 * grid[:, 0])


def test_auto_fits_a_wavy_curve_that_the_plain_network_smooths():
    x, y, grid, curve = _wave(150, 0.1)
    scores = {}
    for encoding in ("auto", None):
        est = _quiet(
            ConstrainedRegressor(feature_encoding=encoding, random_state=0), x, y
        )
        scores[encoding] = r2_score(curve, est.predict(grid))
    # measured (3 seeds of the data): 0.99 against 0.20-0.35
    assert scores["auto"] > 0.95
    assert scores["auto"] > scores[None] + 0.3


def test_auto_fits_the_quantiles_of_a_wavy_curve_on_100_rows():
    """Tiny strongly non-linear quantile data: the median follows the curve
    and the levels never cross on a dense grid."""
    x, y, grid, curve = _wave(100, 0.2)
    scores = {}
    for encoding in ("auto", None):
        est = ConstrainedQuantileRegressor(
            [0.1, 0.5, 0.9], feature_encoding=encoding, random_state=0
        )
        Q = _quiet(est, x, y).predict(grid)
        assert (np.diff(Q, axis=1) >= 0).all()
        scores[encoding] = r2_score(curve, Q[:, 1])
    # measured (4 seeds of the data): 0.96-0.99 against -0.05-0.08
    assert scores["auto"] > 0.9
    assert scores["auto"] > scores[None] + 0.5


def test_auto_calibrates_the_constrained_features_of_a_small_monotone_fit():
    """Below AUTO_ENCODING_ROWS, "auto" gives a monotone network the
    calibrators of its constrained features and its free features alone;
    from there, the free features' encodings too; None, neither; with no
    constrained feature, the plain network."""
    small = RNG.normal(size=(300, 3))
    large = RNG.normal(size=(_validation.AUTO_ENCODING_ROWS, 3))
    est = ConstrainedRegressor(
        monotonic_cst=[1, 0, -1], epochs=1, hidden_layer_sizes=(4,)
    )
    _quiet(est, small, small[:, 0])
    assert "monotone_calibration" in _layer_names(est)
    assert est.model_.get_layer("unconstrained_features").indices == [1]
    _quiet(est, large, large[:, 0])
    assert "monotone_calibration" in _layer_names(est)
    free = est.model_.get_layer("unconstrained_features").indices
    assert free[0] == 1 and len(free) == 1 + _validation.PIECEWISE_LINEAR_BINS
    # too few rows for bins (a first partial_fit of one row: every column
    # constant): no calibrators, and the constrained features still act
    _quiet(est, small[:50], small[:50, 0])
    assert "monotone_calibration" not in _layer_names(est)
    online = ConstrainedRegressor(
        monotonic_cst=[1, 0, -1], hidden_layer_sizes=(8,), random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        online.partial_fit(small[:1], small[:1, 0])
        for _ in range(5):
            online.partial_fit(small, small[:, 0])
    assert "monotone_calibration" not in _layer_names(online)
    sweep = np.zeros((11, 3))
    sweep[:, 0] = np.linspace(-3, 3, 11)
    along = online.predict(sweep)
    assert np.diff(along).min() >= 0 and np.ptp(along) > 0.5  # y = x0 over 6
    _quiet(est.set_params(feature_encoding=None), small, small[:, 0])
    assert "monotone_calibration" not in _layer_names(est)
    assert "input_encoding" not in _layer_names(est)
    _quiet(
        est.set_params(feature_encoding="auto", monotonic_cst=[0, 0, 0]),
        small,
        small[:, 0],
    )
    assert "input_encoding" not in _layer_names(est)


def test_the_encoding_fits_steps_that_the_plain_network_smooths():
    X = RNG.uniform(-2, 2, size=(400, 2))
    y = np.where(X[:, 0] > 0.3, 2.0, 0.0) + np.where(X[:, 1] > -1.0, 1.0, 0.0)
    scores = {}
    for encoding in (None, "piecewise_linear"):
        est = ConstrainedRegressor(
            feature_encoding=encoding,
            hidden_layer_sizes=(16,),
            epochs=60,
            random_state=0,
        )
        scores[encoding] = r2_score(y, _quiet(est, X, y).predict(X))
    # measured: 0.95 against 0.75 (after 200 epochs: 0.98 against 0.83)
    assert scores["piecewise_linear"] > 0.93
    assert scores["piecewise_linear"] > scores[None] + 0.1


def test_a_fit_keeps_its_bins_through_pickles_warm_starts_and_partial_fit():
    X = RNG.normal(size=(200, 3))
    y = np.sin(X[:, 0]) + X[:, 1]
    est = _quiet(
        ConstrainedRegressor(
            feature_encoding="piecewise_linear", epochs=3, random_state=0
        ),
        X,
        y,
    )
    bins = [np.asarray(w) for w in est.model_.get_layer("input_encoding").weights]
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    est.set_params(warm_start=True)
    _quiet(est, X * 3 + 1, y)  # other rows: the bins of the first fit stay
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.partial_fit(X[:50] - 2, y[:50])
    for kept, first in zip(
        est.model_.get_layer("input_encoding").weights, bins, strict=True
    ):
        np.testing.assert_array_equal(np.asarray(kept), first)
    est.set_params(feature_encoding=None)
    with pytest.raises(ValueError, match=r"\['feature_encoding'\] changed"):
        est.fit(X, y)


def test_ensemble_members_share_the_encoding_and_quantiles_keep_their_order():
    X = RNG.normal(size=(150, 2))
    y = X[:, 0] + 0.3 * RNG.normal(size=150)
    ensemble = _quiet(
        ConstrainedRegressor(
            feature_encoding="piecewise_linear", ensemble_size=3, epochs=2
        ),
        X,
        y,
    )
    encodings = [
        layer
        for layer in ensemble.model_.layers
        if isinstance(layer, PiecewiseLinearEncoding)
    ]
    assert len(encodings) == 1
    quantiles = _quiet(
        ConstrainedQuantileRegressor(
            quantiles=[0.1, 0.5, 0.9], feature_encoding="piecewise_linear", epochs=5
        ),
        X,
        y,
    )
    wide = RNG.normal(scale=30, size=(500, 2))
    assert (np.diff(quantiles.predict(wide), axis=1) >= 0).all()


def test_calibrators_never_decrease_whatever_their_weights():
    x = np.linspace(-100, 100, 2001).reshape(-1, 1)
    bins = piecewise_linear_bins(RNG.normal(size=(300, 1)), 16)
    encoded = PiecewiseLinearEncoding(bins, dtype="float64")(x)
    layer = MonotoneCalibration([0], 16, bins)
    layer(encoded)
    for _ in range(5):
        layer.log_rise.assign(RNG.normal(scale=5, size=(1, 16)).astype("float32"))
        steps = np.diff(np.asarray(layer(encoded), dtype=np.float64).ravel())
        assert steps.min() >= 0


@pytest.mark.parametrize("features", [[0], [3, 0], [1, 2, 3], [4, 2, 0, 1, 3]])
def test_calibrators_compute_their_sums_and_pass_the_other_features(
    features, float64_keras
):
    # c_j = t_j0 + sum_k exp(r_jk) e_jk for the calibrated features, in their
    # places; the other features as they are
    x = RNG.normal(size=(30, 5))
    bins = piecewise_linear_bins(x, 4)
    encoded = np.asarray(PiecewiseLinearEncoding(bins, dtype="float64")(x))
    layer = MonotoneCalibration(features, 4, bins, dtype="float64")
    layer.build(encoded.shape)
    rise = RNG.normal(size=(len(features), 4))
    layer.log_rise.assign(rise)
    expected = x.copy()
    for i, j in enumerate(features):
        e = encoded[:, 5 + 4 * j : 5 + 4 * (j + 1)]
        expected[:, j] = bins[0][j, 0] + e @ np.exp(rise[i])
    np.testing.assert_allclose(np.asarray(layer(encoded)), expected, rtol=1e-12)


@pytest.mark.parametrize("features", [[3, 0, 2], [0, 3, 1, 2]])
def test_an_encoding_of_some_columns_is_the_full_one_without_the_others(
    features, float64_keras
):
    # [x, e[:, columns]] is the full encoding's [x, e] without the other
    # columns, on the host as in the layer, and calibrators read the same
    # bins from either
    x = RNG.normal(size=(40, 4))
    bins = piecewise_linear_bins(x, 4)
    full = np.asarray(PiecewiseLinearEncoding(bins, dtype="float64")(x))
    columns = [4 * j + k for j in features for k in range(4)]
    part = PiecewiseLinearEncoding(bins, columns=columns, dtype="float64")
    some = np.asarray(part(x))
    assert part.compute_output_shape((None, 4)) == (None, 4 + len(columns))
    expected = full[:, [0, 1, 2, 3] + [4 + c for c in columns]]
    np.testing.assert_allclose(some, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        piecewise_linear(x, *bins, xp=np, columns=columns), some, rtol=1e-12
    )
    rise = RNG.normal(size=(2, 4))
    outputs = []
    for layer, inputs in (
        (MonotoneCalibration([2, 0], 4, bins, dtype="float64"), full),
        (MonotoneCalibration([2, 0], 4, bins, columns, dtype="float64"), some),
    ):
        layer.build(inputs.shape)
        layer.log_rise.assign(rise)
        outputs.append(np.asarray(layer(inputs)))
        assert layer.compute_output_shape(inputs.shape) == (40, 4)
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-12)
    # only the features asked for get bins
    only = piecewise_linear_bins(x, 4, features=features[:2])
    np.testing.assert_array_equal(only[1][features[:2]], bins[1][features[:2]])
    assert not only[1][features[2:]].any()


def test_the_bins_that_are_zero_for_every_input_are_dropped():
    # a one-hot column has one bin of positive width, a column of three
    # values two: the other columns of their encodings are zero for every
    # input, even far from the data, so a network keeps the rest alone (and
    # every bin of a calibrated feature)
    from skconstrain._fit_data import encoded_columns

    x = np.column_stack(
        [RNG.normal(size=200), RNG.integers(0, 2, 200), RNG.integers(0, 3, 200)]
    ).astype(float)
    bins = piecewise_linear_bins(x, 8)
    kept = encoded_columns(bins, [], True)
    assert kept == (*range(8), 8, 16, 17)
    wide = RNG.normal(scale=50, size=(300, 3))
    full = np.asarray(PiecewiseLinearEncoding(bins, dtype="float64")(wide))
    dropped = [3 + c for c in range(24) if c not in kept]
    assert not full[:, dropped].any()
    some = PiecewiseLinearEncoding(bins, columns=kept, dtype="float64")(wide)
    expected = full[:, [0, 1, 2] + [3 + c for c in kept]]
    np.testing.assert_allclose(some, expected, rtol=1e-12, atol=0)
    assert encoded_columns(bins, [1], True) == (*range(16), 16, 17)
    assert encoded_columns(bins, [2], False) == tuple(range(16, 24))
    assert encoded_columns(piecewise_linear_bins(x[:, :1], 8), [], True) is None


@pytest.mark.parametrize("cst", [None, [0, 1, 0, 0, 0]])
def test_one_hot_columns_keep_one_bin_and_the_network_trains_as_before(cst):
    # a network on numbers and one-hot columns keeps each one-hot column's
    # bins of positive width alone (about 2 x 32 + 3 bins, not 5 x 32); it
    # continues and pickles
    n = 300
    level = RNG.integers(0, 3, n)
    X = np.column_stack([RNG.normal(size=(n, 2)), np.eye(3)[level]])
    y = np.sin(2 * X[:, 0]) + X[:, 1] + level + 0.1 * RNG.normal(size=n)
    params = dict(
        feature_encoding="piecewise_linear", epochs=5, random_state=0, warm_start=True
    )
    est = _quiet(ConstrainedRegressor(monotonic_cst=cst, **params), X, y)
    encoding = est.model_.get_layer("input_encoding")
    columns = encoding.columns
    inv_width = np.asarray(encoding.weights[1])  # 0: an empty bin
    live = [j * 32 + k for j in range(5) for k in range(32) if inv_width[j, k] > 0]
    assert columns == live
    # each one-hot column keeps one bin (its two values are its edges), the
    # numbers all 32
    assert len(columns) == 2 * 32 + 3
    before = est.predict(X)
    _quiet(est, X, y)  # warm start: the same columns
    assert est.model_.get_layer("input_encoding").columns == columns
    assert not np.allclose(est.predict(X), before)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    new = RNG.normal(scale=3, size=(50, 5))
    assert np.isfinite(est.predict(new)).all()


@pytest.mark.parametrize("cst", [None, [0, 1, 0, 0, 0, 0, 0]])
def test_dropping_the_empty_bins_leaves_the_fit_as_it_was(cst, monkeypatch):
    # the dropped columns are zero for every input, and the kept ones start
    # from the weights of the network on every column: both fits predict
    # alike (the same to float32 training's rounding)
    from skconstrain import _fit_data

    rng = np.random.default_rng(0)
    n = 300
    level = rng.integers(0, 4, n)
    X = np.column_stack(
        [rng.normal(size=(n, 2)), np.eye(4)[level], rng.integers(0, 3, n)]
    )
    y = np.sin(2 * X[:, 0]) + X[:, 1] + level + 0.1 * rng.normal(size=n)
    params = dict(
        feature_encoding="piecewise_linear",
        hidden_layer_sizes=(16,),
        epochs=5,
        random_state=0,
        monotonic_cst=cst,
    )
    kept = _quiet(ConstrainedRegressor(**params), X, y)
    assert len(kept.model_.get_layer("input_encoding").columns) < 7 * 32 / 2
    monkeypatch.setattr(_fit_data, "encoded_columns", lambda *args: None)
    every = _quiet(ConstrainedRegressor(**params), X, y)
    assert every.model_.get_layer("input_encoding").columns is None
    # first layers of other widths: float32 sums may round apart on other CPUs
    np.testing.assert_allclose(kept.predict(X), every.predict(X), rtol=1e-4, atol=1e-4)


def test_a_small_monotone_network_encodes_its_constrained_features_only():
    # below AUTO_ENCODING_ROWS the free features go without their bins, so
    # the rows the network trains on carry the calibrators' alone; it is
    # still monotone, continues, and pickles
    from test_monotonic import assert_monotone

    X = RNG.normal(size=(300, 5))
    y = np.tanh(2 * X[:, 3]) + X[:, 1] - X[:, 0] * X[:, 4] + 0.1 * RNG.normal(size=300)
    est = _quiet(
        ConstrainedRegressor(
            monotonic_cst=[0, 0, 0, 1, -1], epochs=5, random_state=0, warm_start=True
        ),
        X,
        y,
    )
    encoding = est.model_.get_layer("input_encoding")
    assert encoding.columns == list(range(3 * 32, 5 * 32))
    assert encoding.compute_output_shape((None, 5)) == (None, 5 + 2 * 32)
    assert_monotone(est, [0, 0, 0, 1, -1])
    before = est.predict(X)
    _quiet(est, X, y)  # warm start: the same encoding, trained on
    assert est.model_.get_layer("input_encoding").columns == encoding.columns
    assert not np.allclose(est.predict(X), before)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert_monotone(back, [0, 0, 0, 1, -1])


def test_a_monotone_network_with_calibrators_stays_monotone_far_away():
    from test_monotonic import CST, X, Y, assert_monotone

    est = _quiet(
        ConstrainedRegressor(
            monotonic_cst=CST,
            feature_encoding="piecewise_linear",
            hidden_layer_sizes=(8, 8),
            epochs=3,
            random_state=0,
        ),
        X,
        Y,
    )
    assert "monotone_calibration" in _layer_names(est)
    assert_monotone(est)
    rng = np.random.default_rng(3)
    for variable in est.model_.trainable_variables:
        variable.assign(rng.normal(scale=3.0, size=variable.shape).astype("float32"))
    assert_monotone(est, n_base=12, n_grid=200)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_calibrators_fit_a_steep_then_flat_monotone_effect():
    # measured after the default 200 epochs: R^2 0.998 with calibrators,
    # 0.979 without (the Lipschitz network's slope is bounded by 2 lam);
    # "auto" calibrates a monotone network's features on 600 rows too
    x = RNG.uniform(-3, 3, size=(600, 1))
    y = np.where(x[:, 0] < 0, 3 * np.tanh(4 * x[:, 0]), 0.1 * x[:, 0])
    scores = {}
    for encoding in (None, "piecewise_linear", "auto"):
        est = ConstrainedRegressor(
            monotonic_cst=[1],
            feature_encoding=encoding,
            hidden_layer_sizes=(16,),
            random_state=0,
        )
        scores[encoding] = r2_score(y, _quiet(est, x, y).predict(x))
    assert scores["piecewise_linear"] > 0.99
    assert scores["piecewise_linear"] > scores[None]
    assert scores["auto"] > 0.99
    sweep = np.linspace(-300, 300, 6001).reshape(-1, 1)
    assert np.diff(est.predict(sweep)).min() >= 0


def test_a_model_callable_ignores_the_encoding_and_says_so():
    import keras

    def build(n_features_in, n_outputs):
        return keras.Sequential(
            [keras.Input((n_features_in,)), keras.layers.Dense(n_outputs)]
        )

    X = RNG.normal(size=(40, 2))
    with pytest.warns(UserWarning, match="feature_encoding=None is ignored"):
        _quiet(ConstrainedRegressor(build, feature_encoding=None, epochs=1), X, X[:, 0])


def test_the_layers_round_trip_and_refuse_bad_arguments(tmp_path):
    import keras

    X = RNG.normal(size=(60, 2))
    bins = piecewise_linear_bins(X, 4)
    inputs = keras.Input((2,), dtype="float64")
    encoded = PiecewiseLinearEncoding(bins, dtype="float64")(inputs)
    outputs = MonotoneCalibration([1], 4, bins)(encoded)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0))
    for layer in (PiecewiseLinearEncoding(n_bins=3), MonotoneCalibration([0, 2], 5)):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        PiecewiseLinearEncoding(n_bins=0)
    with pytest.raises(ValueError, match="bins must be 4 arrays"):
        PiecewiseLinearEncoding(bins[:2])
    with pytest.raises(ValueError, match="features must be distinct"):
        MonotoneCalibration([1, 1], 4)
    with pytest.raises(ValueError, match="columns must be distinct"):
        PiecewiseLinearEncoding(n_bins=3, columns=[0, -1])
    for columns in ([1, 0, 2], [0, 2], [1, 2, 3]):  # out of order, a bin missing
        with pytest.raises(ValueError, match="every bin of each calibrated feature"):
            MonotoneCalibration([0], 2, columns=columns)
    with pytest.raises(ValueError, match="below the 8 bins of the 2 input"):
        PiecewiseLinearEncoding(bins, columns=[8])(X)
    layer = PiecewiseLinearEncoding(n_bins=3, columns=[1, 4])
    assert type(layer).from_config(layer.get_config()).columns == [1, 4]
    layer = MonotoneCalibration([1], 2, columns=[2, 3, 0])
    assert type(layer).from_config(layer.get_config()).columns == [2, 3, 0]
