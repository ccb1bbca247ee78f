"""``export_student``: a run folder or checkpoint -> one self-contained model file."""

from __future__ import annotations

import logging
from pathlib import Path

from activekd._atomic import atomic_path
from activekd._faults import kill_point

from ._formats import get_format

log = logging.getLogger(__name__)


def export_student(checkpoint_or_run: str | Path, fmt: str, out: str | Path, *, round: int | None = None) -> Path:
    """Write the student as one file whose graph maps uint8 images to mixed class probabilities.

    The file's input is ``images``: uint8 RGB ``[B, 3, H, W]`` (any ``B``, ``H``, ``W``); its output
    is ``probs``: float32 ``[B, C]`` ``= (1 - alpha) * softmax(ce) + alpha * softmax(kd / beta)`` with
    the run's ``alpha``, ``beta`` folded in. Resizing to the student's input size and normalisation
    are in the graph (the student's own ``prepare``). Class names, ``alpha``, ``beta``, input size,
    dataset fingerprint and activekd version travel in the file's metadata.

    Args:
        checkpoint_or_run: a run folder (uses ``student.safetensors``, or ``checkpoints/round_NNN``
            with ``round``) or a student checkpoint file.
        fmt: a registered format: ``onnx``, ``pt2`` or ``torchscript``.
        out: the file to write (atomically; parent folders are created).
        round: pick ``checkpoints/round_{round:03d}.safetensors`` of a run folder.

    Returns:
        ``out`` as a ``Path``.
    """
    import torch

    from ._graph import MixedProbabilities, example_batch
    from ._source import load_source

    f = get_format(fmt)
    student, meta = load_source(checkpoint_or_run, round)
    module = MixedProbabilities(student, meta.alpha, meta.beta).eval()
    out = Path(out)
    with torch.no_grad(), atomic_path(out, suffix=f.suffix, sweep=True) as tmp:
        f.save(module, example_batch(meta.input_size), meta.to_strings(), tmp)
        kill_point("export-write")  # the file written, not yet in place
    log.debug("exported %s (%s, %d classes) to %s", meta.source, f.name, len(meta.class_names), out)
    return out
