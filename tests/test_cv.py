"""ConstrainedRegressorCV: the same search as GridSearchCV over alpha, then a
fitted ConstrainedRegressor in every way."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import ConstrainedRegressor, ConstrainedRegressorCV
from skconstrain.datasets import make_constrained_regression

X, Y = make_constrained_regression(150, 4, 3, set="simplex", random_state=0)
NET = dict(
    hidden_layer_sizes=(8,),
    epochs=4,
    output_constraint="simplex",
    learning_rate=0.01,
    random_state=0,
)
ALPHAS = [1e-4, 1.0, 100.0]


def assert_same_split_scores(ours, theirs, atol):
    """Each split's test scores of two searches agree within ``atol``."""
    assert ours.n_splits_ == theirs.n_splits_
    for k in range(ours.n_splits_):
        np.testing.assert_allclose(
            ours.cv_results_[f"split{k}_test_score"],
            theirs.cv_results_[f"split{k}_test_score"],
            atol=atol,
        )


def test_same_scores_and_alpha_as_grid_search():
    cv = KFold(3, shuffle=True, random_state=0)
    ours = ConstrainedRegressorCV(alphas=ALPHAS, cv=cv, **NET).fit(X, Y)
    grid = GridSearchCV(ConstrainedRegressor(**NET), {"alpha": ALPHAS}, cv=cv).fit(X, Y)
    assert_same_split_scores(ours, grid, atol=0.01)
    assert ours.alpha_ == grid.best_params_["alpha"]
    assert ours.best_score_ == pytest.approx(grid.best_score_, abs=0.01)
    assert set(ours.cv_results_) == set(grid.cv_results_)
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], grid.cv_results_["rank_test_score"]
    )
    # the refit is the single fit at alpha_ on all rows
    single = ConstrainedRegressor(alpha=ours.alpha_, **NET).fit(X, Y)
    np.testing.assert_allclose(ours.predict(X), single.predict(X), atol=1e-6)


def test_a_fitted_constrained_regressor_in_every_way():
    est = ConstrainedRegressorCV(alphas=2, cv=2, **NET).fit(X, Y)
    assert isinstance(est, ConstrainedRegressor)
    np.testing.assert_allclose(est.alphas_, [1e-5, 10.0])
    assert est.alpha == est.alpha_ in est.alphas_
    assert est.n_splits_ == 2
    assert est.predict(X).shape == Y.shape
    assert est.constraint_violation_["max"] < 1e-12
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    n_iter = est.n_iter_
    est.partial_fit(X, Y)
    assert est.n_iter_ == n_iter + 1
    assert "alpha" not in est.get_params()


def test_scoring_and_no_refit():
    est = ConstrainedRegressorCV(
        alphas=ALPHAS, cv=3, scoring="neg_mean_squared_error", refit=False, **NET
    ).fit(X, Y)
    assert (est.cv_results_["mean_test_score"] <= 0).all()
    assert est.best_score_ == est.cv_results_["mean_test_score"].max()
    with pytest.raises(NotFittedError):
        est.predict(X)


SCORING = {"r2": "r2", "mse": "neg_mean_squared_error"}


def _grid(**params):
    return GridSearchCV(ConstrainedRegressor(**NET), {"alpha": ALPHAS}, **params)


@pytest.mark.parametrize(
    "scoring, refit",
    [
        (SCORING, "mse"),
        (["r2", "neg_mean_absolute_error"], "neg_mean_absolute_error"),
        ("r2", lambda results: int(np.argmin(results["std_test_score"]))),
        (SCORING, lambda results: 2),
        (None, True),
    ],
    ids=["dict, refit by name", "list", "one, refit callable", "dict, callable", "1"],
)
def test_the_search_speaks_grid_search_cv_language(scoring, refit):
    cv = KFold(3, shuffle=True, random_state=0)
    ours = ConstrainedRegressorCV(
        alphas=ALPHAS, cv=cv, scoring=scoring, refit=refit, **NET
    ).fit(X, Y)
    grid = _grid(cv=cv, scoring=scoring, refit=refit).fit(X, Y)
    assert set(ours.cv_results_) == set(grid.cv_results_)
    for key, value in grid.cv_results_.items():
        if key.startswith(("split", "mean_test", "std_test")):
            np.testing.assert_allclose(ours.cv_results_[key], value, atol=0.01)
        elif key.startswith("rank") or key == "params":
            assert list(ours.cv_results_[key]) == list(value), key
    assert ours.multimetric_ == grid.multimetric_
    assert ours.best_index_ == grid.best_index_
    assert ours.best_params_ == grid.best_params_ == {"alpha": ours.alpha_}
    assert hasattr(ours, "best_score_") == hasattr(grid, "best_score_")
    if hasattr(grid, "best_score_"):
        assert ours.best_score_ == pytest.approx(grid.best_score_, abs=0.01)
    assert ours.refit_time_ > 0
    # the refit is the single fit at alpha_ on all rows
    single = ConstrainedRegressor(alpha=ours.alpha_, **NET).fit(X, Y)
    np.testing.assert_allclose(ours.predict(X), single.predict(X), atol=1e-6)


