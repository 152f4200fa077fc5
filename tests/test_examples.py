"""Every example runs to the end, and none of our warnings fires in it.

The examples run in this process, each as a script (``__name__ ==
"__main__"``) in an empty directory, with every ``UserWarning`` an error, as
``python -W error::UserWarning`` would run it: an example must not show one.

``make docs`` is where they run: its gallery runs each example with the same
filter (``docs/_gallery_warnings.py``), so ``make test`` leaves these out
(marker ``examples``) and CI runs them once; ``pytest tests/test_examples.py``
runs them here.
"""

import runpy
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.examples  # run by make docs's gallery, not by make test
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_without_warnings(path, tmp_path, monkeypatch, capsys):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")  # no window
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    try:
        # a UserWarning (ours: targets outside the set, an ignored
        # hyperparameter, a degenerate set...; a ConvergenceWarning) is an
        # error here
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")
    assert capsys.readouterr().out.strip()
