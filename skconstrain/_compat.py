"""Work-arounds for the libraries we run on, each with the version it is for.

Imports nothing of ours (the engine and the network builder both use it).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager


@contextmanager
def keras_numpy_quiet():
    """Without the DeprecationWarning that Keras's own ``Variable.numpy()``
    raises under NumPy 2 (its ``__array__`` takes no ``copy`` keyword; Keras
    3.15), while a model is serialized or a layer's weights are copied
    (``get_weights``): the user cannot act on it."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        yield


def host_tensor(values):
    """``values`` (a NumPy array or scalar, in the dtype wanted) as a tensor
    of Keras's backend, with no compiled program: on JAX 0.10,
    ``jnp.asarray`` of a NumPy array (what ``keras.ops.convert_to_tensor``
    and a Keras variable's initialization call) compiles and runs a copy
    program for each new shape and dtype, about 10-25 ms each, where
    ``jax.device_put`` transfers without one; Keras then takes the device
    array as it is. Elsewhere ``keras.ops.convert_to_tensor``."""
    import keras
    import numpy as np

    if keras.backend.backend() == "jax":
        import jax

        return jax.device_put(np.asarray(values))
    return keras.ops.convert_to_tensor(values)


def host_constant(value, shape, dtype):
    """``value`` broadcast to ``shape`` in ``dtype`` (a Keras dtype, None:
    Keras's ``floatx``), made on the host (:func:`host_tensor`): what our
    initializers return."""
    import keras
    import numpy as np

    dtype = keras.backend.standardize_dtype(dtype or keras.config.floatx())
    shape = tuple(int(d) for d in shape)
    return host_tensor(np.broadcast_to(np.asarray(value), shape).astype(dtype))


def build_optimizer(optimizer, variables):
    """``optimizer.build(variables)``, with the zeros of its slots (Adam's
    moments) made on the host on JAX (:func:`host_tensor`): Keras makes each
    with ``keras.ops.zeros``, a compiled program per shape (4 for a
    network of two layers). The optimizer's own ``build`` runs; its
    ``add_optimizer_variables`` (Keras's public method, which Adam's
    ``build`` calls) is given a host initializer for this instance and this
    call only."""
    import keras

    # an older Keras 3 has no add_optimizer_variables: its own build
    add = getattr(optimizer, "add_optimizer_variables", None)
    if keras.backend.backend() != "jax" or optimizer.built or add is None:
        optimizer.build(variables)
        return

    def host_zeros(shape, dtype=None):
        return host_constant(0.0, shape, dtype)

    def add_on_host(trainable_variables, name, initializer="zeros"):
        if isinstance(initializer, str) and initializer == "zeros":
            many = isinstance(name, list | tuple)
            initializer = [host_zeros] * len(name) if many else host_zeros
        return add(trainable_variables, name, initializer=initializer)

    optimizer.add_optimizer_variables = add_on_host
    try:
        optimizer.build(variables)
    finally:
        del optimizer.add_optimizer_variables