def test_several_metrics_need_refit_to_name_one_as_grid_search_cv_does():
    search = ConstrainedRegressorCV(alphas=ALPHAS, cv=2, scoring=SCORING, **NET)
    with pytest.raises(ValueError, match="must be the name of one of the metrics"):
        search.fit(X, Y)
    with pytest.raises(ValueError, match="multi-metric"):
        _grid(cv=2, scoring=SCORING).fit(X, Y)
    with pytest.raises(ValueError, match=r"\['mse', 'r2'\].*Got 'mae'"):
        search.set_params(refit="mae").fit(X, Y)
    # refit=False: the scores, nothing chosen, no network
    search.set_params(refit=False).fit(X, Y)
    grid = _grid(cv=2, scoring=SCORING, refit=False).fit(X, Y)
    for name in ("best_index_", "best_params_", "best_score_", "refit_time_"):
        assert not hasattr(search, name) and not hasattr(grid, name), name
    assert not hasattr(search, "alpha_")
    with pytest.raises(NotFittedError, match=r"refit=False.*cv_results_"):
        search.predict(X)


@pytest.mark.parametrize(
    "refit, error, message",
    [
        (lambda results: 1.5, TypeError, "must return the index of an alpha"),
        (lambda results: 7, IndexError, "returned 7, but the search tried 3"),
    ],
)
def test_a_refit_callable_must_return_an_index(refit, error, message):
    search = ConstrainedRegressorCV(alphas=ALPHAS, cv=2, refit=refit, **NET)
    with pytest.raises(error, match=message):
        search.fit(X, Y)


def test_refit_false_predicts_nothing_and_says_where_the_results_are():
    search = ConstrainedRegressorCV(alphas=ALPHAS, cv=2, **NET).fit(X, Y)
    assert search.predict(X).shape == Y.shape
    # a search without refit leaves no network, not the earlier one
    search.set_params(refit=False).fit(X, Y)
    assert search.best_params_ == {"alpha": search.alpha_}
    assert not hasattr(search, "refit_time_") and not hasattr(search, "model_")
    with pytest.raises(NotFittedError, match=r"refit=False.*cv_results_.*best_params_"):
        search.predict(X)
    with pytest.raises(NotFittedError, match="refit=False"):
        search.score(X, Y)


def test_groups_go_to_the_splitter_with_or_without_metadata_routing():
    # as GridSearchCV.fit takes groups: to the splitter, routing on or off
    groups = np.repeat(np.arange(5), 30)
    est = ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=GroupKFold(5), **NET)
    search = GridSearchCV(
        ConstrainedRegressor(**NET), {"alpha": [1e-4, 1.0]}, cv=GroupKFold(5)
    )
    est.fit(X, Y, groups=groups)  # routing is off
    search.fit(X, Y, groups=groups)
    assert est.n_splits_ == search.n_splits_ == 5
    assert_same_split_scores(est, search, atol=0.01)
    with pytest.raises(ValueError, match="groups"):
        # one group: GroupKFold(5) cannot split, so groups did reach it
        est.fit(X, Y, groups=np.zeros(len(X)))
    with pytest.raises(ValueError, match=r"Extra parameters passed are: {.other.}"):
        est.fit(X, Y, other=groups)  # nothing else is taken without routing
    with sklearn.config_context(enable_metadata_routing=True):
        est.fit(X, Y, groups=groups)
    assert est.n_splits_ == 5


@pytest.mark.parametrize("alphas", [[], [-1.0], [np.nan], 0])
def test_bad_alphas(alphas):
    with pytest.raises(ValueError, match="'alphas' parameter"):
        ConstrainedRegressorCV(alphas=alphas, cv=2, **NET).fit(X, Y)


