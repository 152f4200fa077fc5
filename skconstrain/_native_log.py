"""TensorFlow's native log lines that carry no news, kept off descriptor 2
while the few calls that print them run.

TensorFlow's C++ libraries log through Abseil straight to file descriptor
2, not through Python's ``sys.stderr``, and ``TF_CPP_MIN_LOG_LEVEL`` is read
once, when they load. :func:`filtered_stderr` sends descriptor 2 to a
temporary file for the length of one call and writes back every line that
``is_noise`` does not match, so errors (``E``/``F`` lines), Python warnings
and tracebacks still show, in their order, once the call returns. Two
moments use it: the entry points' import of TensorFlow
(:mod:`skconstrain._quiet_start`) and the first XLA compile of a process
(:func:`is_xla_start_up`, from :mod:`skconstrain._training._tensorflow`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import contextmanager

_ABSL = r"\d{4} \d\d:\d\d:\d+\.\d+ +\d+ "

_START_UP = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are "
    r"written to STDERR"
    rf"|[IW]{_ABSL}[^\]\s]+:\d+\] "
    # the second line of cpu_feature_guard.cc's INFO line, on a line of its own
    r"|To enable the following instructions: .*in other operations, rebuild "
    r"TensorFlow with the appropriate compiler flags\.$"
)

# XLA's first compile in a process: its service for the host ("XLA service
# ... initialized", "StreamExecutor [0]: Host"), MLIR's crash-reproducer
# notice and "Compiled cluster using XLA!", each logged once per process.
_XLA_START_UP = re.compile(
    rf"I{_ABSL}(service\.cc|dump_mlir_util\.cc|device_compiler\.h):\d+\] "
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
    return _START_UP.match(line) is not None


def is_xla_start_up(line):
    """Whether ``line`` is an INFO line of XLA's first compile in a process.

    Examples
    --------
    >>> is_xla_start_up("I0000 00:00:1.2  66 device_compiler.h:208] Compiled")
    True
    >>> is_xla_start_up("W0000 00:00:1.2  66 device_compiler.h:208] Compiled")
    False
    """
    return _XLA_START_UP.match(line) is not None


@contextmanager
def filtered_stderr(is_noise):
    """Descriptor 2 to a temporary file inside the block; afterwards every
    line of it for which ``is_noise`` is false goes to ``sys.stderr``.

    Does nothing where descriptor 2 cannot be duplicated (no such
    descriptor).
    """
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [
                line for line in text.splitlines(keepends=True) if not is_noise(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
