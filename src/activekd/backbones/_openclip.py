"""``openclip:ARCH[:PRETRAINED]``: CLIP-like models from open_clip (Ilharco et al., mlfoundations/open_clip).

- ``openclip:ViT-B-32:laion2b_s34b_b79k``: a pretrained tag; the weights come through open_clip's
  own download and cache (Hugging Face hub cache, or ``~/.cache/clip``).
- ``openclip:ViT-B-32:/path/to/weights.pt``: a local weights file (``.pt``, ``.bin``, ``.safetensors``)
  for ARCH. OpenAI's RN* / ViT-*/openai checkpoints use QuickGELU: give ``ARCH-quickgelu`` as ARCH
  with such a file (with a tag it is switched on automatically).
- ``openclip:RN50``: no weights, a *random* initialisation (seeded by the run's seed), with a
  warning; this is what offline tests use. Same code path as real weights.
- ``openclip:hf-hub:ORG/REPO`` and ``openclip:local-dir:DIR``: open_clip's own schemas (config and
  weights from the hub or a folder); these load the model when the teacher is built.

Preprocessing is open_clip's inference transform (resize, centre crop, normalise) for the model's
image size and the tag's mean / std / interpolation / resize mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image
from torch import Tensor

from activekd.errors import TeacherError

from ._base import BACKBONES, TeacherWeightsError, file_identity, use_hub_cache_only_when_offline

log = logging.getLogger(__name__)

SCHEMAS = ("hf-hub:", "local-dir:")


def import_open_clip():
    """The ``open_clip`` module; without it, an ImportError naming the extra that brings it."""
    try:
        import open_clip
    except ImportError:
        raise ImportError("openclip teachers and students need open_clip: pip install 'activekd[vlm]'") from None
    return open_clip


def split_arg(arg: str) -> tuple[str, str | None]:
    """``"ARCH[:PRETRAINED]"`` -> ``(ARCH, PRETRAINED or None)``; schema names stay whole."""
    if arg.startswith(SCHEMAS):
        return arg, None
    arch, sep, pretrained = arg.partition(":")
    return arch, (pretrained or None) if sep else None


class OpenClipModel:
    """An open_clip model, loaded on first use (see the module docstring for the spec forms)."""

    def __init__(self, arg: str | None, *, device: torch.device, seed: int = 0) -> None:
        oc = import_open_clip()
        if not arg:
            raise TeacherError("openclip teacher needs an architecture: openclip:ARCH[:PRETRAINED], e.g. openclip:ViT-B-32:openai")
        self.arch, self.pretrained = split_arg(arg)
        self.name = f"openclip:{arg}"
        self.device = torch.device(device)
        self.seed = seed
        self._model = None
        self._tokenizer = None
        self._quick_gelu = False
        from open_clip.transform import PreprocessCfg

        pre = asdict(PreprocessCfg())
        if self.arch.startswith(SCHEMAS):
            self.identity = {"backend": "open_clip", "source": self.arch}
            if self.arch.startswith("local-dir:"):
                d = Path(self.arch[len("local-dir:"):])
                self.identity["files"] = [file_identity(f) for f in sorted(d.iterdir()) if f.is_file()] if d.is_dir() else []
            model = self._load()  # the config (and so the preprocessing) lives with the weights
            pre = dict(model.visual.preprocess_cfg)
        else:
            cfg = oc.get_model_config(self.arch)
            if cfg is None:
                close = [m for m in oc.list_models() if self.arch.lower()[:4] in m.lower()][:12]
                raise TeacherError(f"unknown open_clip architecture {self.arch!r}; e.g. {', '.join(close or oc.list_models()[:12])} "
                                 "(open_clip.list_models() has them all)")
            if self.pretrained is None:
                self.identity = {"backend": "open_clip", "arch": self.arch, "pretrained": None, "init_seed": seed}
            elif oc.get_pretrained_cfg(self.arch, self.pretrained):
                tag_cfg = oc.get_pretrained_cfg(self.arch, self.pretrained)
                self._quick_gelu = bool(tag_cfg.get("quick_gelu", False)) and not cfg.get("quick_gelu", False)
                pre.update({k: v for k, v in tag_cfg.items() if k in pre})
                self.identity = {"backend": "open_clip", "arch": self.arch, "pretrained": self.pretrained, "quick_gelu": self._quick_gelu}
            elif os.path.isfile(self.pretrained):
                self.identity = {"backend": "open_clip", "arch": self.arch, "pretrained": file_identity(self.pretrained)}
            else:
                tags = oc.list_pretrained_tags_by_model(self.arch)
                raise TeacherWeightsError(
                    f"open_clip model {self.arch}: {self.pretrained!r} is neither a known pretrained tag "
                    f"(known: {', '.join(tags) or 'none'}) nor an existing weights file"
                )
            pre["size"] = cfg.get("vision_cfg", {}).get("image_size", pre["size"])
        self.preprocess = {k: (list(v) if isinstance(v, tuple) else v) for k, v in pre.items()}

    def _load(self):
        if self._model is not None:
            return self._model
        if self.pretrained is None and not self.arch.startswith(SCHEMAS):
            log.warning("openclip:%s has no pretrained weights: RANDOMLY INITIALISED model (seed %d); its zero-shot "
                        "predictions are meaningless. Give a tag or a file: openclip:%s:TAG_OR_PATH", self.arch, self.seed, self.arch)
        model = self.create(seed=self.seed)
        try:
            self._tokenizer = import_open_clip().get_tokenizer(self.arch)
        except Exception as e:  # noqa: BLE001 - a hub / folder tokenizer that cannot be had
            raise self._weights_error(e) from e
        self._model = model.eval()
        return self._model

    def create(self, *, weights: bool = True, image_size: int | None = None, seed: int | None = None) -> torch.nn.Module:
        """A new open_clip model on ``device`` (the teachers' and the students' one way to build one).

        Args:
            weights: load the spec's pretrained weights (a tag, a file, a hub / folder schema); ``False``,
                or a spec without weights: a random initialisation of the architecture.
            image_size: build the image tower for this side (open_clip resizes a ViT's position embedding).
            seed: seed of a random initialisation (the global RNG is left as it was); ``None``: use the global RNG.

        Raises:
            TeacherWeightsError: the weights (or a schema's config) cannot be had; the message names the
                model and how to give a local weights file.
        """
        oc = import_open_clip()
        pretrained = self.pretrained if weights else None
        if pretrained is not None and not os.path.isfile(pretrained):
            use_hub_cache_only_when_offline()
        kw = {"force_image_size": image_size} if image_size else {}
        try:
            with _seeded(seed), _silenced(logging.getLogger()):  # open_clip logs the failure reported below
                return oc.create_model(self.arch, pretrained=pretrained, load_weights=weights, device=self.device,
                                       force_quick_gelu=self._quick_gelu, **kw)
        except Exception as e:  # noqa: BLE001 - every way of not getting weights ends in the same advice
            if pretrained is None and not self.arch.startswith(SCHEMAS):
                raise  # a random init of a shipped config: nothing to download, so a bug or a bad size
            raise self._weights_error(e) from e

    def _weights_error(self, e: Exception) -> TeacherWeightsError:
        where = f"pretrained={self.pretrained!r}" if self.pretrained else "its hub / folder"
        return TeacherWeightsError(
            f"could not load open_clip model {self.arch} ({where}): {e}. If this machine is offline, download the "
            f"weights where you are online (open_clip caches them under ~/.cache/huggingface or ~/.cache/clip) and "
            f"copy them here, or give a local weights file: openclip:{self.arch}:/path/to/open_clip_model.safetensors"
        )

    def transform(self) -> Callable[[Image.Image], Tensor]:
        from open_clip.transform import PreprocessCfg, image_transform_v2

        cfg = {k: (tuple(v) if isinstance(v, list) else v) for k, v in self.preprocess.items()}
        return image_transform_v2(PreprocessCfg(**cfg), is_train=False)

    def encode_images(self, pixels: Tensor) -> Tensor:
        return self._load().encode_image(pixels)

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        model = self._load()
        return model.encode_text(self._tokenizer(list(texts)).to(self.device))


@BACKBONES.register("openclip")
def _openclip(arg: str | None, *, device: torch.device, seed: int = 0) -> OpenClipModel:
    return OpenClipModel(arg, device=device, seed=seed)


@contextlib.contextmanager
def _seeded(seed: int | None):
    """The global RNG seeded with ``seed`` for the duration, then restored; ``None``: untouched."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _silenced(logger: logging.Logger):
    """``logger`` (and its children) quiet below CRITICAL for the duration."""
    old = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(old)
