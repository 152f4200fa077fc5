"""Keras 3 components: differentiable projections, constraints, penalties.

Usable in any Keras model; :class:`skconstrain.ConstrainedRegressor` is built from
them. Everything is registered for ``.keras`` saving under the package
"skconstrain".

- :mod:`~skconstrain.keras.ops`: the projections (and smooth activations into
  the sets) in ``keras.ops``.
- :class:`OutputProjection`: a layer that projects exactly onto a set;
  :class:`OutputActivation`: a layer that maps smoothly into a set;
  :class:`OutputPenaltyLayer`: a layer that adds an output penalty to the loss;
  :class:`TargetScaling`: a fixed affine map onto the targets' scale;
  :class:`InputScaling`: the same map, standardising features at the input;
  :class:`PiecewiseLinearEncoding`: numerical features beside their
  piecewise-linear encodings;
  :class:`LipschitzDense`, :class:`GroupSort`, :class:`MonotoneResidual`,
  :class:`MonotoneCalibration` and :class:`SelectFeatures`: the parts of a
  network monotone in chosen features by construction.
- :mod:`~skconstrain.keras.constraints`: ``UnitNorm``, ``NonNeg``, ``MaxNorm``,
  ``MinMaxNorm``, ``L1Ball``, ``Box``, ``Simplex``.
- :mod:`~skconstrain.keras.regularizers`: ``L1``, ``L2``, ``ElasticNet``,
  ``Orthogonality``, ``ClipPenalty``, ``GroupLasso``.
- :mod:`~skconstrain.keras.penalties`: ``OutputPenalty``.
- :mod:`~skconstrain.keras.losses`: ``ProjectionLoss``, the Fenchel-Young loss
  of a projection, for networks trained on raw scores.

Each family has a ``get(identifier)`` registry function.
"""

from skconstrain.keras import constraints, losses, ops, penalties, regularizers
from skconstrain.keras.constraints import (
    Box,
    L1Ball,
    MaxNorm,
    MinMaxNorm,
    NonNeg,
    Simplex,
    UnitNorm,
)
from skconstrain.keras.layers import (
    EnsembleMean,
    GroupSort,
    InputScaling,
    LipschitzDense,
    MonotoneCalibration,
    MonotoneResidual,
    OutputActivation,
    OutputPenaltyLayer,
    OutputProjection,
    PiecewiseLinearEncoding,
    SelectFeatures,
    TargetScaling,
)
from skconstrain.keras.losses import ProjectionLoss
from skconstrain.keras.penalties import OutputPenalty
from skconstrain.keras.regularizers import (
    L1,
    L2,
    ClipPenalty,
    ElasticNet,
    GroupLasso,
    Orthogonality,
)

__all__ = [
    "L1",
    "L2",
    "Box",
    "ClipPenalty",
    "ElasticNet",
    "EnsembleMean",
    "GroupLasso",
    "GroupSort",
    "InputScaling",
    "L1Ball",
    "LipschitzDense",
    "MaxNorm",
    "MinMaxNorm",
    "MonotoneCalibration",
    "MonotoneResidual",
    "NonNeg",
    "Orthogonality",
    "OutputActivation",
    "OutputPenalty",
    "OutputPenaltyLayer",
    "PiecewiseLinearEncoding",
    "OutputProjection",
    "ProjectionLoss",
    "SelectFeatures",
    "Simplex",
    "TargetScaling",
    "UnitNorm",
    "constraints",
    "losses",
    "ops",
    "penalties",
    "regularizers",
]
