"""A person's answers: read from a CSV or a Label Studio export, checked against the run, turned into label changes.

Rules (the same for ``activekd label``, ``activekd sync`` and the Python API): every id must be a
sample of the run; every label a class name (or index); one answer per id per file; an answer equal
to the stored label is a no-op; a different answer for a labeled sample is a correction, allowed
only with ``relabel``; a new label only for a pick of the round awaiting labels. Any violation
refuses the whole file with one line naming it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from activekd._parsers import csv_errors

from ._errors import AnswerError
from ._ledger import LabelChange


@dataclass(frozen=True)
class Answer:
    sample_id: str
    label: str
    where: str  # "FILE line N" or "Label Studio task N", for error messages


def read_answer_file(path: Path, class_names: Sequence[str]) -> list[Answer]:
    """Answers from a filled-in batch CSV (``id,label`` columns at least) or a Label Studio JSON / JSON-MIN / CSV export."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise AnswerError(f"cannot read label file {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnswerError(f"{path} is not a text file (expected a CSV with columns id,label or a Label Studio export)") from None
    if not text.strip():
        raise AnswerError(f"{path} is empty")
    if "\x00" in text:
        raise AnswerError(f"{path} is not a text file (expected a CSV with columns id,label or a Label Studio export)")
    if text.lstrip()[:1] in "[{" or _is_labelstudio_csv(path, text):
        return _from_labelstudio(path, class_names)
    return _from_csv(path, text)


def _is_labelstudio_csv(path: Path, text: str) -> bool:
    """A Label Studio CSV export: it carries ``activekd_id`` (our tasks) or ``annotation_id`` (any project's export)."""
    reader = csv.reader(io.StringIO(text))
    with csv_errors(reader, str(path), AnswerError):
        header = {h.strip() for h in next(reader, [])}
    return bool(header & {"activekd_id", "annotation_id"})


def _from_labelstudio(path: Path, class_names: Sequence[str]) -> list[Answer]:
    from ._labelstudio import LabelFileError, read_export

    try:
        pairs = read_export(path, list(class_names))
    except LabelFileError as e:
        raise AnswerError(str(e)) from None
    if not pairs:
        raise AnswerError(f"{path} holds no answers (no task of the export has a class chosen)")
    return [Answer(sid, label, f"{path} (Label Studio task for {sid!r})") for sid, label in pairs]


def _from_csv(path: Path, text: str) -> list[Answer]:
    reader = csv.DictReader(io.StringIO(text))
    with csv_errors(reader, str(path), AnswerError):
        fields = [f.strip() for f in reader.fieldnames or []]
        if not {"id", "label"} <= set(fields):
            raise AnswerError(f"{path}: needs a header with columns id,label (found: {', '.join(fields) or 'nothing'})")
        rows = list(reader)
    out = []
    for n, row in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
        if row.get("label"):
            if not row.get("id"):
                raise AnswerError(f"{path} line {n}: a label without an id")
            out.append(Answer(row["id"], row["label"], f"{path} line {n}"))
    if not out:
        raise AnswerError(f"{path} holds no answers (every label cell is empty)")
    return out


def class_index(answer: Answer, class_names: Sequence[str]) -> int:
    """The class an answer names (a class name, or its index); unknown → one line listing the valid ones."""
    if answer.label in class_names:
        return list(class_names).index(answer.label)
    if answer.label.isascii() and answer.label.isdigit() and len(answer.label) < 10 and int(answer.label) < len(class_names):
        return int(answer.label)
    raise AnswerError(f"{answer.where}: unknown class {answer.label!r}; valid: {', '.join(class_names)}")


def plan_changes(answers: Sequence[Answer], *, class_names: Sequence[str], known: Callable[[str], bool],
                 current: dict[str, int], open_batch: set[str], relabel: bool) -> tuple[list[LabelChange], int]:
    """Check ``answers`` against the run (``known(id)``: the dataset has the image); returns ``(changes, unchanged)``.
    Raises :class:`AnswerError` on the first problem."""
    seen: dict[str, int] = {}
    changes: list[LabelChange] = []
    unchanged = 0
    for a in answers:
        if not known(a.sample_id):
            raise AnswerError(f"{a.where}: unknown sample id {a.sample_id!r}")
        y = class_index(a, class_names)
        if a.sample_id in seen:
            kind = "conflicting" if seen[a.sample_id] != y else "duplicate"
            raise AnswerError(f"{a.where}: {kind} answer for {a.sample_id!r} (it appears twice in the file)")
        seen[a.sample_id] = y
        old = current.get(a.sample_id)
        if old == y:
            unchanged += 1
        elif old is not None and not relabel:
            raise AnswerError(f"{a.where}: {a.sample_id!r} is labeled {class_names[old]!r} already; "
                              f"pass --relabel to change it to {class_names[y]!r}")
        elif old is None and a.sample_id not in open_batch:
            raise AnswerError(f"{a.where}: {a.sample_id!r} is not in the batch awaiting labels")
        else:
            changes.append(LabelChange(a.sample_id, y, old))
    return changes, unchanged