def test_pipeline_and_grid_search_over_structure():
    pipe = make_pipeline(
        StandardScaler(), ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=2, **NET)
    )
    search = GridSearchCV(
        pipe,
        {"constrainedregressorcv__output_strategy": ["project", "activation"]},
        cv=2,
    ).fit(X, Y)
    assert search.best_estimator_[-1].alpha_ in (1e-4, 1.0)


@pytest.mark.parametrize(
    "config, weighted",
    [
        (dict(output_strategy="activation"), True),
        (dict(output_strategy="penalty", output_penalty="log_barrier"), False),
        (dict(loss="fenchel_young"), True),
        (
            dict(kernel_constraint="max_norm", penalty="l1", bias_constraint="non_neg"),
            False,
        ),
        (dict(penalty="orthogonality", batch_size=17, hidden_layer_sizes=(6, 5)), True),
        (dict(early_stopping=True, n_iter_no_change=2, epochs=30), False),
        (dict(shuffle=False, random_state=np.random.RandomState(3)), True),
        (dict(random_state=np.random.RandomState(3), early_stopping=True), False),
        (dict(feature_encoding="piecewise_linear", early_stopping=True), True),
        (
            dict(
                monotonic_cst=[1, 1, 1, 1],
                feature_encoding=None,
                output_constraint=None,
                early_stopping=True,
            ),
            False,
        ),
        (
            dict(
                monotonic_cst=[0, -1, 0, 0],
                ensemble_size=2,
                batch_size=17,
                feature_encoding="piecewise_linear",
                output_constraint="nonneg",
            ),
            False,
        ),
    ],
    ids=[
        "activation",
        "penalty",
        "fenchel_young",
        "constraints",
        "ortho",
        "es",
        "no_shuffle",
        "random_state_es",
        "piecewise_linear",
        "monotone_plain_es",
        "monotone_ensemble_nonneg",
    ],
)
def test_the_stack_trains_each_member_as_its_single_fit(config, weighted):
    # the search trains alphas x folds as one stack of networks: each member
    # must train as GridSearchCV's single fit does (same weights, batches,
    # updates, stopping), so the split scores agree to float32 rounding
    rows = 100  # folds of 34 and 33 rows
    X_, Y_ = X[:rows], Y[:rows]
    weights = np.random.default_rng(0).uniform(0.5, 2, rows) if weighted else None
    net = {**NET, "epochs": 5, **config}
    cv = KFold(3, shuffle=True, random_state=0)
    alphas = [1e-4, 10.0]
    ours = ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net)
    ours.fit(X_, Y_, sample_weight=weights)
    grid = GridSearchCV(ConstrainedRegressor(**net), {"alpha": alphas}, cv=cv)
    grid.fit(X_, Y_, sample_weight=weights)
    assert_same_split_scores(ours, grid, atol=1e-5)


def _stacks_started(monkeypatch):
    """The list to which each stacked search's start appends its members."""
    from skconstrain._training import _stack

    stacked = []
    start = _stack.StackEngine.start

    def spy(self, members, *args, **kwargs):
        stacked.append(len(members))
        return start(self, members, *args, **kwargs)

    monkeypatch.setattr(_stack.StackEngine, "start", spy)
    return stacked


def test_a_monotone_search_is_one_stack_of_its_single_fits(monkeypatch):
    # monotone networks train as one stack, each member with its own rows'
    # calibrators, as GridSearchCV's fits would (the ensemble case of
    # test_the_stack_trains_each_member_as_its_single_fit has the free
    # features' encodings too)
    from skconstrain import _networks

    rng = np.random.default_rng(0)
    X_ = rng.uniform(-2, 2, size=(240, 3))
    y_ = np.tanh(2 * X_[:, 0]) - X_[:, 1] + 0.3 * X_[:, 2]
    y_ = y_ + rng.normal(scale=0.1, size=240)
    net = dict(
        hidden_layer_sizes=(8,),
        epochs=4,
        learning_rate=0.01,
        random_state=0,
        monotonic_cst=[1, -1, 0],
    )
    stacked = _stacks_started(monkeypatch)
    cv = KFold(2, shuffle=True, random_state=0)  # 120 rows a fold: calibrated
    alphas = [1e-4, 1.0]
    weights = rng.uniform(0.5, 2, 240)
    ours = ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net)
    ours.fit(X_, y_, sample_weight=weights)
    assert stacked == [4]
    grid = GridSearchCV(ConstrainedRegressor(**net), {"alpha": alphas}, cv=cv)
    grid.fit(X_, y_, sample_weight=weights)
    assert _networks.calibrations(grid.best_estimator_.model_)
    assert_same_split_scores(ours, grid, atol=1e-5)


