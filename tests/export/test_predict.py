"""``predict_images`` and ``load_predictor`` at the level the CLI calls them: folders, globs, CSVs,
bad images named in one warning, labelled CSVs, damaged model files, run folders, and the one-line
errors for user mistakes."""

from __future__ import annotations

import csv
import logging
import struct
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from activekd.export import (
    ClassMismatchError,
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
    """Real Fashion-MNIST images ``im0/2/4.png`` and ``sub/im1/3.jpg``; bad: ``empty.png`` (0 bytes),
    ``sub/text.jpg`` (a text file), ``sub/truncated.jpg`` (half a JPEG); ``notes.txt`` is not an image file."""
    d = tmp_path_factory.mktemp("img")
    (d / "sub").mkdir()
    for i in range(5):
        Image.fromarray(fmnist_images[i, 0].numpy()).save(d / "sub" / f"im{i}.jpg" if i % 2 else d / f"im{i}.png")
    jpeg = (d / "sub" / "im1.jpg").read_bytes()
    (d / "sub" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (d / "empty.png").write_bytes(b"")
    (d / "sub" / "text.jpg").write_text("this is not an image\n")
    (d / "notes.txt").write_text("not an image")
    return d


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


BAD = {"empty.png": "empty file", "sub/text.jpg": "not an image PIL can read", "sub/truncated.jpg": "truncated file"}
GOOD = ["im0.png", "im2.png", "im4.png", "sub/im1.jpg", "sub/im3.jpg"]


def test_folder_with_bad_images(onnx_model, folder, tmp_path, spec, caplog):
    """One row per good image; the bad ones named, with their reasons, in ONE warning line."""
    out = tmp_path / "preds.csv"
    with caplog.at_level(logging.DEBUG, logger="activekd"):
        rep = predict_images(onnx_model, [str(folder)], out=out, top_k=3, batch_size=2, progress=False)
    bad = [str(folder / b) for b in BAD]
    assert rep.unreadable == bad and rep.num_images == 8 and len(rep.predictions) == 5
    assert [rep.reasons[str(folder / b)] for b in BAD] == list(BAD.values())
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0] == rep.unreadable_summary(), warnings
    assert warnings[0].startswith("skipped 3 unreadable image(s) of 8: ") and all(b in warnings[0] for b in bad)
    assert "\n" not in warnings[0] and "notes.txt" not in warnings[0]
    rows = _rows(out)
    assert list(rows[0]) == ["id", "path", "class_1", "prob_1", "class_2", "prob_2", "class_3", "prob_3"]
    assert [r["id"] for r in rows] == GOOD
    pred = load_predictor(onnx_model)
    for r in rows:
        ref = pred.predict(np.asarray(Image.open(r["path"])))[0]  # decoded independently of predict_images
        best = np.argsort(-ref)[:3]
        assert [r[f"class_{j + 1}"] for j in range(3)] == [spec.classes[b] for b in best]
        assert np.allclose([float(r[f"prob_{j + 1}"]) for j in range(3)], ref[best], atol=1e-6)


def test_unreadable_images_are_named_in_one_line_however_many(onnx_model, folder, tmp_path, caplog):
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(30):
        (bad / f"b{i:02d}.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="activekd"):
        rep = predict_images(onnx_model, [str(folder / "im0.png"), str(bad)], progress=False)
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith("skipped 30 unreadable image(s) of 31: ") and line.endswith(" and 10 more") and "b19.png" in line
    assert len(rep.unreadable) == 30 and len(rep.predictions) == 1


def test_nothing_readable_is_an_error(onnx_model, folder, tmp_path):
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ImageSpecError, match=r"has no image files"):
        predict_images(onnx_model, [str(tmp_path / "empty_dir")], progress=False)
    with pytest.raises(ImageSpecError, match=r"none of the 2 image\(s\) could be read: .*empty.png \(empty file\)"):
        predict_images(onnx_model, [str(folder / "empty.png"), str(folder / "sub" / "text.jpg")], progress=False)


def test_csv_labels(onnx_model, folder, tmp_path, spec):
    """A ``label`` column: accuracy is reported and written; labels the model lacks are refused up front."""
    pred = load_predictor(onnx_model)
    best = [spec.classes[int(pred.predict(str(folder / f)).argmax())] for f in ("im0.png", "im2.png")]
    wrong = next(c for c in spec.classes if c != best[1])
    lst = tmp_path / "labelled.csv"
    lst.write_text(f"path,label\n{folder / 'im0.png'},{best[0]}\n{folder / 'im2.png'},{wrong}\n{folder / 'im4.png'},\n")
    rep = predict_images(onnx_model, [str(lst)], out=tmp_path / "p.csv", top_k=2, progress=False)
    assert rep.accuracy == 0.5 and [p.label for p in rep.predictions] == [best[0], wrong, None]
    assert [r["label"] for r in _rows(tmp_path / "p.csv")] == [best[0], wrong, ""]
    assert predict_images(onnx_model, [str(folder / "im0.png")], progress=False).accuracy is None
    other = tmp_path / "other.csv"  # a CSV of another data set: 12 classes, 2 of which the model lacks
    other.write_text("path,label\n" + "".join(f"{folder / 'missing.png'},class-{i}\n" for i in range(12)))
    with pytest.raises(ClassMismatchError, match=r"labelled with 12 classes, 2 of which model .* does not have "
                                                 r"\('class-10', 'class-11'\); it has 10: 'class-0'") as e:
        predict_images(onnx_model, [str(other)], progress=False)  # refused before any image is read
    assert isinstance(e.value, ExportError) and "\n" not in str(e.value)


def _flip_middle_of_largest_member(src, dst):
    """Copy a zip archive (TorchScript, ``.pt2``) with 64 bytes zeroed in the middle of its largest member's data."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = max(z.infolist(), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    data[start : start + 64] = bytes(64)
    dst.write_bytes(bytes(data))
    return dst


def test_damaged_model_files_are_one_line_errors(runs, onnx_model, tmp_path):
    pt2 = export_student(runs["small-cnn"], "pt2", tmp_path / "m.pt2")
    ts = export_student(runs["small-cnn"], "torchscript", tmp_path / "m.pt")
    raw = onnx_model.read_bytes()
    cases = {
        "garbage.onnx": (b"hello, not a model", "could not be read as a onnx model"),
        "empty.onnx": (b"", "could not be read as a onnx model"),
        "half.onnx": (raw[: len(raw) // 2], "could not be read as a onnx model"),
        "half.pt2": (pt2.read_bytes()[: pt2.stat().st_size // 2], "not an exported activekd model"),
        "model.bin": (b"\x00\x01\x02", "not an exported activekd model"),
    }
    for name, (data, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
    files = {tmp_path / n: m for n, (_, m) in cases.items()}
    files[_flip_middle_of_largest_member(pt2, tmp_path / "flipped.pt2")] = "fails the CRC check"
    files[_flip_middle_of_largest_member(ts, tmp_path / "flipped.pt")] = "fails the CRC check"
    for f, msg in files.items():
        with pytest.raises(ExportError, match=msg) as e:
            load_predictor(f)
        assert "\n" not in str(e.value) and str(f) in str(e.value), str(e.value)


def test_foreign_or_damaged_onnx_metadata(onnx_model, tmp_path):
    import onnx

    m = onnx.load(str(onnx_model))
    props = {p.key: p.value for p in m.metadata_props}
    for name, change, msg in [("foreign.onnx", {"format": ""}, "has no activekd metadata"),
                              ("damaged.onnx", {"class_names": "[not json"}, "damaged activekd metadata")]:
        del m.metadata_props[:]
        onnx.helper.set_model_props(m, {**props, **change})
        onnx.save(m, str(tmp_path / name))
        with pytest.raises(ExportError, match=msg):
            load_predictor(tmp_path / name)


def test_same_named_images_in_two_folders_keep_apart_and_no_bar_is_drawn_off_a_terminal(onnx_model, fmnist_images, tmp_path,
                                                                                        monkeypatch, capsys):
    """``predict a b``: ids are paths relative to the folder above both (``a/x.png``, ``b/x.png``), relative or absolute
    arguments alike; one folder keeps ids relative to itself. ``progress=True`` with stderr not a terminal draws nothing."""
    for name in ("a", "b", "b/deep"):
        (tmp_path / name).mkdir()
        Image.fromarray(fmnist_images[len(name), 0].numpy()).save(tmp_path / name / "x.png")
    monkeypatch.chdir(tmp_path)
    assert [i.id for i in expand_images(["a", "b"])] == ["a/x.png", "b/deep/x.png", "b/x.png"]
    assert [i.id for i in expand_images([str(tmp_path / "a"), "b"])] == ["a/x.png", "b/deep/x.png", "b/x.png"]
    assert [i.id for i in expand_images(["b"])] == ["deep/x.png", "x.png"]
    capsys.readouterr()
    rep = predict_images(onnx_model, ["a", "b"], out=tmp_path / "p.csv", progress=True)
    assert [r["id"] for r in _rows(tmp_path / "p.csv")] == ["a/x.png", "b/deep/x.png", "b/x.png"]
    assert len(rep.predictions) == 3 and capsys.readouterr().err == ""


def test_globs_csvs_and_files(onnx_model, folder, tmp_path):
    lst = tmp_path / "list.csv"
    lst.write_text(f"id,path\na,{folder / 'im0.png'}\nb,{folder / 'missing.png'}\n")
    items = expand_images([str(folder / "*.png"), str(lst), str(folder / "sub" / "im1.jpg")])
    assert [i.id for i in items][-3:] == ["a", "b", str(folder / "sub" / "im1.jpg")]
    assert len(items) == 7 and all(i.label is None for i in items)
    rep = predict_images(onnx_model, [str(lst)], top_k=50, batch_size=8, progress=False)
    assert rep.unreadable == [str(folder / "missing.png")] and rep.reasons[str(folder / "missing.png")] == "no such file"
    assert rep.out is None
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


def test_an_incomplete_run_exports_its_latest_trained_round(runs, tmp_path):
    """A run waiting for labels has no final student: without --round its latest checkpoint is exported (round 10 after
    round 9: rounds compare as numbers); a folder with no round at all is one line naming that."""
    from activekd.export import describe_checkpoint, resolve_checkpoint

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with pytest.raises(ExportError, match=r"has no trained round yet") as e:
        export_student(run, "pt2", tmp_path / "m.pt2")
    assert "\n" not in str(e.value) and not (tmp_path / "m.pt2").exists()
    src = runs["small-cnn"] / "checkpoints"
    (run / "checkpoints" / "round_009.safetensors").write_bytes((src / "round_001.safetensors").read_bytes())
    (run / "checkpoints" / "round_010.safetensors").write_bytes((src / "round_000.safetensors").read_bytes())
    ckpt, where = resolve_checkpoint(run)
    assert (ckpt, where, describe_checkpoint(ckpt)) == (run / "checkpoints" / "round_010.safetensors", run, "round 10")
    meta = load_predictor(export_student(run, "pt2", tmp_path / "m.pt2")).metadata
    assert meta.source == "checkpoints/round_010.safetensors" and meta.dataset_fingerprint is None
    out = export_student(run, "pt2", tmp_path / "m9.pt2", round=9)
    assert load_predictor(out).metadata.source == "checkpoints/round_009.safetensors"


def test_a_complete_run_exports_its_final_student_and_an_extended_one_its_newer_round(runs, tmp_path):
    import shutil

    from activekd.export import describe_checkpoint, resolve_checkpoint

    run = tmp_path / "run"
    shutil.copytree(runs["small-cnn"], run)
    ckpt, _ = resolve_checkpoint(run)
    assert ckpt == run / "student.safetensors" and describe_checkpoint(ckpt) == "round 1 (the final student)"
    (run / "checkpoints" / "round_002.safetensors").write_bytes((run / "checkpoints" / "round_000.safetensors").read_bytes())
    ckpt, _ = resolve_checkpoint(run)  # `resume --rounds` trained round 2: student.safetensors is round 1's
    assert ckpt == run / "checkpoints" / "round_002.safetensors" and describe_checkpoint(ckpt) == "round 2"


def test_the_predictor_crops_with_the_training_loaders_function():
    """One crop for training and deployment (activekd.imaging.square): the predictor cannot drift from the loader."""
    import activekd.data._files as loader
    import activekd.export._images as predictor
    from activekd.imaging import square

    assert loader.square is square and predictor.square is square


def test_a_negative_round_is_refused_in_one_line_not_read_as_the_latest(runs, tmp_path):
    for bad in (-1, -7, True):
        with pytest.raises(ExportError, match=r"--round must be a round number >= 0, got") as e:
            export_student(runs["small-cnn"], "onnx", tmp_path / "m.onnx", round=bad)
        assert "\n" not in str(e.value) and "without --round the run's final student" in str(e.value)
        with pytest.raises(ExportError, match=r"--round must be a round number >= 0"):
            load_predictor(runs["small-cnn"], round=bad)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_store_is_named_when_the_student_is_missing(runs, tmp_path):
    import shutil

    from activekd.session import SessionStore

    run = tmp_path / "run"
    shutil.copytree(runs["small-cnn"], run)
    (run / "student.safetensors").unlink()
    SessionStore.create(run).close()
    raw = bytearray((run / "session.sqlite").read_bytes())
    raw[100:600] = b"\xa5" * 500  # the schema page, after the 100-byte header that carries activekd's mark
    (run / "session.sqlite").write_bytes(bytes(raw))
    with pytest.raises(ExportError, match=r"cannot be exported: .*session.sqlite is corrupt") as e:
        export_student(run, "onnx", tmp_path / "m.onnx")
    assert "student.safetensors" not in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "m.onnx").exists()
    (run / "session.sqlite").unlink()  # no store at all: the latest trained round is exported
    assert load_predictor(export_student(run, "onnx", tmp_path / "m.onnx")).metadata.source == "checkpoints/round_001.safetensors"
