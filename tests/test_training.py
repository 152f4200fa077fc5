"""The training engine: the epoch's arithmetic, the stopping rule, prediction."""

import contextlib
import logging
import os
import warnings

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skconstrain import _training

TENSORFLOW_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="TensorFlow's own settings (threads, GPU memory)",
)


class _CurveEngine:
    """A stand-in engine whose epochs return a given loss curve."""

    def __init__(self, curve, val_curve=None):
        self.curve = list(curve)
        self.val_curve = None if val_curve is None else list(val_curve)
        self.epoch = 0
        self.model = _Weights()
        self.rates = []
        self.batch_size = 1

    def run_epoch(self, data, seed, validation=None, **weights):
        self.epoch += 1
        self.model.value = self.epoch
        loss = self.curve[self.epoch - 1]
        if validation is None:
            return loss
        return loss, self.val_curve[self.epoch - 1]  # scored after the epoch

    def weights(self):
        return self.model.get_weights()

    def set_weights(self, weights):
        self.model.set_weights(weights)

    def set_learning_rate(self, value):
        self.rates.append(float(value))


class _Weights:
    value = 0

    def get_weights(self):
        return [self.value]

    def set_weights(self, weights):
        self.value = weights[0]


@contextlib.contextmanager
def jax_compiles():
    """The names of the programs JAX compiles inside (JAX's public compile
    log, ``jax.log_compiles``), as a list filled on exit."""
    import jax

    compiled = []

    class Compiles(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if message.startswith("Compiling"):
                compiled.append(message.split(" with ")[0])

    handler, logger = Compiles(), logging.getLogger("jax")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            yield compiled
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _data(scale):
    X = np.zeros((4, 1))
    y = np.array([0.0, 1.0, 2.0, 3.0]) * np.sqrt(scale)
    return _training.as_tensors(X, y)


CURVE = [1.0, 0.5, 0.3, 0.29995, 0.2999, 0.29985, 0.2998, 0.2, 0.19, 0.18]
# improves by more than 1e-3 until epoch 3, then by less
FLAT = [1.0, 0.5, 0.3] + [0.3 - 5e-5 * k for k in range(1, 12)]


@pytest.mark.parametrize("factor", [1e-6, 1.0, 1e6])
def test_stopping_is_relative_to_the_targets_variance(factor):
    data = _data(factor)  # variance 1.25 * factor
    curve = [v * 1.25 * factor for v in FLAT]
    engine = _CurveEngine(curve)
    history, stopped = _training.train(
        engine, data, epochs=14, tol=1e-3, n_iter_no_change=3, seed=0, warmup=0
    )
    # epoch 3 is the last to improve by more than 1e-3 (relative); then
    # three plateaus of 3 epochs: two decays of the learning rate, a stop
    assert stopped and len(history["loss"]) == 3 + 3 * (_training.DECAYS + 1)
    np.testing.assert_allclose(history["loss"], curve[:12])


def test_a_plateau_decays_the_learning_rate_before_stopping():
    engine = _CurveEngine(CURVE)
    history, stopped = _training.train(
        engine,
        _data(1.0),
        epochs=10,
        tol=1e-3,
        n_iter_no_change=3,
        learning_rate=0.01,
        warmup=0,
    )
    # epochs 4-6 wait: the rate is divided by 5; epoch 8 improves again and
    # the training goes on to the last epoch
    assert engine.rates == pytest.approx([0.01, 0.01 * _training.DECAY])
    assert len(history["loss"]) == 10 and not stopped


def test_validation_stopping_restores_the_best_epoch():
    val = [1.0, 0.6, 0.5, 0.7, 0.8, 0.9, 0.95, 0.6, 0.7, 0.4]
    engine = _CurveEngine(CURVE, [np.array([v]) for v in val])
    history, stopped = _training.train(
        engine,
        _data(1.0),
        epochs=10,
        validation=_data(1.0),
        tol=0.0,
        n_iter_no_change=2,
        seed=0,
        learning_rate=1.0,
        warmup=0,
    )
    # nothing improves on 0.5 (epoch 3) in three plateaus of 2 epochs
    assert history["val_loss"] == val[:9]
    assert stopped and engine.model.value == 3  # the weights of the best epoch
    assert engine.rates == pytest.approx([1.0, 0.2, 0.04])
    # R^2 of the held-out rows (variance 1.25): 1 - loss / 1.25
    np.testing.assert_allclose(history["val_score"], [1 - v / 1.25 for v in val[:9]])


def test_a_decay_starts_again_from_the_best_validation_weights():
    val = [1.0, 0.5, 0.7, 0.8, 0.9]
    engine = _CurveEngine(CURVE, [np.array([v]) for v in val])

    restored = []
    set_weights = engine.set_weights
    engine.set_weights = lambda w: (restored.append(w[0]), set_weights(w))
    _training.train(
        engine,
        _data(1.0),
        epochs=5,
        validation=_data(1.0),
        tol=0.0,
        n_iter_no_change=2,
        warmup=0,
    )
    assert restored[0] == 2  # at the decay after epoch 4: epoch 2's weights


def test_the_first_updates_are_never_a_plateau():
    # 4 rows in batches of 1: 4 updates an epoch; WARMUP_UPDATES of them
    # (at most half the epochs) pass before a plateau counts
    epochs = 4 * _training.WARMUP_UPDATES
    warm = _training.warmup_epochs(4, 1, epochs)
    assert warm == _training.WARMUP_UPDATES // 4
    engine = _CurveEngine([1.0] * epochs)
    history, stopped = _training.train(
        engine, _data(1.0), epochs=epochs, n_iter_no_change=2, batch_size=1
    )
    assert stopped and len(history["loss"]) == warm + 2 * (_training.DECAYS + 1)
    # never more than half the epochs
    assert _training.warmup_epochs(4, 1, 10) == 5


def test_an_ensembles_loss_is_its_members_mean():
    engine = _CurveEngine([3.0, 1.5])
    history, _ = _training.train(engine, _data(1.0), epochs=2, members=3)
    assert history["loss"] == [1.0, 0.5]


def test_no_early_stopping_runs_every_epoch():
    engine = _CurveEngine([1.0] * 5)
    history, stopped = _training.train(
        engine, _data(1.0), epochs=5, n_iter_no_change=None
    )
    assert len(history["loss"]) == 5 and not stopped


def test_epochs_running_out_is_not_a_stop():
    engine = _CurveEngine([1.0, 0.5, 0.25, 0.125])  # improves every epoch
    history, stopped = _training.train(
        engine, _data(1.0), epochs=4, tol=1e-3, n_iter_no_change=2, warmup=0
    )
    assert len(history["loss"]) == 4 and not stopped
    # stopping on the last epoch is a stop
    engine = _CurveEngine([1.0] * 7)
    history, stopped = _training.train(
        engine, _data(1.0), epochs=7, tol=1e-3, n_iter_no_change=2, warmup=0
    )
    assert len(history["loss"]) == 7 and stopped


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_loss_is_an_error_naming_the_cure(bad):
    engine = _CurveEngine([1.0, bad, 0.5])
    with pytest.raises(_training.NonFiniteLossError, match=r"epoch 2.*StandardScaler"):
        _training.train(engine, _data(1.0), epochs=3)


def test_target_scale_is_weighted_as_the_loss():
    y = np.array([[0.0], [2.0], [10.0]])
    w = np.array([1.0, 1.0, 0.0])
    data = _training.as_tensors(np.zeros((3, 1)), y, w)
    # weighted mean 1; squared deviations 1, 1 (and 81 with weight 0); / 3 rows
    assert data.target_scale == pytest.approx(2 / 3)
    np.testing.assert_allclose(data.target_mean, [1.0])
    np.testing.assert_allclose(data.target_std, [1.0])  # sqrt((1 + 1) / 2)
    two = _training.as_tensors(np.zeros((3, 1)), np.c_[y, 3 * y], w)
    np.testing.assert_allclose(two.target_std, [1.0, 3.0])
    assert two.target_scale == pytest.approx((2 / 3) * (1 + 9) / 2)
    np.testing.assert_allclose(two.column_scale, [2 / 3, 6.0])


def test_moments_are_weighted_and_safe_from_overflow():
    X = np.array([[0.0, 5.0], [2.0, 5.0], [10.0, 5.0]])
    w = np.array([1.0, 1.0, 0.0])
    mean, std = _training.moments(X, w)
    np.testing.assert_allclose(mean, [1.0, 5.0])
    assert std.tolist() == [1.0, 0.0]  # a constant column: exactly 0
    mean, std = _training.moments(X * 1e300, w)
    np.testing.assert_allclose(std, [1e300, 0.0])
    mean, std = _training.moments(np.full((4, 1), 0.1))
    assert mean.tolist() == [0.1] and std.tolist() == [0.0]


def test_features_are_scaled_once_in_float64():
    """``x_scaling`` is applied before X becomes float32: a feature of
    1.7e9 (a timestamp in seconds) keeps its seconds."""
    X = 1.7e9 + np.array([[0.0], [1.0], [2.0], [3.0]])
    data = _training.as_tensors(X, np.zeros(4), x_scaling=(-1.7e9 - 1.5, 1.0))
    assert data.X.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(data.X).ravel(), [-1.5, -0.5, 0.5, 1.5])


