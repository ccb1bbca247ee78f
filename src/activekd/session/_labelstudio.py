"""Label Studio: tasks to import, exports to read back, and a small live link to a server.

The pure half builds the labeling config (one ``Image`` named ``image``, a ``Text`` named
``suggestion`` beside it and one single-choice ``Choices`` control named ``label``), turns a batch of picked images into Label Studio import
tasks (the student's and the teacher's guesses as predictions, and as the readable text
``data.suggestion``, e.g. ``student: trouser 93% · teacher: trouser 98%``) and reads a Label Studio export
(JSON, JSON-MIN or CSV) back into ``(activekd id, class name)`` answers. ``_studio_link.LabelStudioLink``
does the same against a running server through ``label_studio_sdk`` (the ``labelstudio`` extra).

Every task carries the activekd sample id in ``data.activekd_id``; that key is how answers find
their sample, so an export from a project activekd did not fill is refused.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

from activekd._parsers import csv_errors, parse_json
from activekd.errors import ActiveKDError

IMAGE = "image"
"""Name of the ``Image`` object tag, and the task data key holding the image URL."""
CONTROL = "label"
"""Name of the ``Choices`` control tag whose single choice is the class name."""
ID_KEY = "activekd_id"
"""Task data key holding the activekd sample id."""
FLAG_KEY = "likely_mistake"
"""Task data key of a re-check task: why its label is a likely mistake (a column and filter in the data manager)."""
SUGGESTION = "suggestion"
"""Name of the ``Text`` object tag beside the image, and the task data key of its text: each model's guess and probability.

Label Studio refuses to import a task whose data lacks a key its labeling config shows, so every task carries it."""
NO_SUGGESTION = "no suggestion yet"

# Columns of a JSON-MIN / CSV export that are neither task data nor a control's answer.
_MIN_META = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement", "history",
             SUGGESTION, FLAG_KEY}


class LabelFileError(ActiveKDError):
    """A Label Studio export, project or path that activekd cannot use (one-line reason)."""


@dataclass(frozen=True)
class BatchRow:
    """One picked image: its id, its file path, and the teacher's and student's top guesses.

    ``teacher`` / ``student`` are ``(class name, probability)`` or ``None`` when unknown.
    """

    id: str
    path: str | None
    teacher: tuple[str, float] | None = None
    student: tuple[str, float] | None = None
    flag: str = ""  # why its label is a likely mistake (a re-check row), else empty


class _Answer(NamedTuple):
    """One annotation of one task, whatever the export format it came from."""

    task: str
    sample: str
    order: tuple[datetime, int]
    label: str | None


# --------------------------------------------------------------------------- config and tasks


def labeling_config(class_names: Sequence[str]) -> str:
    """The Label Studio labeling config: one image, the suggestions' text beside it, one single choice among ``class_names``.

    A project whose config lacks the ``Text`` (made by an older activekd) still works: its tasks carry the
    text too, shown as the ``suggestion`` column of the data manager instead of in the labeling view."""
    if not class_names:
        raise ValueError("labeling_config needs at least one class name")
    choices = "".join(f"\n    <Choice value={quoteattr(str(c))}/>" for c in class_names)
    return (
        f'<View>\n  <Image name="{IMAGE}" value="${IMAGE}"/>\n  <Text name="{SUGGESTION}" value="${SUGGESTION}"/>\n'
        f'  <Choices name="{CONTROL}" toName="{IMAGE}" choice="single" showInline="true">{choices}\n'
        "  </Choices>\n</View>\n"
    )


def config_class_names(config: str) -> list[str]:
    """The class names of a labeling config made by :func:`labeling_config`.

    Raises ``LabelFileError`` when the config has no ``Choices`` control named ``label`` on an
    ``Image`` named ``image`` (a project activekd did not make).
    """
    try:
        root = ElementTree.fromstring(config)
    except ElementTree.ParseError as e:
        raise LabelFileError(f"labeling config is not valid XML: {e}") from None
    images = [el for el in root.iter("Image") if el.get("name") == IMAGE and el.get("value") == f"${IMAGE}"]
    controls = [el for el in root.iter("Choices") if el.get("name") == CONTROL]
    if not images or len(controls) != 1 or controls[0].get("toName") != IMAGE:
        raise LabelFileError(
            f'labeling config has no <Choices name="{CONTROL}" toName="{IMAGE}"> on <Image name="{IMAGE}" value="${IMAGE}">'
        )
    return [el.get("value", "") for el in controls[0].iter("Choice")]


def suggestion_text(student: tuple[str, float] | None, teacher: tuple[str, float] | None) -> str:
    """The suggestions as a person reads them: ``"student: trouser 93% · teacher: trouser 98%"`` (a missing guess left out)."""
    parts = [f"{who}: {guess[0]} {float(guess[1]):.0%}" for who, guess in (("student", student), ("teacher", teacher)) if guess]
    return " · ".join(parts) or NO_SUGGESTION


def choice_result(class_name: str) -> list[dict[str, Any]]:
    """The ``result`` of an annotation or prediction that chooses ``class_name``."""
    return [{"from_name": CONTROL, "to_name": IMAGE, "type": "choices", "value": {"choices": [class_name]}}]


def batch_tasks(rows: Iterable[BatchRow], image_url: Callable[[BatchRow], str], model_version: str) -> list[dict]:
    """Label Studio import tasks for a batch: ``data`` = image URL + activekd id + :func:`suggestion_text`, plus predictions.

    The student's guess is imported as prediction ``f"{model_version}-student"`` and the teacher's as
    ``f"{model_version}-teacher"``, each with its probability as ``score``; a missing guess is left out.
    """
    tasks = []
    for row in rows:
        predictions = []
        for who, guess in (("student", row.student), ("teacher", row.teacher)):
            if guess is not None:
                name, prob = guess
                result = [{**r, "score": float(prob)} for r in choice_result(name)]
                predictions.append({"model_version": f"{model_version}-{who}", "score": float(prob), "result": result})
        data = {IMAGE: image_url(row), ID_KEY: str(row.id), SUGGESTION: suggestion_text(row.student, row.teacher),
                **({FLAG_KEY: row.flag} if row.flag else {})}
        tasks.append({"data": data, "predictions": predictions})
    return tasks


def local_file_url(path: str | os.PathLike, document_root: str | os.PathLike) -> str:
    """The URL Label Studio serves a local file at: ``/data/local-files/?d=RELPATH``.

    ``RELPATH`` is ``path`` relative to ``document_root`` (the server's
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``); a path outside the root raises ``LabelFileError``.
    """
    root = Path(document_root).resolve()
    full = Path(path).resolve()
    try:
        rel = full.relative_to(root)
    except ValueError:
        raise LabelFileError(f"{path}: not under the Label Studio document root {root}") from None
    if not rel.parts:
        raise LabelFileError(f"{path}: is the document root itself, not a file under it")
    return "/data/local-files/?d=" + quote(rel.as_posix())


# --------------------------------------------------------------------------- reading exports


def read_export(path: str | os.PathLike, class_names: Sequence[str]) -> list[tuple[str, str]]:
    """``(activekd id, class name)`` for every annotated task of a Label Studio export file.

    The format (JSON, JSON-MIN or CSV) is told from the content; a UTF-8 BOM and CRLF line ends
    are fine. Cancelled (skipped) annotations do not count; of several annotations of one task the
    latest (``updated_at``, then annotation id) wins. Raises ``LabelFileError`` with a one-line
    reason for a file that is missing, empty, binary, not a Label Studio export, from another
    project (no ``activekd_id``) or labeling config (control not named ``label``), with an unknown
    class, or with two different answers for one id. Ids are not checked against any store.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"{path}: no such file")
    data = path.read_bytes()
    if b"\x00" in data:
        raise LabelFileError(f"{path}: a binary file, not a Label Studio export")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LabelFileError(f"{path}: not UTF-8 text, not a Label Studio export") from None
    return parse_export(text, class_names, source=str(path), allow_no_tasks=False)


