"""Teachers: the protocol, precomputed files, the offline stand-in, and VLM teachers."""

from ._base import TEACHERS, TableTeacher, Teacher, TeacherConfig, TeacherContext, create_teacher, list_teachers, register_teacher
from ._file import TeacherFileError, load_teacher_file
from . import _standin  # noqa: F401  (registration)

__all__ = [
    "TEACHERS", "TableTeacher", "Teacher", "TeacherConfig", "TeacherContext", "create_teacher", "list_teachers",
    "register_teacher", "TeacherFileError", "load_teacher_file",
]
