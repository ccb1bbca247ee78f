"""SIGKILL at named points (``ACTIVEKD_KILL_AT``), then a re-run that ends equal to an uninterrupted run; one writer per run."""

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from activekd.cli import main
from activekd._faults import KILL_POINTS

pytestmark = pytest.mark.slow
ARGS = ["--strategy", "entropy", "--rounds", "2", "--budget", "5", "--seed", "3", "--pool-limit", "400", "--test-limit", "200",
        "--repeat", "5", "--device", "cpu", "--no-progress"]
# (point, which pass kills): the second pass falls inside round 1; results are written once, at the end
SIMULATED_POINTS = [("train", 2), ("evaluate", 2), ("select", 2), ("round-commit", 2), ("between-rounds", 1), ("checkpoint-write", 2),
                    ("results-write", 1)]


def cli(*args: str, kill_at: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ACTIVEKD_KILL_AT"}
    if kill_at:
        env["ACTIVEKD_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "activekd.cli", *args], env=env, capture_output=True, text=True, timeout=timeout)


def state(out: Path) -> dict:
    """What must equal an uninterrupted run: every label (id, label, source, round), every round's picks and figures, and
    the label history (imports, label events)."""
    con = sqlite3.connect(out / "session.sqlite")
    try:
        labels = con.execute("SELECT sample_id, label, source, round FROM labels ORDER BY rowid").fetchall()
        rounds = con.execute("SELECT round, status, picks, metrics, checkpoint_sha256 FROM rounds ORDER BY round").fetchall()
        history = con.execute("SELECT i.import_id, i.kind, e.sample_id, e.new_label, e.old_label FROM imports i"
                              " JOIN label_events e USING (import_id) ORDER BY e.event_id").fetchall()
    finally:
        con.close()
    strip = [(r, s, json.loads(p), {k: v for k, v in json.loads(m).items() if k != "seconds"}, h) for r, s, p, m, h in rounds]
    return {"labels": labels, "rounds": strip, "history": history}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("kill") / "ref"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *ARGS]) == 0
    return state(out), json.loads((out / "results.json").read_text()), out


def test_every_named_point_is_exercised_by_a_kill_test():
    covered = {p for p, _ in SIMULATED_POINTS} | {"batch-file", "label-import", "label-commit", "export-write"}
    covered |= {"push", "sync"}  # test_labelstudio_team.py
    covered |= {"rank-train"}  # tests/parallel/test_parallel_run.py: a rank of a 2-process run killed
    assert covered == set(KILL_POINTS)


@pytest.mark.parametrize("point,nth", SIMULATED_POINTS)
def test_sigkill_at_a_named_point_then_rerun_equals_an_uninterrupted_run(tmp_path, cache_dir, reference, point, nth):
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--cache-dir", str(cache_dir), *ARGS]
    killed = cli(*args, kill_at=f"{point}:{nth}")
    assert killed.returncode == -9, f"{point}: not killed (rc {killed.returncode}): {killed.stderr[-400:]}"
    assert main(args) == 0
    want_state, want_results, _ = reference
    assert state(out) == want_state
    got = json.loads((out / "results.json").read_text())
    assert got["complete"] and got["num_labels"] == want_results["num_labels"]
    assert (out / "student.safetensors").is_file()


def _answer_batch(out: Path, tmp_path: Path, r: int) -> Path:
    """A person who answers every pick of round ``r`` with the ground truth (from the simulated reference's labels)."""
    from activekd.data import create_dataset

    ds = create_dataset("fashion-mnist")
    rows = (out / "to_label" / f"round_{r:03d}.csv").read_text().splitlines()[1:]
    ids = [line.split(",")[0] for line in rows]
    f = tmp_path / f"answers_{r}.csv"
    f.write_text("id,label\n" + "".join(f"{i},{ds.class_names[ds.labels[ds.index_of([i])[0]]]}\n" for i in ids))
    return f


