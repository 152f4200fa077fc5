"""scikit-learn's estimator checks over every public estimator."""

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from skconstrain import (
    ConstrainedQuantileRegressor,
    ConstrainedRegressor,
    ConstrainedRegressorCV,
    NormProjector,
    ProjectedRegressor,
)

# ProjectedRegressor's default projector is the unit sphere, which maps every
# 1-D prediction to its sign; the checks fit 1-D targets and require R^2 > 0.5,
# so they run with projectors that are meaningful for 1-D targets (and, for
# multi-output, for the checks' targets: a large L-inf or L2 ball).
ESTIMATORS = [
    NormProjector(),
    NormProjector("simplex", radius=2.0),
    NormProjector("box", lower=-1.0, upper=1.0),
    ProjectedRegressor(projector=NormProjector("linf_ball", radius=1e3)),
    ProjectedRegressor(Ridge(), NormProjector("l2_ball", radius=1e3)),
    ProjectedRegressor(KNeighborsRegressor(), NormProjector("box", lower=-1e3)),
    ProjectedRegressor(
        RandomForestRegressor(n_estimators=5, random_state=0),
        NormProjector("linf_ball", radius=1e3),
    ),
]


# 5 epochs of 13 steps (batch 16 on the checks' 200 rows): enough for R^2 > 0.5
FAST = dict(hidden_layer_sizes=(8,), epochs=5, batch_size=16, random_state=0)
ESTIMATORS += [
    ConstrainedRegressor(**FAST, learning_rate=0.05),
    ConstrainedRegressor(
        **FAST,
        learning_rate=0.05,
        penalty="l2",
        alpha=1e-3,
        kernel_constraint="max_norm",
        output_constraint="linf_ball",
        output_radius=1e3,
    ),
]

ESTIMATORS += [
    ConstrainedRegressorCV(alphas=[1e-4, 1e-2], cv=2, **FAST, learning_rate=0.05),
    # a scalar level predicts 1-D, as scikit-learn's quantile regressors (a
    # list of one level, one column, is the multi-level path below)
    # 10 epochs: with FAST's 5, the median's D^2 on check_regressors_train's
    # data is 0.51-0.58 over seeds on either backend, too close to its 0.5 bar
    ConstrainedQuantileRegressor(0.5, **{**FAST, "epochs": 10}, learning_rate=0.05),
    ConstrainedQuantileRegressor(
        (0.1, 0.5, 0.9), **FAST, learning_rate=0.05, output_strategy="activation"
    ),
]

# Checks that a stochastically trained network cannot pass, with the reason.
_REPEATED_ROWS = (
    "mini-batch SGD: weighting a row by 2 and repeating it twice give "
    "different batches, so different (equally valid) networks"
)
EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": _REPEATED_ROWS,
    "check_sample_weight_equivalence_on_sparse_data": _REPEATED_ROWS,
}
QUANTILE_EXPECTED_FAILED = {
    **EXPECTED_FAILED,
    **dict.fromkeys(
        [
            "check_regressors_train",
            "check_estimator_sparse_array",
            "check_estimator_sparse_matrix",
        ],
        "predictions have one column per quantile level, (n_samples, "
        "n_quantiles), not the shape of the 1-D y (as the check requires; "
        "a scalar level predicts 1-D and passes)",
    ),
}


CV_EXPECTED_FAILED = {
    **EXPECTED_FAILED,
    "check_n_features_in_after_fitting": (
        "its last step calls partial_fit on an unfitted clone; a search has "
        "no incremental form, so ConstrainedRegressorCV.partial_fit exists "
        "only after fit (it continues the refitted network; before fit it "
        "trained one network at a fixed alpha, silently)"
    ),
}


def _expected_failed(estimator):
    if isinstance(estimator, ConstrainedRegressorCV):
        return CV_EXPECTED_FAILED
    if isinstance(estimator, ConstrainedQuantileRegressor):
        if np.ndim(estimator.quantiles) == 0:
            return EXPECTED_FAILED
        return QUANTILE_EXPECTED_FAILED
    if isinstance(estimator, ConstrainedRegressor):
        return EXPECTED_FAILED
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_compatible(estimator, check):
    check(estimator)
