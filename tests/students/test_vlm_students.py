"""VLM image towers as students (``openclip:``, ``hf:``): the teachers' loaders, linear probes, weights, checkpoints, export.

Offline: open_clip's shipped configs and a tiny Hugging Face CLIP folder, randomly initialised or
loaded from local weights through the same code path as real pretrained weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from activekd.errors import StudentError
from activekd.students import create_student
from activekd.students.io import load_student, save_student, student_metadata

open_clip = pytest.importorskip("open_clip")
transformers = pytest.importorskip("transformers")

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)


def _spec(spec_of, name: str) -> str:
    return spec_of("hf") if name == "hf" else name


@pytest.mark.parametrize("name", ["small-cnn", "openclip:RN50", "hf"])
@pytest.mark.parametrize("tune", ["linear", "full"])
def test_a_linear_probe_trains_the_heads_only(name, tune, spec_of):
    """``linear``: after an AdamW step on every parameter, the backbone (weights and batch-norm statistics) is unchanged
    and the heads moved; ``full`` moves the backbone too (so the check can fail)."""
    torch.manual_seed(0)
    s = create_student(_spec(spec_of, name), 3, pretrained=False, input_size=None if name == "small-cnn" else 32, tune=tune)
    backbone = {k: v.clone() for k, v in s.backbone.state_dict().items()}
    heads = {k: v.clone() for k, v in s.state_dict().items() if k.startswith(("ce_head.", "kd_head."))}
    opt = torch.optim.AdamW(s.parameters(), lr=1e-2)
    s.train()
    assert s.training and s.backbone.training == (tune == "full") and s.tune == tune
    x, y = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8), torch.tensor([0, 1, 2, 0])
    ce, kd, _ = s(x)
    (F.cross_entropy(ce, y) + F.cross_entropy(kd, y)).backward()
    opt.step()
    moved = [k for k, v in s.backbone.state_dict().items() if not torch.equal(v, backbone[k])]
    assert (not moved) if tune == "linear" else moved
    assert all((p.grad is None) == (tune == "linear") for p in s.backbone.parameters())
    assert all(not torch.equal(v, heads[k]) for k, v in s.state_dict().items() if k in heads)


def test_tune_is_checked_and_reversible():
    with pytest.raises(StudentError, match="unknown tune 'probe'; valid: full, linear"):
        create_student("small-cnn", 3, pretrained=False, tune="probe")
    s = create_student("small-cnn", 3, pretrained=False, tune="linear").set_tune("full").train()
    assert s.backbone.training and all(p.requires_grad for p in s.parameters())


def test_openclip_student_loads_a_local_weights_file_and_computes_encode_image(tmp_path):
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-S-32-alt").eval()
    weights = tmp_path / "weights.pt"
    torch.save(model.state_dict(), weights)
    s = create_student(f"openclip:ViT-S-32-alt:{weights}", 3, pretrained=True).eval()
    assert s.input_size == 224 and s.feature_dim == 256
    torch.testing.assert_close(s.mean.flatten(), torch.tensor(CLIP_MEAN))
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(s.backbone(x), model.encode_image(x), rtol=1e-4, atol=1e-5)
        other = create_student(f"openclip:ViT-S-32-alt:{weights}", 3, pretrained=False).eval()  # the file is not read
        assert not torch.allclose(other.backbone(x), model.encode_image(x), atol=1e-3)
    at_64 = create_student(f"openclip:ViT-S-32-alt:{weights}", 3, pretrained=True, input_size=64).eval()
    assert at_64.input_size == 64  # open_clip resized the position embedding of the loaded weights
    torch.testing.assert_close(at_64.backbone.conv1.weight, model.visual.conv1.weight)


def test_a_pretrained_tag_keeps_quick_gelu_without_its_weights():
    """``ViT-B-32:openai`` runs QuickGELU: a checkpoint of it must be rebuilt with QuickGELU, offline and without weights."""
    s = create_student("openclip:ViT-B-32:openai", 2, pretrained=False, input_size=32)
    assert any(isinstance(m, open_clip.transformer.QuickGELU) for m in s.modules())


def test_hf_student_loads_the_folder_and_computes_get_image_features(tiny_hf_clip):
    s = create_student(f"hf:{tiny_hf_clip}", 3, pretrained=True).eval()
    assert s.input_size == 32 and s.feature_dim == 16
    torch.testing.assert_close(s.mean.flatten(), torch.tensor(CLIP_MEAN))
    model = transformers.CLIPModel.from_pretrained(tiny_hf_clip).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        out = model.get_image_features(pixel_values=x)
        ref = out if isinstance(out, torch.Tensor) else out.pooler_output
        torch.testing.assert_close(s.backbone(x), ref, rtol=1e-4, atol=1e-5)
        random = create_student(f"hf:{tiny_hf_clip}", 3, pretrained=False).eval()
        assert not torch.allclose(random.backbone(x), ref, atol=1e-3)
        at_48 = create_student(f"hf:{tiny_hf_clip}", 3, pretrained=True, input_size=48).eval()
        assert at_48.input_size == 48 and at_48(torch.randint(0, 256, (2, 3, 20, 30), dtype=torch.uint8))[2].shape == (2, 16)
    assert not any("text" in k for k in s.state_dict())  # the text tower is not part of the student


def _offline(monkeypatch, tmp_path):
    hub = pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # nothing cached
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.mark.parametrize("spec,needles", [
    ("openclip:RN50:openai", ["open_clip model RN50", "pretrained='openai'", "openclip:RN50:/path/to/"]),
    ("hf:openai/clip-vit-base-patch32", ["'openai/clip-vit-base-patch32'", "save_pretrained", "hf:/path/to/folder"]),
])
def test_missing_pretrained_weights_fail_fast_in_one_line(spec, needles, monkeypatch, tmp_path):
    _offline(monkeypatch, tmp_path)
    with pytest.raises(StudentError) as err:
        create_student(spec, 3, pretrained=True)
    msg = str(err.value)
    assert "\n" not in msg and all(n in msg for n in needles), msg


def test_bad_vlm_specs_are_clear_errors(tmp_path):
    cases = {"openclip": "openclip students need an architecture", "hf": "hf students need a model",
             "openclip:RN5O": "unknown open_clip architecture 'RN5O'",
             "openclip:ViT-S-32-alt:/no/such/weights.pt": "neither a known pretrained tag .* nor an existing weights file",
             f"hf:{tmp_path}/no/such/model": "folder .* not found"}
    for spec, match in cases.items():
        with pytest.raises(StudentError, match=match):
            create_student(spec, 3, pretrained=True)


@pytest.mark.parametrize("name", ["openclip:ViT-S-32-alt:WEIGHTS", "hf"])
def test_checkpoint_round_trip(name, spec_of, tmp_path):
    """``save_student`` / ``load_student`` rebuild the tower offline; a weights file named in the spec may be gone by then."""
    torch.manual_seed(0)
    if name.endswith("WEIGHTS"):
        weights = tmp_path / "w.pt"
        torch.save(open_clip.create_model("ViT-S-32-alt").state_dict(), weights)
        name = name.replace("WEIGHTS", str(weights))
    spec = _spec(spec_of, name)
    s = create_student(spec, 3, pretrained=True, input_size=32, tune="linear").eval()
    path = tmp_path / "s.safetensors"
    save_student(path, s, student_metadata(spec, ["a", "b", "c"], 0.25, 2.0, s.input_size))
    if name.startswith("openclip"):
        weights.unlink()
    t, info = load_student(path)
    x = torch.randint(0, 256, (2, 3, 40, 40), dtype=torch.uint8)
    with torch.no_grad():
        for a, b in zip(s(x), t(x)):
            torch.testing.assert_close(a, b)
    assert info["student"] == spec and t.input_size == 32


@pytest.mark.parametrize("name", ["openclip", "hf"])
def test_vlm_students_export_to_every_format(name, spec_of, tmp_path):
    from activekd.export import export_student, list_formats, load_predictor
    from activekd.heads import mix_heads

    torch.manual_seed(0)
    spec = spec_of(name)
    s = create_student(spec, 3, pretrained=False, input_size=32).eval()
    path = tmp_path / "s.safetensors"
    save_student(path, s, student_metadata(spec, ["a", "b", "c"], 0.3, 1.5, s.input_size))
    x = torch.randint(0, 256, (3, 3, 40, 45), dtype=torch.uint8)
    with torch.no_grad():
        ref = mix_heads(*s(x)[:2], 0.3, 1.5).numpy()
    for fmt in list_formats():
        got = load_predictor(export_student(path, fmt, tmp_path / f"m.{fmt}")).run(x.numpy())
        assert np.abs(got - ref).max() <= 1e-4, fmt
