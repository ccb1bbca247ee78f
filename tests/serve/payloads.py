"""What the offline serve tests send: a run's classes and ids, Label Studio webhooks, and an app over a published inbox."""

from __future__ import annotations

import torch

from activekd.serve import Inbox, create_app, snapshot
from activekd.session._labelstudio import choice_result

CLASSES = ["cat", "dog", "fox"]
KNOWN = frozenset({"a", "b", "c", "d"})
PROJECT = 7


def created(sid="a", choice="dog", project=PROJECT, action="ANNOTATION_CREATED", **ann):
    """An ``ANNOTATION_CREATED`` webhook as Label Studio 1.23 sends it: image ``sid`` answered ``choice``."""
    return {"action": action, "project": {"id": project, "title": "activekd run"},
            "task": {"id": 3, "data": {"image": "/data/local-files/?d=a.png", "activekd_id": sid}},
            "annotation": {"id": 11, "result": choice_result(choice), **ann}}


def served_app():
    """``(inbox, Flask app)``: round 1 published for the ids of :data:`KNOWN` (pick ``c``, ``d`` labeled)."""
    inbox = Inbox("run", PROJECT, CLASSES, KNOWN)
    probs = torch.tensor([[0.2, 0.7, 0.1]] * len(KNOWN))
    inbox.publish(snapshot(1, "run-round-1", sorted(KNOWN), probs, None, picks=["c"], labeled={"d"}, class_names=CLASSES))
    return inbox, create_app(inbox)
