"""NormProjector and ProjectedRegressor in real scikit-learn workflows."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _reference import violation
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import NormProjector, ProjectedRegressor
from skconstrain.projections import project


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 4)), columns=["a", "b", "c", "d"])
    W = np.abs(X.to_numpy() @ rng.normal(size=(4, 3))) + 0.1
    Y = pd.DataFrame(W / W.sum(axis=1, keepdims=True), columns=["p", "q", "r"])
    return X, Y


# ------------------------------------------------------------------ NormProjector


def test_norm_projector_matches_projection():
    X = np.random.default_rng(1).normal(size=(20, 5))
    for name in ["l2_sphere", "l2_ball", "l1_ball", "simplex", "linf_ball"]:
        out = NormProjector(name, radius=2.0).fit_transform(X)
        np.testing.assert_array_equal(out, project(X, name, radius=2.0))
    out = NormProjector("box", lower=-0.5, upper=[1, 1, 1, 1, 0]).fit_transform(X)
    np.testing.assert_array_equal(out, np.clip(X, -0.5, [1, 1, 1, 1, 0]))


def test_norm_projector_stateless_and_dtypes():
    X = np.array([[3.0, 4.0]], dtype=np.float32)
    out = NormProjector().transform(X)  # no fit needed
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8]])
    assert NormProjector().transform([[3, 4]]).dtype == np.float64


def test_norm_projector_pandas_output(frames):
    X, _ = frames
    X.index = X.index + 100
    proj = NormProjector("l1_ball").set_output(transform="pandas")
    out = proj.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(X.columns)
    assert out.index.equals(X.index)
    assert violation(out.to_numpy(), "l1_ball") <= 1e-12
    np.testing.assert_array_equal(proj.get_feature_names_out(), X.columns)


def test_norm_projector_as_feature_step(frames):
    X, Y = frames
    pipe = make_pipeline(NormProjector(), Ridge()).fit(X, Y["p"])
    assert pipe.predict(X).shape == (len(X),)


@pytest.mark.parametrize(
    "params, match",
    [
        # one message per problem, the same as skconstrain.projections gives
        ({"set": "l3_ball"}, r"'set' parameter must be one of \['box',"),
        ({"radius": -1.0}, "'radius' parameter must be a finite real number > 0"),
        ({"radius": np.inf}, "'radius' parameter must be a finite real number > 0"),
        ({"radius": "a"}, "'radius' parameter must be a finite real number > 0"),
        ({"zero_norm": "x"}, "'zero_norm' parameter must be one of"),
        ({"set": "box", "lower": "a"}, "'lower' parameter must be None, a real"),
        # checked whether the set takes it or not
        ({"set": "box", "radius": 0}, "'radius' parameter must be a finite real"),
        ({"set": "box", "lower": 1, "upper": 0}, "'lower' parameter must be <="),
        ({"set": "box", "lower": [0, 0]}, "'lower' parameter has length 2"),
    ],
)
def test_norm_projector_bad_params_raise_at_fit_and_transform(params, match):
    proj = NormProjector(**params)  # __init__ never validates
    X = np.ones((3, 4))
    with pytest.raises(ValueError, match=match):
        proj.fit(X)
    with pytest.raises(ValueError, match=match):
        NormProjector(**params).transform(X)


@pytest.mark.parametrize(
    "params", [{"set": "l3_ball"}, {"radius": -1}, {"zero_norm": "x"}]
)
def test_norm_projector_and_project_give_one_message_per_problem(params):
    X = np.ones((3, 4))
    with pytest.raises(ValueError) as ours:
        NormProjector(**params).fit(X)
    with pytest.raises(ValueError) as projection:
        project(X, **{"set": "l2_sphere", **params})
    assert str(ours.value) == str(projection.value)


def test_norm_projector_bad_input():
    proj = NormProjector().fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match="X has 3 features, but NormProjector"):
        proj.transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        proj.transform(np.array([[np.nan, 1, 1, 1]]))
    with pytest.raises(ValueError, match="zero norm"):
        NormProjector(zero_norm="error").fit_transform(np.zeros((1, 2)))


# ------------------------------------------------------------- ProjectedRegressor


def test_projected_regressor_predictions_in_set(frames):
    X, Y = frames
    for name in ["l2_sphere", "l2_ball", "l1_ball", "simplex", "linf_ball", "nonneg"]:
        model = ProjectedRegressor(Ridge(), NormProjector(name, radius=0.5)).fit(X, Y)
        pred = model.predict(X)
        assert pred.shape == Y.shape
        assert violation(pred, name, radius=0.5) <= 1e-12


def test_projected_regressor_matches_manual_post_processing(frames):
    X, Y = frames
    model = ProjectedRegressor(Ridge(alpha=2.0), NormProjector("simplex")).fit(X, Y)
    manual = project(Ridge(alpha=2.0).fit(X, Y).predict(X), "simplex")
    np.testing.assert_allclose(model.predict(X), manual)
    assert model.score(X, Y) == pytest.approx(r2_score(Y, manual))


def test_projected_regressor_defaults_and_1d_target(frames):
    X, Y = frames
    model = ProjectedRegressor().fit(X, Y)
    assert isinstance(model.regressor_, LinearRegression)
    np.testing.assert_allclose(np.linalg.norm(model.predict(X), axis=1), 1.0)
    y = Y["p"].to_numpy() * 10 - 3
    model = ProjectedRegressor(projector=NormProjector("linf_ball")).fit(X, y)
    pred = model.predict(X)
    assert pred.shape == (len(X),)
    assert np.abs(pred).max() <= 1.0
    np.testing.assert_allclose(
        pred, np.clip(LinearRegression().fit(X, y).predict(X), -1, 1)
    )


def test_grid_search_pipeline_on_dataframes(frames):
    X, Y = frames
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("projectedregressor", ProjectedRegressor(Ridge(), NormProjector())),
        ]
    )
    grid = GridSearchCV(
        pipe,
        {
            "projectedregressor__regressor__alpha": [0.1, 10.0],
            "projectedregressor__projector__set": ["simplex", "l1_ball"],
        },
        cv=3,
    ).fit(X, Y)
    assert grid.best_params_["projectedregressor__projector__set"] in {
        "simplex",
        "l1_ball",
    }
    best_set = grid.best_params_["projectedregressor__projector__set"]
    pred = grid.predict(X)
    assert violation(pred, best_set) <= 1e-12
    assert list(grid.best_estimator_.feature_names_in_) == list(X.columns)


def test_cross_val_score_and_sample_weight(frames):
    X, Y = frames
    model = ProjectedRegressor(Ridge(), NormProjector("simplex"))
    scores = cross_val_score(model, X, Y, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    w = np.linspace(0.1, 2, len(X))
    fitted = ProjectedRegressor(Ridge(), NormProjector("simplex")).fit(
        X, Y, sample_weight=w
    )
    expected = Ridge().fit(X, Y, sample_weight=w).predict(X)
    np.testing.assert_allclose(fitted.predict(X), project(expected, "simplex"))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "regressor",
    [
        Ridge(),
        KNeighborsRegressor(n_neighbors=3),
        RandomForestRegressor(n_estimators=10, random_state=0),
        MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0),
    ],
)
def test_persistence_round_trips(frames, regressor, tmp_path):
    X, Y = frames
    model = ProjectedRegressor(regressor, NormProjector("simplex"))
    model.fit(X, Y)
    pred = model.predict(X)
    assert violation(pred, "simplex") <= 1e-12
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), pred)
    joblib.dump(model, tmp_path / "m.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "m.joblib").predict(X), pred)


def test_projected_regressor_bad_input(frames):
    X, Y = frames
    model = ProjectedRegressor(Ridge(), NormProjector("simplex")).fit(X, Y)
    with (
        pytest.warns(UserWarning, match="does not have valid feature names"),
        pytest.raises(ValueError, match="X has 3 features, but ProjectedRegressor"),
    ):
        model.predict(X.iloc[:, :3].to_numpy())
    with pytest.raises(ValueError, match="feature names"):
        model.predict(X.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        X2 = X.copy()
        X2.iloc[0, 0] = np.nan
        ProjectedRegressor(Ridge()).fit(X2, Y)
    with pytest.raises(ValueError, match="'set' parameter must be one of"):
        ProjectedRegressor(Ridge(), NormProjector("cube")).fit(X, Y)
    with pytest.raises(ValueError, match="'radius' parameter must be a finite"):
        ProjectedRegressor(Ridge(), NormProjector(radius=0)).fit(X, Y)
    with pytest.raises(ValueError, match="'regressor' parameter of ProjectedRegressor"):
        ProjectedRegressor(regressor="ridge").fit(X, Y)
    with pytest.raises(ValueError, match="requires y to be passed"):
        ProjectedRegressor().fit(X, None)


def test_tags_follow_inner_regressor():
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.utils import get_tags

    assert get_tags(ProjectedRegressor()).target_tags.multi_output
    assert get_tags(ProjectedRegressor()).estimator_type == "regressor"
    hgb = ProjectedRegressor(HistGradientBoostingRegressor())
    assert not get_tags(hgb).target_tags.multi_output
    assert get_tags(hgb).input_tags.allow_nan


# ------------------------------------------------------------------- sparse
@pytest.mark.parametrize(
    "params",
    [
        {"set": "l2_sphere"},
        {"set": "l2_ball", "radius": 0.5},
        {"set": "l1_ball"},
        {"set": "linf_ball", "radius": 0.2},
        {"set": "nonneg"},
        {"set": "box", "lower": -0.1, "upper": 0.1},
    ],
)
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_norm_projector_takes_sparse_input_like_normalizer(params, container):
    rng = np.random.default_rng(0)
    D = rng.normal(size=(50, 8)) * (rng.random((50, 8)) < 0.3)
    projector = NormProjector(**params)
    out = projector.fit_transform(container(D))
    assert out.format == "csr" and isinstance(out, sp.spmatrix) == sp.isspmatrix(
        container(D)
    )
    np.testing.assert_allclose(out.toarray(), projector.transform(D), rtol=1e-12)
    assert projector.__sklearn_tags__().input_tags.sparse


def test_norm_projector_sparse_in_a_pipeline_matches_normalizer():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    docs = ["red green blue", "green green sky", "blue sky tree tree", "red"]
    counts = TfidfVectorizer(norm=None).fit_transform(docs)
    ours = make_pipeline(NormProjector()).fit_transform(counts)
    theirs = Normalizer().fit_transform(counts)
    assert sp.issparse(ours)
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-12)


@pytest.mark.parametrize(
    "params",
    [{"set": "simplex"}, {"set": "box", "lower": 0.5}, {"zero_norm": "uniform"}],
)
def test_norm_projector_refuses_sparse_where_zeros_would_move(params):
    projector = NormProjector(**params)
    assert not projector.__sklearn_tags__().input_tags.sparse
    with pytest.raises(TypeError, match=r"not sparse: .*\.toarray\(\)"):
        projector.fit(sp.csr_array(np.eye(3)))
    with pytest.raises(TypeError, match=r"not sparse: .*\.toarray\(\)"):
        NormProjector(**params).transform(sp.csr_array(np.eye(3)))


def test_ordered_warns_when_rows_come_in_reverse_order():
    rng = np.random.default_rng(0)
    Q = np.sort(rng.normal(size=(20, 3)), axis=1)
    with pytest.warns(UserWarning, match=r"100% of the rows decrease.*X\[:, ::-1\]"):
        flat = NormProjector("ordered").fit_transform(Q[:, ::-1])
    np.testing.assert_allclose(flat, Q.mean(axis=1, keepdims=True) * np.ones(3))
    # crossing quantiles of a few rows are what the projection is for: no warning
    crossed = Q.copy()
    crossed[:3] = crossed[:3, ::-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NormProjector("ordered").fit_transform(crossed)
        NormProjector("ordered").fit_transform(Q)
