"""Label Studio's ML backend protocol, as data: what its requests mean, what our answers look like.

Label Studio (1.23) calls a backend at ``GET /health``, ``POST /setup`` (when connecting, and before
predicting: the answer names the model version), ``POST /predict`` (``{"tasks": [...], "project":
"ID.TIMESTAMP"}`` → ``{"results": [[prediction, ...] per task]}``), ``POST /webhook`` (every project
event, ``{"action": ..., "annotation": ..., "task": ..., "project": {...}}``; ``START_TRAINING`` when
someone presses *Start training*) and, on older set-ups, ``POST /train``. Everything here is pure:
no store, no network, so each rule is a unit test.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from activekd.session import Answer
from activekd.session._labelstudio import (
    ID_KEY,
    LabelFileError,
    choice_result,
    parse_export,
    suggestion_text,
)

ANSWER_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED")
TRAIN_ACTIONS = ("START_TRAINING",)
OTHER_ACTIONS = ("PROJECT_CREATED", "PROJECT_UPDATED", "PROJECT_DELETED", "TASKS_CREATED", "TASKS_DELETED", "ANNOTATIONS_DELETED",
                 "LABEL_LINK_CREATED", "LABEL_LINK_UPDATED", "LABEL_LINK_DELETED", "REVIEW_CREATED", "REVIEW_UPDATED",
                 "REVIEWS_DELETED")
"""Events Label Studio sends a backend for every project change; they need nothing from us."""


class PayloadError(ValueError):
    """A request the backend refuses: ``status`` is the HTTP code (4xx), the message one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Event:
    """One webhook, understood: the answers it carries (maybe none), or a request to train."""

    action: str
    answers: list[Answer] = field(default_factory=list)
    train: bool = False
    skipped: frozenset[str] = frozenset()  # tasks skipped (a cancelled annotation): answered, for the round, with no label


@dataclass(frozen=True)
class Guess:
    """One image's suggestions: the student's top class and probability, the teacher's (or None), and its queue score."""

    student: tuple[str, float]
    teacher: tuple[str, float] | None
    score: float

    @property
    def text(self) -> str:
        """What the annotator reads beside the image (``data.suggestion``): each model's class and probability, by name."""
        return suggestion_text(self.student, self.teacher)


def project_id(value: Any) -> int | None:
    """The project a request names: ``{"id": N, ...}``, ``"N.TIMESTAMP"`` (setup, predict) or ``N``; None if it names none."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.split(".", 1)[0].isdigit():
        return int(value.split(".", 1)[0])
    return None


def check_project(body: Any, ours: int, what: str) -> dict:
    """``body`` as a dict naming our project; else ``PayloadError`` (400 malformed, 404 another project)."""
    if not isinstance(body, dict):
        raise PayloadError(400, f"{what}: the body is not a JSON object")
    pid = project_id(body.get("project"))
    if pid is None:
        raise PayloadError(400, f"{what}: the payload names no project")
    if pid != ours:
        raise PayloadError(404, f"{what}: unknown project {pid} (this backend serves Label Studio project {ours})")
    return body


def parse_webhook(body: Any, *, project: int, class_names: Sequence[str], known: Collection[str]) -> Event:
    """A webhook's meaning; ``PayloadError`` for a malformed or foreign one, an unknown id or a class the run lacks."""
    action = body.get("action") if isinstance(body, dict) else None
    if not isinstance(action, str) or not action:
        raise PayloadError(400, "webhook: the payload has no 'action' (not a Label Studio webhook)")
    check_project(body, project, f"webhook {action}")
    if action in TRAIN_ACTIONS:
        return Event(action, train=True)
    if action in OTHER_ACTIONS:
        return Event(action)
    if action not in ANSWER_ACTIONS:
        raise PayloadError(400, f"webhook: unknown action {action!r}")
    anns, tasks = body.get("annotation"), body.get("task")
    if isinstance(anns, dict):
        anns, tasks = [anns], [tasks]
    if not isinstance(anns, list) or not isinstance(tasks, list) or len(anns) != len(tasks):
        raise PayloadError(400, f"webhook {action}: the payload needs an 'annotation' and its 'task'")
    answers = [a for ann, task in zip(anns, tasks) for a in _answers(action, ann, task, class_names, known)]
    skipped = frozenset(sid for ann, task in zip(anns, tasks) if isinstance(ann, dict) and ann.get("was_cancelled")
                        and (sid := task_sample(task)) in known)
    return Event(action, answers, skipped=skipped)


def _answers(action: str, ann: Any, task: Any, class_names: Sequence[str], known: Collection[str]) -> list[Answer]:
    if not isinstance(ann, dict) or not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise PayloadError(400, f"webhook {action}: an annotation or task that is not an object with data")
    where = f"Label Studio annotation {ann.get('id')} (task {task.get('id')})"
    try:
        pairs = parse_export(json.dumps([{"id": task.get("id"), "data": task["data"], "annotations": [ann]}]), class_names,
                             source=f"webhook {action}")
    except LabelFileError as e:
        raise PayloadError(422, str(e)) from None
    for sid, _ in pairs:
        if sid not in known:
            raise PayloadError(422, f"webhook {action}: {where}: unknown sample id {sid!r} (not an image of this run)")
    return [Answer(sid, label, where) for sid, label in pairs]


def predictions(guess: Guess | None, version: str) -> list[dict]:
    """Label Studio predictions for one task: the student's, then the teacher's; both of ``version`` and with the queue score.

    Label Studio shows an annotator only the predictions of the project's model version, and orders
    its queue by their score, so the teacher's guess shares the version and both carry the queue
    place; :attr:`Guess.text` names the two apart with their probabilities (each is also its result's ``score``).
    """
    if guess is None:
        return []
    name, prob = guess.student
    out = [{"model_version": version, "score": guess.score,
            "result": [{**r, "score": prob} for r in choice_result(name)]}]
    if guess.teacher is not None:
        t_name, t_prob = guess.teacher
        out.append({"model_version": version, "score": guess.score,
                    "result": [{**r, "score": t_prob} for r in choice_result(t_name)]})
    return out


def task_sample(task: Any) -> str | None:
    """The activekd id a task carries, None for a task of another kind."""
    data = task.get("data") if isinstance(task, dict) else None
    sid = data.get(ID_KEY) if isinstance(data, dict) else None
    return None if sid is None else str(sid)
