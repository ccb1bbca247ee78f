"""End-to-end runs of the CLI on real Fashion-MNIST images (small slices), resume and bad input."""

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from activekd.cli import main

pytestmark = pytest.mark.slow
SMALL = ["--pool-limit", "3000", "--test-limit", "1000", "--repeat", "20", "--device", "cpu", "--no-progress"]


def run(out, cache_dir, *extra):
    return main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, *extra])


def db_dump(out: Path) -> str:
    """Every row of the store, to check that a refused command changed nothing."""
    if not (out / "session.sqlite").exists():
        return "<no store>"
    con = sqlite3.connect(out / "session.sqlite")
    try:
        return "\n".join(str(r) for t in ("meta", "labels", "rounds") for r in con.execute(f"SELECT * FROM {t} ORDER BY 1"))
    finally:
        con.close()


def labeled(out: Path) -> list[tuple[str, str, int]]:
    con = sqlite3.connect(out / "session.sqlite")
    try:
        return [tuple(r) for r in con.execute("SELECT sample_id, source, round FROM labels ORDER BY rowid")]
    finally:
        con.close()


def test_end_to_end_run_then_resume_is_a_no_op(tmp_path, cache_dir, capsys):
    out = tmp_path / "run"
    assert run(out, cache_dir, "--strategy", "entropy", "--rounds", "2", "--budget", "10") == 0
    text = capsys.readouterr().out
    assert "teacher %" in text and "done: 30 labels" in text
    res = json.loads((out / "results.json").read_text())
    assert res["complete"] and res["num_labels"] == 30
    assert [r["num_labeled"] for r in res["rounds"]] == [10, 20, 30]
    assert 0.3 < res["final"]["student_acc"] <= 1 and 0.75 < res["final"]["teacher_acc"] < 0.9
    rows = labeled(out)
    assert len({r[0] for r in rows}) == 30
    assert [r[1] for r in rows] == ["initial"] * 10 + ["oracle"] * 20
    assert [r[2] for r in rows] == [0] * 10 + [1] * 10 + [2] * 10
    for r in res["rounds"]:
        ck = out / r["checkpoint"]
        assert ck.exists()
    con = sqlite3.connect(out / "session.sqlite")
    for path, digest in con.execute("SELECT checkpoint, checkpoint_sha256 FROM rounds"):
        assert hashlib.sha256((out / path).read_bytes()).hexdigest() == digest
    con.close()
    assert (out / "student.safetensors").exists()

    before = db_dump(out)
    t = time.time()
    assert run(out, cache_dir, "--strategy", "entropy", "--rounds", "2", "--budget", "10") == 0
    again = capsys.readouterr().out
    assert again.count("(resumed)") == 3 and db_dump(out) == before
    assert time.time() - t < 30


def test_deployable_student_reproduces_the_reported_accuracy(tmp_path, cache_dir, fmnist):
    import torch

    from activekd.heads import mix_heads
    from activekd.students.io import load_student

    out = tmp_path / "run"
    assert run(out, cache_dir, "--rounds", "1") == 0
    res = json.loads((out / "results.json").read_text())
    student, info = load_student(out / "student.safetensors")
    from activekd.data import limit_split

    test = limit_split(fmnist, "test", 1000).split_indices("test")
    with torch.no_grad():
        ce, kd, _ = student(fmnist.images.batch(test))
    acc = (mix_heads(ce, kd, info["alpha"], info["beta"]).argmax(1).numpy() == fmnist.labels[test]).mean()
    assert acc == pytest.approx(res["final"]["student_acc"], abs=1e-6)
    assert info["class_names"][0] == "T-shirt/top"


@pytest.mark.parametrize("flag,value,valid", [
    ("--dataset", "fashion", "fashion-mnist"),
    ("--student", "resnet-18", "small-cnn"),
    ("--strategy", "entropi", "random"),
    ("--teacher", "clip", "standin"),
])
def test_unknown_names_list_valid_ones_and_create_nothing(tmp_path, cache_dir, capsys, flag, value, valid):
    out = tmp_path / "run"
    assert run(out, cache_dir, flag, value) == 2
    err = capsys.readouterr().err
    assert f"'{value}'" in err and "valid:" in err and valid in err
    assert not (out / "session.sqlite").exists()


