"""Fixed augmented views of a VLM teacher: each view embedded once and cached, logits on the trained view."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from activekd.teachers import TeacherConfig, TeacherContext, ViewTeacher, _zeroshot, create_teacher
from activekd.teachers._views import CropView
from activekd.train import apply_crop_flip, view_params

pytestmark = pytest.mark.usefixtures("single_thread")
IDS = ["s000", "s001", "s002", "s003"]


@pytest.fixture
def build(tmp_path, monkeypatch, make_dataset, fake_vlm):
    """``build(model=None, **config) -> (teacher, model, dataset)`` with a fake backbone behind ``openclip:``."""
    ds = make_dataset()

    def _build(model=None, **config):
        model = model or fake_vlm()
        monkeypatch.setattr(_zeroshot, "create_backbone", lambda spec, **kw: model)
        config = {"spec": "openclip:fake", "embed_workers": 0, "batch_size": 3, "views": 2, **config}
        return create_teacher(TeacherConfig(**config), TeacherContext(ds, tmp_path / "cache", torch.device("cpu"), seed=5)), model, ds

    return _build


def expected_view_logits(teacher, model, ds, ids, k):
    """By hand: cut view ``k`` from the uint8 image with the trainer's own resampling, embed, zero-shot head."""
    pos = ds.index_of(ids)
    x = apply_crop_flip(ds.images.batch(pos).float(), view_params(5, pos, 2)[:, k]).round().clamp(0, 255).to(torch.uint8)
    pixels = torch.stack([model.transform()(Image.fromarray(np.moveaxis(a.numpy(), 0, -1))) for a in x])
    emb = F.normalize((pixels.flatten(1) - 0.5) @ model.proj, dim=-1)
    return 100 * emb @ teacher.classifier


def test_view_logits_are_the_teachers_on_the_view_the_student_crops(build):
    teacher, model, ds = build()
    assert isinstance(teacher, ViewTeacher) and teacher.num_views == 2 and "2 views" in teacher.name
    torch.testing.assert_close(teacher.view_params(IDS), view_params(5, ds.index_of(IDS), 2))
    for k in range(2):
        torch.testing.assert_close(teacher.view_logits(IDS, k), expected_view_logits(teacher, model, ds, IDS, k), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(teacher.view_logits(IDS, 0), teacher.view_logits(IDS, 1))
    assert not torch.allclose(teacher.view_logits(IDS, 0), teacher.logits(IDS))
    with pytest.raises(ValueError, match="has 2 view"):
        teacher.view_logits(IDS, 2)


def test_each_view_is_embedded_once_and_cached(build, fake_vlm, tmp_path):
    teacher, model, _ = build()
    first = [teacher.view_logits(IDS, k) for k in range(2)]
    assert model.images_encoded == 2 * len(IDS)
    teacher.view_logits(IDS[1:], 1)
    assert model.images_encoded == 2 * len(IDS)  # nothing new
    folders = sorted((tmp_path / "cache" / "embeddings").glob("fake-v1-*"))
    assert len(folders) == 2  # one cache folder per view (the whole-image one is not needed here)
    again, _, _ = build(model=fake_vlm(broken=True))  # would raise on any image encode
    for k in range(2):
        torch.testing.assert_close(again.view_logits(IDS, k), first[k])


def test_a_view_is_shared_across_view_counts_but_not_seeds(build, tmp_path, make_dataset):
    teacher, _, _ = build()
    teacher.view_logits(IDS, 0)
    more, model, _ = build(views=3)
    more.view_logits(IDS, 0)
    assert model.images_encoded == 0  # view 0 is the same crop whatever the view count: reused from the cache
    more.view_logits(IDS, 2)
    assert model.images_encoded == len(IDS)
    assert len(list((tmp_path / "cache" / "embeddings").glob("fake-v1-*"))) == 2
    images = make_dataset().images
    assert CropView(images, 5, 0, 2).meta == CropView(images, 5, 0, 3).meta
    assert CropView(images, 5, 0, 2).meta != CropView(images, 6, 0, 2).meta != CropView(images, 5, 1, 2).meta


def test_few_shot_view_logits_use_the_fitted_head(build):
    teacher, _, _ = build(few_shot="clap", few_shot_epochs=3)
    before = teacher.view_logits(IDS, 1)
    teacher.fit(IDS, torch.tensor([0, 1, 0, 1]))
    after = teacher.view_logits(IDS, 1)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, teacher._head_logits(teacher.views[1].embeddings(IDS)))


def test_the_few_shot_head_is_fitted_on_the_whole_images_and_every_view(build, monkeypatch):
    teacher, _, _ = build(few_shot="clap", few_shot_epochs=3)
    seen = {}
    monkeypatch.setattr(teacher.head, "fit", lambda f, y, g: seen.update(features=f, labels=y))
    labels = torch.tensor([0, 1, 0, 1])
    teacher.fit(IDS, labels)
    whole, v0, v1 = teacher.embeddings(IDS), teacher.views[0].embeddings(IDS), teacher.views[1].embeddings(IDS)
    torch.testing.assert_close(seen["features"], torch.cat([whole, v0, v1]))
    assert seen["labels"].tolist() == labels.tolist() * 3


def test_negative_views_are_refused():
    with pytest.raises(ValueError, match=r"^teacher views must be >= 0, got -1$"):
        TeacherConfig(views=-1)


def test_fixed_teachers_have_no_views(make_dataset, tmp_path, caplog):
    ds = make_dataset()
    np.savez(tmp_path / "t.npz", ids=np.array(ds.ids), logits=np.zeros((len(ds), 2)))
    with caplog.at_level(logging.WARNING, logger="activekd"):
        teacher = create_teacher(TeacherConfig(spec=f"file:{tmp_path / 't.npz'}", views=4), TeacherContext(ds, tmp_path, torch.device("cpu")))
    assert not isinstance(teacher, ViewTeacher)
    assert "--views 4 ignored" in caplog.text


def test_an_open_clip_teacher_embeds_each_view_once_then_reads_the_cache(make_dataset, tmp_path):
    """A randomly initialised open_clip RN50 (offline, through the real preprocessing): views embedded, then cached."""
    pytest.importorskip("open_clip")
    ds = make_dataset(n=6)
    config = TeacherConfig(spec="openclip:RN50", batch_size=4, embed_workers=0, views=2)
    teacher = create_teacher(config, TeacherContext(ds, tmp_path, torch.device("cpu"), seed=0))
    got = [teacher.view_logits(ds.ids[:2], k) for k in range(2)]
    assert teacher.embedder.model._model is not None and not torch.allclose(got[0], got[1])
    again = create_teacher(config, TeacherContext(ds, tmp_path, torch.device("cpu"), seed=0))
    for k in range(2):
        torch.testing.assert_close(again.view_logits(ds.ids[:2], k), got[k])
    assert again.embedder.model._model is None  # every view came from the cache: the model never loaded
