"""Ensembles (``ensemble_size``): members trained as one network, predictions
their mean, every guarantee kept."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from skconstrain import (
    ConstrainedQuantileRegressor,
    ConstrainedRegressor,
    ConstrainedRegressorCV,
)
from skconstrain.datasets import make_constrained_regression

SMALL = dict(hidden_layer_sizes=(8,), epochs=4, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _far_rows(n_features, seed=1):
    """Rows far outside the training data as well as inside it."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((500, n_features)) * rng.choice(
        [0.1, 1.0, 10.0, 1e3], size=(500, 1)
    )


def _member_predictions(model, X):
    """Each member's predictions (the members are nested models named
    member_0, ...; they take the input scaling's output)."""
    scaled = model.get_layer("input_scaling")(X)
    outputs = []
    m = 0
    while True:
        try:
            member = model.get_layer(f"member_{m}")
        except ValueError:
            return outputs
        outputs.append(np.asarray(member(scaled), dtype=np.float64))
        m += 1


@pytest.mark.parametrize(
    "output_set, strategy",
    [
        ("l2_sphere", "project"),
        ("l2_sphere", "activation"),
        ("simplex", "project"),
        ("simplex", "activation"),
        ("l1_ball", "project"),
        ("linf_ball", "activation"),
        ("nonneg", "project"),
    ],
)
def test_an_ensembles_predictions_stay_in_the_set(output_set, strategy):
    X, Y = make_constrained_regression(120, 4, 3, set=output_set, random_state=0)
    est = ConstrainedRegressor(
        output_constraint=output_set,
        output_strategy=strategy,
        ensemble_size=3,
        **SMALL,
    ).fit(X, Y)
    P = est.predict(_far_rows(4))
    if output_set == "l2_sphere":  # the mean, projected back onto the sphere
        np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0, atol=1e-6)
    elif output_set == "simplex":
        assert P.min() >= -1e-7
        np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    elif output_set == "l1_ball":
        assert np.abs(P).sum(axis=1).max() <= 1 + 1e-6
    elif output_set == "linf_ball":
        assert np.abs(P).max() <= 1 + 1e-6
    else:
        assert P.min() >= -1e-7
    assert est.constraint_violation_["max"] <= 1e-6


def test_an_ensemble_predicts_its_members_mean():
    X, Y = make_constrained_regression(120, 4, 3, set="simplex", random_state=0)
    est = ConstrainedRegressor(
        output_constraint="simplex", ensemble_size=3, **SMALL
    ).fit(X, Y)
    members = _member_predictions(est.model_, X)
    assert len(members) == 3
    assert not np.allclose(members[0], members[1], atol=1e-3)  # seeds differ
    np.testing.assert_allclose(est.predict(X), np.mean(members, axis=0), atol=1e-5)


def test_a_member_trains_as_its_single_network():
    """The objective is the members' sum: member 0's gradient is the single
    network's (same seed, same batches), so it ends where that fit ends (to
    float32 rounding: not bit-equal)."""
    X, Y = make_constrained_regression(150, 4, 2, set="l1_ball", random_state=0)
    params = dict(output_constraint="l1_ball", alpha=1e-2, **SMALL)
    single = ConstrainedRegressor(**params).fit(X, Y)
    ensemble = ConstrainedRegressor(ensemble_size=2, **params).fit(X, Y)
    member = _member_predictions(ensemble.model_, X)[0]
    np.testing.assert_allclose(member, single.predict(X), rtol=1e-3, atol=1e-4)


def test_an_ensemble_of_monotone_networks_is_monotone():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (150, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] - X[:, 2] ** 2
    est = ConstrainedRegressor(monotonic_cst=[0, 1, -1], ensemble_size=3, **SMALL).fit(
        X, y
    )
    grid = np.linspace(-50, 50, 401)
    for j, sign in ((1, 1), (2, -1)):
        rows = np.repeat(_far_rows(3)[:20], len(grid), axis=0)
        rows[:, j] = np.tile(grid, 20)
        steps = np.diff(est.predict(rows).reshape(20, len(grid)), axis=1)
        assert (sign * steps).min() >= -1e-9


