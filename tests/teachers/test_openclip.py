"""open_clip teachers built from open_clip's shipped configs with random weights (pretrained=None),
through the same code path as real weights; plus local weights files and the offline error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from activekd.teachers import TeacherConfig, TeacherContext, TeacherWeightsError, create_teacher, embed_dataset

open_clip = pytest.importorskip("open_clip")

CPU = torch.device("cpu")


def config(spec: str, **kw) -> TeacherConfig:
    return TeacherConfig(spec=spec, batch_size=4, embed_workers=0, **kw)


@pytest.fixture(scope="module", params=["RN50", "ViT-B-32"])
def random_teacher(request, tmp_path_factory, make_dataset):
    """(arch, teacher, dataset, cache dir, warnings logged) for a randomly initialised open_clip model."""
    arch = request.param
    ds = make_dataset(n=6)
    cache = tmp_path_factory.mktemp(f"cache-{arch}")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("activekd").addHandler(handler)
    try:
        teacher = create_teacher(config(f"openclip:{arch}"), TeacherContext(ds, cache, CPU, seed=0))
    finally:
        logging.getLogger("activekd").removeHandler(handler)
    return arch, teacher, ds, cache, [r.getMessage() for r in records]


def test_zero_shot_logits_match_a_hand_computation(random_teacher):
    arch, teacher, ds, _, logged = random_teacher
    assert any("RANDOMLY INITIALISED" in m for m in logged)
    ids = ds.ids[:3]
    logits = teacher.logits(ids)
    assert logits.shape == (3, 2) and logits.dtype == torch.float32 and logits.device.type == "cpu"
    emb = teacher.embeddings(ids)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))

    model = teacher.embedder.model._load()  # the model behind the teacher; open_clip's own transform and tokenizer
    from open_clip.transform import PreprocessCfg, image_transform_v2

    preprocess = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
    tokenizer = open_clip.get_tokenizer(arch)
    texts = [t.replace("{}", c) for c in ds.class_names for t in ds.templates]
    with torch.inference_mode():
        image = model.encode_image(torch.stack([preprocess(ds.images.pil(i)) for i in range(3)]))
        text = model.encode_text(tokenizer(texts)).reshape(len(ds.class_names), len(ds.templates), -1)
    per_template = F.normalize(text, dim=-1)
    classifier = F.normalize(per_template.mean(dim=1), dim=-1).T
    torch.testing.assert_close(emb, F.normalize(image, dim=-1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits, 100 * F.normalize(image, dim=-1) @ classifier, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("random_teacher", ["RN50"], indirect=True)
def test_embed_dataset_shares_the_teachers_cache(random_teacher):
    arch, teacher, ds, cache, _ = random_teacher
    teacher.logits(ds.ids[:2])
    path = embed_dataset(config(f"openclip:{arch}"), TeacherContext(ds, cache, CPU, seed=0), ids=ds.ids[:2])
    assert path == teacher.embedder.directory and (path / "meta.json").is_file()
    other_seed = embed_dataset(config(f"openclip:{arch}"), TeacherContext(ds, cache, CPU, seed=1), ids=[])
    assert other_seed != path  # a random init with another seed is another model


def test_a_local_weights_file_goes_through_the_same_path(tmp_path, make_dataset):
    arch = "ViT-S-32-alt"  # a small shipped config: its weights file is quick to write
    ds = make_dataset(n=4)
    random = create_teacher(config(f"openclip:{arch}"), TeacherContext(ds, tmp_path / "a", CPU, seed=0))
    weights = tmp_path / "weights.pt"
    torch.save(random.embedder.model._load().state_dict(), weights)
    from_file = create_teacher(config(f"openclip:{arch}:{weights}"), TeacherContext(ds, tmp_path / "b", CPU, seed=5))
    assert from_file.embedder.model.identity["pretrained"]["path"] == str(weights.resolve())
    torch.testing.assert_close(from_file.logits(ds.ids[:2]), random.logits(ds.ids[:2]), rtol=1e-4, atol=1e-3)


def test_unknown_architecture_or_tag_is_a_clear_error(tmp_path, make_dataset):
    ctx = TeacherContext(make_dataset(), tmp_path, CPU)
    with pytest.raises(ValueError, match="unknown open_clip architecture 'RN5O'"):
        create_teacher(config("openclip:RN5O"), ctx)
    with pytest.raises(TeacherWeightsError, match="'nonsense' is neither a known pretrained tag .*openai"):
        create_teacher(config("openclip:RN50:nonsense"), ctx)
    with pytest.raises(ValueError, match="needs an architecture"):
        create_teacher(config("openclip"), ctx)


def test_offline_download_failure_names_the_model_and_the_local_file_way(tmp_path, monkeypatch, make_dataset):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # nothing cached
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    ctx = TeacherContext(make_dataset(), tmp_path / "cache", CPU)
    with pytest.raises(TeacherWeightsError) as err:
        create_teacher(config("openclip:RN50:openai"), ctx)
    msg = str(err.value)
    assert "open_clip model RN50" in msg and "pretrained='openai'" in msg
    assert "openclip:RN50:/path/to/" in msg


def test_fashion_mnist_few_shot_embeds_only_what_is_asked(tmp_path, fmnist):
    """The end-to-end setting in miniature: RN50 + CLAP on a slice of 70k 28x28 grayscale images."""
    ds = fmnist
    teacher = create_teacher(config("openclip:RN50", few_shot="clap", templates="simple", few_shot_epochs=10),
                             TeacherContext(ds, tmp_path, CPU, seed=0))
    assert teacher.adaptive
    labeled = ds.split_ids("pool")[:4]
    ids = labeled + ds.split_ids("test")[:2]
    zs = teacher.logits(ids)
    assert zs.shape == (6, 10)
    teacher.fit(labeled, torch.as_tensor(ds.labels[ds.index_of(labeled)]))
    few = teacher.logits(ids)
    assert few.shape == (6, 10) and torch.isfinite(few).all() and not torch.allclose(few, zs)
    assert len(teacher.embedder.cache) == 6  # not 70,000
    assert len(list(Path(teacher.embedder.directory).glob("part-*.safetensors"))) == 1
