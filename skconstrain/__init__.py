"""skconstrain: constrained neural regression for scikit-learn.

Exact projections onto norm sets (:mod:`skconstrain.projections`), a
scikit-learn transformer and meta-estimator that project predictions, and Keras 3
regressors whose weights and outputs obey constraints chosen as hyperparameters.
"""

from skconstrain._sets import SET_NAMES
from skconstrain.projections import project
from skconstrain.transformers import NormProjector, ProjectedRegressor

__version__ = "0.1.0"

__all__ = [
    "NormProjector",
    "ProjectedRegressor",
    "SET_NAMES",
    "__version__",
    "project",
]
