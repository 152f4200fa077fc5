"""The training loop: :func:`train` runs Python once per epoch, for one
network or the M members of a stack alike (history, the plateau rule that
decays the learning rate and stops, keeping the best weights, progress). It
is the same on every backend; the engines (:mod:`._engine`) run the epochs.
"""

from __future__ import annotations

import math
import sys

import keras
import numpy as np


class NonFiniteLossError(FloatingPointError, ValueError):
    """The training loss became NaN or infinite."""


# ------------------------------------------------------------------- runtime
#: Environment variables through which a process is given a thread budget:
#: joblib's loky workers set them all to ``cpu_count // n_jobs``, dask's nanny
#: sets the first three to 1.
class _Progress:
    """Progress per epoch (``verbose >= 1``).

    On a terminal or in a notebook with ``verbose=1``, Keras's ``Progbar`` (one
    bar, redrawn in place); otherwise (a log file, CI output, a pipe, or
    ``verbose >= 2``) one plain line per epoch, as ``Model.fit(verbose=2)``
    writes, with no carriage returns or backspaces.
    """

    def __init__(self, epochs, verbose, stream=None):
        self.epochs = epochs
        self.stream = sys.stdout if stream is None else stream
        self.bar = None
        self.lines = False
        if verbose == 1 and _is_terminal(self.stream):
            self.bar = keras.utils.Progbar(
                epochs, stateful_metrics=["loss", "val_loss"]
            )
        elif verbose:
            self.lines = True

    def update(self, epoch, values):
        if self.bar is not None:
            self.bar.update(epoch, list(values.items()))
        elif self.lines:
            text = " - ".join(f"{k}: {v:.4g}" for k, v in values.items())
            self.stream.write(f"Epoch {epoch}/{self.epochs} - {text}\n")
            self.stream.flush()

    def close(self, epoch, values):
        if self.bar is not None:
            self.bar.update(epoch, list(values.items()), finalize=True)
        elif self.lines:
            self.stream.write(f"Stopped after epoch {epoch}/{self.epochs}\n")
            self.stream.flush()