def test_bad_input_on_an_existing_run_changes_nothing(tmp_path, cache_dir, capsys, fmnist):
    out = tmp_path / "run"
    assert run(out, cache_dir, "--rounds", "1") == 0
    before = db_dump(out)
    pool = limit_split_ids(fmnist)
    bad_files = {
        "missing": (pool[:-5], np.zeros((len(pool) - 5, 10))),
        "classes": (pool, np.zeros((len(pool), 9))),
        "nan": (pool, np.full((len(pool), 10), np.nan)),
    }
    for name, (ids, vals) in bad_files.items():
        f = tmp_path / f"{name}.npz"
        np.savez(f, ids=np.array(ids), logits=vals)
        assert run(tmp_path / f"new-{name}", cache_dir, "--teacher", f"file:{f}") == 2
        assert not (tmp_path / f"new-{name}" / "session.sqlite").exists()
    errs = capsys.readouterr().err
    assert "missing 5 needed sample id(s)" in errs and "9 classes, but the dataset has 10" in errs and "NaN or infinite" in errs
    assert run(out, cache_dir, "--rounds", "1", "--shots", "2") == 2  # a different configuration (only rounds/budget may change)
    assert "different configuration (loop.shots: 1 -> 2)" in capsys.readouterr().err
    assert run(out, cache_dir, "--rounds", "1", "--strategy", "nope") == 2
    assert db_dump(out) == before


def limit_split_ids(ds):
    from activekd.data import limit_split

    small = limit_split(limit_split(ds, "pool", 3000), "test", 1000)
    return [small.ids[i] for i in np.flatnonzero(np.isin(small.splits, ("pool", "test")))]


def test_budget_larger_than_pool_fails_before_training(tmp_path, cache_dir, capsys, monkeypatch):
    import activekd.session._compute as compute  # where every session trains

    monkeypatch.setattr(compute, "train_student", lambda *a, **k: pytest.fail("trained despite an impossible budget"))
    out = tmp_path / "run"
    assert run(out, cache_dir, "--rounds", "3", "--budget", "1000") == 2
    assert "pool has only 2990 unlabeled images" in capsys.readouterr().err
    assert not (out / "session.sqlite").exists()


def test_human_oracle_label_loop(tmp_path, cache_dir, capsys):
    out = tmp_path / "run"
    assert run(out, cache_dir, "--oracle", "human", "--rounds", "1", "--budget", "4") == 3  # 3: waits for labels
    msg = capsys.readouterr().out
    req = out / "to_label" / "round_000.csv"
    assert req.exists() and f"then run `activekd label {out} {req}`" in msg  # names the batch file to fill in and pass
    picks = [line.split(",")[0] for line in req.read_text().splitlines()[1:]]
    assert len(picks) == 4
    assert main(["export", str(out), "--format", "onnx", "--out", str(tmp_path / "now.onnx")]) == 0  # never "complete": no --round
    assert f"exported {out}, round 0 (onnx)" in capsys.readouterr().out
    before = db_dump(out)
    bad = {
        "unknown-id": "id,label\nnot-an-id,coat\n",
        "unknown-class": f"id,label\n{picks[0]},jacket\n",
        "duplicate": f"id,label\n{picks[0]},coat\n{picks[0]},coat\n",
        "conflict": f"id,label\n{picks[0]},coat\n{picks[0]},bag\n",
        "not-picked": "id,label\ntrain-00001,coat\n",
    }
    for name, body in bad.items():
        f = tmp_path / f"{name}.csv"
        f.write_text(body)
        assert main(["label", str(out), str(f)]) == 2, name
        assert db_dump(out) == before, name
    err = capsys.readouterr().err
    for word in ("unknown sample id", "unknown class 'jacket'", "duplicate answer", "conflicting answer", "not in the batch awaiting labels"):
        assert word in err
    (tmp_path / "part.csv").write_text("id,label\n" + "".join(f"{p},bag\n" for p in picks[:2]))
    assert main(["label", str(out), str(tmp_path / "part.csv")]) == 0
    capsys.readouterr()
    assert main(["history", str(out), picks[0]]) == 0
    trail = capsys.readouterr().out.splitlines()
    assert trail[0].endswith("label bag (human); picked by round 0") and "round 0's picks" in trail[2] and "— → bag" in trail[2]
    waiting = db_dump(out)
    assert main(["resume", str(out)]) == 3  # still waiting for two labels: says so, trains nothing, exits 3
    assert "round 0: 4 image(s) to label" in capsys.readouterr().out and db_dump(out) == waiting
    (tmp_path / "rest.csv").write_text("id,label\n" + "".join(f"{p},8\n" for p in picks[2:]))
    assert main(["label", str(out), str(tmp_path / "rest.csv")]) == 0
    assert main(["resume", str(out), "--no-progress"]) == 0
    rows = labeled(out)
    assert len(rows) == 14 and [r[1] for r in rows[10:]] == ["human"] * 4
    assert json.loads((out / "results.json").read_text())["complete"]


