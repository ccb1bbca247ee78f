"""What a vision-language backbone is, its registry and factory, and what its loaders share.

A *backbone* (``openclip:ARCH[:PRETRAINED]``, ``hf:MODEL_ID_OR_DIR``) is an image tower, a text tower and the image
preprocessing that goes with them. It is cheap to create: the weights are loaded on the first encode.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Protocol, Sequence

import torch
from PIL import Image
from torch import Tensor

from activekd.errors import TeacherError
from activekd.registry import Registry, parse_spec

log = logging.getLogger(__name__)


class TeacherWeightsError(TeacherError):
    """The weights of a vision-language model cannot be had (offline, unknown tag, missing file)."""


class VisionLanguageModel(Protocol):
    """What the zero-shot / few-shot teachers need from a CLIP-like model.

    Attributes:
        name: the spec it was built from (``openclip:RN50:openai``).
        identity: JSON-able description of the weights (changes when the weights do).
        preprocess: JSON-able description of the image preprocessing.
    """

    name: str
    identity: dict
    preprocess: dict

    def transform(self) -> Callable[[Image.Image], Tensor]:
        """PIL image -> ``[3, H, W]`` float tensor; picklable (it runs in DataLoader workers)."""
        ...

    def encode_images(self, pixels: Tensor) -> Tensor:
        """``[B, 3, H, W]`` preprocessed pixels on the model's device -> ``[B, D]`` raw embeddings."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """``B`` strings -> ``[B, D]`` raw text embeddings (on the model's device)."""
        ...


BackboneFactory = Callable[..., VisionLanguageModel]
BACKBONES: Registry[BackboneFactory] = Registry("vision-language model")


def create_backbone(spec: str, *, device: torch.device, seed: int = 0) -> VisionLanguageModel:
    """Build the backbone for a teacher spec ``openclip:...`` or ``hf:...`` (weights load lazily)."""
    kind, arg = parse_spec(spec)
    return BACKBONES.get(kind)(arg, device=torch.device(device), seed=seed)


def use_hub_cache_only_when_offline(timeout: float = 3.0) -> None:
    """Before a model-hub download: when the hub cannot be reached, switch Hugging Face to offline mode.

    Offline, the hub client otherwise retries for about a minute before failing; in offline mode a
    model already in the local cache still loads, and a missing one fails at once (the caller turns
    that into a :class:`TeacherWeightsError` naming the model and how to pass local weights). The hub
    is ``HF_ENDPOINT`` (default ``https://huggingface.co``); one TCP connect decides.
    """
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=timeout).close()
        return
    except OSError:
        log.debug("the model hub %s cannot be reached: using only locally cached weights", url.geturl())
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import huggingface_hub.constants as hub

        hub.HF_HUB_OFFLINE = True
    except ImportError:
        pass


def file_identity(path: str | os.PathLike) -> dict:
    """A weights file's identity for cache keys: absolute path, size and modification time."""
    st = os.stat(path)
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
