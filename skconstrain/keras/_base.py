"""What every Keras object of ours shares: sklearn-style parameters and a registry.

``ParamsMixin`` gives constraints, regularizers and penalties ``get_params`` /
``set_params`` over their constructor arguments (``get_config``), so that
``sklearn.base.clone`` copies them and nested grid keys such as
``kernel_constraint__max_value`` work once an estimator holds them.

``Registry`` resolves an identifier (None, a snake_case or CamelCase name, a dict,
a class or an instance) to an object of one family.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np

from skconstrain._compat import host_constant, host_tensor


class ParamsMixin:
    """sklearn-style ``get_params``/``set_params`` over ``get_config``."""

    def get_params(self, deep=True):
        """Constructor arguments, as ``get_config`` returns them.

        Parameters
        ----------
        deep : bool, default=True
            Ignored (no nested estimators); there for scikit-learn.

        Returns
        -------
        params : dict
        """
        return dict(self.get_config())

    def set_params(self, **params):
        """Set constructor arguments; returns ``self``.

        Raises ``ValueError`` for a name that is not a constructor argument.
        """
        valid = self.get_config()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}; valid "
                    f"parameters are {sorted(valid)}."
                )
            setattr(self, key, value)
        self._validate()
        return self

    def _validate(self):
        """Check the arguments; subclasses override (called by set_params)."""

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _key(name):
    return name.replace("_", "").lower()


class Registry:
    """Resolve identifiers to objects of one family.

    Parameters
    ----------
    family : str
        Name used in error messages ("constraint", ...).
    classes : dict
        Snake_case name -> class. CamelCase class names are accepted too.
    aliases : dict, default=None
        Extra snake_case name -> class.
    base : class, default=None
        Instances of this class (e.g. Keras's own constraints) are accepted too.
    accept_callable : bool, default=False
        Whether a plain callable (not a class) is returned as it is.
    factories : dict, default=None
        Extra snake_case name -> function that builds an object of the family
        from that name's own arguments (e.g. Keras's ``l1_l2``).
    """

    def __init__(
        self,
        family,
        classes,
        aliases=None,
        base=None,
        accept_callable=False,
        factories=None,
    ):
        self.family = family
        self.base = base
        self.classes = dict(classes)
        self.aliases = dict(aliases or {})
        self.factories = dict(factories or {})
        self.accept_callable = accept_callable
        self._lookup = {}
        for name, cls in {**self.classes, **self.aliases}.items():
            self._lookup[_key(name)] = cls
            self._lookup[_key(cls.__name__)] = cls
        self._builders = {_key(name): make for name, make in self.factories.items()}

    @property
    def names(self):
        """Valid snake_case names, sorted."""
        return sorted({**self.classes, **self.aliases, **self.factories})

    def _class(self, name):
        if isinstance(name, str) and _key(name) in self._builders:
            return self._builders[_key(name)]
        cls = self._lookup.get(_key(name)) if isinstance(name, str) else None
        if cls is None:
            raise ValueError(
                f"Unknown {self.family} {name!r}; valid names are {self.names} "
                "(snake_case or CamelCase)."
            )
        return cls

    def get(self, identifier):
        """Return the object ``identifier`` names (None stays None).

        As Keras's own ``get`` functions do: a string or class is instantiated
        with default arguments; a dict is a Keras serialization
        (``{"class_name": ..., "config": {...}}``, as
        ``keras.saving.serialize_keras_object`` writes it), built from its
        config when the class is one of ours (or has a name of ours, such as
        Keras's "L1L2") and by ``keras.saving.deserialize_keras_object``
        otherwise; an instance of the family is returned as it is.
        """
        if identifier is None:
            return None
        if isinstance(identifier, str):
            return self._instantiate(self._class(identifier), {})
        if isinstance(identifier, dict):
            return self._deserialize(identifier)
        if inspect.isclass(identifier):
            if identifier in self._lookup.values():
                return self._instantiate(identifier, {})
            raise ValueError(
                f"Unknown {self.family} class {identifier.__name__}; valid names "
                f"are {self.names}."
            )
        accepted = tuple(self._lookup.values()) + ((self.base,) if self.base else ())
        if isinstance(identifier, accepted):
            return identifier
        if self.accept_callable and callable(identifier):
            return identifier
        raise ValueError(
            f"Could not interpret {self.family} identifier {identifier!r}; pass "
            f"None, one of {self.names}, a dict, a class or an instance."
        )

    def _deserialize(self, identifier):
        if not isinstance(identifier.get("config"), dict) or not isinstance(
            identifier.get("class_name"), str
        ):
            raise ValueError(
                f"A {self.family} dict must be a Keras serialization, "
                "{'class_name': ..., 'config': {...}} (as "
                f"keras.saving.serialize_keras_object writes it); got {identifier!r}."
            )
        name = identifier["class_name"].split(">")[-1]  # "package>Name" too
        key = _key(name)
        if key in self._builders or key in self._lookup:
            return self._instantiate(self._class(name), dict(identifier["config"]))
        try:
            found = keras.saving.deserialize_keras_object(identifier)
        except (TypeError, ValueError):
            found = None
        if self.base is not None and isinstance(found, self.base):
            return found
        raise ValueError(
            f"Unknown {self.family} {name!r}; valid names are {self.names} "
            "(snake_case or CamelCase), or a Keras object of the family."
        )

    def _instantiate(self, cls, config):
        try:
            return cls(**config)
        except TypeError as exc:
            name = getattr(cls, "__qualname__", repr(cls))
            raise ValueError(f"Could not build {name}: {exc}") from None


def plain_bound(value):
    """A bound as a JSON-friendly value (None, a float or a list) for
    ``get_config``.

    Examples
    --------
    >>> import numpy as np
    >>> plain_bound(np.float32(0.5)), plain_bound(np.array([0, 1])), plain_bound(None)
    (0.5, [0.0, 1.0], None)
    """
    if value is None:
        return None
    if np.ndim(value) == 0:
        return float(value)
    return [float(v) for v in np.asarray(value)]


def serializable(cls):
    """Register ``cls`` with Keras under the package "skconstrain"."""
    return keras.saving.register_keras_serializable(package="skconstrain")(cls)


class HostConstant(keras.initializers.Initializer):
    """``value`` broadcast to the weight's shape, made on the host: unlike
    :class:`keras.initializers.Constant`, no compiled program per shape on
    JAX (see :func:`skconstrain._compat.host_tensor`). For the fixed weights
    of our layers, which their configs rebuild (not serialized itself)."""

    def __init__(self, value):
        self.value = np.asarray(value, dtype=np.float64)

    def __call__(self, shape, dtype=None):
        return host_constant(self.value, shape, dtype)

    def get_config(self):
        return {"value": self.value.tolist()}


@serializable
class HostGlorotUniform(keras.initializers.Initializer):
    """Glorot's uniform initializer (Glorot & Bengio, 2010), drawn on the host
    with NumPy's PCG64 from ``seed``.

    The same weights as :class:`keras.initializers.GlorotUniform`'s
    distribution, but with no compiled program: on JAX every Keras random
    initializer is a ``jax.jit`` program compiled per shape and dtype, about
    0.15 s each, a third of a first fit. Drawn with NumPy, the weights are
    also the same on every backend and CPU for the same seed.

    With ``fan_in`` and ``rows``, a 2-D kernel is the rows ``rows`` of the
    kernel of ``fan_in`` rows that the seed draws: the kernel of a layer
    whose inputs drop some columns of a wider input (those that are zero
    for every input) starts as the wider layer's did on the columns kept.
    """

    def __init__(self, seed=0, fan_in=None, rows=None):
        self.seed = int(seed)
        self.fan_in = None if fan_in is None else int(fan_in)
        self.rows = None if rows is None else [int(r) for r in rows]

    def __call__(self, shape, dtype=None):
        shape = tuple(int(d) for d in shape)
        if self.rows is not None:
            if len(shape) != 2 or len(self.rows) != shape[0]:
                raise ValueError(
                    f"a kernel of {len(self.rows)} rows was asked for {shape}."
                )
            shape = (self.fan_in, shape[1])
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in = shape[-2] * receptive if len(shape) > 1 else shape[0]
        fan_out = shape[-1] * receptive
        limit = np.sqrt(6.0 / max(fan_in + fan_out, 1))
        values = np.random.default_rng(self.seed).uniform(-limit, limit, shape)
        if self.rows is not None:
            values = values[self.rows]
        dtype = keras.backend.standardize_dtype(dtype or "float32")
        return host_tensor(values.astype(dtype))

    def get_config(self):
        if self.rows is None:  # the config of 0.4's networks
            return {"seed": self.seed}
        return {"seed": self.seed, "fan_in": self.fan_in, "rows": self.rows}


@serializable
class HostZeros(keras.initializers.Initializer):
    """Zeros made on the host (no compiled program per shape on JAX)."""

    def __call__(self, shape, dtype=None):
        return host_constant(0.0, shape, dtype or "float32")
