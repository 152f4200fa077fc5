"""Fit and predict times of ConstrainedRegressor against MLPRegressor and Keras.

Every contender trains the same network (10 features -> hidden relu -> 4
outputs) on the same data for the same epochs with the same batch size (64) and
optimizer (Adam, learning rate 1e-3), without early stopping; the runs are
interleaved, so that a slow spell of this shared machine hits all of them.

- ``MLPRegressor``: scikit-learn's (unconstrained: it has no output head).
- ``Model.fit``: Keras's own loop on the network with the simplex projection
  head (``OutputProjection``), ``jit_compile=False`` on TensorFlow (its
  default), ``True`` on JAX (its default).
- ``ours``: ``ConstrainedRegressor(output_constraint="simplex",
  feature_encoding=None)``, the same network and head, trained by
  ``skconstrain._training``. ``feature_encoding=None`` keeps it the plain
  MLP at every size: the default ("auto") puts a piecewise-linear encoding
  of each feature in front from 4 000 rows (33 columns per feature), a
  wider network than ``MLPRegressor``'s, whose cost
  ``bench_quality.py`` measures.

Sections (``--only`` picks some): ``fit``, fit time for 500 / 5 000 / 50 000
rows and hidden (32,) and (100,); ``validation``, a fit that scores 10% of its
rows held out after every epoch (``early_stopping=True``, with a patience
longer than the fit, so both contenders run every epoch); ``overhead``,
the fixed per-fit overhead (1 epoch on 100 rows; ours reuses the compiled epoch
of an earlier fit of the same architecture, as in a grid search, and the first
fit of an architecture in a process is timed too); ``grid``, a
``GridSearchCV`` over 4 alphas x cv=3 on 2 000 rows against the same search
over ``MLPRegressor``; ``predict``, predict latency for 1 row. ``--xla`` adds
our epoch compiled with XLA from the start on TensorFlow: warm (an engine
per architecture, reused), and its first fit at each size (the compile
included).

Run: ``python benchmarks/bench_fit.py [--repeat 3] [--quick] [--xla]
[--only fit validation overhead grid predict] [--backend tensorflow|jax|both]``
(about 8 minutes per backend on 2 cores with the defaults; each backend in its
own process, beside the same peers).
"""

import argparse
import logging
import os
import random
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# one process per Keras backend (--backend both, the default), before Keras
from _backends import per_backend

per_backend()

# TensorFlow first, without its native start-up lines (skconstrain._quiet_start)
import skconstrain._quiet_start  # noqa: F401

# isort: split

import keras
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor

from skconstrain import ConstrainedRegressor, _training
from skconstrain.keras import OutputProjection

D, K, BATCH, EPOCHS, LR = 10, 4, 64, 30, 1e-3


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D)).astype("float32")
    logits = np.tanh(X[:, :K]) + 0.5 * X[:, K : 2 * K]
    Y = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return X, Y.astype("float32")


def mlp(hidden, epochs=EPOCHS, alpha=1e-4, early_stopping=False):
    return MLPRegressor(
        hidden_layer_sizes=hidden,
        batch_size=BATCH,
        learning_rate_init=LR,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        alpha=alpha,
        early_stopping=early_stopping,
        random_state=0,
    )


def ours(hidden, epochs=EPOCHS, alpha=1e-4, early_stopping=False):
    return ConstrainedRegressor(
        hidden_layer_sizes=hidden,
        output_constraint="simplex",
        feature_encoding=None,
        batch_size=BATCH,
        learning_rate=LR,
        epochs=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        alpha=alpha,
        early_stopping=early_stopping,
        random_state=0,
    )


def keras_network(hidden):
    layers = [keras.Input((D,))]
    layers += [keras.layers.Dense(h, activation="relu") for h in hidden]
    layers += [keras.layers.Dense(K), OutputProjection("simplex")]
    return keras.Sequential(layers)


def seeded_network(hidden):
    """The network, its weights seeded as ours are (through Python's random).

    ``keras.utils.set_random_seed`` would also call ``tf.random.set_seed``,
    which clears TensorFlow's caches of instantiated functions: every
    contender run after it would pay for its graph's optimisation again.
    """
    random.seed(0)
    return keras_network(hidden)


