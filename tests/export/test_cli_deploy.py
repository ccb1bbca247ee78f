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
    capsys.readouterr()
    assert main(["export", str(out), "--format", "onnx", "--out", str(model)]) == 0
    assert f"exported {out}, round 0 (the final student) (onnx), to {model}" in capsys.readouterr().out  # says which round
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


def _bad_folder(d, fmnist):
    """2 PNGs and 2 JPEGs of Fashion-MNIST; a truncated JPEG, an empty file and a text file named like images."""
    d.mkdir()
    for i in range(4):
        fmnist.images.pil(i).save(d / f"{i}.{'png' if i < 2 else 'jpg'}")
    jpeg = (d / "2.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (d / "empty.png").write_bytes(b"")
    (d / "text.jpg").write_text("not an image\n")
    return d, ["empty.png", "text.jpg", "truncated.jpg"]


@pytest.fixture
def cli_model(runs, tmp_path):
    from activekd.export import export_student

    return export_student(runs["small-cnn"], "onnx", tmp_path / "m.onnx")


def test_predict_bad_images_and_bad_inputs(cli_model, tmp_path, fmnist, capsys):
    """Bad images: a row per good one, exit 0. A damaged model, an empty folder, a CSV of other classes: one line, exit 2."""
    images, bad = _bad_folder(tmp_path / "images", fmnist)
    assert main(["predict", str(cli_model), str(images), "--no-progress"]) == 0
    text = capsys.readouterr()
    rows = [line for line in text.out.splitlines() if line.startswith(str(images))]
    assert len(rows) == 4 and "4 image(s) predicted, 3 unreadable" in text.out
    assert all(b in text.err for b in bad)
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(cli_model.read_bytes()[:1000])
    (tmp_path / "nothing").mkdir()
    other = tmp_path / "other.csv"
    other.write_text("path,label\n" + "".join(f"images/0.png,label-{i}\n" for i in range(12)))
    for argv, msg in [([str(damaged), str(images)], "could not be read as a onnx model"),
                      ([str(cli_model), str(tmp_path / "nothing")], "has no image files"),
                      ([str(cli_model), str(other)], "labelled with 12 classes, 12 of which"),
                      ([str(tmp_path / "nope.onnx"), str(images)], "no such model file")]:
        assert main(["predict", *argv, "--no-progress"]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("activekd: error: ") and msg in err, err


def test_predict_names_unreadable_images_in_one_line(cli_model, tmp_path, fmnist, capsys):
    images, bad = _bad_folder(tmp_path / "images", fmnist)
    assert main(["predict", str(cli_model), str(images), "--no-progress"]) == 0
    err = capsys.readouterr().err
    naming = [line for line in err.splitlines() if any(b in line for b in bad)]
    assert len(naming) == 1 and all(b in naming[0] for b in bad), err


def test_export_and_predict_errors_name_the_users_out_and_leave_nothing(runs, cli_model, tmp_path, fmnist, capsys):
    images, folder = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    folder.mkdir()
    for i in range(2):
        fmnist.images.pil(i).save(images / f"{i}.png")
    before = sorted(p.name for p in tmp_path.iterdir())
    for argv in (["export", str(runs["small-cnn"]), "--format", "onnx", "--out", str(folder)],
                 ["export", str(runs["small-cnn"]), "--format", "torchscript", "--out", str(folder)],
                 ["predict", str(cli_model), str(images), "--out", str(folder), "--no-progress"]):
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.endswith(f"({folder})") and ".tmp" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not any(folder.iterdir())
    assert main(["export", str(runs["small-cnn"]), "--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--round", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--round must be a round number >= 0, got -1" in err
