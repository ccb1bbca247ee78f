"""The image tower of a vision-language model as a dual-head student.

- ``openclip:ARCH[:PRETRAINED]``: an open_clip model's ``visual`` tower (a pretrained tag, a local
  weights file, or open_clip's ``hf-hub:`` / ``local-dir:`` schemas, as for the teachers).
- ``hf:MODEL_ID_OR_DIR``: a transformers CLIP-like model's ``vision_model`` and, where it has one,
  its ``visual_projection`` (CLIP, SigLIP, ...).

The features are the model's image embedding (what ``encode_image`` / ``get_image_features`` give,
before normalisation); the CE and KD heads sit on them. The student normalises with the model's
own mean / std (CLIP's, for CLIP) at the model's own input side, or at ``input_size`` (open_clip
builds the tower for that side, resizing a ViT's position embedding; transformers interpolates it).

The models are built by the backbones' loaders (``OpenClipModel.create``, ``load_hf_model``), as the teachers' are, so
weights come the same way: ``pretrained=True`` loads what the spec names and fails fast, in one
line naming the model and how to give a local path, when the weights cannot be had (``openclip:ARCH``
with no tag names none: a random tower with a ``PretrainedWeightsWarning``, an error under
``require_pretrained``); ``pretrained=False`` (tests, and ``load_student`` before it loads a checkpoint)
is a random initialisation by the same code path. ``tune="linear"`` (``create_student``) freezes the tower: a linear probe.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from activekd.backbones import SCHEMAS, HFModel, OpenClipModel, import_open_clip, load_hf_model, split_arg
from activekd.errors import StudentError, TeacherError

from ._dual_head import DualHeadStudent
from ._registry import _fallback_warning, register_student

CPU = torch.device("cpu")


@contextlib.contextmanager
def _as_student_error():
    """The shared loaders raise teachers' errors; for a student the same one-line message is a :class:`StudentError`."""
    try:
        yield
    except TeacherError as e:
        raise StudentError(str(e)) from e


def _side(size) -> int:
    """An image size (``224`` or ``[224, 224]``) -> its side; students are square."""
    if isinstance(size, int):
        return size
    h, w = (int(v) for v in size)
    if h != w:
        raise StudentError(f"the image tower takes {h}x{w} images; students need a square input: give --student-input-size")
    return h


def _student(tower: nn.Module, num_classes: int, size: int, preprocess: dict) -> DualHeadStudent:
    """The dual-head student on ``tower``; the feature width is read off one forward of a blank image."""
    tower.eval()
    with torch.no_grad():
        width = int(tower(torch.zeros(1, 3, size, size)).shape[-1])
    return DualHeadStudent(tower.train(), width, num_classes, input_size=size,
                           mean=tuple(preprocess["mean"]), std=tuple(preprocess["std"]))


def _openclip_spec(arg: str, pretrained: bool) -> str:
    """Without weights, drop a weights file from ``ARCH:FILE`` (a checkpoint brings them; the file may be gone),
    but keep a pretrained tag: it may switch on QuickGELU, which changes what the tower computes."""
    arch, tag = split_arg(arg)
    if pretrained or tag is None or import_open_clip().get_pretrained_cfg(arch, tag):
        return arg
    return arch


@register_student("openclip")
def _openclip(arg, num_classes: int, *, pretrained: bool, input_size: int | None) -> DualHeadStudent:
    if not arg:
        raise StudentError("openclip students need an architecture: openclip:ARCH[:PRETRAINED], e.g. openclip:ViT-B-32:openai")
    with _as_student_error():
        clip = OpenClipModel(_openclip_spec(arg, pretrained), device=CPU)
        if pretrained and clip.pretrained is None and not clip.arch.startswith(SCHEMAS):
            _fallback_warning(f"openclip:{clip.arch}", "the spec names no pretrained weights: its image tower is RANDOMLY "
                              "INITIALISED", f"give a tag or a local file: openclip:{clip.arch}:TAG_OR_PATH")
        model = clip.create(weights=pretrained, image_size=input_size)
    size = input_size or _side(clip.preprocess["size"])
    return _student(model.visual, num_classes, size, clip.preprocess)


class HFImageTower(nn.Module):
    """A transformers CLIP-like model's image tower: normalised ``[B, 3, S, S]`` -> ``[B, D]``, as ``get_image_features``.

    The vision transformer's pooled output, then ``visual_projection`` where the model has one (CLIP;
    SigLIP has none). The text tower is not kept. At a side other than the model's own, the position
    embedding is interpolated (``interpolate_pos_encoding``).
    """

    def __init__(self, model: nn.Module, input_size: int | None) -> None:
        super().__init__()
        vision = getattr(model, "vision_model", None)
        if vision is None:
            raise StudentError(f"{type(model).__name__} has no vision_model: not a CLIP-like model")
        proj = getattr(model, "visual_projection", None)
        self.vision_model = vision
        self.visual_projection = proj if proj is not None else nn.Identity()
        self.native_size = int(model.config.vision_config.image_size)
        self.interpolate = input_size is not None and input_size != self.native_size

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        out = self.vision_model(pixel_values=pixels, interpolate_pos_encoding=self.interpolate)
        return self.visual_projection(out.pooler_output)


@register_student("hf")
def _hf(arg, num_classes: int, *, pretrained: bool, input_size: int | None) -> DualHeadStudent:
    if not arg:
        raise StudentError("hf students need a model: hf:MODEL_ID_OR_DIR, e.g. hf:openai/clip-vit-base-patch32")
    with _as_student_error():
        source = HFModel(arg, device=CPU)  # resolves a folder or hub id and reads its image-processor config
        model = load_hf_model(source.source, weights=pretrained)
    tower = HFImageTower(model, input_size)
    return _student(tower, num_classes, input_size or tower.native_size, source.preprocess)