def test_sigkill_mid_round_then_rerun_matches_an_uninterrupted_run(tmp_path, cache_dir):
    args = ["--strategy", "entropy", "--rounds", "2", "--budget", "10", "--seed", "4", "--cache-dir", str(cache_dir),
            "--pool-limit", "3000", "--test-limit", "1000", "--repeat", "100", "--device", "cpu", "--no-progress"]
    ref, out = tmp_path / "ref", tmp_path / "killed"
    assert main(["run", "--out", str(ref), *args]) == 0
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "activekd.cli", "run", "--out", str(out), *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:  # wait until round 0 is committed, i.e. round 1 is training
            if (out / "session.sqlite").exists():
                try:
                    con = sqlite3.connect(out / "session.sqlite")
                    done = con.execute("SELECT COUNT(*) FROM rounds WHERE status = 'done'").fetchone()[0]
                    con.close()
                except sqlite3.OperationalError:
                    done = 0
                if done >= 1:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("round 0 never finished")
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    con = sqlite3.connect(out / "session.sqlite")
    done = con.execute("SELECT COUNT(*) FROM rounds WHERE status = 'done'").fetchone()[0]
    con.close()
    assert done == 1, "the kill did not land inside round 1"
    assert main(["run", "--out", str(out), *args]) == 0
    got, want = labeled(out), labeled(ref)
    assert [r[0] for r in got] == [r[0] for r in want]
    assert len({r[0] for r in got}) == len(got) == 30


def test_run_with_a_random_init_open_clip_teacher_and_clap(tmp_path, cache_dir, capsys):
    """2 rounds on a small Fashion-MNIST slice; the CLAP head is refitted on the labels every round."""
    out = tmp_path / "run"
    common = ["--teacher", "openclip:ViT-S-32-alt", "--few-shot", "clap", "--few-shot-epochs", "30", "--embed-workers", "0",
              "--teacher-batch-size", "64", "--cache-dir", str(tmp_path / "cache"), "--pool-limit", "150", "--test-limit", "100",
              "--device", "cpu", "--no-progress"]
    assert main(["embed", "--dataset", "fashion-mnist", *common]) == 0
    assert "embeddings of fashion-mnist" in capsys.readouterr().out
    assert main(["run", "--out", str(out), *common, "--strategy", "entropy", "--rounds", "2", "--budget", "5", "--repeat", "10"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["complete"] and res["num_labels"] == 20
    assert "openclip:ViT-S-32-alt" in res["teacher"]
    accs = [r["teacher_acc"] for r in res["rounds"]]
    assert all(a is not None and 0 <= a <= 1 for a in accs)
    assert "teacher %" in capsys.readouterr().out


def test_a_run_trains_on_fixed_views_of_a_vlm_teacher_with_the_reference_clap_recipe(tmp_path, capsys):
    """--augment --views 2: every pool image's two views are embedded once (a cache folder per view) and the run ends."""
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["--teacher", "openclip:ViT-S-32-alt", "--few-shot", "clap", "--few-shot-recipe", "reference", "--few-shot-epochs", "5",
            "--views", "2", "--augment", "--embed-workers", "0", "--teacher-batch-size", "64", "--cache-dir", str(cache),
            "--pool-limit", "60", "--test-limit", "40", "--device", "cpu", "--no-progress", "--strategy", "pcoreset",
            "--rounds", "1", "--budget", "5", "--repeat", "5"]
    assert main(["run", "--out", str(out), *args]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["complete"] and res["num_labels"] == 15
    assert res["config"]["teacher"]["views"] == 2 and res["config"]["data"]["image_size"] == 256
    folders = sorted(p.name for p in (cache / "embeddings").iterdir() if p.name.startswith("openclip-ViT-S-32-alt"))
    assert len(folders) == 3, folders  # the whole images and each of the two views
    assert "teacher %" in capsys.readouterr().out


def test_few_shot_needs_a_vlm_teacher(tmp_path, cache_dir, capsys):
    assert run(tmp_path / "run", cache_dir, "--few-shot", "clap") == 2
    assert "needs a vision-language teacher" in capsys.readouterr().err
    assert not (tmp_path / "run" / "session.sqlite").exists()
