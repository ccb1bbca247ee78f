"""The HTTP face of the backend (Flask): Label Studio's ML backend routes, plus ``/status`` for people and tests.

Every refused request is one logged line and a 4xx JSON answer (a body over 1 MiB: 413; JSON nested
deeper than 64 levels: 400; see ``_body``); nothing refused reaches the store. A bug is one logged
line (the traceback at ``-v``) and a 500 JSON answer: never an HTML page.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ._body import MAX_BODY_BYTES, TOO_LARGE, parse_body
from ._inbox import Inbox
from ._protocol import (
    Event,
    PayloadError,
    check_project,
    parse_webhook,
    predictions,
    task_sample,
)

log = logging.getLogger(__name__)


def create_app(inbox: Inbox) -> Flask:
    """The backend's routes over ``inbox`` (which the worker fills with snapshots and empties of events)."""
    app = Flask("activekd.serve")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1  # one byte over: a streamed body past the limit shows it (parse_body)
    _error_answers(app)

    @app.get("/")
    @app.get("/health")
    def health():
        return jsonify(status="UP", model_class="activekd", model_version=_version(inbox), run=inbox.run)

    @app.get("/status")
    def status():
        return jsonify(inbox.status())

    @app.post("/setup")
    def setup():
        check_project(_body(), inbox.project, "setup")
        return jsonify(model_version=_version(inbox))

    @app.post("/predict")
    def predict():
        body = check_project(_body(), inbox.project, "predict")
        tasks = body.get("tasks")
        if not isinstance(tasks, list):
            raise PayloadError(400, "predict: the payload has no list of 'tasks'")
        snap = inbox.snapshot
        if snap is None:
            raise PayloadError(503, "predict: the backend is still starting (no student published yet)")
        results = [predictions(snap.guesses.get(task_sample(t) or ""), snap.version) for t in tasks]
        return jsonify(results=results, model_version=snap.version)

    @app.post("/webhook")
    def webhook():
        event = parse_webhook(_body(), project=inbox.project, class_names=inbox.class_names, known=inbox.known)
        if event.answers or event.train or event.skipped:
            inbox.put(event)
        return jsonify(action=event.action, answers=len(event.answers), train=event.train), 201 if event.answers else 200

    @app.post("/train")
    def train():
        check_project(_body(), inbox.project, "train")
        inbox.put(Event("TRAIN", train=True))
        return jsonify(status="training asked for"), 201

    @app.get("/versions")
    @app.post("/versions")
    def versions():
        v = _version(inbox)
        return jsonify(versions=[v] if v else [])

    return app


def _error_answers(app: Flask) -> None:
    """Every error as one logged line and a JSON answer: refusals (4xx), HTTP errors (404, 405, 413) and bugs (500)."""

    @app.errorhandler(PayloadError)
    def refused(e: PayloadError):
        log.warning("refused %s %s: %s", request.method, request.path, e)
        return jsonify(error=str(e)), e.status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        text = f"{request.path.strip('/')}: {TOO_LARGE}" if e.code == 413 else f"{e.name}: {e.description}"
        log.warning("refused %s %s: %s %s", request.method, request.path, e.code, text)
        return jsonify(error=text), e.code or 500

    @app.errorhandler(Exception)
    def bug(e: Exception):
        log.error("internal error on %s %s: %s: %s (a bug in activekd; -v logs its traceback)", request.method, request.path,
                  type(e).__name__, " ".join(str(e).split())[:200])
        log.debug("traceback of the internal error", exc_info=e)
        return jsonify(error="internal error (a bug in activekd; see the backend's log)"), 500


def _body():
    what = request.path.strip("/")
    if not request.is_json:
        raise PayloadError(400, f"{what}: the body is not JSON (Content-Type {request.mimetype or 'missing'})")
    return parse_body(request.get_data(cache=True), what)


def _version(inbox: Inbox) -> str:
    snap = inbox.snapshot
    return "" if snap is None else snap.version
