"""A user's own images with no label at all: ``--classes`` (or ``classes.txt``) names the classes, ``--shots 0`` starts.

Real runs on a CSV (and an image folder) of small PNGs whose labels are all empty, a ``file:`` teacher, and a person
(``--oracle human``) answering each round's batch file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activekd.cli import main

CLASSES = ("ant", "bee", "cow")
N = 30
ARGS = ["--shots", "0", "--budget", "4", "--repeat", "3", "--image-size", "16", "--device", "cpu", "--no-progress"]


def _truth(i: int) -> str:
    return CLASSES[i % 3]


def make_unlabeled(root: Path) -> list[str]:
    """``N`` PNGs (the class readable from the colour) under ``root/img``, and ``root/teacher.npz`` keyed by the same ids."""
    (root / "img").mkdir(parents=True)
    ids = []
    for i in range(N):
        rgb = np.zeros((16, 16, 3), np.uint8)
        rgb[..., i % 3] = 200 + i
        Image.fromarray(rgb).save(root / "img" / f"{i:02d}.png")
        ids.append(f"img/{i:02d}.png")
    logits = np.eye(3)[[i % 3 for i in range(N)]] * 4.0 + np.random.default_rng(0).normal(size=(N, 3))
    np.savez(root / "teacher.npz", ids=np.array(ids), logits=logits)
    return ids


def answer(out: Path, r: int, tmp: Path) -> Path:
    rows = list(csv.DictReader((out / "to_label" / f"round_{r:03d}.csv").open()))
    f = tmp / f"answers_{r}.csv"
    f.write_text("id,label\n" + "".join(f"{row['id']},{_truth(int(Path(row['id']).stem))}\n" for row in rows))
    return f


def test_all_empty_labels_with_classes_and_shots_0_runs_two_rounds_with_a_person(tmp_path, cache_dir):
    ids = make_unlabeled(tmp_path)
    (tmp_path / "data.csv").write_text("path,label\n" + "".join(f"{i},\n" for i in ids))
    out = tmp_path / "run"
    run = ["run", "--out", str(out), "--dataset", f"csv:{tmp_path / 'data.csv'}", "--classes", ",".join(CLASSES),
           "--teacher", f"file:{tmp_path / 'teacher.npz'}", "--cache-dir", str(cache_dir), "--oracle", "human", "--rounds", "2", *ARGS]
    assert main(run) == 3  # round 0 picked by the teacher, waiting for a person
    assert (out / "to_label" / "classes.txt").read_text().split() == list(CLASSES)
    assert main(["label", str(out), str(answer(out, 0, tmp_path))]) == 0
    assert main(["resume", str(out)]) == 3  # round 1 trained on the 4 answers, its picks wait
    assert main(["label", str(out), str(answer(out, 1, tmp_path))]) == 0
    assert main(["resume", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["complete"] and res["dataset"]["class_names"] == list(CLASSES) and res["num_labels"] == 8
    assert [r["num_labeled"] for r in res["rounds"]] == [0, 4, 8]
    assert [r["student_acc"] for r in res["rounds"]] == [None, None, None]  # no labeled test split: nothing to score on


def test_classes_txt_in_an_image_folder_of_loose_images(tmp_path, cache_dir, capsys):
    make_unlabeled(tmp_path)
    (tmp_path / "img" / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--dataset", f"imagefolder:{tmp_path / 'img'}", "--teacher",
                 f"file:{tmp_path / 'teacher2.npz'}", "--cache-dir", str(cache_dir), "--oracle", "human", "--rounds", "1", *ARGS]) == 2
    assert "teacher2.npz" in capsys.readouterr().err and not out.exists()
    t = np.load(tmp_path / "teacher.npz")
    np.savez(tmp_path / "teacher2.npz", ids=np.array([i.removeprefix("img/") for i in t["ids"]]), logits=t["logits"])
    assert main(["run", "--out", str(out), "--dataset", f"imagefolder:{tmp_path / 'img'}", "--teacher",
                 f"file:{tmp_path / 'teacher2.npz'}", "--cache-dir", str(cache_dir), "--oracle", "human", "--rounds", "1", *ARGS]) == 3
    assert len(list(csv.DictReader((out / "to_label" / "round_000.csv").open()))) == 4


@pytest.mark.parametrize("classes, labels, words", [
    ("ant,bee,ant", {}, ["'ant' is given twice"]),
    ("ant,,bee", {}, ["name 2 is an empty class name"]),
    ("ant,bee,cow", {3: "wasp"}, ["line 5", "'wasp'", "not one of the given class names"]),
    ("nowhere.txt", {}, ["nowhere.txt", "no such file"]),
])
def test_bad_classes_are_one_line_exit_2_and_nothing_written(tmp_path, cache_dir, capsys, classes, labels, words):
    ids = make_unlabeled(tmp_path)
    (tmp_path / "data.csv").write_text("path,label\n" + "".join(f"{i},{labels.get(n, '')}\n" for n, i in enumerate(ids)))
    out = tmp_path / "run"
    capsys.readouterr()
    rc = main(["run", "--out", str(out), "--dataset", f"csv:{tmp_path / 'data.csv'}", "--classes", classes, "--teacher",
               f"file:{tmp_path / 'teacher.npz'}", "--cache-dir", str(cache_dir), "--oracle", "human", "--rounds", "1", *ARGS])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert not out.exists()


def test_a_duplicate_line_in_a_classes_file_is_named(tmp_path, cache_dir, capsys):
    ids = make_unlabeled(tmp_path)
    (tmp_path / "data.csv").write_text("path,label\n" + "".join(f"{i},\n" for i in ids))
    (tmp_path / "classes.txt").write_text("ant\nbee\n\nbee\n")
    out = tmp_path / "run"
    rc = main(["run", "--out", str(out), "--dataset", f"csv:{tmp_path / 'data.csv'}", "--teacher", f"file:{tmp_path / 'teacher.npz'}",
               "--cache-dir", str(cache_dir), "--oracle", "human", "--rounds", "1", *ARGS])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "classes.txt" in err and "line 3 is an empty class name" in err and not out.exists()