def test_folds_whose_rows_encode_differently_are_not_stacked_into_one():
    # "auto" calibrates a monotone network from 100 rows: folds of 99 and
    # 100 rows build different networks, as GridSearchCV's fits do
    rng = np.random.default_rng(1)
    X_ = rng.uniform(-2, 2, size=(149, 2))
    y_ = np.tanh(2 * X_[:, 0]) + X_[:, 1] + rng.normal(scale=0.1, size=149)
    net = dict(hidden_layer_sizes=(4,), epochs=3, random_state=0, monotonic_cst=[1, 0])
    cv = KFold(3)  # training rows 99, 99 and 100
    alphas = [1e-4, 1.0]
    ours = ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net)
    ours.fit(X_, y_)
    grid = GridSearchCV(ConstrainedRegressor(**net), {"alpha": alphas}, cv=cv)
    grid.fit(X_, y_)
    assert_same_split_scores(ours, grid, atol=1e-5)


@pytest.mark.parametrize("cst", [None, [0, 1, 0, 0]])
def test_a_search_keeps_the_live_bins_of_few_valued_features(cst, monkeypatch):
    # a one-hot column keeps one bin, a column of three values two (their
    # values are their edges): folds that see the same values are one
    # stack, and a fold that keeps fewer bins (a value it never sees) is
    # fitted on its own, as GridSearchCV's fits are
    rng = np.random.default_rng(0)
    n = 120
    X_ = np.column_stack(
        [rng.normal(size=(n, 2)), rng.integers(0, 2, n), rng.integers(0, 3, n)]
    ).astype(float)
    y_ = np.sin(2 * X_[:, 0]) + X_[:, 1] + X_[:, 2] + 0.1 * rng.normal(size=n)
    net = dict(
        hidden_layer_sizes=(8,),
        epochs=4,
        learning_rate=0.01,
        random_state=0,
        feature_encoding="piecewise_linear",
        monotonic_cst=cst,
    )
    stacked = _stacks_started(monkeypatch)
    alphas = [1e-4, 1.0]
    rare = X_.copy()
    rare[118, 3] = 7.0  # a value that one fold does not see
    for rows, expected in ((X_, [6]), (rare, [])):
        cv = KFold(3)
        stacked.clear()
        ours = ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net)
        ours.fit(rows, y_)
        assert stacked == expected
        grid = GridSearchCV(ConstrainedRegressor(**net), {"alpha": alphas}, cv=cv)
        grid.fit(rows, y_)
        assert_same_split_scores(ours, grid, atol=1e-5)


@pytest.mark.parametrize("epochs, xla", [(4, False), (5, True)])
def test_a_search_long_enough_compiles_its_stack_with_xla_from_the_start(
    monkeypatch, epochs, xla
):
    # a stack whose members x steps x epochs reach XLA_STEPS runs every
    # epoch under XLA on TensorFlow (a graph below), one that reaches
    # FULL_CODEGEN_MEMBER_STEPS with XLA's default code generator on JAX
    # (the one quicker to compile below), and its members still train as
    # their single fits of 5 steps (graphs on TensorFlow, the quicker code
    # generator on JAX)
    from skconstrain._training import _engine, _stack, backend

    # 2 alphas x 3 folds, one step an epoch (67 rows, batch 100): 6 x epochs
    monkeypatch.setattr(_engine, "XLA_STEPS", 30)
    if not backend().CHOOSES_XLA:
        monkeypatch.setattr(backend(), "FULL_CODEGEN_MEMBER_STEPS", 30)
    compiled = []
    run = _stack.StackEngine._run

    def spy(self, with_xla):
        compiled.append(with_xla)
        return run(self, with_xla)

    monkeypatch.setattr(_stack.StackEngine, "_run", spy)
    net = {**NET, "epochs": epochs, "batch_size": 100}
    X_, Y_ = X[:100], Y[:100]
    cv = KFold(3, shuffle=True, random_state=0)
    alphas = [1e-4, 10.0]
    ours = ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net)
    ours.fit(X_, Y_)
    assert compiled == [xla] * epochs
    grid = GridSearchCV(ConstrainedRegressor(**net), {"alpha": alphas}, cv=cv)
    grid.fit(X_, Y_)
    assert_same_split_scores(ours, grid, atol=1e-5)


