"""The run folder's layout: its paths, and every name of it spelled in ``activekd.layout`` only."""

from __future__ import annotations

import ast
from pathlib import Path

from activekd.layout import RunLayout

SRC = Path(__file__).resolve().parents[1] / "src" / "activekd"
NAMES = {RunLayout.STORE, RunLayout.LOCK, RunLayout.RESULTS, RunLayout.STUDENT, RunLayout.LOG, RunLayout.UNREADABLE,
         RunLayout.TO_LABEL, RunLayout.THUMBNAILS, "review.csv"}


def test_paths_of_a_run_folder(tmp_path):
    run = RunLayout(str(tmp_path))
    assert run.root == tmp_path and run.store == tmp_path / "session.sqlite" and run.lock == tmp_path / "session.lock"
    assert (run.results, run.student, run.log) == (tmp_path / "results.json", tmp_path / "student.safetensors", tmp_path / "activekd.log")
    assert RunLayout.checkpoint_name(3) == "checkpoints/round_003.safetensors" and run.checkpoint(3) == tmp_path / RunLayout.checkpoint_name(3)
    assert run.predictions(2) == tmp_path / "predictions" / "round_002.npz" and run.batch(0) == tmp_path / "to_label" / "round_000.csv"
    assert (run.classes, run.review) == (tmp_path / "to_label" / "classes.txt", tmp_path / "to_label" / "review.csv")
    assert run.images == tmp_path / "images" and RunLayout.thumbnail_name("a-1") == "thumbnails/a-1.png"


def test_checkpoint_rounds_and_the_run_of_a_checkpoint(tmp_path):
    run = RunLayout(tmp_path)
    assert run.checkpoint_rounds() == []
    run.checkpoints.mkdir()
    for name in ("round_010.safetensors", "round_002.safetensors", "round_x.safetensors", "round_3.5.safetensors", "other.safetensors"):
        (run.checkpoints / name).write_bytes(b"")
    assert run.checkpoint_rounds() == [2, 10]
    assert RunLayout.checkpoint_round(run.checkpoint(10)) == 10 and RunLayout.checkpoint_round(run.student) is None
    assert RunLayout.of_checkpoint(run.checkpoint(2)) == run and RunLayout.of_checkpoint(run.student) == run
    assert RunLayout.of_checkpoint(tmp_path / "elsewhere" / "student.safetensors").root == tmp_path / "elsewhere"


def _spellings(path: Path) -> list[str]:
    """A run-folder name as a whole string constant, or an f-string ``round_{...}`` (docstrings and messages aside)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and node.value in NAMES:
            found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            found += [f"{path.relative_to(SRC)}:{node.lineno} round_{{...}}" for a, b in zip(parts, parts[1:])
                      if isinstance(a, ast.Constant) and str(a.value).endswith("round_") and isinstance(b, ast.FormattedValue)]
    return found


def test_run_folder_names_are_spelled_in_the_layout_only():
    found = [s for p in sorted(SRC.rglob("*.py")) if p.name != "layout.py" for s in _spellings(p)]
    assert not found, found
