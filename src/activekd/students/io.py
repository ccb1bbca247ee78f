"""Saving and loading trained students (safetensors + metadata), for deployment."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file

from activekd.errors import StudentError

from ._dual_head import DualHeadStudent
from ._registry import create_student


def student_metadata(name: str, class_names, alpha: float, beta: float, input_size: int, mix_source: str = "") -> dict[str, str]:
    """String metadata stored in the safetensors header of a student checkpoint (``mix_source``: where α, β came from,
    see :class:`activekd.train.MixChoice`)."""
    return {"format": "activekd-student-v1", "student": name, "class_names": json.dumps(list(class_names)),
            "alpha": repr(float(alpha)), "beta": repr(float(beta)), "mix_source": mix_source, "input_size": str(int(input_size))}


def load_student(path: str | Path) -> tuple[DualHeadStudent, dict]:
    """Rebuild a student from a checkpoint; returns ``(student in eval mode, metadata)``.

    Predict with ``activekd.heads.mix_heads(*student(images)[:2], alpha, beta)``.
    """
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != "activekd-student-v1":
        raise StudentError(f"{path} is not an activekd student checkpoint")
    names = json.loads(meta["class_names"])
    student = create_student(meta["student"], len(names), pretrained=False, input_size=int(meta["input_size"]))
    student.load_state_dict(load_file(str(path)))
    info = {"student": meta["student"], "class_names": names, "alpha": float(meta["alpha"]), "beta": float(meta["beta"]),
            "mix_source": meta.get("mix_source", "")}
    return student.eval(), info


def save_student(path: str | Path, student: DualHeadStudent, metadata: dict[str, str]) -> str:
    """Write a student checkpoint (safetensors + ``student_metadata``) atomically; returns its sha256.

    The header's keys are sorted, so the same weights always give the same bytes (safetensors itself
    writes metadata in hash-map order).
    """
    from safetensors.torch import save

    from activekd._atomic import atomic_write

    data = save({k: v.detach().cpu().contiguous() for k, v in student.state_dict().items()}, metadata=metadata)
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # tensor offsets are relative to the data, which stays 8-byte aligned
    atomic_write(path, len(header).to_bytes(8, "little") + header + data[8 + n :])
    return sha256_file(path)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
