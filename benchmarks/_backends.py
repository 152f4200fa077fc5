"""Run a benchmark once per Keras backend, each in a process of its own.

Keras picks its backend once per process (``KERAS_BACKEND``), so a benchmark
that prints both backends beside its peers runs itself again per backend.
Each run times the peers (``MLPRegressor``, ``GridSearchCV``) in its own
process, so every ratio it prints is one of the same run.

Call :func:`per_backend` first thing in a script, before Keras is imported::

    from _backends import per_backend

    per_backend()  # --backend both (the default): rerun per backend, exit

``--backend tensorflow`` or ``--backend jax`` runs in this process.
"""

import importlib.util
import os
import subprocess
import sys

BACKENDS = ("tensorflow", "jax")


def per_backend():
    """Rerun this script once per installed backend, unless ``--backend``
    names one (then set ``KERAS_BACKEND`` to it and return)."""
    argv = sys.argv[1:]
    chosen = "both"
    if "--backend" in argv:
        i = argv.index("--backend")
        chosen = argv[i + 1]
        del argv[i : i + 2]
    if chosen != "both":
        if chosen not in BACKENDS:
            sys.exit(f"--backend must be one of {BACKENDS} or 'both', not {chosen!r}")
        os.environ["KERAS_BACKEND"] = chosen
        sys.argv[1:] = argv
        return
    failed = 0
    for backend in BACKENDS:
        if backend == "jax" and importlib.util.find_spec("jax") is None:
            print("== jax: not installed (pip install 'skconstrain[jax]') ==\n")
            continue
        print(f"== Keras backend: {backend} ==", flush=True)
        done = subprocess.run(
            [sys.executable, sys.argv[0], *argv, "--backend", backend],
            env={**os.environ, "KERAS_BACKEND": backend},
        )
        failed |= done.returncode
        print(flush=True)
    sys.exit(failed)