def parse_export(text: str, class_names: Sequence[str], source: str, allow_no_tasks: bool = True) -> list[tuple[str, str]]:
    """:func:`read_export` on the text of an export; ``source`` names it in error messages."""
    text = text.lstrip("\ufeff").strip()
    if text[:1] in ("[", "{"):
        items = parse_json(text, source, LabelFileError)
        if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
            raise LabelFileError(f"{source}: not a Label Studio export (expected a JSON list of tasks)")
        full = any("data" in t or "annotations" in t for t in items)
        answers = list(_json_answers(items, source) if full else _min_answers(items, source))
    elif text:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        with csv_errors(reader, source, LabelFileError):
            if not {"id", "annotation_id"} <= set(reader.fieldnames or ()):
                raise LabelFileError(
                    f"{source}: not a Label Studio export (neither JSON nor CSV with id,annotation_id columns)"
                )
            items = list(reader)
        answers = list(_min_answers(items, source))
    else:
        raise LabelFileError(f"{source}: the export is empty")
    if not items and not allow_no_tasks:
        raise LabelFileError(f"{source}: the export has no tasks")
    return _latest_answers(answers, class_names, source)


def export_skips(text: str, source: str) -> set[str]:
    """Ids of the tasks of a full JSON export that carry a cancelled (skipped) annotation.

    A skipped task may also have been answered (by another annotator, or later): the caller takes the answered ones out."""
    items = parse_json(text.lstrip("\ufeff").strip() or "[]", source, LabelFileError)
    if not isinstance(items, list):
        raise LabelFileError(f"{source}: not a Label Studio export (expected a JSON list of tasks)")
    return {_sample_id(t.get("data") or {}, t.get("id"), source) for t in items
            if isinstance(t, dict) and any(isinstance(a, dict) and a.get("was_cancelled") for a in t.get("annotations") or [])}


