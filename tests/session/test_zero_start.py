"""``--shots 0``: a run with no label at all; round 0 trains nothing and picks ``budget`` images by teacher coverage.

Real tiny runs on Fashion-MNIST with the stand-in teacher: the simulated oracle, a person (``--oracle human``),
``status``/``report`` on the result, and a kill inside round 0 followed by a rerun.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
import torch

from activekd.cli import main
from activekd.select import teacher_coverage
from activekd.session import ActiveSession
from activekd.session._continuous import score_pool
from test_kill import cli, state

pytestmark = pytest.mark.slow
BUDGET = 5
ARGS = ["--shots", "0", "--budget", str(BUDGET), "--strategy", "pcoreset", "--seed", "4", "--pool-limit", "300", "--test-limit", "100",
        "--repeat", "3", "--device", "cpu", "--no-progress"]


@pytest.fixture
def trained_on(monkeypatch) -> list[int]:
    """The labeled-set size of every student trained in this process (ActiveSession.train)."""
    sizes: list[int] = []
    real = ActiveSession.train

    def train(self, data):
        sizes.append(len(data.labeled))
        assert len(data.labeled) > 0, "a student was trained on an empty labeled set"
        return real(self, data)

    monkeypatch.setattr(ActiveSession, "train", train)
    return sizes


def labels_by_round(out: Path) -> list[tuple[str, str, int]]:
    con = sqlite3.connect(out / "session.sqlite")
    try:
        return con.execute("SELECT sample_id, source, round FROM labels ORDER BY rowid").fetchall()
    finally:
        con.close()


def rounds(out: Path) -> dict[int, dict]:
    return {r["round"]: r for r in json.loads((out / "results.json").read_text())["rounds"]}


def expected_round0_picks(out: Path) -> list[str]:
    """What teacher coverage picks from the run's teacher on its pool, computed here from the pure function."""
    with ActiveSession.resume(out) as s:
        data = s.round_data(0)
        pos = teacher_coverage(data.teacher[data.unlabeled_pos], BUDGET)
        return [s.dataset.ids[i] for i in data.unlabeled_pos[pos].tolist()]


def test_simulated_run_labels_exactly_budget_after_round_0_and_reports_it(tmp_path, cache_dir, capsys, trained_on):
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--rounds", "2", *ARGS]) == 0
    labels = labels_by_round(out)
    assert [r for r in labels if r[2] <= 1] == [r for r in labels if r[2] == 1] and len([r for r in labels if r[2] == 1]) == BUDGET
    assert {src for _, src, _ in labels} == {"oracle"} and len(labels) == 2 * BUDGET
    assert trained_on == [BUDGET, 2 * BUDGET]  # rounds 1 and 2; round 0 trained nothing

    text = (out / "results.json").read_text()
    assert "NaN" not in text
    r0, r1 = rounds(out)[0], rounds(out)[1]
    assert r0["num_labeled"] == 0 and r0["student_acc"] is None and r0["ce_acc"] is None and r0["train_loss"] is None
    assert r0["student_trained"] is False and r0["checkpoint"] is None and r0["status"] == "done"
    assert isinstance(r0["teacher_acc"], float) and r0["teacher_acc"] == r1["teacher_acc"]
    assert len(set(r0["picks"])) == BUDGET and r0["picks"] == expected_round0_picks(out)
    assert r1["num_labeled"] == BUDGET and isinstance(r1["student_acc"], float)
    assert not (out / "checkpoints" / "round_000.safetensors").exists() and (out / "student.safetensors").is_file()

    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "advice: " in shown and "\n    0       0" in shown
    assert main(["report", str(out), "--out", str(tmp_path / "rep" / "report.html")]) == 0
    assert main(["compare", str(out)]) == 0


def _answer(out: Path, tmp_path: Path) -> Path:
    """A person's answers to round 0's batch file: the ground truth of every pick."""
    from activekd.data import create_dataset

    ds = create_dataset("fashion-mnist")
    rows = list(csv.DictReader((out / "to_label" / "round_000.csv").open()))
    f = tmp_path / "answers.csv"
    f.write_text("id,label\n" + "".join(f"{r['id']},{ds.class_names[ds.labels[ds.index_of([r['id']])[0]]]}\n" for r in rows))
    return f


def test_human_run_waits_with_no_label_and_no_student_then_trains_on_the_answers(tmp_path, cache_dir, capsys, trained_on):
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--rounds", "1", "--oracle", "human", *ARGS]) == 3
    assert labels_by_round(out) == [] and trained_on == []
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())
    r0 = rounds(out)[0]
    assert r0["status"] == "awaiting-labels" and r0["num_labeled"] == 0 and r0["student_acc"] is None
    batch = list(csv.DictReader((out / "to_label" / "round_000.csv").open()))
    assert [r["id"] for r in batch] == r0["picks"] and len(batch) == BUDGET
    assert all(r["teacher_guess"] and r["student_guess"] == "" and r["label"] == "" for r in batch)
    tasks = json.loads((out / "to_label" / "round_000.labelstudio.json").read_text())
    assert all([p["model_version"].endswith("-teacher") for p in t["predictions"]] == [True] for t in tasks)

    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    assert "round 0 awaits labels for 5 of 5" in capsys.readouterr().out
    with ActiveSession.resume(out, progress=False) as s:  # what `serve` ranks before any student: the teacher's view
        scores = score_pool(s)
        assert scores.round == 0 and list(scores.picks) == r0["picks"] and len(scores.ids) == 300
        torch.testing.assert_close(scores.probs, scores.teacher)
        assert scores.probs.sum(1).sub(1).abs().max() < 1e-5
    assert main(["resume", str(out)]) == 3  # still waiting: nothing trains
    assert trained_on == [] and labels_by_round(out) == []

    assert main(["label", str(out), str(_answer(out, tmp_path))]) == 0
    assert main(["resume", str(out)]) == 0
    assert trained_on == [BUDGET]
    got = rounds(out)
    assert got[1]["num_labeled"] == BUDGET and got[1]["status"] == "done" and isinstance(got[1]["student_acc"], float)
    assert json.loads((out / "results.json").read_text())["complete"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("zero-kill") / "ref"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--rounds", "1", *ARGS]) == 0
    return state(out)


@pytest.mark.parametrize("point", ["select:1", "round-commit:1"])
def test_sigkill_inside_round_0_then_rerun_equals_an_uninterrupted_run(tmp_path, cache_dir, reference, point):
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--cache-dir", str(cache_dir), "--rounds", "1", *ARGS]
    killed = cli(*args, kill_at=point)
    assert killed.returncode == -9, f"{point}: not killed (rc {killed.returncode}): {killed.stderr[-400:]}"
    con = sqlite3.connect(out / "session.sqlite")
    assert con.execute("SELECT COUNT(*) FROM rounds").fetchone()[0] == 0  # killed before round 0 was recorded
    con.close()
    assert main(args) == 0
    assert state(out) == reference
    assert state(out)["rounds"][0][3]["num_labeled"] == 0


def test_teacher_coverage_picks_spread_over_the_teachers_classes(tmp_path, cache_dir):
    """On the real pool, round 0's picks are ones the teacher puts in different classes (budget <= classes)."""
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--rounds", "1", "--oracle", "human", *ARGS]) == 3  # 3: waiting for labels
    batch = list(csv.DictReader((out / "to_label" / "round_000.csv").open()))
    assert len({r["teacher_guess"] for r in batch}) == BUDGET
    assert torch.tensor([float(r["teacher_prob"]) for r in batch]).min() > 0.5
