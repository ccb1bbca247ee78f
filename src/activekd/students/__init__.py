"""Dual-head students (DHO): a registry and a factory over torchvision / timm backbones and VLM image towers."""

from . import _vlm  # noqa: F401  (registration of openclip: and hf: students)
from ._dual_head import TUNES, DualHeadStudent
from ._registry import (
    STUDENTS,
    PretrainedWeightsWarning,
    SmallCNN,
    create_student,
    list_students,
    register_student,
)

__all__ = ["TUNES", "DualHeadStudent", "PretrainedWeightsWarning", "STUDENTS", "SmallCNN", "create_student", "list_students",
           "register_student"]
