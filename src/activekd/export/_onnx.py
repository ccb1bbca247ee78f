"""ONNX export (``torch.onnx`` + onnxscript) and an ``onnxruntime`` backend that needs no torch.

The graph's input ``images`` is uint8 ``[batch, 3, height, width]``; its output ``probs`` is float32
``[batch, C]``. The metadata map is stored as the model's ``metadata_props``.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np

from ._formats import ExportFormat, register_format, zip_members

log = logging.getLogger(__name__)


def save_onnx(module, example, metadata: dict[str, str], path: Path) -> None:
    """Record ``module`` with ``torch.onnx.export`` (dynamo) into one self-contained ``.onnx`` file."""
    import torch

    from ._graph import dynamic_dims

    with contextlib.redirect_stdout(io.StringIO()) as chatter:  # the exporter prints its progress
        program = torch.onnx.export(module, (example,), dynamo=True, input_names=["images"], output_names=["probs"],
                                    dynamic_shapes=(dynamic_dims(),), external_data=False, verbose=False)
    log.debug("torch.onnx: %s", chatter.getvalue())
    program.model.metadata_props.update(metadata)
    program.save(str(path), external_data=False)


class OnnxBackend:
    """An ``onnxruntime`` CPU session: uint8 ``[B, 3, H, W]`` -> float32 ``[B, C]``."""

    def __init__(self, path: Path) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError("ONNX models need onnxruntime: pip install 'activekd[deploy]'") from None
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self._input = self.session.get_inputs()[0].name

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: np.ascontiguousarray(images, dtype=np.uint8)})[0]


def _claims(path: Path) -> bool:
    """ONNX files are protobuf: the first field (``ir_version``, field 1, varint) starts with byte 0x08."""
    if path.suffix.lower() == ".onnx":
        return True
    with open(path, "rb") as f:
        return f.read(1) == b"\x08" and not zip_members(path)


ONNX = register_format(ExportFormat("onnx", ".onnx", save_onnx, OnnxBackend, _claims))
