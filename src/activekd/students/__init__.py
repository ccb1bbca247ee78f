"""Dual-head students (DHO): a registry and a factory over torchvision / timm backbones."""

from ._dual_head import DualHeadStudent
from ._registry import (
    STUDENTS,
    SmallCNN,
    create_student,
    list_students,
    register_student,
)

__all__ = ["DualHeadStudent", "STUDENTS", "SmallCNN", "create_student", "list_students", "register_student"]
