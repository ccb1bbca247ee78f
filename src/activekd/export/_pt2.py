"""``torch.export`` archive (``.pt2``): an ``ExportedProgram`` with dynamic batch, height and width.

The metadata map travels as the archive's extra file ``activekd.json``. Load it anywhere PyTorch
runs with ``torch.export.load(path).module()``, or compile it ahead of time with AOTInductor.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._formats import ExportFormat, check_archive, register_format, zip_members

EXTRA_FILE = "activekd.json"


def save_pt2(module, example, metadata: dict[str, str], path: Path) -> None:
    """``torch.export.export`` ``module`` (batch, height, width dynamic) and save it with the metadata."""
    import torch

    from ._graph import dynamic_dims

    program = torch.export.export(module, (example,), dynamic_shapes=(dynamic_dims(),))
    torch.export.save(program, str(path), extra_files={EXTRA_FILE: json.dumps(metadata)})


def load_pt2(path: Path):
    """Open a ``.pt2`` file written by :func:`save_pt2` as a :class:`TorchBackend`."""
    import torch

    from ._graph import TorchBackend

    check_archive(path)
    files = {EXTRA_FILE: ""}
    program = torch.export.load(str(path), extra_files=files)
    return TorchBackend(program.module(), json.loads(files[EXTRA_FILE] or "{}"))


def _claims(path: Path) -> bool:
    return any(n.endswith("/archive_format") for n in zip_members(path))


PT2 = register_format(ExportFormat("pt2", ".pt2", save_pt2, load_pt2, _claims))