def _is_terminal(stream):
    """Whether ``stream`` redraws a line in place: a terminal, or a notebook
    (whose output is no tty but renders carriage returns). Keras's own test
    also counts any POSIX system, which sent the bar's redraws into log files."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _check_finite(loss, epoch, name):
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"The {name} became {loss} at epoch {epoch}: the training diverged. "
            "Scale X and y (e.g. with StandardScaler, and "
            "TransformedTargetRegressor for y) or lower 'learning_rate'."
        )


def r2_scores(errors, data):
    """R^2 of each output column from :meth:`Engine.evaluate`'s ``errors`` on
    ``data``, averaged uniformly, as :func:`sklearn.metrics.r2_score` does (a
    constant column scores 1 when predicted exactly, else 0).

    Examples
    --------
    >>> from skconstrain._training import as_tensors
    >>> y = np.array([[0.0, 1], [2, 1], [0, 1], [2, 1]])  # variance 1, and 0
    >>> data = as_tensors(np.zeros((4, 1)), y)
    >>> float(r2_scores(np.array([0.5, 0.0]), data))  # 1 - 0.5 / 1, and 1
    0.75
    """
    errors = np.asarray(errors, dtype=np.float64)
    scale = data.column_scale
    positive = scale > 0
    scores = np.where(
        positive, 1.0 - errors / np.where(positive, scale, 1.0), errors == 0
    )
    return float(scores.mean())


#: On a plateau of the monitored loss the learning rate is multiplied by
#: ``DECAY`` (``DECAYS`` times at most) before the training stops: the
#: fine convergence that a constant Adam step cannot reach, and a second
#: chance for a network whose first progress is slow.
DECAY = 0.2
DECAYS = 2

#: The first updates of a training are never a plateau (its best epoch is
#: kept all the same): a network's first progress can pause (a monotone
#: network's slow start, the noise of a few validation rows) long before it
#: has learnt what it can. WARMUP_UPDATES steps, at most half the epochs.
WARMUP_UPDATES = 1000


def warmup_epochs(n_samples, batch_size, epochs):
    """The epochs that :data:`WARMUP_UPDATES` steps take on ``n_samples``
    rows in batches of ``batch_size``, at most ``epochs // 2``.

    Examples
    --------
    >>> warmup_epochs(300, 32, 200), warmup_epochs(50_000, 200, 200)
    (100, 4)
    """
    steps = -(-max(int(n_samples), 1) // max(int(batch_size), 1))
    return min(int(epochs) // 2, -(-WARMUP_UPDATES // steps))


def least_epochs(epochs, n_iter_no_change, warmup):
    """The fewest epochs a training of up to ``epochs`` runs: all of them
    without a stopping rule (``n_iter_no_change`` None), else the epoch at
    which :class:`Plateau` stops soonest, the loss never improving after
    the first epoch (``warmup`` epochs, then :data:`DECAYS` decays and the
    stop, ``n_iter_no_change`` epochs apart).

    Examples
    --------
    >>> least_epochs(200, None, 4), least_epochs(200, 10, 4), least_epochs(20, 10, 4)
    (200, 34, 20)
    """
    if n_iter_no_change is None:
        return int(epochs)
    patience = int(n_iter_no_change)
    if patience < 1:  # a plateau at every epoch, warm-up or not
        return min(int(epochs), DECAYS + 1)
    return min(int(epochs), max(int(warmup), 1) + (DECAYS + 1) * patience)


class Plateau:
    """The stopping rule of a training, for ``size`` members at once (a
    single fit is one member): each member's monitored loss (already divided
    by its scale) improves when it drops by more than ``tol`` below its best;
    after ``patience`` epochs without improvement its learning rate is
    multiplied by :data:`DECAY` and the count restarts, and after
    :data:`DECAYS` such decays the next plateau stops it. The first
    ``warmup`` epochs (per member) do not count towards a plateau.

    Examples
    --------
    >>> rule = Plateau(1, tol=0.0, patience=1, learning_rate=1.0)
    >>> [rule.update(np.array([v]))[1:] for v in (3.0, 2.0, 2.0, 2.0, 2.0)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [(array([False]), array([False])), (array([False]), array([False])),
     (array([ True]), array([False])), (array([ True]), array([False])),
     (array([False]), array([ True]))]
    >>> rule.rates.tolist()  # two decays by DECAY
    [0.04000000000000001]
    """

    def __init__(self, size, *, tol, patience, learning_rate, warmup=0):
        self.tol = float(tol)
        self.patience = int(patience)
        self.warmup = np.broadcast_to(np.asarray(warmup, dtype=int), (size,))
        self.epoch = 0
        self.best = np.full(size, math.inf)
        self.waited = np.zeros(size, dtype=int)
        self.decays = np.zeros(size, dtype=int)
        self.rates = np.full(size, float(learning_rate))

    def update(self, values, active=None):
        """The epoch's monitored values (M,) of the members where ``active``.

        Returns ``(improved, decayed, stopped)``, boolean (M,): the members
        whose value is a new best, whose learning rate was just multiplied by
        :data:`DECAY` (see :attr:`rates`), and those that stop now."""
        values = np.asarray(values, dtype=np.float64)
        active = np.ones(len(values), bool) if active is None else active
        self.epoch += 1
        improved = active & (values < self.best - self.tol)
        self.best[improved] = values[improved]
        self.waited[improved] = 0
        counting = active & ~improved & (self.epoch > self.warmup)
        self.waited[counting] += 1
        plateau = active & (self.waited >= self.patience)
        decayed = plateau & (self.decays < DECAYS)
        stopped = plateau & ~decayed
        self.decays[decayed] += 1
        self.waited[decayed] = 0
        self.rates[decayed] *= DECAY
        return improved, decayed, stopped


def train(
    engine,
    data,
    *,
    epochs,
    validation=None,
    tol=0.0,
    n_iter_no_change=None,
    seed=0,
    verbose=0,
    loss_weight=1.0,
    penalty_scale=0.0,
    batch_size=None,
    learning_rate=None,
    members=1,
    warmup=None,
    shuffle=True,
    xla=None,
):
    """Train for up to ``epochs`` epochs, with early stopping: one network
    (``data`` a :class:`Data`) or the M members of a stack (``data`` a list
    of :class:`Member`), by one driver.

    Early stopping watches the training loss, or the validation loss when
    there are validation rows, divided by the monitored rows'
    ``target_scale`` (so ``tol`` is on the scale of R^2 and does not depend
    on the targets' units), by the rule of :class:`Plateau`: after
    ``n_iter_no_change`` epochs without an improvement by ``tol`` the
    learning rate is divided (twice at most), then the training stops. With
    validation rows, a decay starts again from the best epoch's weights, and
    those are restored at the end.

    A stack's member ``k`` sees its own rows (``data[k].data``) in its own
    order (the seeds a single fit draws), with its own batch size, loss
    weight and penalty scale, and stops by its own rule: a member that stops
    is frozen (weights and Adam moments) while the others go on. So each
    member trains as the single fit with its data and seed would (to
    float32 rounding).

    Parameters
    ----------
    engine : Engine or StackEngine
    data : Data or list of Member
    epochs : int
    validation : Data or None
        A single fit's validation rows (a stack's are its members').
    tol : float
    n_iter_no_change : int or None
        None: never stop early (nor decay the learning rate).
    seed : int
        A single fit's epoch ``e`` is ordered with seed ``seed + e`` (a
        stack's members have their own).
    verbose : int
        >= 1 shows the progress per epoch (see :class:`_Progress`; for a
        stack, one line: the members still training, the best and worst of
        their losses).
    loss_weight, penalty_scale : float
        A single fit's, passed to :meth:`Engine.run_epoch`.
    batch_size : int or None
        A single fit's batch size (None: the engine's).
    learning_rate : float or None
        The starting learning rate (None: the engine's optimizer's, kept;
        a stack needs one).
    members : int, default=1
        The members of an ensemble trained as one network (a single fit's,
        or each stacked network's), whose objective is the sum of theirs:
        the loss recorded and monitored is its mean over them.
    warmup : int or None, default=None
        Epochs that do not count towards a plateau; None:
        :func:`warmup_epochs` of the data and batch size.
    shuffle : bool, default=True
        A single fit's, passed to :meth:`Engine.run_epoch`.
    xla : bool or None, default=None
        A single fit's ``jit_compile`` on TensorFlow, passed to
        :meth:`Engine.run_epoch`: True compiles with XLA from the first
        epoch (a search's refit after its stack did, see
        :class:`~skconstrain.ConstrainedRegressorCV`); None chooses
        (:func:`~._engine.compiled_with_xla`).

    Returns
    -------
    history : dict
        ``"loss"`` (and ``"val_loss"``, the weighted mean squared error on the
        validation rows, and ``"val_score"``, their R^2 averaged over the
        outputs): one float per epoch run.
    stopped : bool
        Whether the stopping rule ended the training (False when the epochs
        ran out first, or when ``n_iter_no_change`` is None).

    For a stack: a list of ``(history, stopped)``, one per member.

    Raises
    ------
    NonFiniteLossError
        When a loss becomes NaN or infinite.
    """
    if not isinstance(data, list | tuple):
        batch = int(batch_size or engine.batch_size)
        warmups = [
            warmup_epochs(data.y.shape[0], batch, epochs) if warmup is None else warmup
        ]
        run = _One(
            engine,
            data,
            validation,
            seed=seed,
            loss_weight=loss_weight,
            penalty_scale=penalty_scale,
            batch_size=batch_size,
            members=members,
            shuffle=shuffle,
            jit_compile=xla,
            least=least_epochs(epochs, n_iter_no_change, warmups[0]),
        )
        if learning_rate is not None:
            engine.set_learning_rate(learning_rate)
    else:
        stacked = list(data)
        if len(stacked) != engine.size:
            raise ValueError(f"{len(stacked)} members for a stack of {engine.size}")
        if max(m.batch_size for m in stacked) > engine.width:
            raise ValueError("a member's batch is larger than the stack's width")
        engine.start(stacked, learning_rate, epochs)
        run = _Stack(engine, stacked, members)
        warmups = [
            warmup_epochs(m.data.y.shape[0], m.batch_size, epochs) for m in stacked
        ]
    results = _drive(
        run,
        epochs=epochs,
        tol=tol,
        n_iter_no_change=n_iter_no_change,
        verbose=verbose,
        learning_rate=learning_rate,
        warmup=warmups,
    )
    return results if isinstance(data, list | tuple) else results[0]


def _seed(seed, epoch):
    """The seed of an epoch's order of the rows."""
    return int(seed + epoch) % (2**31 - 1)


class _One:
    """One network, as :func:`_drive` trains M: an :class:`Engine` with its
    fit's data and settings."""

    def __init__(self, engine, data, validation, *, members, least, **settings):
        self.engine = engine
        self.size = 1
        self.datas = [data]
        self.validations = None if validation is None else [validation]
        self.members = members
        self.seed = settings.pop("seed")
        self.settings = settings
        batch = int(settings["batch_size"] or engine.batch_size)
        self.per_epoch = -(-int(data.y.shape[0]) // batch)
        # the steps the fit runs at least (``least`` epochs: least_epochs)
        self.sure_steps = self.per_epoch * int(least)
        self.best = None

    def epoch(self, epoch, active):
        out = self.engine.run_epoch(
            self.datas[0],
            _seed(self.seed, epoch),
            steps_done=(epoch - 1) * self.per_epoch,
            sure_steps=self.sure_steps,
            validation=None if self.validations is None else self.validations[0],
            **self.settings,
        )
        loss = out
        if self.validations is not None:  # scored in the epoch's program
            loss, self._errors = out
        return np.array([loss / self.members])

    def errors(self):
        return self._errors[None]

    def keep_best(self, improved, decayed):
        if improved[0]:
            self.best = self.engine.weights()
        if decayed[0] and self.best is not None:
            self.engine.set_weights(self.best)

    def set_rates(self, rates):
        self.engine.set_learning_rate(rates[0])

    def restore_best(self):
        if self.best is not None:
            self.engine.set_weights(self.best)


class _Stack:
    """The M members of a :class:`StackEngine`, as :func:`_drive` trains them."""

    def __init__(self, engine, members, ensemble=1):
        self.engine = engine
        self.members = members
        self.ensemble = ensemble
        self.size = len(members)
        self.datas = [m.data for m in members]
        validating = members[0].validation is not None
        self.validations = [m.validation for m in members] if validating else None
        self.best = None

    def epoch(self, epoch, active):
        seeds = np.array([_seed(m.seed, epoch) for m in self.members])
        losses = np.asarray(self.engine.run_epoch(seeds, active), dtype=np.float64)
        return losses / self.ensemble

    def errors(self):
        return self.engine.errors()

    def keep_best(self, improved, decayed):
        if self.best is None:  # the starting weights, until a member improves
            self.best = self.engine.weights()
        if not (improved.any() or decayed.any()):
            return
        weights = self.engine.weights()
        for kept, now in zip(self.best, weights, strict=True):
            kept[improved] = now[improved]
            now[decayed] = kept[decayed]
        if decayed.any():
            self.engine.set_weights(weights)

    def set_rates(self, rates):
        self.engine.set_learning_rates(rates)

    def restore_best(self):
        if self.best is not None:
            self.engine.set_weights(self.best)


def _drive(run, *, epochs, tol, n_iter_no_change, verbose, learning_rate, warmup):
    """Train ``run``'s M members for up to ``epochs`` epochs (see
    :func:`train`); per member ``(history, stopped)``."""
    size = run.size
    validating = run.validations is not None
    histories = [
        {"loss": [], **({"val_loss": [], "val_score": []} if validating else {})}
        for _ in range(size)
    ]
    monitored = run.validations if validating else run.datas
    scales = np.array(
        [d.target_scale if d.target_scale > 0 else 1.0 for d in monitored]
    )
    rule = None
    if n_iter_no_change is not None:
        rule = Plateau(
            size,
            tol=tol,
            patience=n_iter_no_change,
            learning_rate=1.0 if learning_rate is None else learning_rate,
            warmup=warmup,
        )
    if rule is not None and validating and size > 1:
        run.keep_best(np.zeros(size, bool), np.zeros(size, bool))
    active = np.ones(size, dtype=bool)
    stopped = np.zeros(size, dtype=bool)
    progress = _Progress(epochs, verbose) if size == 1 else None
    values = {}
    epoch = 0
    for epoch in range(1, epochs + 1):
        losses = run.epoch(epoch, active)
        current = losses.copy()
        errors = run.errors() if validating else None
        for k in np.flatnonzero(active):
            _check_finite(float(losses[k]), epoch, "training loss")
            histories[k]["loss"].append(float(losses[k]))
            if validating:
                current[k] = float(errors[k].mean())
                _check_finite(current[k], epoch, "validation loss")
                histories[k]["val_loss"].append(current[k])
                histories[k]["val_score"].append(r2_scores(errors[k], monitored[k]))
        if progress is not None:
            values = {"loss": float(losses[0])}
            if validating:
                values["val_loss"] = current[0]
            progress.update(epoch, values)
        elif verbose:
            _stack_progress(epoch, epochs, active, current, validating)
        if rule is None:
            continue
        improved, decayed, done = rule.update(current / scales, active)
        if validating:
            run.keep_best(improved, decayed)
        if decayed.any() and learning_rate is not None:
            run.set_rates(rule.rates)
        stopped |= done
        active &= ~done
        if not active.any():
            break
    if progress is not None and epoch < epochs:  # stopped early
        progress.close(epoch, values)
    if rule is not None and validating:
        run.restore_best()
    return [(histories[k], bool(stopped[k])) for k in range(size)]


def _stack_progress(epoch, epochs, active, losses, validating, stream=None):
    """One line of a stack's progress: members training, best and worst loss."""
    stream = sys.stdout if stream is None else stream
    name = "val_loss" if validating else "loss"
    training = losses[active]
    stream.write(
        f"Epoch {epoch}/{epochs} - members training: {int(active.sum())}/"
        f"{len(active)} - {name}: best {training.min():.4g}, worst "
        f"{training.max():.4g}\n"
    )
    stream.flush()
