"""make_constrained_regression: shapes, feasibility, determinism, frames, errors."""

import numpy as np
import pandas as pd
import pytest
from _reference import violation

from skconstrain._sets import SET_NAMES
from skconstrain.datasets import make_constrained_regression


@pytest.mark.parametrize("name", SET_NAMES)
def test_targets_in_set(name):
    X, Y = make_constrained_regression(200, 6, 4, set=name, radius=2.0, random_state=0)
    assert X.shape == (200, 6) and Y.shape == (200, 4)
    params = {"lower": -2.0, "upper": 2.0} if name == "box" else {}
    params = {} if name in ("nonneg", "ordered") else params or {"radius": 2.0}
    assert violation(Y, name, **params) <= 1e-12
    assert np.std(Y, axis=0).min() > 0  # targets vary


def test_targets_depend_on_features():
    from sklearn.ensemble import RandomForestRegressor

    X, Y = make_constrained_regression(600, 5, 3, noise=0.0, random_state=0)
    model = RandomForestRegressor(50, random_state=0).fit(X[:400], Y[:400])
    assert model.score(X[400:], Y[400:]) > 0.5


def test_deterministic_and_frames():
    a = make_constrained_regression(50, 3, 2, random_state=3)
    b = make_constrained_regression(50, 3, 2, random_state=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    X, Y = make_constrained_regression(50, 3, 2, random_state=3, as_frame=True)
    assert isinstance(X, pd.DataFrame) and list(X.columns) == ["x0", "x1", "x2"]
    assert isinstance(Y, pd.DataFrame) and list(Y.columns) == ["y0", "y1"]
    np.testing.assert_array_equal(Y.to_numpy(), a[1])
    _, y1 = make_constrained_regression(50, 3, 1, set="linf_ball", as_frame=True)
    assert isinstance(y1, pd.Series)
    assert make_constrained_regression(50, 3, 1, set="linf_ball")[1].shape == (50,)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "'n_samples' parameter must be an int >= 1"),
        ({"n_targets": 1.5}, "'n_targets' parameter"),
        ({"set": "cube"}, "'set' parameter must be one of"),
        ({"radius": -1}, "'radius' parameter"),
        ({"noise": -0.1}, "'noise' parameter"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_constrained_regression(**kwargs)


# ------------------------------------------------------------------ real data
def test_age_structure_shares_are_points_of_the_simplex():
    pytest.importorskip("bokeh_sampledata")
    from skconstrain.datasets import load_age_structure

    bunch = load_age_structure()
    X, Y = bunch.data, bunch.target
    assert X.shape == (len(Y), 3) and Y.shape[1] == 21
    assert len(Y) > 1500
    assert np.abs(Y.sum(axis=1) - 1).max() < 1e-12 and Y.min() >= 0
    assert bunch.feature_names == ["fertility", "life_expectancy", "year"]
    assert (
        bunch.target_names[0] == "share_0-4" and bunch.target_names[-1] == "share_100+"
    )
    assert X[:, 2].min() == 1965 and X[:, 2].max() == 2010  # no UN projections


def test_age_structure_groups_frames_and_predictability():
    pytest.importorskip("bokeh_sampledata")
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    from skconstrain.datasets import load_age_structure

    bunch = load_age_structure(age_groups=[0, 15, 65], as_frame=True)
    assert list(bunch.target.columns) == ["share_0-14", "share_15-64", "share_65+"]
    assert {"country", "fertility", "life_expectancy", "year"} <= set(bunch.frame)
    fine = load_age_structure(return_X_y=True)[1]
    np.testing.assert_allclose(bunch.target.to_numpy()[:, 0], fine[:, :3].sum(axis=1))
    # the shares are predictable from the features
    model = make_pipeline(StandardScaler(), PolynomialFeatures(2), Ridge(1e-3))
    r2 = cross_val_score(model, bunch.data, bunch.target, cv=3).mean()
    assert r2 > 0.7


def test_age_change_is_in_the_l1_ball_and_predictable():
    pytest.importorskip("bokeh_sampledata")
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    from skconstrain.datasets import load_age_structure
    from skconstrain.projections import distance

    shares = load_age_structure(as_frame=True).frame
    bunch = load_age_structure(target="change", as_frame=True)
    frame, D = bunch.frame, bunch.target.to_numpy()
    assert bunch.feature_names == [
        "fertility",
        "life_expectancy",
        "year",
        *shares.columns[4:],
    ]
    assert bunch.target_names[0] == "change_0-4" and len(bunch.target_names) == 21
    assert frame["year"].min() == 1965 and frame["year"].max() == 2005
    assert np.abs(D.sum(axis=1)).max() < 1e-12
    assert distance(D, "l1_ball", radius=2.0).max() == 0
    # one row checked by hand: Japan's change from 1980 to 1985
    names = list(shares.columns[4:])
    by_key = shares.set_index(["country", "year"])[names]
    row = frame[(frame.country == "Japan") & (frame.year == 1980)]
    expected = by_key.loc[("Japan", 1985)] - by_key.loc[("Japan", 1980)]
    np.testing.assert_allclose(row[bunch.target_names].to_numpy()[0], expected)
    # predictable on countries the model did not see
    model = make_pipeline(StandardScaler(), PolynomialFeatures(2), Ridge(1.0))
    r2 = cross_val_score(
        model, bunch.data, D, groups=frame["country"], cv=GroupKFold(3)
    ).mean()
    assert r2 > 0.5
    coarse = load_age_structure(target="change", age_groups=[0, 65], return_X_y=True)
    assert coarse[0].shape[1] == 5 and coarse[1].shape[1] == 2


def test_age_structure_target_is_validated():
    from skconstrain.datasets import load_age_structure

    with pytest.raises(ValueError, match="'target' parameter must be 'shares' or"):
        load_age_structure(target="changes")


@pytest.mark.parametrize("groups", [[5, 15], [0, 15, 15], [0, 12], [0, 105], []])
def test_age_groups_are_validated(groups):
    from skconstrain.datasets import load_age_structure

    with pytest.raises(ValueError, match="'age_groups' parameter must be"):
        load_age_structure(age_groups=groups)


def test_age_structure_without_the_data_extra(monkeypatch):
    import sys

    from skconstrain.datasets import load_age_structure

    monkeypatch.setitem(sys.modules, "bokeh_sampledata", None)
    with pytest.raises(ImportError, match=r"pip install 'skconstrain\[data\]'"):
        load_age_structure()


@pytest.mark.parametrize("set_name", ["simplex", "l1_ball", "nonneg"])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.7])
def test_sparsity_gives_exact_zeros_on_the_boundary(set_name, sparsity):
    _, Y = make_constrained_regression(
        1000, 5, 6, set=set_name, sparsity=sparsity, random_state=0
    )
    assert abs(np.mean(Y == 0) - sparsity) <= 0.01
    assert violation(Y, set_name) <= 1e-12
    if set_name != "nonneg":  # a real signal, not a vanishing one
        assert np.abs(Y).sum(axis=1).mean() > 0.5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"set": "l2_ball", "sparsity": 0.3}, "applies to the sets whose projection"),
        ({"set": "simplex", "sparsity": 1.0}, "must be None or in \\[0, 1\\)"),
        ({"set": "simplex", "sparsity": -0.1}, "must be None or in \\[0, 1\\)"),
        ({"set": "simplex", "sparsity": 0.9}, "<= \\(n_targets - 1\\) / n_targets"),
    ],
)
def test_bad_sparsity(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_constrained_regression(50, 3, 4, **kwargs)


def test_auto_mpg_is_the_uci_table_and_its_constraints_hold_on_average():
    pytest.importorskip("bokeh_sampledata")
    from sklearn.ensemble import HistGradientBoostingRegressor

    from skconstrain.datasets import load_auto_mpg

    data = load_auto_mpg(as_frame=True)
    assert data.data.shape == (392, 7) and data.target.shape == (392,)
    assert list(data.data.columns) == data.feature_names
    assert not data.data.isna().any().any()
    assert data.target.min() >= 9 and data.target.max() <= 47  # mpg of the table
    # each constrained feature is negatively correlated with mpg
    for name, sign in data.monotonic_cst.items():
        assert sign * np.corrcoef(data.data[name], data.target)[0, 1] > 0.7
    # the constraints are usable as they are
    HistGradientBoostingRegressor(monotonic_cst=data.monotonic_cst).fit(
        data.data, data.target
    )
    X, y = load_auto_mpg(return_X_y=True)
    assert isinstance(X, np.ndarray) and X.shape == (392, 7) and y.shape == (392,)


def test_auto_mpg_without_the_data_extra(monkeypatch):
    import sys

    from skconstrain.datasets import load_auto_mpg

    monkeypatch.setitem(sys.modules, "bokeh_sampledata.autompg", None)
    with pytest.raises(ImportError, match=r"skconstrain\[data\]"):
        load_auto_mpg()


def test_heteroscedastic_quantiles_are_the_true_ones():
    from skconstrain.datasets import make_heteroscedastic_regression

    levels = [0.1, 0.5, 0.9]
    X, y, Q = make_heteroscedastic_regression(
        20_000, 3, quantiles=levels, random_state=0
    )
    np.testing.assert_allclose((y[:, None] <= Q).mean(axis=0), levels, atol=0.01)
    assert (np.diff(Q, axis=1) > 0).all()
    # the spread grows with |x1|
    width = Q[:, 2] - Q[:, 0]
    assert np.corrcoef(width, np.abs(X[:, 1]))[0, 1] > 0.99
    frame, series, _ = make_heteroscedastic_regression(
        10, quantiles=[0.5], as_frame=True, random_state=0
    )
    assert list(frame.columns) == ["x0", "x1"] and series.name == "y"
    with pytest.raises(ValueError, match="'quantiles' parameter must be levels"):
        make_heteroscedastic_regression(10, quantiles=[1.5])
    with pytest.raises(ValueError, match="'noise' parameter"):
        make_heteroscedastic_regression(10, noise=-1)


def test_glucose_rows_have_a_full_history_and_a_future():
    pytest.importorskip("bokeh_sampledata")
    from skconstrain.datasets import load_glucose

    data = load_glucose(horizon=30, as_frame=True)
    frame = data.frame
    assert len(frame) > 40_000 and not frame.isna().any().any()
    assert list(data.data.columns) == data.feature_names
    # the target is the reading 30 minutes later, the changes are of the past
    from bokeh_sampledata.glucose import data as raw

    series = raw["glucose"][~raw.index.duplicated()].astype(float)
    t = frame.index[1000]
    later = series[t + np.timedelta64(30, "m")]
    assert frame.loc[t, "glucose_in_30min"] == later
    earlier = series[t - np.timedelta64(15, "m")]
    assert frame.loc[t, "change_15min"] == series[t] - earlier
    assert np.all(np.diff(data.times) > np.timedelta64(0, "s"))  # time order
    X, y = load_glucose(horizon=60, return_X_y=True)
    assert X.shape[1] == 5 and len(X) == len(y)
    with pytest.raises(ValueError, match="positive multiple of 5"):
        load_glucose(horizon=7)
    # beyond the recordings: no rows, refused rather than returned empty
    with pytest.raises(ValueError, match=r"leaves no reading .* the readings span"):
        load_glucose(horizon=5 * 10**6)