def keras_fit(X, Y, hidden, epochs=EPOCHS):
    model = seeded_network(hidden)
    # Keras's own default per backend: no XLA on TensorFlow, jit on JAX (where
    # jit_compile=False runs every op eagerly, about 1 000x slower)
    jit = keras.backend.backend() == "jax"
    model.compile(keras.optimizers.Adam(LR), "mse", jit_compile=jit)
    model.fit(X, Y, epochs=epochs, batch_size=BATCH, verbose=0)
    return model


_XLA_ENGINES = {}


def xla_fit(X, Y, hidden, epochs=EPOCHS):
    """Our engine with the epoch compiled by XLA from the start (what the
    estimator does only from ``_engine.XLA_STEPS`` steps): one engine per
    architecture, reused
    as the estimator reuses its own, its weights put back to the same start
    before each fit; XLA compiles one program per shape, so the first fit
    at each size compiles (``fit_table`` times it apart)."""
    if hidden not in _XLA_ENGINES:
        engine = _training.Engine(
            seeded_network(hidden),
            keras.optimizers.Adam(LR),
            batch_size=BATCH,
            jit_compile=True,
        )
        _XLA_ENGINES[hidden] = (engine, engine.weights())
    engine, start = _XLA_ENGINES[hidden]
    engine.set_weights(start)
    _training.train(engine, _training.as_tensors(X, Y), epochs=epochs)


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(contenders, repeat):
    """Median seconds of each contender, run in turn ``repeat`` times."""
    times = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            times[name].append(seconds(fn))
    return {name: float(np.median(t)) for name, t in times.items()}


def fit_table(args):
    sizes = (500, 2000, 5000) if args.quick else (500, 2000, 5000, 50000)
    print(f"fit: {EPOCHS} epochs, batch {BATCH}, Adam {LR}; median of the runs")
    head = f"{'hidden':>7} {'rows':>6} {'MLPRegr. s':>10} {'Model.fit s':>11}"
    head += f" {'ours s':>7} {'ours/MLP':>9} {'fit/ours':>9}"
    args.xla = args.xla and keras.backend.backend() == "tensorflow"
    if args.xla:
        head += f" {'XLA s':>7} {'XLA first s':>11}"
    print(head)
    for hidden in ((32,), (100,)):
        for n in sizes:
            X, Y = data(n)
            contenders = {
                "mlp": lambda X=X, Y=Y, h=hidden: mlp(h).fit(X, Y),
                "keras": lambda X=X, Y=Y, h=hidden: keras_fit(X, Y, h),
                "ours": lambda X=X, Y=Y, h=hidden: ours(h).fit(X, Y),
            }
            if args.xla:
                contenders["xla"] = lambda X=X, Y=Y, h=hidden: xla_fit(X, Y, h)
                first_xla = seconds(contenders["xla"])  # its compile included
            repeat = 1 if n >= 50000 else args.repeat
            t = interleaved(contenders, repeat)
            line = (
                f"{hidden[0]:>7} {n:>6} {t['mlp']:10.2f} {t['keras']:11.2f} "
                f"{t['ours']:7.2f} {t['ours'] / t['mlp']:8.2f}x "
                f"{t['keras'] / t['ours']:8.1f}x"
            )
            if args.xla:
                line += f" {t['xla']:7.2f} {first_xla:11.2f}"
            print(line, flush=True)


def validation_table(args):
    epochs = 100
    print(
        f"\nvalidation: 10% of the rows held out and scored after each of "
        f"{epochs} epochs (early_stopping=True, never stopping), batch {BATCH}, "
        "hidden (32,); median of the runs"
    )
    print(f"{'rows':>6} {'MLPRegr. s':>10} {'ours s':>7} {'ours/MLP':>9}")
    for n in (300, 2000):
        X, Y = data(n)
        t = interleaved(
            {
                "mlp": lambda X=X, Y=Y: mlp((32,), epochs, early_stopping=True).fit(
                    X, Y
                ),
                "ours": lambda X=X, Y=Y: ours((32,), epochs, early_stopping=True).fit(
                    X, Y
                ),
            },
            args.repeat,
        )
        print(
            f"{n:>6} {t['mlp']:10.2f} {t['ours']:7.2f} {t['ours'] / t['mlp']:8.2f}x",
            flush=True,
        )


