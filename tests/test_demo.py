"""The demo: the comparison runs end to end and reports what it claims."""

import numpy as np
import pytest

from skconstrain import demo

# Tiny data and 2 epochs: MLPRegressor rightly says it did not converge.
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning"),
]


@pytest.fixture(scope="module")
def results():
    lines = []
    out = demo.run_comparison(
        sets=("simplex",),
        n_samples=80,
        n_features=3,
        n_targets=3,
        epochs=2,
        progress=lines.append,
    )
    assert len(lines) == len(demo.STRATEGIES)
    return out


def test_comparison_rows(results):
    assert list(results["strategy"]) == list(demo.STRATEGIES)
    exact = results[results.strategy != "penalty"]
    assert (exact["max_violation"] <= 1e-5).all()
    assert (exact["violating_fraction"] == 0).all()
    assert (results["test_mse"] > 0).all() and (results["fit_seconds"] > 0).all()
    norms = np.concatenate(exact["norms"].tolist())
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)  # simplex rows sum to 1


def test_table_and_plot(results, tmp_path):
    text = demo.format_table(demo.summary_table(results))
    assert "simplex" in text and "baseline" in text and "test MSE" in text
    png = demo.plot(results, tmp_path / "s.png")
    assert png.exists() and png.stat().st_size > 1000


def test_main_prints_table_and_writes_png(results, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "run_comparison", lambda **kw: results)
    assert demo.main(["--quick", "--output", str(tmp_path), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "violating" in out and "strategies.png" in out
    assert (tmp_path / "strategies.png").exists()
