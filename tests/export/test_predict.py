"""``predict_images`` and ``load_predictor`` at the level the CLI calls them: folders, globs, CSVs,
a corrupt image, run folders, and the one-line errors for user mistakes."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from activekd.export import (
    ExportError,
    ImageSpecError,
    UnreadableImageError,
    expand_images,
    export_student,
    load_predictor,
    predict_images,
)
from activekd.registry import UnknownNameError


@pytest.fixture(scope="module")
def onnx_model(runs, tmp_path_factory):
    return export_student(runs["small-cnn"], "onnx", tmp_path_factory.mktemp("m") / "small.onnx")


@pytest.fixture(scope="module")
def folder(fmnist_images, tmp_path_factory):
    """5 real Fashion-MNIST PNGs in ``img/`` and ``img/sub/``, one corrupt ``img/sub/broken.png``, one ``notes.txt``."""
    d = tmp_path_factory.mktemp("img")
    (d / "sub").mkdir()
    for i in range(5):
        Image.fromarray(fmnist_images[i, 0].numpy()).save(d / ("sub" if i % 2 else ".") / f"im{i}.png")
    (d / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (d / "notes.txt").write_text("not an image")
    return d


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_folder_with_a_corrupt_image(onnx_model, folder, tmp_path, spec, fmnist_images):
    out = tmp_path / "preds.csv"
    rep = predict_images(onnx_model, [str(folder)], out=out, top_k=3, batch_size=2, progress=False)
    assert rep.unreadable == [str(folder / "sub" / "broken.png")]
    assert rep.num_images == 6 and len(rep.predictions) == 5
    rows = _rows(out)
    assert list(rows[0]) == ["id", "path", "class_1", "prob_1", "class_2", "prob_2", "class_3", "prob_3"]
    assert sorted(r["id"] for r in rows) == ["im0.png", "im2.png", "im4.png", "sub/im1.png", "sub/im3.png"]
    ref = load_predictor(onnx_model).predict(fmnist_images[:5, 0].numpy()[:, None])
    for r in rows:
        i = int(r["id"][-5])
        best = np.argsort(-ref[i])[:3]
        assert [r[f"class_{j + 1}"] for j in range(3)] == [spec.classes[b] for b in best]
        assert np.allclose([float(r[f"prob_{j + 1}"]) for j in range(3)], ref[i][best], atol=1e-6)


def test_globs_csvs_and_files(onnx_model, folder, tmp_path):
    lst = tmp_path / "list.csv"
    lst.write_text(f"id,path\na,{folder / 'im0.png'}\nb,{folder / 'missing.png'}\n")
    items = expand_images([str(folder / "*.png"), str(lst), str(folder / "sub" / "im1.png")])
    assert [i.id for i in items][-3:] == ["a", "b", str(folder / "sub" / "im1.png")]
    assert len(items) == 6
    rep = predict_images(onnx_model, [str(lst)], top_k=50, batch_size=8, progress=False)
    assert rep.unreadable == [str(folder / "missing.png")] and rep.out is None
    assert len(rep.predictions[0].classes) == 10  # top_k clipped to C
    assert abs(sum(rep.predictions[0].probs) - 1) < 1e-5


def test_run_folder_and_round(runs, folder, spec):
    """A run folder predicts with the PyTorch student itself; ``round`` picks a checkpoint."""
    final = load_predictor(runs["small-cnn"])
    first = load_predictor(runs["small-cnn"], round=0)
    x = np.asarray(Image.open(folder / "im0.png"))
    assert final.metadata.dataset_fingerprint == spec.fingerprint
    with torch.no_grad():
        ce, kd, _ = spec.make_student("small-cnn")(torch.from_numpy(x.copy())[None, None])
    from activekd.heads import mix_heads

    assert np.allclose(final.predict(x), mix_heads(ce, kd, spec.alpha, spec.beta).numpy(), atol=1e-6)
    assert not np.allclose(final.predict(x), first.predict(x))


def test_user_mistakes_are_one_line_value_errors(runs, onnx_model, tmp_path):
    cases = [
        (lambda: export_student(runs["small-cnn"], "tflite", tmp_path / "m"), UnknownNameError, "valid: onnx, pt2, torchscript"),
        (lambda: export_student(runs["small-cnn"], "onnx", tmp_path / "m", round=7), ExportError, "rounds with checkpoints: 0, 1"),
        (lambda: export_student(tmp_path / "nope", "onnx", tmp_path / "m"), ExportError, "no such run folder"),
        (lambda: export_student(onnx_model, "onnx", tmp_path / "m"), ExportError, "not an activekd student checkpoint"),
        (lambda: load_predictor(tmp_path / "nope.onnx"), ExportError, "no such model file"),
        (lambda: expand_images([str(tmp_path / "*.jpg")]), ImageSpecError, "no files match"),
        (lambda: expand_images([str(tmp_path / "x.png")]), ImageSpecError, "no such image"),
        (lambda: load_predictor(onnx_model).predict(str(tmp_path / "x.png")), UnreadableImageError, "unreadable image"),
        (lambda: load_predictor(onnx_model).predict(np.zeros((8, 8), np.float32)), ValueError, "must be uint8"),
    ]
    for call, err, msg in cases:
        with pytest.raises(err, match=msg) as e:
            call()
        assert isinstance(e.value, ValueError) and "\n" not in str(e.value)


def test_incomplete_run_asks_for_a_round(runs, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "round_000.safetensors").write_bytes((runs["small-cnn"] / "student.safetensors").read_bytes())
    with pytest.raises(ExportError, match=r"not complete; pick a round with --round N; rounds with checkpoints: 0"):
        export_student(run, "pt2", tmp_path / "m.pt2")
    out = export_student(run, "pt2", tmp_path / "m.pt2", round=0)
    meta = load_predictor(out).metadata
    assert meta.source == "checkpoints/round_000.safetensors" and meta.dataset_fingerprint is None


def test_square_matches_the_training_loader(fmnist_images):
    """The predictor's host-side crop is the file loader's, byte for byte."""
    from activekd.data._files import _square
    from activekd.export._images import square

    rng = np.random.default_rng(0)
    for shape in [(31, 57, 3), (64, 20, 3), (28, 28, 3)]:
        im = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        for size in (28, 32, 224):
            assert np.array_equal(square(im, size), _square(im, size))
