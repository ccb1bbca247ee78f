"""Buildable specs for every registered student, with tiny randomly initialised VLM towers (no downloads)."""

from __future__ import annotations

import pytest
import torch

# A registered name -> a spec that builds offline; ``hf`` needs a folder (the ``tiny_hf_clip`` fixture).
SPECS = {"timm": "timm:resnet18", "openclip": "openclip:ViT-S-32-alt"}  # ViT-S-32-alt: open_clip's smallest ViT config


@pytest.fixture(scope="session")
def tiny_hf_clip(tmp_path_factory):
    """A folder with a tiny random ``CLIPModel`` (32 px, 16-d embedding) and its image processor (``save_pretrained``)."""
    transformers = pytest.importorskip("transformers")
    d = tmp_path_factory.mktemp("tiny-hf-clip")
    cfg = transformers.CLIPConfig(
        text_config={"vocab_size": 64, "hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1, "num_attention_heads": 4,
                     "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    transformers.CLIPModel(cfg).save_pretrained(d)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(d)
    return d


@pytest.fixture
def spec_of(request):
    """``spec_of(name)``: a spec that builds the registered student ``name`` offline."""

    def spec(name: str) -> str:
        if name == "hf":
            return f"hf:{request.getfixturevalue('tiny_hf_clip')}"
        return SPECS.get(name, name)

    return spec
