"""skconstrain: constrained neural regression for scikit-learn.

Exact projections onto norm sets (:mod:`skconstrain.projections`), a
scikit-learn transformer and meta-estimator that project predictions, and Keras 3
regressors whose weights and outputs obey constraints chosen as hyperparameters.
"""

from skconstrain._sets import SET_NAMES
from skconstrain.projections import project
from skconstrain.transformers import NormProjector, ProjectedRegressor

__version__ = "0.3.0"

__all__ = [
    "ConstrainedQuantileRegressor",
    "ConstrainedRegressor",
    "ConstrainedRegressorCV",
    "NormProjector",
    "ProjectedRegressor",
    "QuantileLevel",
    "SET_NAMES",
    "__version__",
    "project",
]


def __getattr__(name):
    # The estimators import TensorFlow; load them on first use only, so that
    # ``import skconstrain.projections`` stays free of TensorFlow.
    if name in (
        "ConstrainedRegressor",
        "ConstrainedRegressorCV",
        "ConstrainedQuantileRegressor",
        "QuantileLevel",
    ):
        from skconstrain import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'skconstrain' has no attribute {name!r}")
