"""Hugging Face teachers: a tiny random CLIP saved with save_pretrained and loaded by path (``hf:DIR``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from activekd.backbones import build_transform, describe_processor
from activekd.teachers import TeacherConfig, TeacherContext, TeacherWeightsError, create_teacher

transformers = pytest.importorskip("transformers")

CPU = torch.device("cpu")


def tiny_tokenizer_files(folder):
    """A character-level CLIP BPE vocabulary (no merges): enough for a real CLIPTokenizer offline."""
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list(".,'-/ 0123456789")
    vocab: dict[str, int] = {}
    for c in chars:
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return vocab


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """A tiny random ``CLIPModel`` + tokenizer + image processor, written with ``save_pretrained``."""
    d = tmp_path_factory.mktemp("tiny-clip")
    vocab = tiny_tokenizer_files(d)
    tok = transformers.CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"))
    eos = vocab["<|endoftext|>"]
    cfg = transformers.CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                         max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"], eos_token_id=eos, pad_token_id=eos),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8),
        projection_dim=16,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(d)
    return d


def test_hf_dir_teacher_matches_a_hand_computation(clip_dir, tmp_path, make_dataset):
    ds = make_dataset(n=6, size=48)
    teacher = create_teacher(TeacherConfig(spec=f"hf:{clip_dir}", batch_size=4, embed_workers=0), TeacherContext(ds, tmp_path, CPU))
    ids = ds.ids[:4]
    logits = teacher.logits(ids)
    assert logits.shape == (4, 2) and logits.dtype == torch.float32
    emb = teacher.embeddings(ids)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(4))

    model = transformers.CLIPModel.from_pretrained(clip_dir).eval()
    tok = transformers.AutoTokenizer.from_pretrained(clip_dir)
    texts = [t.replace("{}", c) for c in ds.class_names for t in ds.templates]
    pixels = torch.stack([teacher.embedder.model.transform()(ds.images.pil(i)) for i in range(4)])
    with torch.inference_mode():
        out = model.get_image_features(pixel_values=pixels)
        image = out if isinstance(out, torch.Tensor) else out.pooler_output
        enc = tok(texts, padding=True, return_tensors="pt")
        out = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        text = (out if isinstance(out, torch.Tensor) else out.pooler_output).reshape(2, 2, -1)
    classifier = F.normalize(F.normalize(text, dim=-1).mean(1), dim=-1).T
    torch.testing.assert_close(emb, F.normalize(image, dim=-1), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits, 100 * F.normalize(image, dim=-1) @ classifier, rtol=1e-4, atol=1e-3)
    assert teacher.embedder.model.identity["model"] == str(clip_dir.resolve())


@pytest.mark.parametrize("processor", ["clip-tiny", "clip", "siglip"])
def test_our_transform_matches_the_image_processor(processor):
    proc = {
        "clip-tiny": lambda: transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        "clip": transformers.CLIPImageProcessor,
        "siglip": transformers.SiglipImageProcessor,
    }[processor]()
    ours = build_transform(describe_processor(proc.to_dict()))
    rng = np.random.default_rng(0)
    for shape in [(48, 64, 3), (64, 64, 3), (40, 30)]:
        im = Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8))
        theirs = proc(images=im.convert("RGB"), return_tensors="pt")["pixel_values"][0]
        mine = ours(im)
        assert mine.shape == theirs.shape
        assert (mine - theirs).abs().max() < 0.05  # resampling rounding: at most a few grey levels


def test_hub_id_offline_is_a_clear_error(tmp_path, monkeypatch, make_dataset):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    ctx = TeacherContext(make_dataset(), tmp_path / "cache", CPU)
    with pytest.raises(TeacherWeightsError) as err:
        create_teacher(TeacherConfig(spec="hf:openai/clip-vit-base-patch32"), ctx)
    msg = str(err.value)
    assert "'openai/clip-vit-base-patch32'" in msg and "hf:/path/to/folder" in msg and "save_pretrained" in msg


def test_missing_folder_is_a_clear_error(tmp_path, make_dataset):
    ctx = TeacherContext(make_dataset(), tmp_path, CPU)
    with pytest.raises(TeacherWeightsError, match="folder .*not found"):
        create_teacher(TeacherConfig(spec=f"hf:{tmp_path}/no/such/model"), ctx)
