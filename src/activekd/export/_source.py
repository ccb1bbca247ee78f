"""Where an export starts: a run folder (``student.safetensors``, ``checkpoints/round_NNN.safetensors``)
or one checkpoint file, read into a student and its :class:`ExportMetadata`.

The run's dataset fingerprint comes from ``results.json`` (``dataset.fingerprint``); the session's
SQLite store is never opened.
"""

from __future__ import annotations

import json
import logging
import numbers
from pathlib import Path

from activekd.layout import RunLayout

from ._meta import ExportError, ExportMetadata

log = logging.getLogger(__name__)


def _latest(run: Path) -> Path:
    """The latest trained round's checkpoint of a run folder: ``student.safetensors`` when it is that round's (a complete
    run), else ``checkpoints/round_NNN`` (a run waiting for labels, or extended past its final student)."""
    import filecmp

    layout = RunLayout(run)
    rounds, final = layout.checkpoint_rounds(), layout.student
    if not rounds:
        if final.is_file():
            return final
        _refuse_a_damaged_store(run)
        raise ExportError(f"{run} has no trained round yet (no checkpoints/round_NNN.safetensors and no {RunLayout.STUDENT}); "
                          f"train round 0 first (`activekd resume {run}`)")
    ckpt = layout.checkpoint(rounds[-1])
    if final.is_file() and filecmp.cmp(final, ckpt, shallow=False):
        return final
    _refuse_a_damaged_store(run)
    return ckpt


def describe_checkpoint(ckpt: Path) -> str:
    """Which student a resolved checkpoint is, for messages: ``round 3``, ``round 5 (the final student)`` or its file name."""
    r = RunLayout.checkpoint_round(ckpt)
    if r is not None:
        return f"round {r}"
    rounds = RunLayout(ckpt.parent).checkpoint_rounds() if ckpt.name == RunLayout.STUDENT else []
    return f"round {rounds[-1]} (the final student)" if rounds else ckpt.name


def resolve_checkpoint(path: str | Path, round: int | None = None) -> tuple[Path, Path]:
    """``(checkpoint file, run folder)`` for a run folder (its latest trained round, or ``round``) or a checkpoint file.

    The run folder of a bare checkpoint is its folder (its parent for ``checkpoints/round_NNN``).
    """
    p = Path(path)
    if round is not None and (isinstance(round, bool) or not isinstance(round, numbers.Integral) or round < 0):
        raise ExportError(f"--round must be a round number >= 0, got {round!r} (without --round the run's final student, or else its latest trained round, is used)")
    if p.is_dir():
        if round is None:
            return _latest(p), p
        layout = RunLayout(p)
        ckpt = layout.checkpoint(round)
        if not ckpt.is_file():
            _refuse_a_damaged_store(p)
            have = ", ".join(map(str, layout.checkpoint_rounds())) or "none"
            raise ExportError(f"{p} has no {ckpt.relative_to(p)} (this round has no checkpoint; rounds with checkpoints: {have})")
        return ckpt, p
    if not p.is_file():
        raise ExportError(f"{p}: no such run folder or checkpoint file")
    if round is not None:
        raise ExportError(f"--round needs a run folder, but {p} is a checkpoint file; drop --round or pass the run folder")
    return p, RunLayout.of_checkpoint(p).root


def _refuse_a_damaged_store(run: Path) -> None:
    """Name a corrupt (foreign, newer) session store: a missing checkpoint is then its symptom, not an unfinished run."""
    from activekd.session import StoreError, check_store_file

    store = RunLayout(run).store
    try:
        if store.exists():
            check_store_file(store)
    except StoreError as e:
        raise ExportError(f"{run} cannot be exported: {e}") from None


def dataset_fingerprint(run: Path) -> str | None:
    """``dataset.fingerprint`` from ``RUN/results.json``, or ``None`` when there is none."""
    return _dataset_field(run, "fingerprint")


def stored_image_size(run: Path) -> int | None:
    """``dataset.image_size`` (the side the run stored its images at) from ``RUN/results.json``; None when unknown
    (older runs: the predictor then squares to the student's input size)."""
    size = _dataset_field(run, "image_size")
    return int(size[0]) if isinstance(size, list) and size and size[0] == size[-1] else None


def _dataset_field(run: Path, key: str):
    f = RunLayout(run).results
    if not f.is_file():
        return None
    try:
        return (json.loads(f.read_text()).get("dataset") or {}).get(key)
    except (OSError, ValueError, AttributeError) as e:
        log.warning("could not read dataset.%s from %s (%s)", key, f, e)
        return None


def load_source(path: str | Path, round: int | None = None):
    """Load the student to export; returns ``(DualHeadStudent in eval mode, ExportMetadata)``."""
    from safetensors import SafetensorError

    from activekd import __version__
    from activekd.students.io import load_student

    ckpt, run = resolve_checkpoint(path, round)
    try:
        student, info = load_student(ckpt)
    except (ValueError, OSError, SafetensorError) as e:
        raise ExportError(f"{ckpt} is not an activekd student checkpoint ({e})") from None
    meta = ExportMetadata(
        student=info["student"], class_names=tuple(info["class_names"]), alpha=info["alpha"], beta=info["beta"],
        input_size=int(student.input_size), dataset_fingerprint=dataset_fingerprint(run),
        activekd_version=__version__, source=str(ckpt.relative_to(run)) if ckpt.is_relative_to(run) else ckpt.name,
        image_size=stored_image_size(run), mix_source=info.get("mix_source", ""),
    )
    return student, meta


def load_eager(path: str | Path, round: int | None = None):
    """A run folder or checkpoint as a backend running the PyTorch student (no export)."""
    from ._graph import MixedProbabilities, TorchBackend

    student, meta = load_source(path, round)
    return TorchBackend(MixedProbabilities(student, meta.alpha, meta.beta).eval(), meta.to_strings())