def test_sigkill_between_a_human_rounds_commit_and_its_batch_file_then_resume_rebuilds_it(tmp_path, cache_dir):
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--cache-dir", str(cache_dir), *ARGS, "--oracle", "human"]
    killed = cli(*args, kill_at="batch-file")
    assert killed.returncode == -9
    batch = out / "to_label" / "round_000.csv"
    assert not batch.exists()
    con = sqlite3.connect(out / "session.sqlite")
    picks = json.loads(con.execute("SELECT picks FROM rounds WHERE round = 0").fetchone()[0])
    con.close()
    assert main(["resume", str(out)]) == 3  # 3: waits for labels, the batch file rebuilt
    rows = list(csv.DictReader(batch.open()))
    assert [r["id"] for r in rows if not r["likely_mistake"]] == picks  # then re-check rows: labels flagged as likely mistakes
    assert all(r["label"] and r["id"] not in picks for r in rows if r["likely_mistake"])


@pytest.fixture(scope="module")
def waiting_run(tmp_path_factory, cache_dir):
    """A human run waiting for round 0's 5 labels, and the answers to them; copy it before changing it."""
    out = tmp_path_factory.mktemp("waiting") / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *ARGS, "--oracle", "human"]) == 3  # 3: waits for labels
    return out, _answer_batch(out, out.parent, 0)


@pytest.mark.parametrize("point", ["label-import", "label-commit"])  # before the transaction; inside it, every row written
def test_sigkill_inside_a_label_import_loses_and_doubles_nothing(tmp_path, waiting_run, point):
    ref, out = tmp_path / "ref", tmp_path / "run"
    shutil.copytree(waiting_run[0], ref)
    shutil.copytree(waiting_run[0], out)
    answers = waiting_run[1]
    assert main(["label", str(ref), str(answers)]) == 0  # the uninterrupted import
    before = state(out)
    killed = cli("label", str(out), str(answers), kill_at=point)
    assert killed.returncode == -9
    assert state(out) == before  # the import is one transaction: all or nothing
    assert main(["label", str(out), str(answers)]) == 0
    assert main(["label", str(out), str(answers)]) == 0  # again: a no-op
    assert state(out) == state(ref)
    labels = state(out)["labels"]
    assert len(labels) == len({r[0] for r in labels}) == 15
    assert [r[2] for r in labels[10:]] == ["human"] * 5


def test_sigkill_inside_an_export_write_leaves_nothing_and_a_rerun_equals_an_uninterrupted_export(tmp_path, reference):
    run = reference[2]
    want, got = tmp_path / "want" / "student.onnx", tmp_path / "got" / "student.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(want)]) == 0
    killed = cli("export", str(run), "--format", "onnx", "--out", str(got), kill_at="export-write")
    assert killed.returncode == -9 and not got.exists()
    assert main(["export", str(run), "--format", "onnx", "--out", str(got)]) == 0
    assert os.listdir(got.parent) == ["student.onnx"]  # the killed export's temporary file is gone
    assert got.read_bytes() == want.read_bytes()


def test_two_writers_on_one_run_folder_exactly_one_proceeds(tmp_path, cache_dir, reference):
    out = tmp_path / "run"
    args = [sys.executable, "-m", "activekd.cli", "run", "--out", str(out), "--cache-dir", str(cache_dir), *ARGS]
    env = {k: v for k, v in os.environ.items() if k != "ACTIVEKD_KILL_AT"}
    together = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in together]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 2], results
    loser = next(r for r in results if r[2] == 2)
    assert "is in use by pid" in loser[1] or "started by another command meanwhile" in loser[1]
    assert loser[1].strip().count("\n") == 0
    assert state(out) == reference[0]

    # staggered: the second starts while the first holds the lock inside its rounds
    out2 = tmp_path / "run2"
    first = subprocess.Popen([*args[:5], str(out2), *args[6:]], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out2 / "session.sqlite").exists():
        time.sleep(0.05)
    second = cli("run", "--out", str(out2), "--cache-dir", str(cache_dir), *ARGS)
    first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 2
    assert "is in use by pid" in second.stderr
    assert state(out2) == reference[0]
