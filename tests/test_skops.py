"""Secure persistence with skops: a short, explicit ``trusted`` list is enough."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconstrain import ConstrainedRegressor, NormProjector, ProjectedRegressor
from skconstrain.keras import L1, MaxNorm

sio = pytest.importorskip("skops.io")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 4))
Y = np.abs(RNG.normal(size=(60, 3)))
FAST = dict(hidden_layer_sizes=(4,), epochs=2, random_state=0)
OURS = ["skconstrain.estimators.ConstrainedRegressor"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"output_constraint": "simplex", "output_strategy": "project"},
        {"output_constraint": "simplex", "output_strategy": "post"},
        {"output_constraint": "l1_ball", "output_strategy": "activation"},
        {
            "output_constraint": "box",
            "output_lower": [0.0, 0.0, 0.0],
            "output_upper": 1.0,
            "output_strategy": "penalty",
            "output_penalty": "log_barrier",
        },
        {"output_constraint": "l2_sphere", "penalty": "l2", "alpha": 0.1},
        {"monotonic_cst": [1, -1, 0, 0], "output_constraint": "nonneg"},
    ],
    ids=["none", "project", "post", "activation", "penalty", "sphere+l2", "monotone"],
)
def test_constrained_regressor_round_trips(tmp_path, params):
    est = ConstrainedRegressor(**FAST, **params).fit(X, Y)
    path = tmp_path / "model.skops"
    sio.dump(est, path)
    assert sio.get_untrusted_types(file=path) == OURS
    back = sio.load(path, trusted=OURS)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert back.constraint_violation_ == est.constraint_violation_
    assert back.get_params() == est.get_params()
    # still trainable: partial_fit continues from the loaded network
    back.partial_fit(X, Y)


def test_penalty_and_constraint_objects_are_listed_by_name():
    est = ConstrainedRegressor(**FAST, penalty=L1(), kernel_constraint=MaxNorm(2.0))
    data = sio.dumps(est.fit(X, Y))
    trusted = [
        "skconstrain.estimators.ConstrainedRegressor",
        "skconstrain.keras.constraints.MaxNorm",
        "skconstrain.keras.regularizers.L1",
    ]
    assert sorted(sio.get_untrusted_types(data=data)) == trusted
    np.testing.assert_array_equal(
        sio.loads(data, trusted=trusted).predict(X), est.predict(X)
    )


def test_untrusted_types_are_refused():
    data = sio.dumps(ConstrainedRegressor(**FAST).fit(X, Y))
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(data)


@pytest.mark.parametrize(
    "est, trusted",
    [
        (
            NormProjector("l1_ball", radius=2.0),
            ["skconstrain.transformers.NormProjector"],
        ),
        (
            ProjectedRegressor(Ridge(), NormProjector("simplex")),
            [
                "skconstrain.transformers.NormProjector",
                "skconstrain.transformers.ProjectedRegressor",
            ],
        ),
        (
            ProjectedRegressor(
                make_pipeline(StandardScaler(), ConstrainedRegressor(**FAST)),
                NormProjector("l2_ball"),
            ),
            [
                "skconstrain.estimators.ConstrainedRegressor",
                "skconstrain.transformers.NormProjector",
                "skconstrain.transformers.ProjectedRegressor",
            ],
        ),
    ],
    ids=["NormProjector", "ProjectedRegressor", "ProjectedRegressor(pipeline)"],
)
def test_transformers_round_trip(est, trusted):
    if hasattr(est, "predict"):
        est.fit(X, Y)
        result = est.predict
    else:
        est.fit(Y)
        result = est.transform
    data = sio.dumps(est)
    assert sorted(sio.get_untrusted_types(data=data)) == trusted
    back = sio.loads(data, trusted=trusted)
    again = back.predict if hasattr(back, "predict") else back.transform
    arg = X if hasattr(est, "predict") else Y
    np.testing.assert_array_equal(again(arg), result(arg))
