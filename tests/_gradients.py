"""Gradients and compiled functions of Keras ops on whichever backend runs
the tests (TensorFlow: ``tf.GradientTape`` and ``tf.function``; JAX:
``jax.grad`` and ``jax.jit``), so that the tests of ``skconstrain.keras``
run on both. float64 inputs are computed in float64 on JAX too (its x64
mode, scoped: ``skconstrain._training.precision``)."""

from contextlib import nullcontext

import keras
import numpy as np

from skconstrain import _training


def _precision(x):
    """float64 stays float64 (JAX's x64 mode) while ``x`` is computed on."""
    if np.asarray(x).dtype == np.float64:
        return _training.precision()
    return nullcontext()


def value_and_grad(f, x):
    """``(f(x), aux)`` and the gradient of ``f(x)`` at ``x``, as NumPy;
    ``f`` returns a scalar ``loss`` or ``(loss, aux)`` (``aux`` None
    without)."""
    x = np.asarray(x)

    def split(out):
        return out if isinstance(out, tuple) else (out, None)

    with _precision(x):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            xt = tf.Variable(x)
            with tf.GradientTape() as tape:
                loss, aux = split(f(xt))
            grad = tape.gradient(loss, xt)
        else:
            import jax

            (loss, aux), grad = jax.value_and_grad(lambda v: split(f(v)), has_aux=True)(
                keras.ops.convert_to_tensor(x)
            )
        aux = None if aux is None else keras.ops.convert_to_numpy(aux)
        return (
            (keras.ops.convert_to_numpy(loss), aux),
            keras.ops.convert_to_numpy(grad),
        )


def jacobian(f, x):
    """The Jacobian of ``f`` (an array of the shape of ``x`` or another) at
    ``x``, as NumPy."""
    x = np.asarray(x)
    with _precision(x):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            xt = tf.Variable(x)
            with tf.GradientTape() as tape:
                y = f(xt)
            return tape.jacobian(y, xt).numpy()
        import jax

        return np.asarray(jax.jacobian(f)(keras.ops.convert_to_tensor(x)))


def compiled(f, *, xla=False):
    """``f`` compiled as the engine compiles: on TensorFlow a graph
    (``tf.function``), with ``xla`` an XLA program; on JAX always XLA
    (``jax.jit``). Called with NumPy, it returns NumPy."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        fn = tf.function(f, jit_compile=xla)
    else:
        import jax

        fn = jax.jit(f)

    def call(*args):
        with _precision(args[0]):
            tensors = [keras.ops.convert_to_tensor(np.asarray(a)) for a in args]
            return keras.ops.convert_to_numpy(fn(*tensors))

    return call


def compiled_grad(f, *, xla=False):
    """The gradient of the scalar ``f`` in its first argument, computed by
    the engine's own gradient (``_training.backend().gradient``) inside one
    compiled program (as :func:`compiled` compiles), so that the compiler
    sees the forward pass and the gradient together."""
    grad = _training.backend().gradient(lambda x, *rest: (f(x, *rest), ()))
    return compiled(lambda *args: grad(*args)[0], xla=xla)
