"""Import TensorFlow with its native start-up log lines kept off the screen.

Importing this module imports TensorFlow (once per process), unless
``KERAS_BACKEND`` names another backend. TensorFlow's
native libraries log a few lines while they load, before Abseil's logging is
initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them: Abseil's notice
"All log messages before absl::InitializeLog() is called are written to
STDERR", then INFO lines from ``port.cc`` (oneDNN custom operations are on)
and ``cudart_stub.cc`` (no CUDA driver), each written twice, by two libraries
that carry their own copy of Abseil, and ``cpu_feature_guard.cc``'s notice
of the CPU instructions TensorFlow was not built for, whose second line
("To enable the following instructions: ...") has no prefix of its own.
They go straight to file descriptor 2, not through Python's ``sys.stderr``.

So the import runs with descriptor 2 sent to a temporary file
(:func:`skconstrain._native_log.filtered_stderr`); afterwards every line of it
that is not that notice or an INFO/WARNING line of Abseil's format
(``I0000 00:00:...  pid file.cc:123] ...``) is written back to stderr: errors
(``E``/``F`` lines), Python warnings and tracebacks still show.

Only the entry points that own the terminal import this (the demo, the
benchmarks): the start-up lines are TensorFlow's own, which any user of it
sees. The library filters descriptor 2 at one moment only, the first XLA
compile of a process, whose INFO lines it causes.
"""

from __future__ import annotations

import os
import sys

from skconstrain._native_log import filtered_stderr, is_start_up_noise

__all__ = ["import_tensorflow", "is_start_up_noise"]


def import_tensorflow():
    """Import TensorFlow, keeping its start-up noise off descriptor 2.

    Does nothing when TensorFlow is imported already.
    """
    if "tensorflow" in sys.modules:
        return
    with filtered_stderr(is_start_up_noise):
        import tensorflow  # noqa: F401


# Under another Keras backend (KERAS_BACKEND=jax) TensorFlow is not needed.
if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
    import_tensorflow()
