"""The demo: the comparison runs end to end and reports what it claims."""

import numpy as np
import pandas as pd
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
        problems=("sparse_simplex", "l1_ball"),
        n_samples=80,
        epochs=2,
        hidden=(4,),
        progress=lines.append,
    )
    # the Keras softmax baseline only on the simplex
    assert len(lines) == 2 * len(demo.STRATEGIES) - 1
    return out


def test_comparison_rows(results):
    simplex = results[results.problem == "sparse_simplex"]
    assert list(simplex["strategy"]) == list(demo.STRATEGIES)
    assert "keras_softmax" not in set(results[results.problem == "l1_ball"].strategy)
    exact = results[results.strategy != "penalty"]
    assert (exact["max_violation"] <= 1e-5).all()
    assert (exact["violating_fraction"] == 0).all()
    assert (results["test_mse"] > 0).all() and (results["fit_seconds"] > 0).all()


def test_table_ranks_and_goal_check(results):
    table = demo.summary_table(results)
    for problem in ("sparse_simplex", "l1_ball"):
        part = table.loc[problem]
        assert part["test_mse"].is_monotonic_increasing  # best first
        assert part["vs_best"].iloc[0] == 1.0 and (part["vs_best"] >= 1).all()
        assert sorted(part["mean_rank"]) == list(range(1, len(part) + 1))
    text = demo.format_table(table)
    assert "sparse_simplex" in text and "keras_softmax" in text and "vs best" in text
    met, lines = demo.goal_check(table)
    assert len(lines.splitlines()) == 2 and "mlp_projected" in lines
    best = table.loc["l1_ball"].drop(list(demo.BASELINES), errors="ignore")
    baseline = table.loc[("l1_ball", "mlp_projected"), "test_mse"]
    feasible = best[best.violating_fraction == 0]["test_mse"].min()
    assert ("l1_ball" in lines) and (("NOT MET" in lines) or feasible <= baseline)
    assert isinstance(met, bool)


def test_goal_check_reports_a_loss():
    rows = [
        ("p", "project", 0.2, 0.0),
        ("p", "penalty", 0.05, 0.5),  # better, but infeasible: does not count
        ("p", "mlp_projected", 0.1, 0.0),
    ]
    results = pd.DataFrame(
        [
            dict(
                problem=p,
                strategy=s,
                seed=0,
                test_mse=m,
                violating_fraction=v,
                max_violation=v,
                fit_seconds=1.0,
            )
            for p, s, m, v in rows
        ]
    )
    met, lines = demo.goal_check(demo.summary_table(results))
    assert not met and "NOT MET" in lines and "best: project" in lines


def test_plot(results, tmp_path):
    png = demo.plot(results, tmp_path / "s.png")
    assert png.exists() and png.stat().st_size > 1000


def test_real_problems_keep_countries_apart():
    pytest.importorskip("bokeh_sampledata")
    for name, set_name in (("age_structure", "simplex"), ("age_change", "l1_ball")):
        problem = demo.load_problem(name)
        assert problem.real and problem.set == set_name
        train, test = demo.split(problem, seed=3)
        assert not set(problem.groups[train]) & set(problem.groups[test])
        assert 0.15 < len(test) / len(problem.Y) < 0.35
    with pytest.raises(ValueError, match="Unknown problem"):
        demo.load_problem("nope")


def test_keras_softmax_baseline_is_on_the_simplex():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    Y = rng.dirichlet(np.ones(4), size=60)
    model = demo.KerasSoftmaxBaseline((4,), radius=2.0, epochs=2, random_state=0)
    P = model.fit(X, 2 * Y).predict(X)
    assert P.shape == (60, 4) and P.dtype == np.float64 and (P > 0).all()
    np.testing.assert_allclose(P.sum(axis=1), 2.0, rtol=1e-6)


def test_main_prints_tables_and_writes_png(results, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "run_comparison", lambda **kw: results)
    assert demo.main(["--quick", "--output", str(tmp_path), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "violating" in out and "strategies.png" in out and "baselines" in out
    assert (tmp_path / "strategies.png").exists()
