"""The public estimators: ``ConstrainedRegressor``,
``ConstrainedRegressorCV`` and ``ConstrainedQuantileRegressor`` (and
``QuantileLevel``), on one base (:mod:`skconstrain._base_estimator`).

Every constraint and penalty is an ordinary hyperparameter, so ``Pipeline``,
``GridSearchCV``, ``clone``, pickling and pandas work as with any scikit-learn
regressor. Each estimator lives in a private module (``_regressor``,
``_search``, ``_quantile``): what it adds to the base, its hyperparameters
and docstring, its output set, its loss and its score. This module is their
public name.
"""

from __future__ import annotations

import inspect

from skconstrain._quantile import ConstrainedQuantileRegressor, QuantileLevel
from skconstrain._regressor import ConstrainedRegressor
from skconstrain._search import ConstrainedRegressorCV

__all__ = [
    "ConstrainedQuantileRegressor",
    "ConstrainedRegressor",
    "ConstrainedRegressorCV",
    "QuantileLevel",
]

#: Doctest finds the examples of methods by the module their functions live
#: in (the private ones), and skips a class whose ``__module__`` is not that
#: module: the public classes' methods with examples are collected here.
__test__ = {
    f"{cls.__name__}.{name}": member
    for cls in (
        ConstrainedQuantileRegressor,
        ConstrainedRegressor,
        ConstrainedRegressorCV,
        QuantileLevel,
    )
    for name, member in vars(cls).items()
    if inspect.isfunction(member) and ">>>" in (member.__doc__ or "")
}