@pytest.mark.parametrize("epochs, xla", [(4, False), (5, True)])
def test_the_refit_compiles_as_the_stack_did(monkeypatch, compiled_epochs, epochs, xla):
    # on TensorFlow, the refit of a search whose stack ran under XLA compiles
    # with XLA from its first epoch (its 5 steps alone would stay a graph);
    # on JAX the refit is the single fit's program; either way it is the
    # single fit at alpha_ on all rows
    from skconstrain._training import _engine, backend

    monkeypatch.setattr(_engine, "XLA_STEPS", 30)  # 6 members x 1 step x 5
    compiled = compiled_epochs
    net = {**NET, "epochs": epochs, "batch_size": 100}
    X_, Y_ = X[:100], Y[:100]
    cv = KFold(3, shuffle=True, random_state=0)
    ours = ConstrainedRegressorCV(alphas=[1e-4, 10.0], cv=cv, **net).fit(X_, Y_)
    refit = compiled[:]
    single = ConstrainedRegressor(alpha=ours.alpha_, **net).fit(X_, Y_)
    if backend().CHOOSES_XLA:
        assert refit == [xla] * epochs
        assert compiled[len(refit) :] == [False] * epochs  # 1 step an epoch
    else:
        assert refit == compiled[len(refit) :] == [None] * epochs
    np.testing.assert_allclose(ours.predict(X_), single.predict(X_), atol=1e-5)


def test_a_user_model_is_searched_one_fit_after_another():
    import keras

    def build(n_features_in, n_outputs):
        return keras.Sequential(
            [keras.Input((n_features_in,)), keras.layers.Dense(n_outputs)]
        )

    net = {k: v for k, v in NET.items() if k != "hidden_layer_sizes"}
    cv = KFold(2, shuffle=True, random_state=0)
    ours = ConstrainedRegressorCV(build, alphas=[1e-4, 1.0], cv=cv, **net).fit(X, Y)
    grid = GridSearchCV(
        ConstrainedRegressor(build, **net), {"alpha": [1e-4, 1.0]}, cv=cv
    ).fit(X, Y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        atol=1e-5,
    )


def test_fits_that_are_not_stacked_run_in_n_jobs_threads_alike(monkeypatch):
    """A search that cannot be stacked (a user's model) fits one network
    after another, in n_jobs threads (no worker process imports TensorFlow):
    the same scores as with one job, two fits at once in the process."""
    import threading

    import keras

    from skconstrain import _training

    def build(n_features_in, n_outputs):
        return keras.Sequential(
            [
                keras.Input((n_features_in,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(n_outputs),
            ]
        )

    cv = KFold(2, shuffle=True, random_state=0)
    net = {k: v for k, v in NET.items() if k != "hidden_layer_sizes"}
    net = {**net, "model": build}
    one = ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=cv, **net).fit(X, Y)
    threads = set()
    real = _training.train

    def spy(*args, **kwargs):
        threads.add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(_training, "train", spy)
    two = ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=cv, n_jobs=2, **net)
    two.fit(X, Y)
    # the search's fits ran in two threads of this process (the refit in
    # the caller's)
    assert len(threads - {threading.get_ident()}) == 2
    np.testing.assert_allclose(
        two.cv_results_["mean_test_score"],
        one.cv_results_["mean_test_score"],
        rtol=1e-5,
    )
    assert two.alpha_ == one.alpha_


def test_a_search_without_a_penalty_warns():
    est = ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=2, penalty=None, **NET)
    with pytest.warns(UserWarning, match="penalty=None, so every alpha"):
        est.fit(X, Y)


def test_a_search_of_a_network_constrained_in_every_feature_warns():
    # the monotone network's Lipschitz layers take no penalty
    est = ConstrainedRegressorCV(
        alphas=[1e-4, 1.0],
        cv=2,
        monotonic_cst=[1] * X.shape[1],
        hidden_layer_sizes=(8,),
        epochs=2,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="constrains every feature, so every alpha"):
        est.fit(X, Y[:, 0])


