"""scikit-learn's estimator checks over every public estimator."""

from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from skconstrain import NormProjector, ProjectedRegressor

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


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
