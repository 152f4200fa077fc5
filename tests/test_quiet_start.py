"""The entry points' TensorFlow import: start-up noise off the screen, errors on it."""

import os
import subprocess
import sys
import textwrap

import pytest

from skconstrain._quiet_start import is_start_up_noise

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written "
    "to STDERR\n",
    "I0000 00:00:1795926368.136723    4782 port.cc:153] oneDNN custom operations "
    "are on.\n",
    "I0000 00:00:1795926368.137065    4782 cudart_stub.cc:31] Could not find cuda "
    "drivers on your machine, GPU will not be used.\n",
    "W0000 00:00:1795923135.783234    4424 util.cc:163] Not handling type DT_DOUBLE\n",
    # the second line of "I... cpu_feature_guard.cc:227] This TensorFlow
    # binary is optimized to use available CPU instructions ..."
    "To enable the following instructions: AVX2 AVX512F FMA, in other "
    "operations, rebuild TensorFlow with the appropriate compiler flags.\n",
]
KEPT = [
    "E0000 00:00:1795923907.445618    8282 cuda_platform.cc:52] failed call to "
    "cuInit\n",
    "F0000 00:00:1795923907.445618    8282 a.cc:1] Check failed\n",
    "Traceback (most recent call last):\n",
    "/x.py:3: UserWarning: something real\n",
    "I0000 is not a log line without its time and place\n",
    "To enable the following instructions, read on.\n",
]


@pytest.mark.parametrize("line", NOISE)
def test_start_up_lines_are_noise(line):
    assert is_start_up_noise(line)


@pytest.mark.parametrize("line", KEPT)
def test_errors_and_python_output_are_kept(line):
    assert not is_start_up_noise(line)


def _run(code, env=None, path=None):
    """``code`` in a new process on TensorFlow (what these tests are about,
    whichever backend the suite runs on)."""
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", **(env or {})}
    if path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.mark.slow
def test_only_the_noise_is_filtered(tmp_path):
    """A stand-in TensorFlow writes noise and an error to descriptor 2 while
    it loads: the error reaches stderr, the noise does not."""
    fake = tmp_path / "tensorflow.py"
    fake.write_text(
        "import os\n"
        + "".join(f"os.write(2, {line!r}.encode())\n" for line in NOISE + KEPT)
    )
    out = _run("import skconstrain._quiet_start", path=tmp_path)
    assert out.stderr == "".join(KEPT)


@pytest.mark.slow
def test_the_real_import_is_quiet():
    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}  # even at the most talkative level
    out = _run(
        """
        import skconstrain._quiet_start, sys
        assert "tensorflow" in sys.modules
        """,
        env=env,
    )
    assert not any(is_start_up_noise(line) for line in out.stderr.splitlines(True))
    assert "absl::InitializeLog" not in out.stderr


@pytest.mark.slow
def test_a_user_script_prints_no_line_of_ours():
    """Once TensorFlow has started (its own lines), a user's fits and
    predictions print nothing, at TensorFlow's most talkative level: the
    float64 forward pass (a fit scores with it, then ``predict``) does not
    make the graph optimiser log ``Not handling type DT_DOUBLE`` (oneDNN's
    remapper, asked to fuse a float64 ``MatMul`` + ``BiasAdd``), and XLA's
    first compile keeps its start-up INFO lines to itself (and takes the
    quick code generator's flag, which XLA would end the process on if it
    did not know it: ``_tensorflow.QUICK_XLA_FLAG``)."""
    out = _run(
        """
        import os, warnings
        import numpy as np
        import tensorflow as tf
        from skconstrain import ConstrainedRegressor
        tf.constant(1.0) + 1.0  # TensorFlow's start-up lines
        os.write(2, b"STARTED\\n")
        warnings.simplefilter("ignore")
        X = np.random.default_rng(0).normal(size=(60, 3))
        y = np.abs(X[:, :2]) / (1 + np.abs(X[:, :2]).sum(1, keepdims=True))
        est = ConstrainedRegressor(
            output_constraint="simplex", epochs=2, early_stopping=True
        ).fit(X, y)
        for rows in range(1, 12):
            est.predict(X[:rows])
        ConstrainedRegressor(epochs=2).fit(X, y[:, 0]).predict(X)
        # past XLA_STEPS a fit compiles its epoch with XLA, this process's
        # first XLA compile: its flags as the user set them, afterwards
        flags = os.environ.get("XLA_FLAGS")
        X = np.random.default_rng(1).normal(size=(2100, 3))
        fit = ConstrainedRegressor(epochs=20, batch_size=16, tol=0).fit(X, X[:, 0])
        assert fit.n_iter_ == 20  # 132 steps an epoch
        assert os.environ.get("XLA_FLAGS") == flags
        """,
        env={"TF_CPP_MIN_LOG_LEVEL": "0"},
    )
    ours = out.stderr.split("STARTED\n", 1)[1]
    assert "DT_DOUBLE" not in ours
    assert ours == ""
