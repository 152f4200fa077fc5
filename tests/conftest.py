import os

import pytest
from hypothesis import settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# XLA (JAX's programs, TensorFlow's jit_compile ones) compiles the suite's
# programs at its lowest backend optimisation: the same operations, about 30%
# less compile time on JAX, where compiling is most of a cold run. And a
# second code generator finds math that relies on XLA computing one value
# alike in two fusions (tests/test_keras_penalties.py::
# test_gradient_is_finite_where_a_program_computes_y_twice). Before any
# import of TensorFlow or JAX, so that xdist's workers and the processes
# that tests start inherit it; an XLA_FLAGS that sets the level is kept.
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_backend_optimization_level=0".strip()


# Property tests draw the same examples on every run, so that CI is reproducible;
# HYPOTHESIS_PROFILE=explore draws new ones (run it locally to search further).
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def _larger_engine_caches():
    # A process keeps 8 engines, forward passes and float64 twins of the
    # architectures it trained (_training.CACHE_SIZE), which a user's searches
    # reuse. The suite trains a few hundred architectures and comes back to
    # many of them (scikit-learn's checks of one estimator, say): 64 of each
    # here, so that an architecture is traced again less often. (A fixture,
    # not pytest_configure: xdist's controller process, which runs no test,
    # does not import Keras for it.)
    from skconstrain import _training

    for cache in (_training._CACHE, _training._FORWARDS, _training._TWINS):
        cache.size = 64
    yield


@pytest.fixture
def compiled_epochs(monkeypatch):
    """The list to which every single fit's epoch appends how it was
    compiled: True under XLA, False as a TensorFlow graph, None on JAX (the
    ``with_xla`` of ``Engine._epoch``)."""
    from skconstrain._training import _engine

    compiled = []
    epoch = _engine.Engine._epoch

    def spy(self, sparse, with_xla, *validating):
        compiled.append(with_xla)
        return epoch(self, sparse, with_xla, *validating)

    monkeypatch.setattr(_engine.Engine, "_epoch", spy)
    return compiled


@pytest.fixture
def float64_keras():
    """Keras's ops in float64, as inside the estimators (on JAX its x64 mode
    and float64 promotion, scoped: ``skconstrain._training.precision``)."""
    from skconstrain import _training

    with _training.precision():
        yield
