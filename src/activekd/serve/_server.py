"""``serve``: one run as Label Studio's ML backend, until stopped (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from activekd.session import ActiveSession, SessionError
from activekd.session._continuous import labelstudio_project, recover_interrupted_commit
from activekd.session._studio_check import check_label_studio

from ._app import create_app
from ._inbox import Inbox
from ._loop import ContinuousLoop
from ._studio import StudioProject

log = logging.getLogger(__name__)


def serve(run: str | Path, *, host: str = "127.0.0.1", port: int = 9090, retrain_every: int | None = None, connect: bool = False,
          backend_url: str | None = None, relabel: bool = True, device: str | None = None) -> None:
    """Serve run ``run`` (made with ``--oracle labelstudio``) as its project's ML backend; blocks until stopped.

    ``retrain_every``: new labels between two retrains (default: the run's budget; given, it becomes the
    budget of later rounds, so each round's picks are the ``N`` images served first). ``connect``:
    register the backend with the project (at ``backend_url``, default ``http://HOST:PORT``).
    ``relabel``: an annotation changed in Label Studio corrects the stored label (the old one is kept in
    the history); without it the change is refused and logged. The run lock is held until the end,
    so a second ``serve`` (or any other command) on the run is refused.
    """
    changes = {"progress": False, "device": device, "budget": retrain_every}
    if retrain_every is not None and retrain_every < 1:
        raise SessionError(f"--retrain-every must be >= 1, got {retrain_every}")
    if recover_interrupted_commit(run):
        log.info("%s: rolled back a commit a killed command left unfinished", run)
    with ActiveSession.resume(Path(run), **{k: v for k, v in changes.items() if v is not None}) as session:
        link, project = labelstudio_project(session)  # the server, the token and the project, checked before anything trains
        check_label_studio(session.config, session.out, session.dataset)
        inbox = Inbox(session.out.resolve().name, project, session.dataset.class_names, frozenset(session.dataset.ids))
        studio = StudioProject(link, project)
        studio.training_on_submit_off()
        _quiet_access_log()
        http = http_server(host, port, create_app(inbox))
        thread = threading.Thread(target=http.serve_forever, name="activekd-serve-http", daemon=True)
        thread.start()
        restore = _stop_on_sigterm(inbox)
        try:
            log.info("activekd serve: run %s, Label Studio project %d at %s; backend on http://%s:%d", session.out, project, link.url,
                     host, http.server_port)
            loop = ContinuousLoop(session, studio, inbox, retrain_every=session.config.loop.budget, relabel=relabel)
            loop.start()
            if connect:
                studio.connect(backend_url or f"http://{host}:{http.server_port}")
            log.info("ready: round %s served as %s", inbox.snapshot.round, inbox.snapshot.version)
            loop.run()
        except KeyboardInterrupt:
            log.info("stopping")
        finally:
            restore()
            http.shutdown()
            thread.join(timeout=10)


class _JsonErrors(WSGIRequestHandler):
    """werkzeug's handler, whose answer to a request it cannot even parse (a bad request line) is JSON, not an HTML page."""

    error_content_type = "application/json"
    error_message_format = '{"error": "HTTP %(code)d: the request could not be parsed"}\n'


def http_server(host: str, port: int, app):
    """The server ``serve`` runs ``app`` on: threaded (Label Studio never waits for training), JSON answers only."""
    return make_server(host, port, app, threaded=True, request_handler=_JsonErrors)


def _stop_on_sigterm(inbox: Inbox):
    """Make SIGTERM stop the loop (from the main thread only); returns a function that puts the old handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = signal.signal(signal.SIGTERM, lambda *_: inbox.stop())
    return lambda: signal.signal(signal.SIGTERM, old)


def _quiet_access_log() -> None:
    """One line per request is werkzeug's INFO; keep it for ``-v`` (activekd at DEBUG) only."""
    access = logging.getLogger("werkzeug")
    if access.level == logging.NOTSET and not logging.getLogger("activekd").isEnabledFor(logging.DEBUG):
        access.setLevel(logging.WARNING)
