"""The worker applying the team's answers (the live path of ``serve``): the same answer twice is one import, one event."""

import threading
import time
from types import SimpleNamespace

from _tiny_session import CLASSES, IDS, history, tiny_session
from payloads import created

from activekd.serve import Inbox, create_app
from activekd.serve._loop import ContinuousLoop


def test_the_same_webhooks_twice_with_relabel_are_one_import_each(tmp_path):
    s = tiny_session(tmp_path / "run")
    inbox = Inbox("run", 7, CLASSES, frozenset(IDS))
    http = create_app(inbox).test_client()
    bodies = [created("id2", "cat"), created("id2", "cat"),  # LS retries a webhook: the second changes nothing
              created("id5", "dog"),  # any unlabeled pool image may be answered
              *[created("id2", "fox", action="ANNOTATION_UPDATED")] * 2,  # an edit, delivered twice: one correction
              created("id5", "dog", action="ANNOTATION_UPDATED")]  # an edit to the same class: nothing
    for body in bodies:
        assert http.post("/webhook", json=body).status_code == 201

    def stop_when_applied():
        deadline = time.monotonic() + 10
        while (inbox.status()["applied"] < len(bodies) or inbox.status()["queued"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        inbox.stop()

    stopper = threading.Thread(target=stop_when_applied, daemon=True)
    stopper.start()
    loop = ContinuousLoop(s, SimpleNamespace(link=SimpleNamespace(url="http://ls")), inbox, retrain_every=100, relabel=True)
    loop.stale = False  # nothing to push: no Label Studio here
    loop.run()  # on this thread, which opened the store, as `serve` runs it
    stopper.join(timeout=10)
    assert inbox.status()["applied"] == len(bodies) and inbox.status()["refused"] == 0
    assert history(s.out) == (3, [("id2", 0, None), ("id5", 1, None), ("id2", 2, 0)])
