"""A tiny real offline benchmark (Fashion-MNIST, stand-in teacher, small-cnn) that ends with report.html."""

from __future__ import annotations

import json

import pytest

from activekd.report import compare_table, figures_dir, run_offline_benchmark

TINY = {"strategies": ("random", "entropy"), "seeds": (1, 2), "kd_modes": ("dho",), "rounds": 2, "budget": 10, "shots": 1,
        "baseline_labels": 60, "baseline_rounds": 1, "device": "cpu", "pool_limit": 300, "test_limit": 300, "repeat": 3}


@pytest.mark.slow
def test_tiny_benchmark_ends_with_a_report_and_resumes(tmp_path, cache_dir, fmnist):
    out = tmp_path / "bench"
    report = run_offline_benchmark(out, cache_dir=str(cache_dir), **TINY)
    assert report == out / "report.html" and report.is_file()
    cells = ["random-dho-seed1", "random-dho-seed2", "entropy-dho-seed1", "entropy-dho-seed2",
             "baseline-random-none-seed1", "baseline-random-none-seed2"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != "report_files") == sorted(cells)
    for cell in cells:
        res = json.loads((out / cell / "results.json").read_text())
        assert res["complete"]
    base = json.loads((out / "baseline-random-none-seed1" / "results.json").read_text())
    assert [r["num_labeled"] for r in base["rounds"]] == [10, 20, 30, 60]  # the grid's schedule, then one round up to 60
    assert base["config"]["train"]["kd"] == "none" and base["teacher"] is None
    text = report.read_text()
    for name in ("random-dho", "entropy-dho", "baseline-random-none"):
        assert name in text
    assert 'src="http' not in text and "<link" not in text and "<script" not in text
    assert (figures_dir(report) / "accuracy.png").is_file()
    table = compare_table([out / c for c in cells])
    assert "random-dho" in table and "1,2" in table
    before = {c: (out / c / "results.json").read_text() for c in cells}
    run_offline_benchmark(out, cache_dir=str(cache_dir), **TINY)  # resumes: every cell is finished, nothing changes
    assert {c: (out / c / "results.json").read_text() for c in cells} == before



@pytest.mark.parametrize("have,target,rounds,budget", [(110, 1000, 5, 178), (30, 60, 1, 30), (30, 61, 2, 16), (110, 100, 5, 0),
                                                       (110, 1000, 0, 0)])
def test_baseline_extension_budget(have, target, rounds, budget):
    from activekd.report._benchmark import extension_budget

    assert extension_budget(have, target, rounds) == budget
