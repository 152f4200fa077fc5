"""M networks of one architecture trained as one (:class:`StackEngine`):
the single network's epoch (:func:`~._engine.epoch_function`) vectorised over
the members, for the stacked search of ``ConstrainedRegressorCV``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from skconstrain._compat import build_optimizer, host_tensor
from skconstrain._training._engine import (
    Batches,
    _backend,
    _numpy,
    _pad_rows,
    batches,
    bucket,
    compiled_with_xla,
    detach_penalties,
    epoch_function,
    evaluate_function,
    learning_rate_index,
    padded,
    pure_update,
    with_validation,
)


class NotStackable(ValueError):
    """The networks cannot be trained as one stack (see :class:`StackEngine`)."""


class StackEngine:
    """M networks of one architecture (a default network and its head, or an
    ensemble of them) trained as one: the single network's epoch
    (:func:`epoch_function`) vectorised over the members' states, data and
    settings (``jax.vmap`` / ``tf.vectorized_map``), each with its own
    rows, order, batch size, strength and learning rate; the members whose
    stopping rule ended their training are frozen.

    Parameters
    ----------
    body : keras.Model or None
        The engine's own network of the members' architecture after its
        fixed input layers (its weight and output penalties are taken out
        of it, see :func:`detach_penalties`); None: not stackable.
    size : int
    row_loss : callable or None
    width : int
        The largest batch of the members.
    penalties, output_penalties : list
        The network's kernel penalties and output penalty layers.
    own_weights : list of (keras.Variable, str)
        The network's non-trainable weights that are each stacked network's
        own, each with the :class:`~skconstrain._training.Member` attribute
        that holds its value (a target scaling's ``offset``, a calibrator's
        ``first_edge``); every other non-trainable weight is the body's.
    output_map : callable or None
        What the outputs go through to be scored (:meth:`errors`).

    The members are written into a model of that architecture by
    :meth:`write`.
    """

    def __init__(
        self,
        body,
        size,
        row_loss=None,
        width=200,
        *,
        penalties=(),
        output_penalties=(),
        own_weights=(),
        output_map=None,
    ):
        if body is None:
            raise NotStackable("only the default networks are stacked")
        self.body = body
        self.size = int(size)
        self.width = int(width)
        self.optimizer = keras.optimizers.Adam(name="adam")
        build_optimizer(self.optimizer, body.trainable_variables)
        self._update = pure_update(self.optimizer, body.trainable_variables)
        self._weight_penalties, self._output_penalties = detach_penalties(
            body, list(penalties), list(output_penalties)
        )
        self._row_loss = row_loss
        self.output_map = output_map
        self._roles = [_role(v, own_weights) for v in body.non_trainable_variables]
        self._runs = {}
        self._validation = None
        self._errors = None
        self._rate = learning_rate_index(self.optimizer)
        self._xla_failed = False
        #: On TensorFlow, whether the last epoch ran under XLA.
        self.with_xla = False

    def _run(self, xla):
        # with validation rows, the members are scored in the epoch's program
        validating = self._validation is not None
        found = self._runs.get(("epoch", xla, validating))
        if found is None:
            backend = _backend()
            members = epoch_function(
                self.body,
                self._update,
                self._row_loss,
                self._weight_penalties,
                self._output_penalties,
                guard=True,
                vectorize=backend.vectorize,
            )

            def run(state, data, settings, active):
                new, losses = members(state, data, settings)

                def keep(a, b):
                    shape = (-1,) + (1,) * (len(a.shape) - 1)
                    return ops.where(ops.reshape(active, shape), a, b)

                state = tuple(
                    [keep(a, b) for a, b in zip(new[i], state[i], strict=True)]
                    for i in range(3)
                )
                return state, losses

            if validating:
                evaluate = evaluate_function(self.body, self.output_map, None)
                run = with_validation(run, backend.vectorize(evaluate))
            found = self._runs["epoch", xla, validating] = backend.compile(
                run, kind="stack", jit_compile=xla
            )
        return found

    def start(self, members, learning_rate, epochs):
        """The members' starting weights, target scalings and data; Adam
        reset. ``epochs``: the most the members train (how TensorFlow
        compiles, :func:`~._engine.compiled_with_xla`)."""
        with _backend().precision():
            tv = []
            for i, variable in enumerate(self.body.trainable_variables):
                value = np.stack([np.asarray(m.weights[i]) for m in members])
                if tuple(value.shape[1:]) != tuple(variable.shape):
                    raise NotStackable("the members' weights do not fit the network")
                tv.append(host_tensor(value.astype(np.float32)))
            ntv = []
            for variable, role in zip(
                self.body.non_trainable_variables, self._roles, strict=True
            ):
                if role is None:
                    value = np.stack([_numpy(variable.value)] * len(members))
                else:  # rounded to float32 as the layers hold them
                    value = np.stack(
                        [
                            np.broadcast_to(
                                np.asarray(getattr(m, role[1]), np.float32),
                                variable.shape,
                            )
                            for m in members
                        ]
                    )
                ntv.append(host_tensor(value.astype(variable.dtype)))
            ov = []
            for i, variable in enumerate(self.optimizer.variables):
                if i == self._rate:
                    value = np.full(len(members), learning_rate, np.float32)
                else:
                    value = np.zeros((len(members), *variable.shape), variable.dtype)
                ov.append(host_tensor(value))
            self._state = (tv, ntv, ov)
            parts = [padded(m.data) for m in members]
            self._rows = max(int(p[1].shape[0]) for p in parts)
            n = np.array([p[3] for p in parts])
            batch = np.array(
                [min(m.batch_size, max(k, 1)) for m, k in zip(members, n, strict=True)]
            )
            self._n = n
            self._batch = batch
            self._shuffle = [m.shuffle for m in members]
            self._width = bucket(int(batch.max()), smallest=1)
            steps = max(int((-(-n // batch)).max()), 1)
            if _backend().PADDED_STEPS:
                steps = bucket(steps, smallest=1)
            self._steps = steps
            self._steps_done = 0
            self._member_steps = len(members) * steps * int(epochs)
            self.with_xla = False
            self._data = [
                _stacked([_pad_rows(p[i], self._rows) for p in parts]) for i in range(3)
            ]
            self._settings = (
                host_tensor(n.astype(np.int32)),
                host_tensor(np.array([m.loss_weight for m in members], np.float32)),
                host_tensor(np.array([m.penalty_scale for m in members], np.float32)),
            )
            self._validation = None
            self._errors = None
            if members[0].validation is not None:
                parts = [padded(m.validation) for m in members]
                rows = max(int(p[1].shape[0]) for p in parts)
                self._validation = [
                    _stacked([_pad_rows(p[i], rows) for p in parts]) for i in range(3)
                ] + [host_tensor(np.array([p[3] for p in parts], np.int32))]

    def run_epoch(self, seeds, active):
        """One epoch of the members where ``active``; their mean losses (M,).
        ``seeds``: each member's seed of this epoch's order."""
        with _backend().precision():
            # members of the same seed and rows (a search's alphas on one
            # fold) share their batches: drawn once
            keys = [
                (int(seed), int(n), int(batch), bool(shuffle))
                for seed, n, batch, shuffle in zip(
                    seeds, self._n, self._batch, self._shuffle, strict=True
                )
            ]
            drawn = {
                (seed, n, batch, shuffle): batches(
                    seed, n, batch, self._width, self._steps, shuffle
                )
                for seed, n, batch, shuffle in set(keys)
            }
            laid = [drawn[key] for key in keys]
            index = np.stack([i for i, _ in laid])
            valid = np.stack([v for _, v in laid])
            inputs = (
                self._state,
                (
                    *self._data,
                    Batches(host_tensor(index), host_tensor(valid)),
                ),
                self._settings,
                host_tensor(np.asarray(active, bool)),
            )
            if self._validation is not None:
                inputs = (*inputs, tuple(self._validation))
            backend = _backend()
            if backend.CHOOSES_XLA:
                xla = compiled_with_xla(None, self._steps_done, self._member_steps)
                xla = xla and not self._xla_failed
            else:
                # JAX: XLA's default code generator (faster steps, slower to
                # compile) where the stack's planned work pays for it
                xla = self._member_steps >= backend.FULL_CODEGEN_MEMBER_STEPS
            try:
                out = self._run(xla)(*inputs)
            except backend.COMPILE_ERRORS:
                if not xla:
                    raise
                self._xla_failed = True  # a graph from now on
                out = self._run(False)(*inputs)
            # on TensorFlow, whether this epoch ran under XLA
            self.with_xla = bool(xla) and backend.CHOOSES_XLA and not self._xla_failed
            self._state = out[0]
            self._errors = None if len(out) < 3 else out[2]
            self._steps_done += self._steps
            return _numpy(out[1])

    def errors(self):
        """Squared errors per member and output column on their validation
        rows (the outputs through :attr:`output_map`), of the weights after
        the last epoch (scored in its program)."""
        if self._errors is None:
            raise ValueError("no epoch has scored the validation rows")
        return _numpy(self._errors).astype(np.float64)

    def weights(self):
        """The members' weights, each array with the members on its first axis."""
        return [_numpy(v).copy() for v in self._state[0]]

    def set_weights(self, weights):
        """Set what :meth:`weights` returned."""
        with _backend().precision():
            tv = [host_tensor(v) for v in weights]
            self._state = (tv, *self._state[1:])

    def set_learning_rates(self, rates):
        """Each member's learning rate from its next step on ((M,))."""
        ov = list(self._state[2])
        ov[self._rate] = host_tensor(
            np.asarray(rates, np.float32).reshape(tuple(ov[self._rate].shape))
        )
        self._state = (*self._state[:2], ov)

    def snapshot(self):
        """The members' trained state, for :meth:`write`."""
        tv, ntv, _ = self._state
        return [_numpy(v) for v in tv], [_numpy(v) for v in ntv]

    def write(self, k, model, snapshot, own_weights):
        """Member ``k`` of ``snapshot`` into ``model`` (of the members'
        architecture; ``own_weights``: its weights that are each member's
        own, as the engine was given its body's). The member's input scaling
        is its data's, set apart."""
        tv, ntv = snapshot
        if len(model.trainable_variables) != len(tv):
            raise NotStackable("model is not of the stack's architecture")
        with _backend().precision():
            for variable, value in zip(model.trainable_variables, tv, strict=True):
                variable.assign(value[k])
            for role, value in zip(self._roles, ntv, strict=True):
                if role is not None:
                    weight = own_weights[role[0]][0]
                    weight.assign(np.asarray(value[k]).astype(weight.dtype))


def _role(variable, own_weights):
    """``(j, name)`` for the weight ``own_weights[j]`` (each stacked network's
    own, its value the members' attribute ``name``), None for another
    non-trainable variable."""
    for j, (weight, name) in enumerate(own_weights):
        if variable is weight:
            return j, name
    return None


def _stacked(parts):
    # dense rows only: a search over sparse X fits one network after another;
    # stacked on the host (no compiled program per shape)
    return host_tensor(np.stack([_numpy(p) for p in parts]))