def _json_answers(tasks: list[dict], source: str) -> Iterator[_Answer]:
    """Answers of a full JSON export: tasks with ``data`` and ``annotations`` lists."""
    for t in tasks:
        data, anns = t.get("data"), t.get("annotations")
        if not isinstance(data, dict) or not isinstance(anns, list):
            raise LabelFileError(f"{source}: not a Label Studio JSON export (a task without data/annotations)")
        sample = _sample_id(data, t.get("id"), source)
        for a in anns:
            if not isinstance(a, dict) or a.get("was_cancelled"):
                continue
            chosen: list[str] = []
            results = a.get("result") or []
            for r in results if isinstance(results, list) else [results]:
                if not isinstance(r, dict):
                    raise LabelFileError(f"{source}: not a Label Studio JSON export (task {t.get('id')}: a result that is not an object)")
                if r.get("from_name") != CONTROL:
                    raise LabelFileError(
                        f"{source}: task {t.get('id')} is answered with control {r.get('from_name')!r}, not {CONTROL!r}"
                        " (a different labeling config)"
                    )
                chosen += _choices(r.get("value"))
            label = _one_choice(chosen, t.get("id"), source)
            yield _Answer(str(t.get("id")), sample, _order(a.get("updated_at"), a.get("id")), label)


def _min_answers(rows: list[dict], source: str) -> Iterator[_Answer]:
    """Answers of a JSON-MIN or CSV export: one flat row per annotation, the control as a column."""
    for r in rows:
        if "id" not in r or "annotation_id" not in r:
            raise LabelFileError(f"{source}: not a Label Studio export (a row without id/annotation_id)")
        sample = _sample_id(r, r.get("id"), source)
        if CONTROL not in r:
            other = sorted(str(k) for k in set(r) - _MIN_META - {IMAGE, ID_KEY} if k is not None)
            if other:
                raise LabelFileError(
                    f"{source}: task {r['id']} has column {other[0]!r} but no {CONTROL!r} (a different labeling config)"
                )
        label = _one_choice(_min_choices(r.get(CONTROL)), r["id"], source)
        yield _Answer(str(r["id"]), sample, _order(r.get("updated_at"), r.get("annotation_id")), label)


def _min_choices(value: Any) -> list[str]:
    """The chosen classes in a JSON-MIN / CSV cell: ``"cat"``, or ``{"choices": [...]}`` (maybe as JSON text)."""
    if value is None or value == "":
        return []
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return [value]
    if isinstance(value, dict):
        return _choices(value)
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _choices(value: Any) -> list[str]:
    """The classes of a result's ``value`` (``{"choices": ["cat"]}``); anything else chooses nothing or names its text."""
    choices = value.get("choices") if isinstance(value, dict) else None
    if choices is None or choices == "":
        return []
    return [str(c) for c in choices] if isinstance(choices, list) else [str(choices)]


def _sample_id(data: dict, task_id: Any, source: str) -> str:
    """The activekd id a task's data carries; a task without one comes from another project."""
    sid = data.get(ID_KEY)
    if sid is None or str(sid).strip() == "":
        raise LabelFileError(f"{source}: task {task_id} has no {ID_KEY!r} in its data (an export of a different project?)")
    return str(sid).strip()


def _one_choice(chosen: list[str], task_id: Any, source: str) -> str | None:
    """The single chosen class, ``None`` when nothing was chosen; several is an error."""
    if len(set(chosen)) > 1:
        raise LabelFileError(f"{source}: task {task_id} has several classes chosen: {', '.join(map(str, chosen))}")
    return str(chosen[0]) if chosen else None


def _order(updated_at: Any, annotation_id: Any) -> tuple[datetime, int]:
    """Sort key of an annotation: last update time, then annotation id (missing values sort first)."""
    when = datetime.min.replace(tzinfo=timezone.utc)
    if isinstance(updated_at, str) and updated_at:
        try:
            when = datetime.fromisoformat(updated_at.replace("Z", "+00:00"))
        except ValueError:
            pass
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    try:
        num = int(float(annotation_id))
    except (TypeError, ValueError, OverflowError):
        num = -1
    return when, num


def _latest_answers(answers: list[_Answer], class_names: Sequence[str], source: str) -> list[tuple[str, str]]:
    """The latest annotation of each task (a blank one means no answer), checked against ``class_names``, merged by id."""
    latest: dict[str, _Answer] = {}
    for a in answers:
        if a.task not in latest or a.order > latest[a.task].order:
            latest[a.task] = a
    valid = set(class_names)
    out: dict[str, str] = {}
    for a in latest.values():
        if a.label is None:
            continue
        if a.label not in valid:
            raise LabelFileError(f"{source}: task {a.task} chose unknown class {a.label!r}; valid: {', '.join(class_names)}")
        if out.setdefault(a.sample, a.label) != a.label:
            raise LabelFileError(f"{source}: two different answers for {a.sample!r}: {out[a.sample]!r} and {a.label!r}")
    return list(out.items())