def test_an_ensembles_quantiles_never_cross():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (150, 2))
    y = X[:, 0] + (0.2 + np.abs(X[:, 1])) * rng.standard_normal(150)
    est = ConstrainedQuantileRegressor(
        (0.1, 0.5, 0.9), output_strategy="project", ensemble_size=3, **SMALL
    ).fit(X, y)
    Q = est.predict(_far_rows(2))
    assert np.diff(Q, axis=1).min() >= -1e-9


def test_an_ensemble_persists_and_continues():
    X, Y = make_constrained_regression(100, 4, 3, set="l2_sphere", random_state=0)
    est = ConstrainedRegressor(
        output_constraint="l2_sphere", ensemble_size=2, warm_start=True, **SMALL
    ).fit(X, Y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    again.fit(X, Y)  # warm start: the same ensemble trains on
    assert again.n_iter_ == 2 * est.n_iter_
    again.partial_fit(X, Y)
    assert again.n_iter_ == 2 * est.n_iter_ + 1
    with pytest.raises(ValueError, match="ensemble_size"):
        again.set_params(ensemble_size=3).fit(X, Y)


@pytest.mark.parametrize(
    "config",
    [
        dict(output_constraint="simplex"),
        dict(output_constraint="l2_sphere", output_strategy="activation"),
        dict(output_constraint="l1_ball", output_strategy="post"),
        dict(early_stopping=True, n_iter_no_change=2, epochs=12),
    ],
    ids=["simplex", "sphere_reprojected", "post", "early_stopping"],
)
def test_the_search_over_alpha_of_an_ensemble_is_one_stack_and_grid_search_cvs(
    config, monkeypatch
):
    # the alphas x folds ensembles train as one stack of networks (each
    # ensemble's members side by side), every member as in its single fit
    from skconstrain import _training

    output_set = config.get("output_constraint", "simplex")
    X, Y = make_constrained_regression(90, 3, 2, set=output_set, random_state=0)
    params = {**SMALL, "ensemble_size": 2, **config}
    cv = KFold(3)
    stacks = []
    real = _training.train

    def spy(engine, data, **kwargs):
        if isinstance(data, list):
            stacks.append(len(data))
        return real(engine, data, **kwargs)

    monkeypatch.setattr(_training, "train", spy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=cv, **params)
        search.fit(X, Y)
    assert stacks == [6]  # 2 alphas x 3 folds, in one stack
    # nothing a user cannot act on (Keras's Variable.numpy() under NumPy 2)
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert not deprecations, [str(w.message) for w in deprecations]
    grid = GridSearchCV(
        ConstrainedRegressor(**params), {"alpha": [1e-4, 1.0]}, cv=cv
    ).fit(X, Y)
    for k in range(3):
        np.testing.assert_allclose(
            search.cv_results_[f"split{k}_test_score"],
            grid.cv_results_[f"split{k}_test_score"],
            rtol=1e-4,
            atol=1e-5,
        )
    # the refitted ensemble is the single fit at alpha_
    single = ConstrainedRegressor(**{**params, "alpha": search.alpha_}).fit(X, Y)
    np.testing.assert_allclose(search.predict(X), single.predict(X), atol=1e-5)


def _users_model(n_features_in, n_outputs):
    """A model callable (module level: the estimator pickles it)."""
    import keras

    return keras.Sequential(
        [
            keras.Input((n_features_in,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(n_outputs),
        ]
    )


def test_an_ensemble_of_the_users_model():
    X, Y = make_constrained_regression(90, 3, 3, set="simplex", random_state=0)
    est = ConstrainedRegressor(
        model=_users_model,
        output_constraint="simplex",
        ensemble_size=2,
        epochs=4,
        random_state=0,
    ).fit(X, Y)
    assert [layer.name for layer in est.model_.layers].count("member_1") == 1
    P = est.predict(_far_rows(3))
    assert P.min() >= -1e-7
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(est)).predict(X), est.predict(X)
    )
