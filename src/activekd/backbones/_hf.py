"""``hf:MODEL_ID_OR_DIR``: CLIP-like models from Hugging Face transformers (CLIP, SigLIP, ...).

``MODEL_ID_OR_DIR`` is a hub id (``openai/clip-vit-base-patch32``, ``google/siglip-base-patch16-224``;
downloaded into the Hugging Face cache when online) or a local folder written by
``save_pretrained`` / a hub snapshot, holding the model, its tokenizer and its
``preprocessor_config.json``. Any model with ``get_image_features`` and ``get_text_features`` works.

Preprocessing follows the folder's image-processor config, done with torchvision in the
DataLoader workers: convert to RGB, resize (shortest edge, or to height x width), centre crop when
configured, scale to [0, 1], normalise with its mean / std. SigLIP text is padded to the
tokenizer's maximum length, as SigLIP was trained.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image
from torch import Tensor

from activekd.errors import TeacherError

from ._base import BACKBONES, TeacherWeightsError, file_identity, use_hub_cache_only_when_offline

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".json", ".model", ".txt")
RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


def _to_rgb(im: Image.Image) -> Image.Image:
    return im.convert("RGB")


def _offline_advice(source: str, e: Exception) -> TeacherWeightsError:
    return TeacherWeightsError(
        f"could not load Hugging Face model {source!r}: {e}. If this machine is offline, run once where you are online "
        f"(it lands in the Hugging Face cache, ~/.cache/huggingface), or save the model, its tokenizer and image processor "
        f"with save_pretrained (or copy a hub snapshot) to a folder and give it: hf:/path/to/folder"
    )


def load_hf_model(source: str, *, weights: bool = True):
    """The transformers ``AutoModel`` of a hub id or folder, on CPU (the teachers' and the students' one way to load one).

    ``weights=False``: a random initialisation of its config (global RNG). Raises :class:`TeacherWeightsError`
    naming the model and how to give a local folder when the weights (or the config) cannot be had.
    """
    from transformers import AutoConfig, AutoModel

    try:
        return AutoModel.from_pretrained(source) if weights else AutoModel.from_config(AutoConfig.from_pretrained(source))
    except Exception as e:  # noqa: BLE001 - every way of not getting weights ends in the same advice
        raise _offline_advice(source, e) from e


def describe_processor(cfg: dict) -> dict:
    """An image-processor config -> our preprocessing description (resize, crop, interpolation, mean, std)."""
    size = cfg.get("size") or {}
    if isinstance(size, int):
        size = {"shortest_edge": size}
    if "shortest_edge" in size:
        resize = ["shortest", int(size["shortest_edge"])]
    elif "height" in size and "width" in size:
        resize = ["squash", [int(size["height"]), int(size["width"])]]
    else:
        raise TeacherError(f"unsupported image-processor size {size!r}")
    crop = cfg.get("crop_size") if cfg.get("do_center_crop", False) else None
    if isinstance(crop, int):
        crop = {"height": crop, "width": crop}
    rescale = float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else 1.0
    if abs(rescale * 255 - 1) > 1e-6:
        raise TeacherError(f"unsupported rescale_factor {rescale} (only 1/255 is)")
    normalize = cfg.get("do_normalize", True)
    return {
        "resize": resize if cfg.get("do_resize", True) else None,
        "crop": [int(crop["height"]), int(crop["width"])] if crop else None,
        "interpolation": RESAMPLE.get(int(cfg.get("resample", 3)), "bicubic"),
        "mean": [float(v) for v in cfg.get("image_mean", (0.0, 0.0, 0.0))] if normalize else [0.0, 0.0, 0.0],
        "std": [float(v) for v in cfg.get("image_std", (1.0, 1.0, 1.0))] if normalize else [1.0, 1.0, 1.0],
    }


def build_transform(desc: dict) -> Callable[[Image.Image], Tensor]:
    """Our preprocessing description -> a torchvision transform (PIL image -> ``[3, H, W]`` float)."""
    from torchvision import transforms as T

    interp = T.InterpolationMode(desc["interpolation"])
    steps: list = [_to_rgb]
    if desc["resize"] is not None:
        mode, size = desc["resize"]
        steps.append(T.Resize(size if mode == "shortest" else tuple(size), interpolation=interp, antialias=True))
    if desc["crop"] is not None:
        steps.append(T.CenterCrop(tuple(desc["crop"])))
    steps += [T.ToTensor(), T.Normalize(desc["mean"], desc["std"])]
    return T.Compose(steps)


class HFModel:
    """A transformers CLIP-like model, loaded on first use."""

    def __init__(self, arg: str | None, *, device: torch.device, seed: int = 0) -> None:
        if not arg:
            raise TeacherError("hf teacher needs a model: hf:MODEL_ID_OR_DIR, e.g. hf:openai/clip-vit-base-patch32")
        try:
            import transformers  # noqa: F401
        except ImportError:
            raise ImportError("hf teachers and students need transformers: pip install 'activekd[vlm]'") from None
        self.source = arg
        self.name = f"hf:{arg}"
        self.device = torch.device(device)
        self._model = None
        self._tokenizer = None
        local = Path(arg).expanduser()
        if local.is_dir():
            self.source = str(local.resolve())
            files = [file_identity(f) for f in sorted(local.iterdir()) if f.is_file() and f.suffix in WEIGHT_SUFFIXES]
            self.identity = {"backend": "transformers", "model": self.source, "files": files}
        elif os.sep in arg and (arg.startswith((".", "/", "~")) or arg.count("/") > 1):
            raise TeacherWeightsError(f"hf:{arg}: folder {local} not found")
        else:
            self.identity = {"backend": "transformers", "model": arg}
            use_hub_cache_only_when_offline()
        self.preprocess = describe_processor(self._processor_config())

    def _processor_config(self) -> dict:
        from transformers import AutoImageProcessor

        try:
            return AutoImageProcessor.from_pretrained(self.source).to_dict()
        except Exception as e:  # noqa: BLE001
            raise _offline_advice(self.source, e) from e

    def _load(self):
        if self._model is not None:
            return self._model
        from transformers import AutoTokenizer

        model = load_hf_model(self.source)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.source)
        except Exception as e:  # noqa: BLE001
            raise _offline_advice(self.source, e) from e
        if not (hasattr(model, "get_image_features") and hasattr(model, "get_text_features")):
            raise TeacherWeightsError(f"hf:{self.source}: {type(model).__name__} is not a CLIP-like model (no get_image_features / get_text_features)")
        self._siglip = "siglip" in str(getattr(model.config, "model_type", "")).lower()
        self._model = model.to(self.device).eval()
        return self._model

    def transform(self) -> Callable[[Image.Image], Tensor]:
        return build_transform(self.preprocess)

    @staticmethod
    def _features(out) -> Tensor:
        return out if isinstance(out, Tensor) else out.pooler_output  # transformers >= 5 returns a model output

    def encode_images(self, pixels: Tensor) -> Tensor:
        return self._features(self._load().get_image_features(pixel_values=pixels))

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        model = self._load()
        padding = "max_length" if self._siglip else True
        enc = self._tokenizer(list(texts), padding=padding, truncation=True, return_tensors="pt").to(self.device)
        kwargs = {"input_ids": enc["input_ids"]}
        if "attention_mask" in enc and not self._siglip:
            kwargs["attention_mask"] = enc["attention_mask"]
        return self._features(model.get_text_features(**kwargs))


@BACKBONES.register("hf")
def _hf(arg: str | None, *, device: torch.device, seed: int = 0) -> HFModel:
    return HFModel(arg, device=device, seed=seed)