def test_r2_scores_are_sklearns():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    y = np.c_[rng.normal(size=20), 3 * rng.normal(size=20), np.ones(20)]
    pred = y + rng.normal(size=y.shape) * [0.5, 1.0, 0.0]
    w = rng.uniform(0.5, 2.0, size=20)
    data = _training.as_tensors(np.zeros((20, 1)), y, w)
    errors = (w[:, None] * (y - pred) ** 2).sum(axis=0) / 20
    expected = r2_score(y, pred, sample_weight=w)  # the constant column: 1
    assert _training.r2_scores(errors, data) == pytest.approx(expected)
    pred[:, 2] += 0.1  # a constant column missed: 0, as scikit-learn says
    errors = (w[:, None] * (y - pred) ** 2).sum(axis=0) / 20
    expected = r2_score(y, pred, sample_weight=w)
    assert _training.r2_scores(errors, data) == pytest.approx(expected)


def _linear(d=3, k=2):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((d,)), keras.layers.Dense(k)])


def test_epoch_is_minibatch_sgd_on_the_weighted_objective():
    """One epoch without shuffling equals the same steps written out in NumPy."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 3)).astype("float32")
    Y = rng.normal(size=(10, 2)).astype("float32")
    w = rng.uniform(0.5, 2.0, size=10).astype("float32")
    model = _linear()
    W, b = (v.astype(np.float64) for v in model.get_weights())
    lr, bs = 0.1, 4
    engine = _training.Engine(model, keras.optimizers.SGD(lr), batch_size=bs)
    loss = engine.run_epoch(_training.as_tensors(X, Y, w), seed=0, shuffle=False)
    engine.store(model)  # the trained weights into a model
    total = 0.0
    for start in range(0, 10, bs):
        xb, yb, wb = X[start : start + bs], Y[start : start + bs], w[start : start + bs]
        r = xb @ W + b - yb
        batch_loss = (wb * (r**2).mean(axis=1)).sum() / len(xb)
        total += batch_loss * len(xb)
        g = 2 * (wb[:, None] * r) / (2 * len(xb))  # d loss / d pred
        W, b = W - lr * xb.T @ g, b - lr * g.sum(axis=0)
    np.testing.assert_allclose(model.get_weights()[0], W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-6)
    assert loss == pytest.approx(total / 10, rel=1e-5)


def test_an_epoch_runs_only_the_steps_that_have_rows():
    """The steps padded to a bucket (and a stack's steps past its members'
    rows) come after the steps with rows, and the loop stops before them:
    their count is the largest member's ceil(n / batch)."""
    from skconstrain._training._engine import _steps_with_rows, batches

    def count(valid):
        return int(keras.ops.convert_to_numpy(_steps_with_rows(valid)))

    for n, batch, steps in ((100, 8, 16), (64, 64, 2), (1, 8, 3), (0, 8, 2)):
        _, valid = batches(0, n, batch, batch, steps)
        assert count(valid) == -(-n // batch)
    # a stack: members of 100 and 90 rows in batches of 8 and 16, 16 steps
    stacked = np.stack([batches(0, 100, 8, 16, 16)[1], batches(1, 90, 16, 16, 16)[1]])
    assert count(stacked) == 13


def test_the_engines_adam_is_keras_adam_on_the_keras_optimizers_own_slots():
    """The engine's pure Adam takes the steps Keras's own Adam takes on the
    same gradients, and leaves its moments in the Keras optimizer's own
    variables (private: ``_trainable_variables``, ``_momentums`` and
    ``_velocities`` give their order), so a warm start, ``partial_fit`` or a
    pickle continues Adam's state."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 3)).astype("float32")
    Y = rng.normal(size=(8, 2)).astype("float32")
    ours, theirs = _linear(), _linear()
    for model in (ours, theirs):
        model.compile(optimizer=keras.optimizers.Adam(0.05))
        model.optimizer.build(model.trainable_variables)
    engine = _training.Engine(ours, keras.optimizers.Adam(0.05), batch_size=8)
    engine.load(ours)
    data = _training.as_tensors(X, Y)
    for seed in range(3):  # one full batch an epoch
        engine.run_epoch(data, seed, shuffle=False)
        W, b = (v.astype(np.float64) for v in theirs.get_weights())
        g = 2 * (X @ W + b - Y) / Y.size  # d mean squared error / d pred
        grads = [X.T @ g, g.sum(axis=0)]
        theirs.optimizer.apply(
            [keras.ops.convert_to_tensor(v.astype("float32")) for v in grads],
            theirs.trainable_variables,
        )
    engine.store(ours)
    for mine, keras_own in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(mine, keras_own, rtol=1e-5, atol=1e-6)
    for mine, keras_own in zip(
        ours.optimizer.variables, theirs.optimizer.variables, strict=True
    ):  # the same architecture: the same order of slots
        np.testing.assert_allclose(
            np.asarray(mine.value), np.asarray(keras_own.value), rtol=1e-4, atol=1e-7
        )
    assert int(ours.optimizer.iterations) == 3


def test_epoch_adds_model_losses_once():
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2, kernel_regularizer=keras.regularizers.L2(0.5)),
        ]
    )
    X, Y = np.ones((6, 3), "float32"), np.zeros((6, 2), "float32")
    data = _training.as_tensors(X, Y)
    engine = _training.Engine(model, keras.optimizers.SGD(0.0), batch_size=6)
    loss = engine.run_epoch(data, seed=1)
    engine.store(model)
    W, b = model.get_weights()
    expected = ((X @ W + b) ** 2).mean() + 0.5 * (W**2).sum()
    assert loss == pytest.approx(expected, rel=1e-5)
    per_column = ((X @ W + b) ** 2).mean(axis=0)
    np.testing.assert_allclose(engine.evaluate(data), per_column, rtol=1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_validation_rows_are_scored_after_the_epoch_in_its_program(sparse):
    # an early-stopped fit's epoch returns its held-out rows' errors of the
    # weights it ends with (in its own program for dense rows): what
    # evaluate gives, and what those weights give in NumPy
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = rng.normal(size=(40, 2))
    w = rng.uniform(0.5, 2.0, size=40)
    rows = sp.csr_matrix if sparse else np.asarray
    data = _training.as_tensors(rows(X[:30]), Y[:30])
    validation = _training.as_tensors(rows(X[30:]), Y[30:], w[30:])
    engines, models = [], []
    for _ in range(2):
        models.append(_linear())
        engines.append(
            _training.Engine(models[-1], keras.optimizers.SGD(0.1), batch_size=8)
        )
    loss, errors = engines[0].run_epoch(data, 3, validation=validation)
    assert loss == pytest.approx(engines[1].run_epoch(data, 3), rel=1e-6)
    np.testing.assert_allclose(errors, engines[1].evaluate(validation), rtol=1e-5)
    engines[0].store(models[0])
    W, b = models[0].get_weights()
    expected = w[30:] @ (X[30:] @ W + b - Y[30:]) ** 2 / 10
    np.testing.assert_allclose(errors, expected, rtol=1e-4)


def test_shuffling_is_seeded():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)).astype("float32")
    data = _training.as_tensors(X, X[:, :2])
    results = []
    for seed in (3, 3, 4):
        model = _linear()
        engine = _training.Engine(model, keras.optimizers.SGD(0.1), batch_size=8)
        engine.run_epoch(data, seed)
        engine.store(model)
        results.append(model.get_weights()[0])
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])


def test_predictor_rows_do_not_depend_on_their_batch():
    """In float64, a row's output is the same, to float64 rounding, whatever
    the rows around it (float32 products differ in the 7th digit with the
    batch and the CPU's instruction set; no test compares those exactly)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(64, "relu"), keras.layers.Dense(2)]
    )
    X = np.random.default_rng(0).normal(size=(257, 3))
    whole = _training.Predictor(model)(X)
    assert whole.dtype == np.float64 and whole.shape == (257, 2)
    order = np.random.default_rng(1).permutation(257)
    for other in (
        _training.Predictor(model, chunk=7)(X),
        _training.Predictor(model)(X[order])[np.argsort(order)],
        np.concatenate([_training.Predictor(model)(X[i : i + 1]) for i in range(9)]),
    ):
        np.testing.assert_allclose(other, whole[: len(other)], rtol=1e-12, atol=1e-14)
    # the float64 forward pass is the float32 network's, to float32 precision
    direct = keras.ops.convert_to_numpy(model(X.astype("float32")))
    np.testing.assert_allclose(whole, direct, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX compiles per shape")
def test_predicting_at_a_new_number_of_rows_compiles_nothing():
    """Every prediction runs in one fixed shape of rows, so after the first
    call (which builds the float64 copy and compiles its forward pass) no row
    count compiles again (it cost 0.4-0.7 s each in 0.4)."""
    from skconstrain import ConstrainedRegressor

    X = np.random.default_rng(0).normal(size=(300, 5))
    model = ConstrainedRegressor(hidden_layer_sizes=(8,), epochs=3, random_state=0)
    model.fit(X, X[:, :2])
    first = model.predict(X[:5])
    with jax_compiles() as compiled:
        for n in (1, 17, 333, 1025, 2049):
            rows = X[np.arange(n) % 300]
            assert model.predict(rows).shape == (n, 2)
    assert not compiled, compiled
    np.testing.assert_allclose(model.predict(X[:5]), first, rtol=1e-12)


def test_initial_weights_are_drawn_on_the_host_alike_on_every_backend():
    """The default network's Glorot-uniform kernels are drawn with NumPy
    from the seed: the same on TensorFlow and JAX (this test runs on both)
    and on every CPU, and on JAX building a network compiles no program per
    initializer (each cost about 0.15 s of a first fit)."""
    from skconstrain import _networks

    model = _networks.mlp(5, 2, (8,), "relu", seed=7)
    hidden = model.get_layer("hidden_1")
    limit = np.sqrt(6 / (5 + 8))  # Glorot & Bengio's uniform limit
    drawn = np.random.default_rng(7 + 1).uniform(-limit, limit, (5, 8))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(hidden.kernel), drawn.astype("float32")
    )
    assert not keras.ops.convert_to_numpy(hidden.bias).any()
    if keras.backend.backend() != "jax":
        return
    with jax_compiles() as compiled:
        _networks.mlp(11, 3, (13, 17), "relu", seed=3)  # shapes new here
        _networks.monotone_mlp(4, 2, (6,), "relu", [1, 0, -1, 0], seed=3)
    random = [name for name in compiled if "uniform" in name or "random" in name]
    assert not random, random


@pytest.mark.parametrize(
    "params",
    [
        dict(output_constraint="simplex"),
        dict(early_stopping=True, feature_encoding="piecewise_linear"),
    ],
    ids=["simplex", "encoded_es"],
)
def test_a_new_architecture_compiles_only_the_engines_programs(params):
    """On JAX a fit of a new architecture, then its predictions, compile the
    epoch (with early stopping, the epoch then the validation scores, in one
    program) and the forward pass, and nothing else: no
    program per weight's shape for its initial values, the optimizer's
    slots, padding or copying rows to the device (33 programs, about 0.8 s
    of a first fit, before; 4 after). (TensorFlow compiles no such
    programs: it runs eager ops without compiling.)"""
    from skconstrain import ConstrainedRegressor
    from skconstrain.datasets import make_constrained_regression

    if keras.backend.backend() != "jax":
        pytest.skip("JAX's compile log")
    # shapes no other test uses: nothing of this fit is compiled yet
    X, Y = make_constrained_regression(237, 7, 3, set="simplex", random_state=0)
    model = ConstrainedRegressor(
        hidden_layer_sizes=(19, 11), epochs=2, random_state=0, **params
    )
    with jax_compiles() as compiled, warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y)
        model.predict(X[:5])
    ours = {"jit(epoch)", "jit(epoch_then_score)", "jit(forward)"}
    # a scalar's conversion happens once per process (Adam's counters)
    others = [
        name
        for name in compiled
        if name.removeprefix("Compiling ") not in ours
        and "convert_element_type" not in name
    ]
    assert not others, others
    assert len(compiled) <= 5, compiled


