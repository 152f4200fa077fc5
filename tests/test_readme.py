"""Every Python code block of the README runs."""

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection._search import BaseSearchCV

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_code():
    assert len(BLOCKS) >= 8
    # the grids checked by test_readme_block_runs
    assert sum("GridSearchCV(" in block for block in BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files
    # as a script would run it (the dask block is under a __main__ guard)
    namespace = {"__name__": "__main__"}
    exec(compile(code, str(README), "exec"), namespace)
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
