"""``results.json``: the run's rounds and final figures, rebuilt from the store at any time.

Each round is its :class:`~activekd.round_result.RoundResult` (``to_dict``: every figure under its key) with the
round's ``status``, ``picks`` and ``checkpoint``; ``final`` is the last finished round's result. JSON never holds a
bare ``NaN``: a figure that does not exist (no test split, no KD head) is ``null``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from activekd._atomic import atomic_write
from activekd.layout import RunLayout

from ._store import SessionStore

SCHEMA = 3
"""2: seconds per phase, per-class accuracy, confusion matrix, agreement signals, no NaN; 3: each round written from its
``RoundResult``, every figure present (null where none). ``RoundResult.from_dict`` reads every schema."""


def clean_json(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None``, recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON (``allow_nan=False``) of ``clean_json(obj)``."""
    return json.dumps(clean_json(obj), indent=2, allow_nan=False)


def dataset_entry(ds) -> dict:
    """What ``results.json`` says about the dataset; ``image_size`` is the ``[C, H, W]`` its images are stored at (the
    deployed predictor cuts the same square)."""
    return {"name": ds.name, "fingerprint": ds.fingerprint(), "num_classes": ds.num_classes,
            "class_names": list(ds.class_names), "image_size": list(ds.images.size)}


def build_results(store: SessionStore, config: dict, dataset: dict, teacher: str | None, total_rounds: int) -> dict:
    """The results document of a run, from its store alone."""
    rounds = store.rounds()
    done = [x for x in rounds if x.status == "done" and x.round <= total_rounds]
    final = done[-1] if done else None
    complete = bool(final is not None and final.round == total_rounds)
    return {
        "schema": SCHEMA,
        "config": config,
        "dataset": dataset,
        "teacher": teacher,
        "rounds": [dict(x.result.to_dict(), status=x.status, picks=x.picks, checkpoint=x.checkpoint) for x in rounds],
        "complete": complete,
        "final": None if final is None else final.result.to_dict(),
        "num_labels": len(store.labels()),
        "student": RunLayout.STUDENT if complete and final is not None and final.checkpoint else None,
    }


def write_results(out: Path, results: dict) -> dict:
    """Write ``results.json`` atomically; copy the final round's checkpoint to ``student.safetensors`` when complete."""
    from activekd.students.io import sha256_file

    from activekd._faults import kill_point

    layout = RunLayout(out)
    if results["student"]:
        final = next(r for r in reversed(results["rounds"]) if r["round"] == results["final"]["round"])
        src, dst = out / final["checkpoint"], layout.student
        if src.is_file() and (not dst.is_file() or sha256_file(dst) != sha256_file(src)):
            atomic_write(dst, src.read_bytes())
    kill_point("results-write")
    atomic_write(layout.results, dumps(results))
    return results