def test_widened_copies_the_architecture_in_float64():
    model = _linear()
    twin = _training.widened(model)
    assert twin.inputs[0].dtype == "float64"
    assert [v.dtype for v in twin.weights] == ["float64", "float64"]
    assert [v.shape for v in twin.weights] == [v.shape for v in model.weights]


def test_predictor_falls_back_to_the_models_dtype():
    # Keras's safe mode does not rebuild a Lambda layer from its config
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2), keras.layers.Lambda(lambda x: 2 * x)]
    )
    assert _training.widened(model) is None
    X = np.random.default_rng(0).normal(size=(4, 3))
    pred = _training.Predictor(model)(X)
    direct = keras.ops.convert_to_numpy(model(X.astype("float32")))
    # float32 on both sides, in batches of other shapes (the predictor's is
    # fixed): equal to float32 rounding of outputs of size 1, not bit for bit
    np.testing.assert_allclose(pred, direct, rtol=1e-6, atol=1e-6)


def test_loss_weight_rescales_the_gradient_not_the_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3)).astype("float32")
    data = _training.as_tensors(X, X[:, :2])
    results = []
    for weight in (1.0, 4.0):
        model = _linear()
        engine = _training.Engine(model, keras.optimizers.SGD(0.05), batch_size=12)
        loss = engine.run_epoch(data, 0, loss_weight=weight, shuffle=False)
        engine.store(model)
        results.append((loss, model.get_weights()[0] - _linear().get_weights()[0]))
    assert results[0][0] == pytest.approx(results[1][0])  # the loss as reported
    # float32: the weight changes are differences of numbers near 0.5
    np.testing.assert_allclose(results[1][1], 4.0 * results[0][1], atol=1e-6)


