"""The run's Label Studio project as the backend drives it: tasks for the queue, predictions, the backend link.

Every call is idempotent, so a restarted ``serve`` repeats them safely: tasks are created once per
image, a model version's predictions once per task, and the backend is registered once per URL.
At pool scale (docs/serve.md) the project holds the queue's head, not the whole pool: the first
:func:`queue_window` tasks of each round's queue are created on demand (the head first, in bounded
import calls) and only they carry the round's predictions, so what a round costs hardly grows
with the pool. The project's tasks are listed once and then kept here; any failure forgets
them, so the next try lists them again rather than trusting a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from activekd.session import Answer, SessionError
from activekd.session._batch import image_paths
from activekd.session._labelstudio import SUGGESTION, BatchRow, batch_tasks, local_file_url
from activekd.session._studio_check import image_folder
from activekd.session._studio_link import (
    PREDICTION_CHUNK,
    TASK_CHUNK,
    LabelStudioLink,
    ProjectAnswers,
    ProjectPredictions,
    api_errors,
    api_reason,
    chunks,
)

from ._protocol import predictions
from ._queue import Snapshot

log = logging.getLogger(__name__)

UNCERTAINTY = "Uncertainty sampling"
"""Label Studio's queue that serves the task whose prediction has the lowest score first."""

PREDICTION_WINDOW = 500
"""The least number of queued tasks that are in the project and carry the round's predictions (:func:`queue_window`)."""


def queue_window(head: int) -> int:
    """How many tasks of the queue's head carry a round's predictions: :data:`PREDICTION_WINDOW`, or ``head`` (the tasks
    whose text each push refreshes) when more. Label Studio deletes an older round's predictions one at a time (about
    15 ms each), so this bounds what a round costs; a pool this small is served whole, as before."""
    return max(PREDICTION_WINDOW, head)


