"""Import TensorFlow with its native start-up log lines kept off the screen.

Importing this module imports TensorFlow (once per process), unless
``KERAS_BACKEND`` names another backend. TensorFlow's
native libraries log a few lines while they load, before Abseil's logging is
initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them: Abseil's notice
"All log messages before absl::InitializeLog() is called are written to
STDERR", then INFO lines from ``port.cc`` (oneDNN custom operations are on)
and ``cudart_stub.cc`` (no CUDA driver), each written twice, by two libraries
that carry their own copy of Abseil. They go straight to file descriptor 2,
not through Python's ``sys.stderr``.

So the import runs with descriptor 2 sent to a temporary file; afterwards every
line of it that is not that notice or an INFO/WARNING line of Abseil's format
(``I0000 00:00:...  pid file.cc:123] ...``) is written back to stderr: errors
(``E``/``F`` lines), Python warnings and tracebacks still show.

Only the entry points that own the terminal import this (the demo, the
benchmarks); the library itself leaves a user's stderr alone.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

__all__ = ["import_tensorflow", "is_start_up_noise"]

_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are "
    r"written to STDERR"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\s]+:\d+\] "
)


def is_start_up_noise(line):
    """Whether ``line`` is an informational line of TensorFlow's start-up.

    Examples
    --------
    >>> is_start_up_noise("I0000 00:00:1795926368.13    4782 port.cc:153] oneDNN")
    True
    >>> is_start_up_noise("E0000 00:00:1795926368.13    4782 cuda.cc:52] failed")
    False
    """
    return _NOISE.match(line) is not None


def import_tensorflow():
    """Import TensorFlow, keeping its start-up noise off descriptor 2.

    Does nothing when TensorFlow is imported already or descriptor 2 cannot
    be redirected (no such descriptor).
    """
    if "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:
        import tensorflow

        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not is_start_up_noise(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


# Under another Keras backend (KERAS_BACKEND=jax) TensorFlow is not needed.
if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
    import_tensorflow()