def test_engine_load_store_round_trip():
    """A fit borrows an engine: variables (and the optimizer's) go in and out."""
    own, other = _linear(), _linear()
    for model in (own, other):
        model.compile(optimizer=keras.optimizers.Adam(0.1))
        model.optimizer.build(model.trainable_variables)
    engine = _training.Engine(other, keras.optimizers.Adam(0.1), batch_size=4)
    own.set_weights([w + 1.0 for w in own.get_weights()])
    engine.load(own)
    np.testing.assert_array_equal(other.get_weights()[0], own.get_weights()[0])
    X = np.ones((8, 3), "float32")
    start = own.get_weights()[0]
    engine.run_epoch(_training.as_tensors(X, np.zeros((8, 2))), 0)
    engine.store(own)
    # trained from own's weights (loaded), back into own with Adam's state
    assert not np.array_equal(own.get_weights()[0], start)
    assert int(own.optimizer.iterations) == 2  # two steps of 4 rows


def test_borrow_reuses_idle_engines_and_never_shares_a_busy_one():
    made = []

    def make():
        made.append(object())
        return made[-1]

    _training.clear_cache()
    with (
        _training.borrow("k", make) as first,
        _training.borrow("k", make) as second,  # first is busy
    ):
        assert second is not first
    with _training.borrow("k", make) as third:
        assert third in (first, second)
    with _training.borrow(None, make) as fourth:
        assert fourth is made[-1]
    assert len(made) == 3
    _training.clear_cache()


