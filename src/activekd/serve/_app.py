"""The HTTP face of the backend (Flask): Label Studio's ML backend routes, plus ``/status`` for people and tests.

Every refused request is one logged line and a 4xx answer; nothing refused reaches the store.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request

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

    @app.errorhandler(PayloadError)
    def refused(e: PayloadError):
        log.warning("refused %s %s: %s", request.method, request.path, e)
        return jsonify(error=str(e)), e.status

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
        if event.answers or event.train:
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


def _body():
    body = request.get_json(silent=True)
    if body is None:
        raise PayloadError(400, f"{request.path.strip('/')}: the body is not JSON")
    return body


def _version(inbox: Inbox) -> str:
    snap = inbox.snapshot
    return "" if snap is None else snap.version
