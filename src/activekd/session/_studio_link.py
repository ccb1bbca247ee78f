"""A running Label Studio server, reached with ``label_studio_sdk`` (SDK 2.x): every call checked, every failure one line.

A :class:`LabelStudioLink` is made only once the server answers at its URL and takes the token (a
legacy API token or a personal access token, told apart by the SDK); every later call that fails
(the server gone, the token revoked, a refusal) raises ``LabelFileError`` with one line, never an
SDK traceback. Label Studio serves ``/data/local-files/?d=PATH`` only for files under a *Local
files* storage of the project, itself under the server's ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``.

Big projects (docs/serve.md, "At pool scale"): tasks and predictions go in bounded import calls, in
the order given (the queue's head first), and a listing asks for ids and data only.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from ._labelstudio import (
    ID_KEY,
    LabelFileError,
    config_class_names,
    export_skips,
    labeling_config,
    parse_export,
)

TOKEN_ENV = "LABEL_STUDIO_API_KEY"
"""The environment variable holding the API token (never stored in a run)."""
TOKEN_HELP = "docs/labelstudio.md, '2. Get an access token'"
TASK_CHUNK = 2_000
"""Tasks per import call: Label Studio 1.23 creates 2,000 in about a second, so the first chunk (the queue's head) is
there at once."""
PREDICTION_CHUNK = 4_000
"""Predictions per import call. Label Studio 1.23 recounts the predictions of every task of the project on each call,
so fewer calls cost less; bounded all the same, so that no request carries a whole pool."""
DELETE_S = 0.1
"""Seconds a deletion call may take per prediction it deletes (Label Studio 1.23 takes about 0.015: docs/serve.md)."""
LIST_PAGE = 5_000
"""Tasks per page when listing a project (ids and data only: about 0.7 ms a task on Label Studio 1.23)."""


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    """``items`` in consecutive slices of at most ``size``, in order."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def api_reason(error: Exception) -> str:
    """One line from a Label Studio API error: its validation messages, else its detail."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        errors = body.get("validation_errors")
        if isinstance(errors, dict) and errors:
            return "; ".join(" ".join(map(str, v)) if isinstance(v, list) else str(v) for v in errors.values())
        if body.get("detail"):
            return " ".join(str(body["detail"]).split())[:200]
    return f"HTTP {getattr(error, 'status_code', '?')}"


@contextmanager
def api_errors(url: str, what: str) -> Iterator[None]:
    """Turn the SDK's failures while doing ``what`` into one-line ``LabelFileError``: unreachable, token refused, refused."""
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as e:
        if e.status_code in (401, 403):
            raise LabelFileError(f"Label Studio at {url} refused the API token in {TOKEN_ENV} ({api_reason(e)}) while {what}; "
                                 f"set it to a token of a user of that server ({TOKEN_HELP})") from None
        if e.status_code == 404 and what == "checking the API token":
            raise LabelFileError(f"{url} answers, but not as a Label Studio server (no /api/current-user/whoami); "
                                 f"check --ls-url") from None
        raise LabelFileError(f"Label Studio at {url} refused {what}: {api_reason(e)}") from None
    except httpx.HTTPError as e:
        reason = " ".join(str(e).split())[:120] or type(e).__name__
        raise LabelFileError(f"Label Studio is not reachable at {url} ({reason}) while {what}; start it, or give the right --ls-url") from None


def _checked(what: str):
    """A link method whose SDK failures are one line (:func:`api_errors`)."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(self, *args, **kwargs):
            with api_errors(self.url, what):
                return fn(self, *args, **kwargs)
        return call
    return wrap


@dataclass(frozen=True)
class ProjectAnswers:
    """What the project's annotators did: ``labels`` ``[(activekd id, class name)]`` and the ids they only ``skipped``."""

    labels: list[tuple[str, str]]
    skipped: frozenset[str]


class LabelStudioLink:
    """A running Label Studio server at ``url``, checked on creation: it answers, and it takes ``token``."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        try:
            from label_studio_sdk import LabelStudio
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Label Studio support needs label-studio-sdk: pip install 'activekd[labelstudio]'") from e
        if not str(url).startswith(("http://", "https://")):
            raise LabelFileError(f"--ls-url {url!r} is not an http:// or https:// URL")
        self.url = str(url).rstrip("/")
        with api_errors(self.url, "checking the API token"):
            self._ls = LabelStudio(base_url=self.url, api_key=token, timeout=timeout)  # an expired JWT is refused here
            self._ls.users.whoami(request_options={"timeout_in_seconds": 15, "max_retries": 0})

    @property
    def sdk(self):
        """The SDK client (for calls this class does not wrap: wrap them in :func:`api_errors`)."""
        return self._ls

    @_checked("looking up the project")
    def find_project(self, title: str, class_names: Sequence[str]) -> int | None:
        """Id of the project called ``title``, or None; an existing one must have ``class_names``, else ``LabelFileError``."""
        for p in self._ls.projects.list():
            if p.title == title:
                found = config_class_names(self._ls.projects.get(id=p.id).label_config or "<View/>")
                if sorted(found) != sorted(map(str, class_names)):
                    raise LabelFileError(
                        f"Label Studio project {title!r} (id {p.id}) has classes {', '.join(found)}; "
                        f"this session needs {', '.join(map(str, class_names))}: use another title (--ls-project)"
                    )
                return int(p.id)
        return None

    @_checked("creating the project")
    def ensure_project(self, title: str, class_names: Sequence[str]) -> int:
        """Id of the project called ``title`` (created with :func:`labeling_config` if there is none)."""
        found = self.find_project(title, class_names)
        if found is not None:
            return found
        return int(self._ls.projects.create(title=title, label_config=labeling_config(class_names)).id)

    @_checked("adding a Local files storage")
    def ensure_local_storage(self, project_id: int, folder: str | os.PathLike) -> int:
        """Id of a local-files storage of ``folder`` in the project (created if missing, never synced).

        Label Studio refuses a folder that does not exist or is not under its ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``.
        """
        from label_studio_sdk.core.api_error import ApiError

        folder = os.path.abspath(folder)
        for s in self._ls.import_storage.local.list(project=project_id):
            if s.path and os.path.normpath(s.path) == folder:
                return int(s.id)
        try:
            storage = self._ls.import_storage.local.create(project=project_id, path=folder, title="activekd images", use_blob_urls=False)
        except ApiError as e:
            if e.status_code in (401, 403):
                raise
            raise LabelFileError(f"Label Studio refused local storage {folder}: {api_reason(e)}") from None
        return int(storage.id)

    @_checked("checking a Local files folder")
    def check_local_folder(self, project_id: int, folder: str | os.PathLike) -> None:
        """Label Studio would accept a Local files storage of ``folder`` (under its document root); nothing is created."""
        from label_studio_sdk.core.api_error import ApiError

        try:
            self._ls.import_storage.local.validate(project=project_id, path=os.path.abspath(folder), use_blob_urls=False)
        except ApiError as e:
            if e.status_code in (401, 403):
                raise
            raise LabelFileError(f"Label Studio cannot serve images from {os.path.abspath(folder)}: {api_reason(e)} "
                                 f"(is --ls-document-root the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT?)") from None

    @_checked("listing the project's tasks")
    def tasks(self, project_id: int) -> dict[str, tuple[int, dict]]:
        """``{activekd id: (Label Studio task id, task data)}`` of the tasks already in the project (ids and data only)."""
        pages = self._ls.tasks.list(project=project_id, page_size=LIST_PAGE, include="id,data", resolve_uri=False)
        return {str(t.data[ID_KEY]): (int(t.id), dict(t.data)) for t in pages
                if isinstance(t.data, dict) and t.data.get(ID_KEY) is not None}

    def task_ids(self, project_id: int) -> dict[str, int]:
        """``{activekd id: Label Studio task id}`` of the tasks already in the project."""
        return {sid: tid for sid, (tid, _) in self.tasks(project_id).items()}

    @_checked("updating the suggestions' text")
    def set_data(self, task_id: int, data: dict) -> None:
        """Replace a task's data (Label Studio 1.23 has no call that changes several tasks' data at once)."""
        self._ls.tasks.update(id=task_id, data=data)

    def push(self, project_id: int, tasks: Sequence[dict], chunk: int = TASK_CHUNK) -> int:
        """Import the tasks whose ``activekd_id`` is not in the project yet, in order, ``chunk`` per call; returns how many
        were created."""
        known = set(self.task_ids(project_id))
        new: list[dict] = []
        for t in tasks:
            sid = str(t["data"][ID_KEY])
            if sid not in known:
                known.add(sid)
                new.append(t)
        return sum(len(ids) for ids in self.create_tasks(project_id, new, chunk))

    def create_tasks(self, project_id: int, tasks: Sequence[dict], chunk: int = TASK_CHUNK) -> Iterator[dict[str, int]]:
        """Import ``tasks`` (none of them in the project yet) in order, ``chunk`` per call; yields each call's
        ``{activekd id: Label Studio task id}`` as soon as Label Studio has made them."""
        for part in chunks(tasks, chunk):
            with api_errors(self.url, "importing tasks"):
                made = self._ls.projects.import_tasks(id=project_id, request=list(part), return_task_ids=True).task_ids
            yield dict(zip((str(t["data"][ID_KEY]) for t in part), map(int, made or [])))

    @_checked("exporting the annotations")
    def answers(self, project_id: int) -> ProjectAnswers:
        """Every answered task (latest annotation of each) and every task only skipped, from a JSON export of the project.

        The classes are those of the project's labeling config; see :func:`parse_export` and :func:`export_skips`."""
        project = self._ls.projects.get(id=project_id)
        class_names = config_class_names(project.label_config or "<View/>")
        text = b"".join(self._ls.projects.exports.download_sync(id=project_id, export_type="JSON")).decode("utf-8-sig")
        source = f"Label Studio project {project_id} export"
        labels = parse_export(text, class_names, source=source)
        return ProjectAnswers(labels, frozenset(export_skips(text, source)) - {sid for sid, _ in labels})

    def annotations(self, project_id: int) -> list[tuple[str, str]]:
        """``(activekd id, class name)`` per annotated task, latest annotation of each task (:meth:`answers`' labels)."""
        return self.answers(project_id).labels

    @_checked("turning off 'start training on annotation submission'")
    def training_on_submit_off(self, project_id: int) -> bool:
        """Turn off the project's *Start training on annotation submission*; True when it was on."""
        if not self._ls.projects.get(id=project_id).min_annotations_to_start_training:  # the switch: "train every N annotations"
            return False
        self._ls.projects.update(id=project_id, min_annotations_to_start_training=0)
        return True