def test_predictor_shared_and_own_traces_agree():
    model = _linear()
    X = np.random.default_rng(0).normal(size=(5, 3))
    # TensorFlow: the first call uses the shared stateless trace, later ones
    # the model's own; JAX compiles only the shared one
    tensorflow = keras.backend.backend() == "tensorflow"
    calls = {"shared_calls": 1} if tensorflow else {}
    shared = _training.Predictor(model, key=("test", 1), **calls)
    first = shared(X)
    second = shared(X)
    np.testing.assert_allclose(first, second, rtol=1e-12)
    model.set_weights([w * 2 for w in model.get_weights()])
    again = _training.Predictor(model, key=("test", 1))  # shared: reads new weights
    np.testing.assert_allclose(again(X), 2 * first, rtol=1e-12)


# ------------------------------------------------------------------- runtime
_REPORT_THREADS = """
import numpy as np, tensorflow as tf
from skconstrain import ConstrainedRegressor
ConstrainedRegressor(hidden_layer_sizes=(2,), epochs=1).fit(
    np.random.rand(20, 3), np.random.rand(20)
)
print(tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
"""


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"OMP_NUM_THREADS": "1"}, "1 1"),  # a joblib or dask worker's budget
        ({"MKL_NUM_THREADS": "3"}, "3 1"),
        ({}, "0 0"),  # no budget: TensorFlow's defaults
        # the user's own TensorFlow settings win
        ({"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "2"}, "0 1"),
    ],
)
@TENSORFLOW_ONLY
@pytest.mark.slow
def test_tensorflow_threads_follow_the_process_budget(env, expected):
    import os
    import subprocess
    import sys

    base = {
        k: v
        for k, v in os.environ.items()
        if k not in _training.THREAD_BUDGET_VARS and not k.startswith("TF_NUM_")
    }
    out = subprocess.run(
        [sys.executable, "-c", _REPORT_THREADS],
        env={**base, **env, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[-2:] == expected.split()


def test_thread_budget_reads_the_first_positive_integer():
    assert _training.thread_budget({"OMP_NUM_THREADS": "2"}) == 2
    assert (
        _training.thread_budget({"OMP_NUM_THREADS": "x", "MKL_NUM_THREADS": "4"}) == 4
    )
    assert _training.thread_budget({"OMP_NUM_THREADS": "0"}) is None
    assert _training.thread_budget({}) is None


@TENSORFLOW_ONLY
def test_gpu_memory_growth_is_turned_on_for_unconfigured_gpus(monkeypatch):
    import tensorflow as tf

    grown = []
    monkeypatch.setattr(
        tf.config, "list_physical_devices", lambda kind: ["gpu:0", "gpu:1"]
    )
    monkeypatch.setattr(
        tf.config,
        "get_logical_device_configuration",
        lambda gpu: None if gpu == "gpu:0" else ["a memory limit"],
    )
    monkeypatch.setattr(
        tf.config.experimental,
        "set_memory_growth",
        lambda gpu, on: grown.append((gpu, on)),
    )
    from skconstrain._training import _tensorflow

    _tensorflow._grow_gpu_memory()
    assert grown == [("gpu:0", True)]  # gpu:1 was configured by the user


def test_float64_is_float64_inside_the_estimators_precision():
    """Under JAX, Keras's type promotion maps float64 to float32 whatever
    JAX's x64 flag (keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE);
    inside ``precision()`` float64 stays float64 through Keras's ops, and
    Keras's own behaviour is back after it. On TensorFlow: float64 always."""
    x = np.array([[0.5, 20.0]])
    with _training.precision():
        inside = keras.ops.tanh(keras.ops.convert_to_tensor(x))
        assert keras.backend.standardize_dtype(inside.dtype) == "float64"
        np.testing.assert_allclose(np.asarray(inside), np.tanh(x), rtol=1e-15)
    if keras.backend.backend() == "jax":
        from keras.src.backend.common import dtypes

        assert dtypes.BIT64_TO_BIT32_DTYPE["float64"] == "float32"  # restored
        assert keras.backend.result_type("float64") == "float32"


def test_another_thread_keeps_keras_promotion_while_an_estimator_runs():
    """No process-wide change of Keras's state: while one thread is inside an
    estimator's ``precision()``, Keras's type promotion in another thread is
    Keras's own (float64 to float32 on JAX, float64 on TensorFlow)."""
    import threading

    own = keras.backend.result_type("float64")
    inside, entered, done = [], threading.Event(), threading.Event()

    def estimator():
        with _training.precision():
            inside.append(keras.backend.result_type("float64"))
            entered.set()
            done.wait(10)

    thread = threading.Thread(target=estimator)
    thread.start()
    try:
        assert entered.wait(10)
        assert keras.backend.result_type("float64") == own
        x = keras.ops.convert_to_tensor(np.array([0.5, 2.0]))
        assert keras.backend.standardize_dtype(keras.ops.tanh(x).dtype) == own
    finally:
        done.set()
        thread.join()
    assert inside == ["float64"]


def test_the_decays_reach_the_optimizer():
    from skconstrain import ConstrainedRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    est = ConstrainedRegressor(
        hidden_layer_sizes=(4,),
        epochs=20,
        n_iter_no_change=1,
        tol=10.0,  # nothing improves that much: warm-up, three plateaus, stop
        learning_rate=0.01,
        random_state=0,
    ).fit(X, X[:, 0])
    assert est.n_iter_ == 10 + 3  # the warm-up is half the epochs here
    rate = float(np.asarray(est.model_.optimizer.learning_rate))
    assert rate == pytest.approx(0.01 * _training.DECAY**_training.DECAYS, rel=1e-6)
    # the next fit starts again from learning_rate
    est.set_params(epochs=1).fit(X, X[:, 0])
    rate = float(np.asarray(est.model_.optimizer.learning_rate))
    assert rate == pytest.approx(0.01, rel=1e-6)


def test_the_cache_keeps_the_most_recent_values_and_pools():
    cache = _training._Lru(3)
    assert cache.put("a", 1) == 1 and cache.put("a", 2) == 1  # kept, shared
    cache.give("e", "engine 1")
    cache.give("e", "engine 2")  # a pool of two: three values in all
    assert cache.take("e") == "engine 2"  # taken out while in use
    cache.give("e", "engine 2")
    cache.put("b", 3)  # four values: the least recently used one goes
    assert cache.get("a") is None and cache.get("b") == 3
    assert {cache.take("e"), cache.take("e"), cache.take("e")} == {
        "engine 1",
        "engine 2",
        None,
    }


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's own cache")
@pytest.mark.slow
def test_jax_persistent_compilation_cache_serves_a_new_process(tmp_path):
    """JAX's documented switches (docs/user_guide/training.md) keep a fit's
    compiled programs between processes: a second process reads the epoch
    the first one compiled from the cache instead of compiling it."""
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import logging, sys, warnings
        import jax
        import numpy as np
        hits = []
        class Hits(logging.Handler):
            def emit(self, record):
                if "Persistent compilation cache hit" in record.getMessage():
                    hits.append(record.getMessage())
        logging.getLogger("jax").addHandler(Hits())
        logging.getLogger("jax").setLevel(logging.DEBUG)
        warnings.simplefilter("ignore")
        from skconstrain import ConstrainedRegressor
        X = np.random.default_rng(0).normal(size=(200, 4))
        ConstrainedRegressor(hidden_layer_sizes=(8,), epochs=3).fit(X, X[:, :2])
        print(sum("epoch" in hit for hit in hits))
        """
    )
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    assert any(tmp_path.iterdir())  # the first process wrote its programs
    assert runs[0].stdout.split()[-1] == "0"
    assert int(runs[1].stdout.split()[-1]) >= 1  # the epoch, from the cache


@TENSORFLOW_ONLY
@pytest.mark.slow
def test_tensorflow_persistent_xla_cache_serves_a_new_process(tmp_path):
    """TensorFlow's documented switch (docs/user_guide/training.md,
    ``TF_XLA_FLAGS=--tf_xla_persistent_cache_directory=...``) keeps a fit's
    XLA programs between processes: the first process writes its epoch's
    program, and a second one reads it instead of compiling (and writing)
    it again."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import warnings
        import numpy as np
        warnings.simplefilter("ignore")
        from skconstrain import ConstrainedRegressor
        X = np.random.default_rng(0).normal(size=(200, 4))
        # 13 steps an epoch, all 40 epochs sure to run: XLA from the start
        ConstrainedRegressor(
            hidden_layer_sizes=(8,), epochs=40, batch_size=16, n_iter_no_change=100
        ).fit(X, X[:, :2])
        """
    )
    env = {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "TF_XLA_FLAGS": f"--tf_xla_persistent_cache_directory={tmp_path}",
    }

    def run():
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr[-2000:]
        return {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    written = run()
    assert written  # the first process wrote its programs
    assert run() == written  # the second read them: nothing compiled anew


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's compiler options")
def test_jax_compiles_a_fit_with_the_code_generator_quicker_to_compile(monkeypatch):
    """On a CPU a fit's epoch and forward pass are compiled with
    ``QUICK_COMPILE`` (XLA's classic code generator), and train and predict
    as the default code generator's programs do, to float32 rounding."""
    import jax

    from skconstrain import ConstrainedRegressor
    from skconstrain._training import _jax

    if jax.default_backend() != "cpu":
        pytest.skip("the options are the CPU's")
    jit = jax.jit
    options = []

    def spy(fn, **kwargs):
        options.append((fn.__name__, kwargs.get("compiler_options")))
        return jit(fn, **kwargs)

    X = np.random.default_rng(0).normal(size=(60, 3))
    net = dict(hidden_layer_sizes=(7, 3), epochs=3, random_state=0)
    _training.clear_cache()
    with monkeypatch.context() as patch:
        patch.setattr(_jax.jax, "jit", spy)
        quick = ConstrainedRegressor(**net).fit(X, X[:, :2]).predict(X)
    assert {"epoch": _jax.QUICK_COMPILE, "forward": _jax.QUICK_COMPILE}.items() <= (
        dict(options).items()
    )
    _training.clear_cache()
    monkeypatch.setattr(_jax, "quick_jit", jax.jit)
    default = ConstrainedRegressor(**net).fit(X, X[:, :2]).predict(X)
    _training.clear_cache()
    np.testing.assert_allclose(quick, default, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's compiler options")
def test_a_jax_without_the_quick_compile_option_compiles_as_before(monkeypatch):
    """Where XLA does not know :data:`_jax.QUICK_COMPILE`'s option (an older
    JAX), a fit compiles its programs with XLA's defaults instead of
    failing, and the process remembers it."""
    import jax

    from skconstrain import ConstrainedRegressor
    from skconstrain._training import _jax

    monkeypatch.setattr(_jax, "QUICK_COMPILE", {"xla_cpu_no_such_option": True})
    monkeypatch.setattr(_jax, "_refused", False)
    X = np.random.default_rng(0).normal(size=(40, 3))
    _training.clear_cache()
    try:
        reg = ConstrainedRegressor(hidden_layer_sizes=(6, 2), epochs=2).fit(X, X[:, 0])
        assert np.isfinite(reg.predict(X)).all()
        assert _jax._refused == (jax.default_backend() == "cpu")
    finally:
        _training.clear_cache()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow chooses XLA"
)
def test_a_network_that_xla_cannot_compile_trains_in_a_graph():
    """A long fit goes on with XLA on TensorFlow; a network with
    an op that XLA has no kernel for (a NumPy function here) trains all the
    same, as a graph, instead of failing."""
    import tensorflow as tf

    class Host(keras.layers.Layer):
        def call(self, x):
            copy = tf.numpy_function(lambda a: a.copy(), [x], tf.float32)
            return x + 0.0 * tf.stop_gradient(tf.reshape(copy, tf.shape(x)))

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), Host()])
    X = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    data = _training.as_tensors(X, X[:, :2])
    engine = _training.Engine(model, keras.optimizers.Adam(0.05), batch_size=8)
    assert _training._engine.compiled_with_xla(None, 10**6)
    before = engine.evaluate(data).mean()
    for epoch in range(5):
        engine.run_epoch(data, epoch, steps_done=10**6)
    assert engine._xla_failed  # it tried XLA, then trained in a graph
    assert engine.evaluate(data).mean() < before