class StudioProject:
    """One Label Studio project (``project`` on ``link``'s server, whose checked SDK client it uses)."""

    def __init__(self, link: LabelStudioLink, project: int, *, task_chunk: int = TASK_CHUNK,
                 prediction_chunk: int = PREDICTION_CHUNK) -> None:
        self.link, self.project, self.sdk = link, project, link.sdk
        self.predictions = ProjectPredictions(link, project)
        self.task_chunk, self.prediction_chunk = task_chunk, prediction_chunk  # items per import call
        self._tasks: dict[str, tuple[int, dict]] | None = None  # {activekd id: (task id, data)}, listed once
        self._predicted: tuple[str, set[int]] = ("", set())  # a model version and the tasks that have its predictions

    def tasks(self) -> dict[str, tuple[int, dict]]:
        """``{activekd id: (Label Studio task id, task data)}`` of the project (listed on first use, then kept up to date)."""
        if self._tasks is None:
            self._tasks = self.link.tasks(self.project)
        return self._tasks

    @contextmanager
    def _forget_on_failure(self) -> Iterator[None]:
        """On any failure, forget what the project was known to hold (a call may have half-happened)."""
        try:
            yield
        except BaseException:
            self._tasks, self._predicted = None, ("", set())
            raise

    def push_queue(self, session, snap: Snapshot, head: int) -> None:
        """Round ``snap``'s queue into the project: its first :func:`queue_window` tasks made where missing (the head
        first), with its predictions, served in its order; the text of its first ``head`` tasks refreshed."""
        window = queue_window(head)
        self.ensure_tasks(session, snap.order[:window], snap)
        self.publish(snap, head, window)

    def ensure_tasks(self, session, ids: Sequence[str], snap: Snapshot | None = None) -> int:
        """A task for each of ``ids`` not in the project yet, made in ``ids``' order, ``task_chunk`` per import call (each
        call's images written and its tasks built just before it), with ``snap``'s suggestions and predictions when given.
        Returns how many were new."""
        with self._forget_on_failure():
            known = self.tasks()
            ids = [sid for sid in dict.fromkeys(ids) if sid not in known]
            have = self._have(snap.version) if snap is not None and ids else set()
            for part in chunks(ids, self.task_chunk):
                tasks = self._new_tasks(session, part, snap)
                for made in self.link.create_tasks(self.project, tasks, self.task_chunk):
                    known.update((sid, (tid, t["data"])) for t, (sid, tid) in zip(tasks, made.items()))
                    have.update(made.values())
        if ids:
            log.info("created %d task(s) in Label Studio project %d", len(ids), self.project)
        return len(ids)

    def _new_tasks(self, session, ids: Sequence[str], snap: Snapshot | None) -> list[dict]:
        """Import tasks for ``ids``: images written and served as local files (as for a batch), ``snap``'s text and
        predictions when given."""
        paths = image_paths(session.out, session.dataset, ids)
        root = session.config.labelstudio.document_root or "/"
        self.link.ensure_local_storage(self.project, image_folder(session.out, session.dataset))
        tasks = batch_tasks([BatchRow(sid, path) for sid, path in zip(ids, paths)], lambda r: local_file_url(r.path, root),
                            model_version="pool")
        if snap is None:
            return tasks
        return [dict(t, data={**t["data"], SUGGESTION: snap.guesses[sid].text}, predictions=predictions(snap.guesses[sid], snap.version))
                for sid, t in zip(ids, tasks)]

    def _have(self, version: str) -> set[int]:
        """The tasks with predictions of ``version`` (asked of Label Studio only when it holds some we did not import)."""
        if self._predicted[0] != version:
            held = self.predictions.model_versions().get(version, 0)
            self._predicted = (version, self.predictions.predicted_tasks(version) if held else set())
        return self._predicted[1]

    def publish(self, snap: Snapshot, head: int, window: int) -> int:
        """Import ``snap``'s predictions for the first ``window`` queued tasks that lack them (tasks not in the project
        are left out: :meth:`ensure_tasks` makes them), make its version the queue's, delete every older round's
        predictions (only the current round's remain) and write the suggestions' text of the first ``head`` tasks of
        the queue. Returns how many predictions were imported."""
        with self._forget_on_failure():
            known = self.tasks()
            have = self._have(snap.version)
            lacking = [(sid, known[sid][0]) for sid in snap.order[:window] if sid in known and known[sid][0] not in have]
            new = [dict(p, task=tid) for sid, tid in lacking for p in predictions(snap.guesses[sid], snap.version)]
            self.predictions.import_predictions(new, self.prediction_chunk)
            have.update(tid for _, tid in lacking)
            with api_errors(self.link.url, "making the round's queue Label Studio's"):
                self.sdk.projects.update(id=self.project, sampling=UNCERTAINTY, model_version=snap.version, show_collab_predictions=True)
            gone = self.predictions.delete_other_versions(snap.version)
            if gone:
                log.info("deleted %d prediction(s) of older rounds from Label Studio project %d", gone, self.project)
            self._write_texts(snap, known, head)
        return len(new)

    def _write_texts(self, snap: Snapshot, known: dict[str, tuple[int, dict]], head: int) -> None:
        """The student's and the teacher's guess and probability as ``data.suggestion`` of the first ``head`` queued tasks
        (one update per task whose text changed: the others keep an older round's text until they come near the head)."""
        changed = [(sid, dict(known[sid][1], **{SUGGESTION: snap.guesses[sid].text}))
                   for sid in snap.order[:head] if sid in known and known[sid][1].get(SUGGESTION) != snap.guesses[sid].text]
        for sid, data in changed:
            self.link.set_data(known[sid][0], data)
            known[sid] = (known[sid][0], data)
        if changed:
            log.info("wrote the suggestions of %d task(s) at the head of the queue", len(changed))

    def answers(self) -> ProjectAnswers:
        """Every answered task of the project (latest annotation per task) and the tasks only skipped, as ``activekd sync``
        reads them."""
        got = self.link.answers(self.project)
        return ProjectAnswers([Answer(sid, label, f"Label Studio project {self.project} (task for {sid!r})")
                               for sid, label in got.labels], got.skipped)

    def training_on_submit_off(self) -> None:
        """Label Studio's *Start training on annotation submission* would ask for a round per annotation: turn it off."""
        if self.link.training_on_submit_off(self.project):
            log.info("turned off 'Start training on annotation submission' in Label Studio project %d: a round trains every "
                     "--retrain-every labels (or when someone presses Start training)", self.project)

    def connect(self, url: str, title: str = "activekd") -> int:
        """Register the backend at ``url`` with the project (once); Label Studio checks ``/health`` and ``/setup`` first."""
        from label_studio_sdk.core.api_error import ApiError

        url = url.rstrip("/")
        with api_errors(self.link.url, "listing the project's ML backends"):
            known = list(self.sdk.ml.list(project=self.project))
        for b in known:
            if (b.url or "").rstrip("/") == url:
                return int(b.id)
        try:
            backend = self.sdk.ml.create(project=self.project, url=url, title=title, is_interactive=False, auto_update=True)
        except ApiError as e:
            raise SessionError(f"Label Studio refused the backend {url}: {api_reason(e)}") from None
        log.info("connected the backend %s to Label Studio project %d", url, self.project)
        return int(backend.id)