class ProjectPredictions:
    """The predictions of project ``project`` on ``link``'s server: imported in bounded calls, counted and deleted by model
    version (every failure one line, as :class:`LabelStudioLink`'s)."""

    def __init__(self, link: LabelStudioLink, project: int) -> None:
        self.url, self.project, self._ls = link.url, int(project), link.sdk
        self._versions = f"api/projects/{self.project}/model-versions/"

    @_checked("importing predictions")
    def import_predictions(self, predictions: Sequence[dict], chunk: int = PREDICTION_CHUNK) -> int:
        """Import ``predictions`` (each naming its ``task``), ``chunk`` per call; returns how many."""
        for part in chunks(predictions, chunk):
            self._ls.projects.import_predictions(id=self.project, request=list(part))
        return len(predictions)

    @_checked("counting the predictions")
    def model_versions(self) -> dict[str, int]:
        """``{model version: how many predictions}`` of the project."""
        return {str(v): int(n) for v, n in (self._request("GET", self._versions) or {}).items()}

    @_checked("listing the predictions")
    def predicted_tasks(self, version: str) -> set[int]:
        """Ids of the tasks with a prediction of model version ``version`` (Label Studio lists a project's predictions
        in one answer: call it only while the project holds few)."""
        return {int(p.task) for p in self._ls.predictions.list(project=self.project) if p.model_version == version}

    @_checked("removing older rounds' predictions")
    def delete_other_versions(self, keep: str) -> int:
        """Delete every prediction of the project whose model version is not ``keep``; returns how many were deleted.

        Label Studio 1.23 deletes one prediction at a time (about 15 ms each, docs/serve.md)."""
        gone = 0
        for version, count in self.model_versions().items():
            if version != keep and count:
                self._request("DELETE", self._versions, json={"model_version": version},
                              request_options={"timeout": 60 + count * DELETE_S})  # one call, one prediction at a time
                gone += count
        return gone

    def _request(self, method: str, path: str, **kw):
        """A call the SDK has no method for, with its authentication; an error answer raises the SDK's ``ApiError``."""
        from label_studio_sdk.core.api_error import ApiError

        r = self._ls._client_wrapper.httpx_client.request(path, method=method, **kw)
        if r.status_code >= 400:
            raise ApiError(status_code=r.status_code, headers=dict(r.headers), body=r.text[:200])
        return r.json() if r.content else None


def link_from_env(url: str) -> LabelStudioLink:
    """A checked link to ``url`` with the token of :data:`TOKEN_ENV`; one line when it is missing or refused."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise LabelFileError(f"set {TOKEN_ENV} to a Label Studio access token ({TOKEN_HELP})")
    return LabelStudioLink(url, token)