def overhead_table(args):
    X, Y = data(100)
    _training.clear_cache()
    first = seconds(lambda: ours((24,), epochs=1).fit(X, Y))  # a new architecture
    t = interleaved(
        {
            "mlp": lambda: mlp((32,), epochs=1).fit(X, Y),
            "keras": lambda: keras_fit(X, Y, (32,), epochs=1),
            "ours": lambda: ours((32,), epochs=1).fit(X, Y),
        },
        args.repeat * 2,
    )
    print("\nfixed overhead: 1 epoch on 100 rows, hidden (32,)")
    print(
        f"  MLPRegressor {t['mlp']:.3f} s   Model.fit {t['keras']:.3f} s   "
        f"ours {t['ours']:.3f} s (target <= 0.3 s); first fit of an "
        f"architecture {first:.3f} s"
    )


def grid_table(args):
    X, Y = data(2000, seed=1)
    alphas = [1e-4, 1e-3, 1e-2, 1e-1]

    def search(estimator, key):
        GridSearchCV(estimator, {key: alphas}, cv=3).fit(X, Y)

    t = interleaved(
        {
            "mlp": lambda: search(mlp((32,)), "alpha"),
            "ours": lambda: search(ours((32,)), "alpha"),
        },
        args.repeat,
    )
    print("\nGridSearchCV: 4 alphas x cv=3 (12 fits + refit), 2 000 rows, hidden (32,)")
    print(
        f"  MLPRegressor {t['mlp']:.2f} s   ours {t['ours']:.2f} s   "
        f"ours/MLP {t['ours'] / t['mlp']:.2f}x"
    )


def predict_table(args):
    X, Y = data(2000)
    fitted = {"mlp": mlp((32,), epochs=2).fit(X, Y), "ours": ours((32,), 2).fit(X, Y)}
    row = X[:1]
    best = {}
    for name, est in fitted.items():
        est.predict(row)
        times = [seconds(lambda est=est: est.predict(row)) for _ in range(300)]
        best[name] = float(np.median(times))
    print("\npredict, 1 row (median of 300 calls)")
    print(
        f"  MLPRegressor {best['mlp'] * 1e3:.3f} ms   ours {best['ours'] * 1e3:.3f} ms"
        f"   ours/MLP {best['ours'] / best['mlp']:.1f}x (target <= 6x)"
    )
    # many rows: our forward pass runs in float64 (rows independent of their
    # batch), as MLPRegressor's NumPy one does
    big, _ = data(100_000, seed=1)
    for hidden in ((32,), (100,)):
        fitted = {"mlp": mlp(hidden, epochs=1), "ours": ours(hidden, 1)}
        for est in fitted.values():
            est.fit(X, Y).predict(big)
        t = interleaved(
            {name: (lambda est=est: est.predict(big)) for name, est in fitted.items()},
            max(args.repeat, 5),
        )
        print(
            f"predict, 100 000 rows, hidden {hidden}: MLPRegressor "
            f"{t['mlp'] * 1e3:.1f} ms   ours {t['ours'] * 1e3:.1f} ms   "
            f"ours/MLP {t['ours'] / t['mlp']:.2f}x"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="no 50 000-row runs")
    parser.add_argument("--xla", action="store_true", help="also time XLA epochs")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    # Keras's Model.fit (the peer) warns of retracing after a few fits
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    X, Y = data(200)
    ours((32,), epochs=2).fit(X, Y)  # load TensorFlow's kernels once for all
    keras_fit(X, Y, (32,), epochs=1)
    for name in args.only or SECTIONS:
        SECTIONS[name](args)


SECTIONS = {
    "fit": fit_table,
    "validation": validation_table,
    "overhead": overhead_table,
    "grid": grid_table,
    "predict": predict_table,
}


if __name__ == "__main__":
    main()
