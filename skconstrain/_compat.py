"""Work-arounds for the libraries we run on, each with the version it is for.

Imports nothing of ours (the engine and the network builder both use it).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager


@contextmanager
def keras_numpy_quiet():
    """Without the DeprecationWarning that Keras's own ``Variable.numpy()``
    raises under NumPy 2 on the JAX backend (its ``__array__`` takes no
    ``copy`` keyword; Keras 3.15), while a model is serialized: the user
    cannot act on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        yield
