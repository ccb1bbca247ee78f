"""Deploying a trained student: one-file export and prediction.

- :func:`export_student`: a run folder or checkpoint -> one ``onnx`` / ``pt2`` / ``torchscript``
  file mapping uint8 RGB ``[B, 3, H, W]`` to mixed class probabilities ``[B, C]``, with class
  names, ``alpha``, ``beta``, input size, dataset fingerprint and version in its metadata.
- :func:`load_predictor`: a :class:`Predictor` over such a file (or a run folder);
  ``predict(images)`` takes paths, PIL images or uint8 arrays.
- :func:`predict_images`: top-k predictions for files / folders / globs / CSVs, written as CSV;
  unreadable images are skipped and named in one warning, CSV labels the model lacks are refused.

Importing this package does not import torch; the ONNX predictor runs on ``onnxruntime`` alone.
"""

from . import _onnx, _pt2, _torchscript  # noqa: F401  (register the formats)
from ._export import export_student
from ._formats import FORMATS, ExportFormat, get_format, list_formats, register_format
from ._images import BadImageArrayError, UnreadableImageError
from ._inputs import IMAGE_EXTENSIONS, ImageSpecError, expand_images
from ._meta import ExportError, ExportMetadata
from ._predict import (
    ClassMismatchError,
    Predictor,
    check_labels,
    load_predictor,
    predict_images,
)
from ._report import Prediction, PredictReport
from ._source import describe_checkpoint, resolve_checkpoint

__all__ = [  # noqa: RUF022 (grouped: constants, errors and types, functions)
    "FORMATS", "IMAGE_EXTENSIONS", "BadImageArrayError", "ClassMismatchError", "ExportError", "ExportFormat", "ExportMetadata",
    "ImageSpecError", "Prediction", "PredictReport", "Predictor", "UnreadableImageError", "check_labels",
    "describe_checkpoint", "expand_images", "export_student", "get_format", "list_formats", "load_predictor", "predict_images", "register_format",
    "resolve_checkpoint",
]
