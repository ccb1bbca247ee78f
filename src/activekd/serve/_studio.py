"""The run's Label Studio project as the backend drives it: tasks for the pool, predictions, the queue, the backend link.

Every call is idempotent, so a restarted ``serve`` repeats them safely: tasks are created once per
image, a model version's predictions once per task, and the backend is registered once per URL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from activekd.session import Answer, SessionError
from activekd.session._batch import image_paths
from activekd.session._labelstudio import SUGGESTION, BatchRow, batch_tasks, local_file_url
from activekd.session._studio_check import image_folder
from activekd.session._studio_link import LabelStudioLink, ProjectAnswers, api_errors, api_reason

from ._protocol import predictions
from ._queue import Snapshot

log = logging.getLogger(__name__)

UNCERTAINTY = "Uncertainty sampling"
"""Label Studio's queue that serves the task whose prediction has the lowest score first."""


class StudioProject:
    """One Label Studio project (``project`` on ``link``'s server, whose checked SDK client it uses)."""

    def __init__(self, link: LabelStudioLink, project: int) -> None:
        self.link, self.project, self.sdk = link, project, link.sdk

    def ensure_tasks(self, session, ids: Sequence[str]) -> int:
        """A task for each of ``ids`` (images written and served as local files, as for a batch); returns how many were new."""
        if not ids:
            return 0
        paths = image_paths(session.out, session.dataset, list(ids))
        root = session.config.labelstudio.document_root or "/"
        self.link.ensure_local_storage(self.project, image_folder(session.out, session.dataset))
        rows = [BatchRow(sid, path) for sid, path in zip(ids, paths)]
        return self.link.push(self.project, batch_tasks(rows, lambda r: local_file_url(r.path, root), model_version="pool"))

    def publish(self, snap: Snapshot, head: int) -> int:
        """Import ``snap``'s predictions for the unlabeled tasks that lack them, make its version the queue's, delete
        every older round's predictions (only the current round's remain) and write the suggestions' text of the first
        ``head`` tasks of the queue. Returns how many predictions were imported."""
        known = self.link.tasks(self.project)
        tasks = {sid: tid for sid, (tid, _) in known.items()}
        with api_errors(self.link.url, "importing predictions"):
            have = {(p.task, p.model_version) for p in self.sdk.predictions.list(project=self.project)}
            new = [dict(p, task=tasks[sid]) for sid in snap.order if sid in tasks
                   for p in predictions(snap.guesses[sid], snap.version) if (tasks[sid], p["model_version"]) not in have]
            if new:
                self.sdk.projects.import_predictions(id=self.project, request=new)
            self.sdk.projects.update(id=self.project, sampling=UNCERTAINTY, model_version=snap.version, show_collab_predictions=True)
        gone = self.link.delete_other_versions(self.project, snap.version)
        if gone:
            log.info("deleted %d prediction(s) of older rounds from Label Studio project %d", gone, self.project)
        self._write_texts(snap, known, head)
        return len(new)

    def _write_texts(self, snap: Snapshot, known: dict[str, tuple[int, dict]], head: int) -> None:
        """The student's and the teacher's guess and probability as ``data.suggestion`` of the first ``head`` queued tasks
        (one update per task whose text changed: the others keep an older round's text until they come near the head)."""
        changed = [(known[sid][0], dict(known[sid][1], **{SUGGESTION: snap.guesses[sid].text}))
                   for sid in snap.order[:head] if sid in known and known[sid][1].get(SUGGESTION) != snap.guesses[sid].text]
        for task_id, data in changed:
            self.link.set_data(task_id, data)
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
