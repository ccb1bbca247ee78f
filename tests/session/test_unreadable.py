"""A run's unreadable images: listed in ``RUN/unreadable.txt`` and counted by ``status`` (text and --json); once the
folder is checked, commands that open the run (``label``, ``resume``) decode nothing, and ``status`` never does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

import activekd.data._verdicts as verdicts
from activekd.cli import main
from activekd.layout import RunLayout
from activekd.session._unreadable import record_unreadable, unreadable_count

CLASSES = ("ant", "bee", "cow")
N = 12
PAST_NS = 1_600_000_000 * 10**9  # not racy: verdicts are cached
ARGS = ["--shots", "0", "--budget", "3", "--repeat", "2", "--image-size", "16", "--device", "cpu", "--no-progress",
        "--oracle", "human", "--rounds", "1", "--classes", ",".join(CLASSES)]


def _folder(root: Path) -> Path:
    """``N`` PNGs and one broken JPEG directly in ``root/img`` (unlabeled), and a ``file:`` teacher for the PNGs."""
    img = root / "img"
    img.mkdir(parents=True)
    for i in range(N):
        rgb = np.zeros((16, 16, 3), np.uint8)
        rgb[..., i % 3] = 200
        Image.fromarray(rgb).save(img / f"{i:02d}.png")
    (img / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    for f in img.iterdir():
        os.utime(f, ns=(PAST_NS, PAST_NS))
    logits = np.eye(3)[[i % 3 for i in range(N)]] * 4.0
    np.savez(root / "teacher.npz", ids=np.array([f"{i:02d}.png" for i in range(N)]), logits=logits)
    return img


def test_status_counts_the_unreadable_images_and_names_the_list_and_nothing_decodes_again(tmp_path, monkeypatch, capsys):
    img, out = _folder(tmp_path), tmp_path / "run"
    assert main(["run", "--out", str(out), "--dataset", f"imagefolder:{img}", "--teacher", f"file:{tmp_path / 'teacher.npz'}",
                 "--cache-dir", str(tmp_path / "cache"), *ARGS]) == 3
    assert (out / RunLayout.UNREADABLE).read_text() == f"{img / 'broken.jpg'}\n"
    decoded: list[str] = []
    monkeypatch.setattr(verdicts, "decodes", lambda p: decoded.append(p) or True)
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    assert f"unreadable images left out: 1 (listed in {out / RunLayout.UNREADABLE})" in capsys.readouterr().out
    assert main(["status", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["unreadable"], doc["unreadable_list"]) == (1, str(out / RunLayout.UNREADABLE))
    batch = out / "to_label" / "round_000.csv"
    rows = batch.read_text().splitlines()[1:]
    answers = tmp_path / "answers.csv"
    answers.write_text("id,label\n" + "".join(f"{r.split(',')[0]},{CLASSES[int(r.split(',')[0][:2]) % 3]}\n" for r in rows))
    assert main(["label", str(out), str(answers)]) == 0
    assert decoded == []  # the unchanged folder: stat only


def test_a_run_without_a_list_says_unknown_not_zero(tmp_path, capsys):
    from tests.session.test_standing import make_run

    out, store = make_run(tmp_path)
    store.close()
    capsys.readouterr()
    assert main(["status", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["unreadable"] is None and doc["unreadable_list"] is None
    assert main(["status", str(out)]) == 0
    assert "unreadable" not in capsys.readouterr().out


def test_the_list_is_rewritten_only_when_it_changes(tmp_path):
    assert unreadable_count(tmp_path) is None
    record_unreadable(tmp_path, ("a.jpg", "b.jpg"))
    f = tmp_path / RunLayout.UNREADABLE
    os.utime(f, ns=(PAST_NS, PAST_NS))
    record_unreadable(tmp_path, ("a.jpg", "b.jpg"))
    assert f.stat().st_mtime_ns == PAST_NS and unreadable_count(tmp_path) == 2
    record_unreadable(tmp_path, ())
    assert f.read_text() == "" and unreadable_count(tmp_path) == 0
