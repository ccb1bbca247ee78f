"""Vision-language backbones (``openclip:``, ``hf:``): the loaders the teachers and the students share.

A backbone is an image tower, a text tower and the image preprocessing that goes with them; the zero-shot and
few-shot teachers encode with it, and the ``openclip:`` / ``hf:`` students train its image tower. Both build
their models here, so weights come the same way and fail the same way (:class:`TeacherWeightsError`).
"""

from . import _hf, _openclip  # noqa: F401  (registration of the backbones)
from ._base import (
    BACKBONES,
    BackboneFactory,
    TeacherWeightsError,
    VisionLanguageModel,
    create_backbone,
    file_identity,
    use_hub_cache_only_when_offline,
)
from ._hf import HFModel, build_transform, describe_processor, load_hf_model
from ._openclip import SCHEMAS, OpenClipModel, import_open_clip, split_arg

__all__ = [
    "BACKBONES", "BackboneFactory", "TeacherWeightsError", "VisionLanguageModel", "create_backbone", "file_identity",
    "use_hub_cache_only_when_offline", "HFModel", "build_transform", "describe_processor", "load_hf_model",
    "SCHEMAS", "OpenClipModel", "import_open_clip", "split_arg",
]
