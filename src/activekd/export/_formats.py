"""The registry of export formats: ``onnx``, ``torchscript``, ``pt2``.

A format knows how to write a recorded student (``save``), how to open a file it wrote (``load``)
and how to recognise one (``claims``). Registering must not import torch, so that the ONNX
predictor runs where only ``onnxruntime`` is installed; each format imports its engine inside
``save`` / ``load``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from activekd.registry import Registry

from ._meta import ExportError


class Backend(Protocol):
    """An opened model: ``backend(images uint8 [B, 3, H, W]) -> probs float32 [B, C]``."""

    metadata: dict[str, str]

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ExportFormat:
    """One file format.

    Attributes:
        name: the registry name (``--format``).
        suffix: the usual file extension.
        save: ``save(module, example, metadata, path)``; ``module`` maps uint8 ``[B, 3, H, W]`` to
            probabilities ``[B, C]``, ``example`` is such a batch, ``metadata`` the string map.
        load: ``load(path) -> Backend``.
        claims: ``claims(path) -> bool``, whether a file looks like this format.
    """

    name: str
    suffix: str
    save: Callable[[Any, Any, dict[str, str], Path], None]
    load: Callable[[Path], Backend]
    claims: Callable[[Path], bool]


FORMATS: Registry[ExportFormat] = Registry("export format")


def register_format(fmt: ExportFormat) -> ExportFormat:
    """Add ``fmt`` to :data:`FORMATS` under ``fmt.name``."""
    return FORMATS.register(fmt.name)(fmt)


def get_format(name: str) -> ExportFormat:
    """The format called ``name``; an unknown name raises ``UnknownNameError`` listing the valid ones."""
    return FORMATS.get(name)


def list_formats() -> list[str]:
    return FORMATS.names()


def zip_members(path: Path) -> list[str]:
    """Member names of a zip archive (TorchScript and ``.pt2`` files are zips); ``[]`` otherwise."""
    if not zipfile.is_zipfile(path):
        return []
    with zipfile.ZipFile(path) as z:
        return z.namelist()


def check_archive(path: Path) -> None:
    """Raise :class:`ExportError` when a zip archive (TorchScript, ``.pt2``) fails its CRC-32 checks.

    PyTorch's reader does not check them, so a damaged byte in the weights would load and predict
    wrong; this reads the whole file once.
    """
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise ExportError(f"{path} is a damaged archive ({e}); export it again") from None
    if bad is not None:
        raise ExportError(f"{path} is damaged: its member {bad} fails the CRC check; export it again")


def format_of(path: Path) -> ExportFormat:
    """The registered format whose ``claims`` accepts ``path``; raises ``ExportError`` if none does."""
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        if fmt.claims(path):
            return fmt
    raise ExportError(f"{path} is not an exported activekd model ({', '.join(FORMATS.names())}), a run folder or a checkpoint")
