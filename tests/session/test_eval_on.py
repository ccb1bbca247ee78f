"""Issue 11, item 6: ``--eval-on`` scores each round's student (and a VLM teacher) on extra test sets, classes matched by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from activekd.cli import main
from activekd.config import DataConfig, RunConfig
from activekd.data import ArraySource, Dataset
from activekd.errors import ConfigError
from activekd.session import SessionError, load_dataset
from activekd.session._extra_eval import ExtraSet, extra_set, teacher_logits_on
from activekd.teachers import ImageEmbedder, TableTeacher, VLMTeacher

TINY = ["--pool-limit", "300", "--test-limit", "100", "--repeat", "3", "--rounds", "1", "--budget", "5", "--device", "cpu",
        "--no-progress", "--image-size", "32"]
N_INVERTED = 500
PER_CLASS_ROTATED = 10


def _write(path: Path, pixels: np.ndarray, rgb: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(pixels)
    (im.convert("RGB").resize((40, 40)) if rgb else im).save(path)


@pytest.fixture(scope="module")
def shifted(fmnist, tmp_path_factory):
    """Shifted copies of Fashion-MNIST test images: the first 500 inverted, as a CSV (classes in sorted name order, not
    Fashion-MNIST's); and 10 per class rotated by 90°, as a 40x40 RGB image folder without 'T-shirt/top' (a subset;
    '/' cannot name a folder)."""
    root = tmp_path_factory.mktemp("shifted")
    test = fmnist.split_indices("test")
    pixels = fmnist.images.batch(test).numpy()[:, 0]  # [n, 28, 28] uint8
    rows = []
    for k in range(N_INVERTED):
        _write(root / "inverted" / f"{k:04d}.png", 255 - pixels[k])
        rows.append(f"inverted/{k:04d}.png,{fmnist.class_names[fmnist.labels[test[k]]]}\n")
    (root / "inverted.csv").write_text("path,label\n" + "".join(rows))
    for c, name in enumerate(fmnist.class_names[1:], start=1):
        members = np.flatnonzero(fmnist.labels[test] == c)[:PER_CLASS_ROTATED]
        for k in members:
            _write(root / "rotated" / name / f"{k:04d}.png", np.rot90(pixels[k]).copy(), rgb=True)
    (root / "bad.csv").write_text("path,label\n" + "".join(r.replace(",trouser", ",Trouser") for r in rows[:50]))
    return {"csv": f"csv:{root / 'inverted.csv'}", "folder": f"imagefolder:{root / 'rotated'}", "bad": f"csv:{root / 'bad.csv'}",
            "root": root, "test": test}


def test_eval_on_accepts_comma_separated_specs_and_a_list():
    assert DataConfig(eval_on="csv:a.csv, imagefolder:b").eval_on == ("csv:a.csv", "imagefolder:b")
    assert DataConfig(eval_on=["csv:a.csv"]).eval_on == ("csv:a.csv",)
    config = RunConfig(data=DataConfig(eval_on="csv:a.csv"))
    assert RunConfig.from_dict(json.loads(config.to_json())).identity() == config.identity()  # the stored run config keeps it
    with pytest.raises(ConfigError, match="twice"):
        DataConfig(eval_on="csv:a.csv,csv:a.csv")


def test_labels_are_mapped_by_class_name(fmnist, shifted, cache_dir):
    data = DataConfig(image_size=32)
    es = extra_set(shifted["csv"], data, str(cache_dir), fmnist.class_names)
    assert es.dataset.class_names != fmnist.class_names  # sorted names: another order
    assert len(es.positions) == N_INVERTED
    np.testing.assert_array_equal(es.labels, fmnist.labels[shifted["test"][:N_INVERTED]])
    sub = extra_set(shifted["folder"], data, str(cache_dir), fmnist.class_names)
    assert len(sub.positions) == 9 * PER_CLASS_ROTATED and 0 not in sub.labels  # a subset of the classes
    with pytest.raises(SessionError, match="'Trouser'"):
        extra_set(shifted["bad"], data, str(cache_dir), fmnist.class_names)


def test_a_run_reports_both_accuracies_every_round(shifted, cache_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *TINY, "--eval-on", shifted["csv"], shifted["folder"]]) == 0
    printed = capsys.readouterr().out
    res = json.loads((out / "results.json").read_text())
    assert [r["round"] for r in res["rounds"]] == [0, 1]
    for r in res["rounds"]:
        assert 0 <= r["student_acc"] <= 1 and r["teacher_acc"] is not None
        assert set(r["eval_on"]) == {shifted["csv"], shifted["folder"]}
        inverted, rotated = r["eval_on"][shifted["csv"]], r["eval_on"][shifted["folder"]]
        assert inverted["num_images"] == N_INVERTED and rotated["num_images"] == 9 * PER_CLASS_ROTATED
        assert 0 <= inverted["student_acc"] <= 1 and 0 <= rotated["student_acc"] <= 1
        assert inverted["teacher_acc"] is None  # the stand-in knows only the run's own images
    assert printed.count(f"on {shifted['csv']} ({N_INVERTED} images)") == 2
    assert printed.count(f"on {shifted['folder']} ({9 * PER_CLASS_ROTATED} images)") == 2
    plain = RunConfig(data=DataConfig(pool_limit=300, test_limit=100, image_size=32), cache_dir=str(cache_dir))
    assert res["dataset"]["fingerprint"] == load_dataset(plain).fingerprint()  # the main dataset's check is unchanged
    _reports_show_it(out, tmp_path, shifted, capsys)
    assert main(["resume", str(out), "--rounds", "2"]) == 0  # the stored configuration keeps --eval-on
    res = json.loads((out / "results.json").read_text())
    assert res["rounds"][-1]["round"] == 2 and set(res["rounds"][-1]["eval_on"]) == {shifted["csv"], shifted["folder"]}


def _reports_show_it(out: Path, tmp_path: Path, shifted, capsys) -> None:
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    assert capsys.readouterr().out.count(f"on {shifted['csv']}") == 2
    assert main(["compare", str(out)]) == 0
    text = capsys.readouterr().out
    assert "extra test sets (--eval-on)" in text and shifted["csv"] in text and shifted["folder"] in text
    html = tmp_path / "report.html"
    assert main(["report", str(out), "--out", str(html)]) == 0
    assert "Extra test sets (--eval-on)" in html.read_text()


def test_class_names_that_do_not_match_are_refused_before_anything_is_written(shifted, cache_dir, tmp_path, capsys):
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *TINY, "--eval-on", shifted["bad"]]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("activekd: error: --eval-on")
    assert "'Trouser'" in lines[0] and "class names must match" in lines[0]
    assert not out.exists()


# --------------------------------------------------------------------------- the teacher on an extra set


class _Transform:
    def __call__(self, im: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(im.convert("RGB").resize((8, 8)), dtype=np.float32) / 255).permute(2, 0, 1)


class _FakeVLM:
    """A cheap CLIP-like model: a fixed random projection of 8x8 RGB pixels."""

    name, identity, preprocess = "fake:eval-on", {"backend": "fake"}, {"size": 8}
    proj = torch.randn(3 * 8 * 8, 16, generator=torch.Generator().manual_seed(0))

    def transform(self):
        return _Transform()

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels.flatten(1) - 0.5) @ self.proj


def _tiny(images: np.ndarray, classes: tuple[str, ...], labels: np.ndarray, name: str) -> Dataset:
    n = len(images)
    return Dataset(name=name, class_names=classes, ids=[f"{name}{i}" for i in range(n)], labels=labels,
                   splits=np.array(["test"] * n, dtype=object), images=ArraySource(images))


def test_a_vlm_teacher_scores_an_extra_set_and_a_fixed_one_does_not(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(12, 3, 16, 16), dtype=np.uint8)
    labels = np.arange(12) % 3
    run = _tiny(images, ("cat", "dog", "fox"), labels, "run")
    extra = _tiny(images[::-1].copy(), ("fox", "cat", "dog"), (labels[::-1] + 1) % 3, "extra")  # same images, reversed, other order
    classifier = torch.nn.functional.normalize(torch.randn(16, 3, generator=torch.Generator().manual_seed(1)), dim=0)
    teacher = VLMTeacher("fake", ImageEmbedder(_FakeVLM(), run, tmp_path, workers=0), classifier, None, device=torch.device("cpu"))
    es = ExtraSet("extra", extra, np.arange(12), np.array([run.class_names.index(extra.class_names[y]) for y in extra.labels]))
    np.testing.assert_array_equal(es.labels, labels[::-1])
    on_extra = teacher_logits_on(teacher, es, tmp_path)
    torch.testing.assert_close(on_extra, teacher.logits(run.ids)[torch.arange(11, -1, -1)])
    fixed = TableTeacher("file:x", run.ids, torch.zeros(12, 3))
    assert teacher_logits_on(fixed, es, tmp_path) is None
