"""TorchScript export (``torch.jit.trace``); the metadata map travels as the extra file ``activekd.json``.

PyTorch deprecates TorchScript in favour of ``torch.export`` (the ``pt2`` format); it is kept for
runtimes that only read TorchScript (LibTorch, older mobile). Tracing is safe here: the recorded
student has no data-dependent control flow, and ``DualHeadStudent.prepare`` always records its
resize while tracing, so the file takes any batch size, height and width.
"""

from __future__ import annotations

import json
import warnings
from contextlib import contextmanager
from pathlib import Path

from ._formats import ExportFormat, check_archive, register_format, zip_members

EXTRA_FILE = "activekd.json"


@contextmanager
def _quiet():
    """Silence the warnings tracing is known to give here: the deprecation notice, and the shape
    checks evaluated once at trace time (channel count fixed at 3 by the input contract; both heads
    ``[B, C]`` by construction)."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated", category=FutureWarning)
        yield


def save_torchscript(module, example, metadata: dict[str, str], path: Path) -> None:
    """Trace ``module`` on ``example`` and save it with the metadata."""
    import torch

    with _quiet(), torch.no_grad():
        traced = torch.jit.trace(module, (example,), check_trace=False)
        torch.jit.save(traced, str(path), _extra_files={EXTRA_FILE: json.dumps(metadata)})


def load_torchscript(path: Path):
    """Open a TorchScript file written by :func:`save_torchscript` as a :class:`TorchBackend`."""
    import torch

    from ._graph import TorchBackend

    check_archive(path)
    files = {EXTRA_FILE: ""}
    with _quiet():
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=files)
    return TorchBackend(module.eval(), json.loads(files[EXTRA_FILE] or "{}"))


def _claims(path: Path) -> bool:
    names = zip_members(path)
    return any(n.endswith("/data.pkl") for n in names) and not any(n.endswith("/archive_format") for n in names)


TORCHSCRIPT = register_format(ExportFormat("torchscript", ".pt", save_torchscript, load_torchscript, _claims))
