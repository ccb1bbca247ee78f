"""What the HTTP threads share with the worker: an inbox of events, the current snapshot, and counters.

The HTTP threads never touch the session (its SQLite connection belongs to the worker thread):
they check a request against facts fixed for the run (project, ids, classes), put it in the inbox
and answer at once, so Label Studio (and the annotator waiting on it) never waits for training.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ._protocol import Event
from ._queue import Snapshot


class Inbox:
    """Thread-safe hand-over between the HTTP threads (``put``, ``status``) and the worker (``take``, ``publish``)."""

    def __init__(self, run: str, project: int, class_names: Sequence[str], known: frozenset[str]) -> None:
        self.run, self.project, self.class_names, self.known = run, project, list(class_names), known
        self._cv = threading.Condition()
        self._events: list[Event] = []
        self._snapshot: Snapshot | None = None
        self._state = {"training": False, "starting": True, "received": 0, "applied": 0, "refused": 0, "labels": 0,
                       "new_labels": 0, "rounds_trained": 0}
        self.stopping = threading.Event()

    def put(self, event: Event) -> None:
        with self._cv:
            self._events.append(event)
            self._state["received"] += 1
            self._cv.notify_all()

    def take(self, timeout: float) -> list[Event]:
        """Every waiting event (maybe none after ``timeout`` seconds, or when stopping)."""
        with self._cv:
            if not self._events and not self.stopping.is_set():
                self._cv.wait(timeout)
            out, self._events = self._events, []
            return out

    def stop(self) -> None:
        self.stopping.set()
        with self._cv:
            self._cv.notify_all()

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def publish(self, snap: Snapshot) -> None:
        self._snapshot = snap  # one reference swap: readers see the old snapshot or the new one

    def update(self, **state) -> None:
        with self._cv:
            for k, v in state.items():
                self._state[k] = self._state[k] + v if k in ("applied", "refused", "rounds_trained") else v

    def status(self) -> dict:
        snap = self._snapshot
        with self._cv:
            return dict(self._state, queued=len(self._events), run=self.run, project=self.project,
                        round=None if snap is None else snap.round, model_version=None if snap is None else snap.version)
