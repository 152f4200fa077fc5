"""Grid search on a dask.distributed cluster through joblib; the docs' dask
blocks, on the same cluster."""

from contextlib import nullcontext

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from test_readme import DASK_BLOCKS, run_block

from skconstrain import ConstrainedRegressor
from skconstrain.projections import project

distributed = pytest.importorskip("distributed")
dask_distributed = pytest.importorskip("dask.distributed")
pytestmark = pytest.mark.slow


def test_grid_search_on_a_local_cluster_matches_sequential(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    Y = project(np.column_stack([X[:, 0], X[:, 1] - X[:, 2], X[:, 3]]), "simplex")
    search = GridSearchCV(
        ConstrainedRegressor(
            hidden_layer_sizes=(8,),
            output_constraint="simplex",
            epochs=5,
            learning_rate=0.01,
            random_state=0,
        ),
        {"alpha": [1e-4, 1.0], "penalty": [None, "l2"]},
        cv=2,
    )
    one = search.fit(X, Y)
    expected = (one.best_params_, one.cv_results_["mean_test_score"].copy())
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        found = GridSearchCV(search.estimator, search.param_grid, cv=2, n_jobs=-1)
        found.fit(X, Y)
        # the docs' blocks that start a LocalCluster get this one (a cluster
        # starts two processes, each importing TensorFlow)
        assert DASK_BLOCKS
        for module in (distributed, dask_distributed):
            monkeypatch.setattr(
                module, "LocalCluster", lambda *args, **kwargs: nullcontext(cluster)
            )
        for code in DASK_BLOCKS:
            run_block(code, tmp_path, monkeypatch)
    assert found.best_params_ == expected[0]
    np.testing.assert_allclose(found.cv_results_["mean_test_score"], expected[1])