def test_members_start_from_the_weights_their_single_fit_builds():
    # members are not built as Keras models: their initial weights are drawn
    # by the same seeded initializers as their single fit's network, the
    # calibrators' from their own rows' bins
    from skconstrain import _networks
    from skconstrain.keras.layers import piecewise_linear_bins

    def scaling(n_bins, rows):
        X = np.random.default_rng(rows).normal(size=(60, 7))
        return 0.0, 1.0, piecewise_linear_bins(X, n_bins) if n_bins else None

    def default(hidden, seed, n_bins, rows):
        return _networks.mlp(7, 3, hidden, "relu", seed, scaling(n_bins, rows), n_bins)

    def monotone(hidden, seed, n_bins, rows):
        signs = [1, 0, -1, 0, 0, 1, 0]
        return _networks.monotone_mlp(
            7, 3, hidden, "relu", signs, seed, scaling(n_bins, rows), n_bins
        )

    def ensemble(hidden, seed, n_bins, rows):
        members = [
            monotone(hidden, _networks.member_seed(seed, m), n_bins, rows)
            for m in range(3)
        ]
        return _networks.ensemble(members)

    for build in (default, monotone, ensemble):
        for hidden, n_bins in [((), 0), ((5,), 0), ((6, 3), 4)]:
            if build is not default and not hidden:
                continue
            template = build(hidden, 99, n_bins, rows=0)  # another seed and rows
            for seed, rows in [(1234, 1), (2**31 - 5, 2)]:
                network = build(hidden, seed, n_bins, rows)
                built = [np.asarray(v.numpy()) for v in network.trainable_variables]
                bins = scaling(n_bins, rows)[2]
                drawn = _networks.initial_weights(template, seed, bins)
                assert [w.shape for w in drawn] == [w.shape for w in built]
                for a, b in zip(drawn, built, strict=True):
                    np.testing.assert_array_equal(a, b)


def test_a_search_too_large_for_memory_trains_in_chunks(monkeypatch):
    from skconstrain import _training

    cv = KFold(3, shuffle=True, random_state=0)
    alphas = [1e-4, 1.0]
    net = {**NET, "epochs": 3}
    whole = ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net).fit(X, Y)
    sizes = []
    real = _training.train

    def spy(engine, data, **kwargs):
        if isinstance(data, list):  # a stack's members
            sizes.append(len(data))
        return real(engine, data, **kwargs)

    # room for two members: the 6 members train in 3 stacks of 2
    each = _member_bytes_for(X, Y, cv, alphas, net)
    monkeypatch.setattr(_training, "STACK_MEMORY", 2 * each)
    monkeypatch.setattr(_training, "train", spy)
    parts = ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net).fit(X, Y)
    assert sizes == [2, 2, 2]
    assert_same_split_scores(parts, whole, atol=1e-6)


def _member_bytes_for(X, Y, cv, alphas, net):
    """The bytes of one member of the stack that the search would build."""
    from skconstrain import _training

    found = []
    real = _training.chunks

    def spy(members, n_weights, units, budget=None):
        found.append(_training.member_bytes(members, n_weights, units))
        return real(members, n_weights, units, budget)

    _training.chunks = spy
    try:
        ConstrainedRegressorCV(alphas=alphas, cv=cv, refit=False, **net).fit(X, Y)
    finally:
        _training.chunks = real
    return found[0]


def test_chunks_cover_the_members_evenly_within_the_budget():
    from skconstrain import _training

    class Member:
        def __init__(self, rows):
            self.data = _training.as_tensors(np.ones((rows, 3)), np.ones((rows, 2)))
            self.validation = None
            self.batch_size = 8

    members = [Member(10 + i) for i in range(7)]
    each = _training.member_bytes(members, 50, 12)
    for room in [1, 2, 3, 7, 100]:
        parts = _training.chunks(members, 50, 12, budget=room * each)
        covered = [i for part in parts for i in range(len(members))[part]]
        assert covered == list(range(7))
        sizes = [len(members[part]) for part in parts]
        assert max(sizes) <= room and max(sizes) - min(sizes) <= 1
    # a member larger than the budget still trains, alone
    assert len(_training.chunks(members, 50, 12, budget=1)) == 7


