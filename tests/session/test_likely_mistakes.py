"""Likely label mistakes in a real run: a person's flipped label is flagged after the next round, a correct one is not.

A CSV of flat grey images (the class is the grey level), a confident ``file:`` teacher, ``--oracle human``, ``--shots 0``.
Round 0's picks carry the teacher's evidence only; round 1's carry the picking student's and the teacher's.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activekd.cli import main
from activekd.session import SessionStore, standing

CLASSES = ("dark", "mid", "bright")
N = 36


def _truth(sid: str) -> str:
    return CLASSES[int(Path(sid).stem) % 3]


def _wrong(sid: str) -> str:
    return CLASSES[(int(Path(sid).stem) + 1) % 3]


@pytest.fixture(scope="module")
def flipped(tmp_path_factory, cache_dir):
    """A run of 2 rounds: the first pick of each of rounds 0 and 1 answered with a wrong class, the rest right."""
    root = tmp_path_factory.mktemp("mislabels")
    (root / "img").mkdir()
    ids = []
    for i in range(N):
        rgb = np.full((16, 16, 3), (30, 128, 225)[i % 3] + i // 3, np.uint8)  # the student sees grey levels: dark, mid, bright
        Image.fromarray(rgb).save(root / "img" / f"{i:02d}.png")
        ids.append(f"img/{i:02d}.png")
    np.savez(root / "teacher.npz", ids=np.array(ids), logits=np.eye(3)[[i % 3 for i in range(N)]] * 8.0)
    (root / "data.csv").write_text("path,label\n" + "".join(f"{i},\n" for i in ids))
    out = root / "run"
    assert main(["run", "--out", str(out), "--dataset", f"csv:{root / 'data.csv'}", "--classes", ",".join(CLASSES), "--teacher",
                 f"file:{root / 'teacher.npz'}", "--cache-dir", str(cache_dir), "--oracle", "human", "--shots", "0", "--rounds", "2",
                 "--budget", "6", "--repeat", "80", "--lr", "0.01", "--batch-labeled", "8", "--batch-unlabeled", "8", "--image-size", "16", "--device", "cpu", "--no-progress"]) == 3
    wrong = []
    for r in (0, 1):
        rows = list(csv.DictReader((out / "to_label" / f"round_{r:03d}.csv").open()))
        wrong.append(rows[0]["id"])
        answers = root / f"answers_{r}.csv"
        answers.write_text("id,label\n" + "".join(f"{x['id']},{_wrong(x['id']) if x['id'] == wrong[-1] else _truth(x['id'])}\n"
                                                  for x in rows if not x["label"]))
        assert main(["label", str(out), str(answers)]) == 0
        assert main(["resume", str(out)]) == (3 if r == 0 else 0)
    return {"out": out, "root": root, "wrong": wrong}


def _rounds(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())["rounds"]


def test_a_flipped_label_is_flagged_by_the_round_after_it_and_correct_labels_are_not(flipped):
    out, (w0, w1) = flipped["out"], flipped["wrong"]
    r1, r2 = _rounds(out)[1], _rounds(out)[2]
    assert [f["id"] for f in r1["likely_mistakes"]] == [w0]  # round 1 trained on round 0's 6 answers
    f0 = r1["likely_mistakes"][0]
    assert f0["evidence"] == "teacher" and f0["label"] == _wrong(w0) and f0["teacher"][0] == _truth(w0) and f0["p_teacher"] < 0.01
    assert sorted(f["id"] for f in r2["likely_mistakes"]) == sorted([w0, w1])
    f1 = next(f for f in r2["likely_mistakes"] if f["id"] == w1)
    assert f1["evidence"] == "student+teacher" and f1["student"][0] == _truth(w1) and f1["p_student"] < 0.1
    assert all((out / f["thumbnail"]).is_file() for f in r2["likely_mistakes"])
    assert all(len(r["pick_thumbnails"]) == 6 for r in _rounds(out)[:2]) and _rounds(out)[2]["pick_thumbnails"] == {}


def test_status_lists_the_flags_and_the_batch_csv_carries_a_recheck_row(flipped, capsys):
    out, (w0, w1) = flipped["out"], flipped["wrong"]
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "likely label mistakes: 2" in shown and f"{w1}: labeled {_wrong(w1)!r}; teacher: {_truth(w1)} 1.00" in shown
    assert main(["status", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(f["id"] for f in doc["likely_mistakes"]) == sorted([w0, w1])
    rows = list(csv.DictReader((out / "to_label" / "round_001.csv").open()))  # written when round 1 picked: round 0's flag
    recheck = [r for r in rows if r["likely_mistake"]]
    assert [(r["id"], r["label"]) for r in recheck] == [(w0, _wrong(w0))] and len(rows) == 6 + 1
    assert "labeled" in recheck[0]["likely_mistake"]


def test_review_writes_the_flags_and_a_relabel_of_that_file_clears_them(flipped, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(flipped["out"], out)
    review = tmp_path / "check.csv"
    assert main(["label", str(out), "--review", "--out", str(review)]) == 0
    rows = list(csv.DictReader(review.open()))
    assert sorted(r["id"] for r in rows) == sorted(flipped["wrong"]) and all(r["label"] == _wrong(r["id"]) for r in rows)
    tasks = json.loads(review.with_suffix(".labelstudio.json").read_text())
    assert sorted(t["data"]["activekd_id"] for t in tasks) == sorted(flipped["wrong"]) and all(t["data"]["likely_mistake"] for t in tasks)
    review.write_text("\n".join([",".join(rows[0])] + [",".join({**r, "label": _truth(r["id"])}.values()) for r in rows]) + "\n")
    assert main(["label", str(out), str(review), "--relabel"]) == 0
    with SessionStore.open(out, readonly=True) as store:
        assert standing(store, out).likely_mistakes == ()


def test_review_options_are_checked(flipped, capsys):
    capsys.readouterr()
    assert main(["label", str(flipped["out"]), "--out", "x.csv", "--review", "--undo"]) == 2
    assert main(["label", str(flipped["out"]), str(flipped["root"] / "answers_0.csv"), "--out", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 2 and "--review" in err and not Path("x.csv").exists()
