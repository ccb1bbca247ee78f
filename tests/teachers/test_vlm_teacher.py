"""The VLM teacher end to end on a fake backbone: zero-shot maths, prompts, few-shot refits, caching."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from activekd.teachers import Teacher, TeacherConfig, TeacherContext, create_teacher
from activekd.teachers import _zeroshot

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture
def build(tmp_path, monkeypatch, make_dataset, fake_vlm):
    """``build(model=None, dataset=None, **config) -> (teacher, model)`` with a fake backbone behind ``openclip:``."""

    def _build(model=None, dataset=None, **config):
        model = model or fake_vlm()
        monkeypatch.setattr(_zeroshot, "create_backbone", lambda spec, **kw: model)
        config = {"spec": "openclip:fake", "embed_workers": 0, "batch_size": 4, **config}
        ctx = TeacherContext(dataset or make_dataset(), tmp_path / "cache", torch.device("cpu"), seed=0)
        return create_teacher(TeacherConfig(**config), ctx), model

    return _build


def test_zero_shot_logits_match_a_hand_computation(build, make_dataset):
    ds = make_dataset()
    teacher, model = build(dataset=ds)
    assert isinstance(teacher, Teacher) and not teacher.adaptive and teacher.num_classes == 2
    assert model.texts == ["a photo of a cat.", "a drawing of a cat.", "a photo of a dog.", "a drawing of a dog."]
    text = model.encode_texts(list(model.texts)).reshape(2, 2, -1)
    classifier = torch.stack([F.normalize(F.normalize(text[c], dim=-1).mean(0), dim=0) for c in range(2)], dim=1)
    ids = ["s004", "s000", "s007"]
    image = torch.stack([F.normalize((model.transform()(ds.images.pil(int(i[1:]))).flatten() - 0.5) @ model.proj, dim=0) for i in ids])
    logits = teacher.logits(ids)
    assert logits.shape == (3, 2) and logits.dtype == torch.float32
    torch.testing.assert_close(logits, 100 * image @ classifier)


def test_templates_and_class_renames_shape_the_prompts(build, tmp_path):
    renames = tmp_path / "renames.json"
    renames.write_text(json.dumps({"dog": "puppy"}))
    tfile = tmp_path / "templates.txt"
    tfile.write_text("# mine\nitap of a {}.\n\n")
    _, model = build(templates=str(tfile), class_renames=str(renames))
    assert model.texts == ["itap of a cat.", "itap of a puppy."]


def test_the_text_classifier_and_embeddings_are_cached(build, fake_vlm):
    first, _ = build()
    ref = first.logits(["s000", "s001"])
    again, _ = build(model=fake_vlm(broken=True))  # would raise on any encode
    torch.testing.assert_close(again.logits(["s000", "s001"]), ref)


def test_logits_embed_only_new_ids(build):
    teacher, model = build()
    teacher.logits(["s000", "s001"])
    teacher.logits(["s001", "s002", "s000"])
    assert model.images_encoded == 3


@pytest.mark.parametrize("method", ["clap", "tip-adapter-f"])
def test_few_shot_teacher_refits_deterministically(build, make_dataset, method):
    ds = make_dataset(n=12)
    teacher, _ = build(dataset=ds, few_shot=method, few_shot_epochs=5)
    assert teacher.adaptive and method in teacher.name
    every = ds.ids
    zs = teacher.logits(every)
    labeled = ds.split_ids("pool")[:4]
    y = torch.as_tensor(ds.labels[ds.index_of(labeled)])
    teacher.fit(labeled, y)
    fitted = teacher.logits(every)
    assert fitted.shape == zs.shape and not torch.allclose(fitted, zs)
    with torch.inference_mode():  # callers may be in inference code; the refit starts from scratch
        teacher.fit(labeled, y)
        torch.testing.assert_close(teacher.logits(every), fitted)
    teacher.fit([], torch.empty(0, dtype=torch.long))
    torch.testing.assert_close(teacher.logits(every), zs)


def test_fit_rejects_unknown_or_mismatched_labels(build):
    teacher, _ = build(few_shot="clap", few_shot_epochs=1)
    with pytest.raises(ValueError, match="labels must be in"):
        teacher.fit(["s000"], torch.tensor([-1]))
    with pytest.raises(ValueError, match="1 ids but 2 labels"):
        teacher.fit(["s000"], torch.tensor([0, 1]))


def test_zero_shot_fit_is_a_no_op(build):
    teacher, model = build()
    teacher.fit(["s000"], torch.tensor([0]))
    assert model.images_encoded == 0


def test_bad_settings_are_clear_errors(build, tmp_path):
    with pytest.raises(ValueError, match="unknown few-shot method 'lp'; valid: none, clap, tip-adapter-f"):
        build(few_shot="lp")
    with pytest.raises(ValueError, match="unknown class name"):
        (tmp_path / "r.json").write_text(json.dumps({"kitten": "cat"}))
        build(class_renames=str(tmp_path / "r.json"))
    with pytest.raises(ValueError, match="few_shot_epochs must be >= 1"):
        TeacherConfig(spec="openclip:RN50", few_shot_epochs=0)
    with pytest.raises(ValueError, match="embed_workers"):
        TeacherConfig(embed_workers=-1)