@pytest.mark.parametrize(
    "config, column",
    [(dict(output_strategy="post"), None), (dict(output_constraint=None), 0)],
    ids=["post", "one_target"],
)
def test_the_stack_projects_after_predict_and_fits_one_target(config, column):
    y = Y if column is None else Y[:, column]
    net = {**NET, "epochs": 5, **config}
    cv = KFold(3, shuffle=True, random_state=0)
    ours = ConstrainedRegressorCV(alphas=[1e-4, 10.0], cv=cv, **net).fit(X, y)
    grid = GridSearchCV(ConstrainedRegressor(**net), {"alpha": [1e-4, 10.0]}, cv=cv)
    grid.fit(X, y)
    assert_same_split_scores(ours, grid, atol=1e-5)
    assert ours.predict(X).shape == y.shape


# ---------------------------------------------------------------- the 0.3 audit
def test_monotonic_cst_by_feature_name_on_a_dataframe():
    # the search handed its folds to the fits without the column names
    import pandas as pd

    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    y = X[:, 0] - X[:, 1]
    net = dict(hidden_layer_sizes=(4,), epochs=2, random_state=0)
    for cst in ({"a": 1, "b": -1}, {"a": 0}):  # the monotone and the stacked path
        est = ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=2, monotonic_cst=cst, **net)
        est.fit(frame, y)
        assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
        grid = GridSearchCV(
            ConstrainedRegressor(monotonic_cst=cst, **net),
            {"alpha": [1e-4, 1.0]},
            cv=2,
        ).fit(frame, y)
        np.testing.assert_allclose(
            est.cv_results_["mean_test_score"],
            grid.cv_results_["mean_test_score"],
            atol=1e-4,
        )


def test_partial_fit_before_fit_is_an_error_not_an_unsearched_fit():
    est = ConstrainedRegressorCV(alphas=[1e-4, 10.0], cv=2, **NET)
    assert not hasattr(est, "partial_fit")  # as scikit-learn's available_if
    with pytest.raises(AttributeError, match="partial_fit") as info:
        est.partial_fit(X, Y)
    assert "call fit first" in str(info.value.__cause__)
    assert not hasattr(est, "model_")
    no_refit = ConstrainedRegressorCV(alphas=[1e-4, 10.0], cv=2, refit=False, **NET)
    with pytest.raises(AttributeError) as info:
        no_refit.fit(X, Y).partial_fit(X, Y)
    assert "refit=True" in str(info.value.__cause__)


@pytest.mark.parametrize(
    "alphas",
    [["a", "b"], True, [[1e-3, 1e-2]], [], [1.0, np.nan], [-1.0], "1.0", 0],
)
def test_bad_alphas_name_the_parameter(alphas):
    with pytest.raises(ValueError, match="'alphas' parameter"):
        ConstrainedRegressorCV(alphas=alphas, cv=2, **NET).fit(X, Y)


def test_one_convergence_warning_per_search_naming_the_search():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    est = ConstrainedRegressorCV(alphas=3, cv=3, **NET)
    for model in (None, lambda meta: _tiny_model(meta)):  # stacked, one by one
        est.set_params(model=model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(X, Y)
        found = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
        assert len(found) == 1, [str(w.message) for w in found]
        message = str(found[0].message)
        assert message.startswith("ConstrainedRegressorCV: 9 of the 9 networks")
        assert "refitted network" in message
        assert found[0].filename == __file__
    # converged members and refit: no warning
    est.set_params(model=None, epochs=30, tol=10.0, n_iter_no_change=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, Y)


def _tiny_model(meta):
    import keras

    inputs = keras.Input((meta["n_features_in_"],))
    outputs = keras.layers.Dense(meta["n_outputs_"])(inputs)
    return keras.Model(inputs, outputs)


def test_verbose_prints_the_stacks_epochs(capsys):
    ConstrainedRegressorCV(alphas=2, cv=2, verbose=1, **NET).fit(X, Y)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "members training" in line]
    assert len(lines) == NET["epochs"]
    assert lines[0].startswith("Epoch 1/4 - members training: 4/4 - loss: best")


def test_sparse_X_is_searched_fit_after_fit_as_grid_search_does():
    import scipy.sparse as sp

    sparse = sp.csr_matrix(X * (X > 0.5))
    cv = KFold(2, shuffle=True, random_state=0)
    ours = ConstrainedRegressorCV(alphas=[1e-4, 1.0], cv=cv, **NET).fit(sparse, Y)
    grid = GridSearchCV(ConstrainedRegressor(**NET), {"alpha": [1e-4, 1.0]}, cv=cv)
    grid.fit(sparse, Y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"],
        grid.cv_results_["mean_test_score"],
        atol=1e-4,
    )
    assert ours.predict(sparse).shape == Y.shape