@pytest.mark.parametrize("epochs", [1, 4, 30, 200])
@pytest.mark.parametrize("patience", [0, 1, 2, 5])
@pytest.mark.parametrize("warmup", [0, 1, 3, 7])
def test_least_epochs_is_the_soonest_stop_of_the_plateau_rule(epochs, patience, warmup):
    # a loss that never improves after its first epoch stops soonest; any
    # other (random losses) stops no sooner
    from skconstrain._training._loop import Plateau, least_epochs

    def stop(values):
        rule = Plateau(1, tol=1e-4, patience=patience, learning_rate=1.0, warmup=warmup)
        for epoch, value in enumerate(values[:epochs], start=1):
            if rule.update(np.array([value]))[2][0]:
                return epoch
        return epochs

    least = least_epochs(epochs, patience, warmup)
    assert stop(np.ones(epochs)) == least
    rng = np.random.default_rng(epochs * 100 + patience * 10 + warmup)
    for _ in range(20):
        assert stop(rng.uniform(size=epochs)) >= least
    assert least_epochs(epochs, None, warmup) == epochs


@TENSORFLOW_ONLY
@pytest.mark.parametrize("threshold, xla", [(31, False), (30, True)])
def test_a_fit_sure_to_reach_the_xla_steps_compiles_with_xla_from_the_start(
    monkeypatch, compiled_epochs, threshold, xla
):
    # 40 rows in batches of 8 (5 steps an epoch) for 6 epochs: the stopping
    # rule (warm-up 3 epochs, patience 10) cannot end the fit before its 30
    # steps, so from XLA_STEPS=30 every epoch runs under XLA; at 31 a graph
    # throughout (it would switch after 31 steps). The same model either way.
    from skconstrain import ConstrainedRegressor
    from skconstrain._training import _engine

    monkeypatch.setattr(_engine, "XLA_STEPS", threshold)
    compiled = compiled_epochs
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=40)
    net = dict(hidden_layer_sizes=(4,), epochs=6, batch_size=8, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ConstrainedRegressor(**net).fit(X, y)
        assert compiled == [xla] * 6
        monkeypatch.setattr(_engine, "XLA_STEPS", 10**9)
        graph = ConstrainedRegressor(**net).fit(X, y)
    np.testing.assert_allclose(model.predict(X), graph.predict(X), atol=1e-5)


@TENSORFLOW_ONLY
def test_the_first_xla_compile_takes_the_quick_flag(monkeypatch):
    """TensorFlow's XLA reads its options from ``XLA_FLAGS`` once, at the
    process's first XLA compile: the quick code generator's flag is added
    while it reads them, and the variable is as it was afterwards; nothing is
    added where the user's flags choose the code generator or where this
    TensorFlow's XLA is not known to take the flag (XLA would end the
    process). That the installed XLA takes it is pinned by the XLA fit of
    ``tests/test_quiet_start.py::test_a_user_script_prints_no_line_of_ours``,
    in a fresh process."""
    from skconstrain._training import _tensorflow

    flag = _tensorflow.QUICK_XLA_FLAG
    monkeypatch.setattr(_tensorflow, "QUICK_XLA_RELEASES", (_tensorflow._release(),))
    for before, during in [
        (None, flag),
        ("--xla_dump_to=/x", f"--xla_dump_to=/x {flag}"),
        ("--xla_cpu_use_fusion_emitters=true", "--xla_cpu_use_fusion_emitters=true"),
    ]:
        if before is None:
            monkeypatch.delenv("XLA_FLAGS", raising=False)
        else:
            monkeypatch.setenv("XLA_FLAGS", before)
        with _tensorflow._quick_xla_flags():
            assert os.environ.get("XLA_FLAGS") == during
        assert os.environ.get("XLA_FLAGS") == before
    # flags that do not name the option, on a release not known to take it
    monkeypatch.setattr(_tensorflow, "QUICK_XLA_RELEASES", ())
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/x")
    with _tensorflow._quick_xla_flags():
        assert os.environ.get("XLA_FLAGS") == "--xla_dump_to=/x"


@TENSORFLOW_ONLY
def test_under_xla_fits_of_row_counts_in_one_bucket_share_a_program(
    monkeypatch, compiled_epochs
):
    """Under XLA every shape is a program's own: an epoch's steps are padded
    to a bucket (the steps past the rows skipped), so fits of 100 and 110
    rows in batches of 8 (13 and 14 steps) compile one program, and a fit
    gives the model it gives as a graph."""
    from skconstrain import ConstrainedRegressor
    from skconstrain._training import _engine, _tensorflow

    traced = []
    flat_call = _tensorflow._flat_call
    monkeypatch.setattr(
        _tensorflow, "_flat_call", lambda c: traced.append(c) or flat_call(c)
    )
    monkeypatch.setattr(_engine, "XLA_STEPS", 0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(110, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=110)
    net = dict(hidden_layer_sizes=(5, 3), epochs=3, batch_size=8, random_state=0)
    _training.clear_cache()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = ConstrainedRegressor(**net).fit(X[:100], y[:100])
            ConstrainedRegressor(**net).fit(X, y)
            assert compiled_epochs == [True] * 6
            # an epoch's program returns (state, loss): the state a tuple
            epochs = [
                c
                for c in traced
                if isinstance(c.structured_outputs, tuple)
                and isinstance(c.structured_outputs[0], (tuple, list))
            ]
            assert len(epochs) == 1, traced
            monkeypatch.setattr(_engine, "XLA_STEPS", 10**9)
            graph = ConstrainedRegressor(**net).fit(X[:100], y[:100])
    finally:
        _training.clear_cache()
    np.testing.assert_allclose(model.predict(X), graph.predict(X), atol=1e-5)
