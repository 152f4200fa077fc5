"""Install each built distribution into a fresh virtual environment and smoke-test it.

Usage: ``python .ci/check_dist.py DIST_DIR`` (``make dist`` runs it on what
``python -m build`` wrote). For the wheel and the sdist in ``DIST_DIR``: a new
virtual environment under ``build/dist-check``, the distribution installed
there with its runtime dependencies only (no extras; with uv when this Python
has it, else pip), then, from a folder outside the source tree, an import, a
fit and a predict. Exits non-zero, saying which, when either fails.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

SMOKE = """
import sys
import numpy as np
import skconstrain
from skconstrain import NormProjector

assert "tensorflow" not in sys.modules  # the projections alone stay light
assert skconstrain.__file__.startswith(sys.prefix), skconstrain.__file__
import skconstrain._quiet_start  # TensorFlow, without its start-up lines
import warnings
from sklearn.exceptions import ConvergenceWarning
from skconstrain import ConstrainedRegressor

warnings.simplefilter("ignore", ConvergenceWarning)  # a 2-epoch fit's

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(60, 3)), rng.dirichlet(np.ones(3), size=60)
model = ConstrainedRegressor(
    hidden_layer_sizes=(4,), output_constraint="simplex", epochs=2, random_state=0
).fit(X, Y)
P = model.predict(X[:5])
assert P.shape == (5, 3) and np.allclose(P.sum(axis=1), 1.0)
assert np.allclose(NormProjector("simplex").fit_transform(Y), Y)
print(f"skconstrain {skconstrain.__version__}: import, fit and predict ok")
"""


def run(*args, cwd=None):
    subprocess.run([str(a) for a in args], check=True, cwd=cwd)


def has_uv():
    probe = subprocess.run(
        [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
    )
    return probe.returncode == 0


def check(artifact, root, uv):
    env = root / artifact.name.replace(".", "_")
    run(sys.executable, "-m", "venv", env)
    python = env / "bin" / "python"
    if uv:
        run(
            sys.executable,
            "-m",
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            python,
            artifact,
        )
    else:
        run(python, "-m", "pip", "install", "--quiet", artifact)
    with tempfile.TemporaryDirectory() as away:  # not the source tree
        run(python, "-c", SMOKE, cwd=away)


def main(dist):
    dist = Path(dist)
    artifacts = sorted(dist.glob("*.whl")) + sorted(dist.glob("*.tar.gz"))
    kinds = {a.suffix for a in artifacts}
    if ".whl" not in kinds or ".gz" not in kinds:
        sys.exit(f"{dist} should hold a wheel and an sdist; it holds {artifacts}")
    root = Path("build/dist-check").resolve()
    root.mkdir(parents=True, exist_ok=True)
    uv = has_uv()
    for artifact in artifacts:
        print(f"== {artifact.name}", flush=True)
        try:
            check(artifact, root, uv)
        except subprocess.CalledProcessError as exc:
            sys.exit(f"{artifact.name} failed its smoke test: {exc}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dist")
