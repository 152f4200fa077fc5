"""Persistence of the estimators: their state with the network as ``.keras``
bytes, and the states that earlier versions pickled, upgraded in one place.

What each version changed, and what loading its pickle does:

- 0.3 and early 0.4 kept the parts of the fitted spec as separate
  attributes (``_built_with``, ``_fit_shape``, ``_y_ndim``, ``_output_set``,
  ``_monotonic_cst``, ``_loss_weight``; ``_key`` and ``_batch_size`` too):
  they become the spec (:func:`_spec_of_old_state`).
- 0.4 had no ``feature_encoding``: its plain MLP, ``None`` (refits too), and
  a spec without ``input_bins`` (0, the dataclass's default).

Imports ``_networks``, never the estimators.
"""

from __future__ import annotations

import dataclasses

import keras

from skconstrain import _networks


def state_to_pickle(estimator, state):
    """``state`` (the estimator's ``__dict__``, copied) with the network as
    ``.keras`` bytes and the spec as plain values (no type of ours for
    skops to trust); the predictor, rebuilt on load, is left out."""
    state.pop("_predict_fn", None)
    if "model_" in state:
        penalty = estimator.penalty
        if callable(penalty) and not isinstance(
            penalty, keras.regularizers.Regularizer
        ):
            raise TypeError(
                f"A fitted {type(estimator).__name__} whose 'penalty' is a plain "
                f"callable ({penalty!r}) cannot be pickled: its network is saved "
                "as a .keras file, which cannot hold the function. Use a "
                "regularizer of skconstrain.keras.regularizers (or a "
                "keras.regularizers.Regularizer registered with "
                "keras.saving.register_keras_serializable)."
            )
        state["model_"] = _networks.to_bytes(state["model_"])
    if "_spec" in state:
        state["_spec"] = dataclasses.asdict(state["_spec"])
    return state


def state_from_pickle(state, structural_params):
    """A pickled ``state`` of any version as this version's, with the spec a
    :class:`~skconstrain._networks.FitSpec`; the network stays bytes (the
    estimator loads it under its runtime's settings)."""
    state = dict(state)
    if isinstance(state.get("_spec"), dict):
        state["_spec"] = _networks.FitSpec(**state["_spec"])
    elif "_built_with" in state:  # pickled before the spec held them
        state["_spec"] = _spec_of_old_state(state, structural_params)
    # pickled by 0.4, before feature_encoding: its plain MLP, refits too
    state.setdefault("feature_encoding", None)
    return state


def _spec_of_old_state(state, structural_params):
    """The :class:`~skconstrain._networks.FitSpec` of a state pickled before
    it existed (0.3 and early 0.4 kept its parts as separate attributes),
    which are removed."""
    built = state.pop("_built_with")
    for name in ("_key", "_batch_size"):
        state.pop(name, None)
    signs = state.pop("_monotonic_cst")
    return _networks.FitSpec(
        hyperparameters=tuple(
            (name, built[name]) for name in structural_params if name in built
        ),
        fit_shape=tuple(state.pop("_fit_shape")),
        n_outputs=state["n_outputs_"],
        y_ndim=state.pop("_y_ndim"),
        output_set=state.pop("_output_set"),
        monotonic_cst=None if signs is None else tuple(signs),
        loss_weight=state.pop("_loss_weight"),
    )
