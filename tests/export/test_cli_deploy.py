"""`activekd export` and `activekd predict` from the command line, on a real (tiny) Fashion-MNIST run."""

import csv

import pytest

from activekd.cli import main

pytestmark = pytest.mark.slow


def test_export_then_predict_a_folder_with_a_corrupt_image(tmp_path, cache_dir, fmnist, capsys):
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--rounds", "0", "--pool-limit", "300", "--test-limit", "100",
                 "--repeat", "3", "--device", "cpu", "--no-progress"]) == 0
    model = tmp_path / "student.onnx"
    assert main(["export", str(out), "--format", "onnx", "--out", str(model)]) == 0
    images = tmp_path / "images"
    images.mkdir()
    for i in range(5):
        fmnist.images.pil(i).save(images / f"{i}.png")
    (images / "broken.png").write_bytes(b"\x89PNG not really")
    capsys.readouterr()
    assert main(["predict", str(model), str(images), "--out", str(tmp_path / "preds.csv"), "--top-k", "3", "--no-progress"]) == 0
    text = capsys.readouterr()
    assert "5 image(s) predicted, 1 unreadable" in text.out and "broken.png" in text.err
    rows = list(csv.DictReader((tmp_path / "preds.csv").open()))
    assert len(rows) == 5 and all(r["class_1"] in fmnist.class_names and float(r["prob_1"]) >= float(r["prob_3"]) for r in rows)
    assert main(["export", str(out), "--format", "nope", "--out", str(tmp_path / "x")]) == 2
    assert main(["predict", str(model), str(images), "--top-k", "0"]) == 2
    assert "valid: onnx, pt2, torchscript" in capsys.readouterr().err
