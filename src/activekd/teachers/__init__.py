"""Teachers: the protocol, precomputed files, the offline stand-in, and VLM teachers."""

from activekd.backbones import TeacherWeightsError, create_backbone

from . import _standin  # noqa: F401  (registration)
from ._base import (
    TEACHERS,
    TableTeacher,
    Teacher,
    TeacherConfig,
    TeacherContext,
    TeacherInfo,
    ViewTeacher,
    check_few_shot,
    create_teacher,
    list_teachers,
    register_teacher,
    teacher_info,
)
from ._embed import EmbeddingCache, ImageEmbedder, embed_dataset, encode_images
from ._fewshot import (
    clap_logits,
    clap_penalty_weights,
    fit_clap,
    fit_tip_adapter_f,
    tip_adapter_logits,
    zero_shot_logits,
)
from ._file import TeacherFileError, load_teacher_file
from ._templates import IMAGENET_TEMPLATES, load_class_renames, resolve_templates
from ._views import crop_views
from ._zeroshot import VLMTeacher, text_classifier, zero_shot_classifier

__all__ = [
    "TEACHERS", "TableTeacher", "Teacher", "TeacherConfig", "TeacherContext", "TeacherInfo", "ViewTeacher", "check_few_shot",
    "create_teacher", "list_teachers", "register_teacher", "teacher_info", "TeacherFileError", "load_teacher_file",
    "EmbeddingCache", "ImageEmbedder", "TeacherWeightsError", "create_backbone", "embed_dataset", "encode_images",
    "crop_views",
    "clap_logits", "clap_penalty_weights", "fit_clap", "fit_tip_adapter_f", "tip_adapter_logits", "zero_shot_logits",
    "IMAGENET_TEMPLATES", "load_class_renames", "resolve_templates", "VLMTeacher", "text_classifier", "zero_shot_classifier",
]
