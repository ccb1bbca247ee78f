"""What travels inside an exported student: class names, the head mix, the input contract.

The same flat ``str -> str`` map is stored by every format: as ONNX ``metadata_props``, and as the
extra file ``activekd.json`` of a TorchScript or ``torch.export`` (``.pt2``) archive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from activekd.errors import ActiveKDError

FORMAT_TAG = "activekd-export-v1"
INPUT_CONTRACT = "images: uint8 [B, 3, H, W] RGB, any B, H, W"
OUTPUT_CONTRACT = "probs: float32 [B, C] = (1 - alpha) * softmax(ce) + alpha * softmax(kd / beta)"
HOST_PREPROCESS = "RGB; shorter side resized to image_size (bilinear), centre square crop (as the training loader stores images)"


class ExportError(ActiveKDError):
    """A user mistake in exporting or loading a deployed student (bad path, round, file)."""


@dataclass(frozen=True)
class ExportMetadata:
    """Everything a deployed student needs besides its weights.

    Attributes:
        student: the student's registry name (``small-cnn``, ``resnet18``, ``timm:NAME``...).
        class_names: ``C`` class names; output column ``j`` is ``class_names[j]``.
        alpha, beta: the head mix folded into the graph (``activekd.heads.mix_heads``; α weights the KD head).
        mix_source: where the run's α, β came from (``picks (N labels)``, ``val (N labels)``, ``prior``, ``fixed``; ``""``
            for checkpoints written before it was recorded).
        input_size: ``S``, the side the backbone sees; the graph resizes any ``H, W`` to it.
        image_size: the side of the square the host cuts before the graph: the side the run's training and
            evaluation images were stored at (``DataConfig.image_size`` for file datasets); None: ``input_size``.
        dataset_fingerprint: ``Dataset.fingerprint()`` of the run, when known.
        activekd_version: the version that wrote the file.
        source: the checkpoint the file was made from (a file name, for provenance).
    """

    student: str
    class_names: tuple[str, ...]
    alpha: float
    beta: float
    input_size: int
    dataset_fingerprint: str | None = None
    activekd_version: str = ""
    source: str = ""
    image_size: int | None = None
    mix_source: str = ""

    @property
    def host_size(self) -> int:
        """The side of the host's centre square (``image_size``, else ``input_size``)."""
        return int(self.image_size or self.input_size)

    def to_strings(self) -> dict[str, str]:
        """The flat string map stored in the file."""
        return {
            "format": FORMAT_TAG, "student": self.student, "class_names": json.dumps(list(self.class_names)),
            "alpha": repr(float(self.alpha)), "beta": repr(float(self.beta)), "mix_source": self.mix_source,
            "input_size": str(int(self.input_size)),
            "dataset_fingerprint": self.dataset_fingerprint or "", "activekd_version": self.activekd_version,
            "source": self.source, "image_size": str(self.host_size), "input": INPUT_CONTRACT, "output": OUTPUT_CONTRACT, "preprocess": HOST_PREPROCESS,
        }

    @classmethod
    def from_strings(cls, meta: dict[str, str], where: str) -> ExportMetadata:
        """Parse :meth:`to_strings`; ``where`` names the file in the error."""
        if meta.get("format") != FORMAT_TAG:
            raise ExportError(f"{where} has no activekd metadata; export it with `activekd export`")
        return cls(
            student=meta["student"], class_names=tuple(json.loads(meta["class_names"])), alpha=float(meta["alpha"]),
            beta=float(meta["beta"]), input_size=int(meta["input_size"]),
            dataset_fingerprint=meta.get("dataset_fingerprint") or None,
            activekd_version=meta.get("activekd_version", ""), source=meta.get("source", ""),
            image_size=int(meta["image_size"]) if meta.get("image_size") else None, mix_source=meta.get("mix_source", ""),
        )
