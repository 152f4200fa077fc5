"""Every Python code block of the README and of the user guide (docs/) runs."""

import itertools
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection._search import BaseSearchCV

from skconstrain import ConstrainedRegressorCV

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
FOUND = [
    (page, block)
    for page in PAGES
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
]
BLOCKS = [block for _, block in FOUND]
IDS = [f"{page.stem}-{i}" for i, (page, _) in enumerate(FOUND)]


def test_readme_has_code():
    assert len(BLOCKS) >= 8
    # the grids checked by test_readme_block_runs
    assert sum("GridSearchCV(" in block for block in BLOCKS) >= 3


# the blocks that start a dask cluster run in tests/test_dask.py, on its
# cluster (each cluster starts two processes that import TensorFlow)
DASK_BLOCKS = [block for block in BLOCKS if "LocalCluster(" in block]
OTHERS = [
    (block, i) for block, i in zip(BLOCKS, IDS, strict=True) if block not in DASK_BLOCKS
]


@pytest.mark.parametrize("code", [b for b, _ in OTHERS], ids=[i for _, i in OTHERS])
def test_readme_block_runs(code, tmp_path, monkeypatch):
    run_block(code, tmp_path, monkeypatch)


def run_block(code, tmp_path, monkeypatch):
    """Run a page's block as a script, and check what it shows."""
    if "from mapie" in code:  # an optional integration
        pytest.importorskip("mapie")
    monkeypatch.chdir(tmp_path)  # blocks may write files
    # as a script would run it (the dask block is under a __main__ guard)
    namespace = {"__name__": "__main__"}
    # a block shows what a user should do: it runs without a warning (its
    # budget converges), unless it catches the warnings it shows itself
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(code, "<a page's code block>", "exec"), namespace)
    ours = [
        w
        for w in caught
        if issubclass(w.category, ConvergenceWarning)
        or w.filename.startswith(str(ROOT / "skconstrain"))
        or w.filename == "<a page's code block>"
    ]
    assert not ours, [f"{w.category.__name__}: {w.message}" for w in ours]
    # every grid a block searches changes something: no two candidates score
    # the same on every split (a hyperparameter that does nothing would)
    for search in namespace.values():
        if not isinstance(search, BaseSearchCV) or not hasattr(search, "cv_results_"):
            continue
        results = search.cv_results_
        splits = [k for k in results if re.fullmatch(r"split\d+_test_score", k)]
        scores = np.array([results[k] for k in splits]).T  # candidates x splits
        for a, b in itertools.combinations(range(len(scores)), 2):
            assert not np.array_equal(scores[a], scores[b]), (
                f"candidates {results['params'][a]} and {results['params'][b]} "
                "score the same on every split"
            )
    # a search over alpha that the pages show means something: its best alpha
    # beats a constant clearly, and the alphas score differently
    for search in namespace.values():
        if isinstance(search, ConstrainedRegressorCV) and hasattr(
            search, "best_score_"
        ):
            assert search.best_score_ > 0.5, search.cv_results_["mean_test_score"]
            assert np.ptp(search.cv_results_["mean_test_score"]) > 0.05
