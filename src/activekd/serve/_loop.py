"""The worker: applies the team's answers to the store, retrains every ``N`` new labels, republishes the queue.

It owns the session (and so the store and the run lock) and runs on the thread that opened it.
Start-up brings the store level with Label Studio before serving: a round left untrained is
trained, every annotation made while the backend was down (or lost in its inbox when it was
killed) is pulled and applied, and the current student's queue is pushed. Since applying the same
answer twice changes nothing, a kill at any moment loses and doubles nothing.
"""

from __future__ import annotations

import logging
import os
import time

from activekd.errors import ActiveKDError
from activekd.session import SessionError
from activekd.session._continuous import (
    apply_live_answers,
    new_labels,
    score_pool,
    train_next_round,
)

from ._inbox import Inbox
from ._protocol import Event
from ._queue import serve_version, snapshot
from ._studio import StudioProject

log = logging.getLogger(__name__)

TRAIN_DELAY_ENV = "ACTIVEKD_SERVE_TRAIN_DELAY"
"""Seconds to wait before each retrain (tests only: it widens the window in which annotators label during training)."""


HEAD_BATCHES = 2
"""Each push refreshes the suggestion text of the first ``HEAD_BATCHES × --retrain-every`` tasks of the queue."""


class ContinuousLoop:
    """One run served to one Label Studio project: ``start()``, then ``run()`` until ``inbox.stop()``."""

    def __init__(self, session, studio: StudioProject, inbox: Inbox, *, retrain_every: int, relabel: bool) -> None:
        self.session, self.studio, self.inbox = session, studio, inbox
        self.retrain_every, self.relabel = retrain_every, relabel
        self.held: list[Event] = []  # answers that came while no round awaited labels
        self.skipped: set[str] = set()  # tasks skipped in Label Studio: answered for the round, without a label
        self.stale = True  # the queue in Label Studio is older than the store's last round

    def start(self) -> None:
        """Tasks for the waiting round's picks (an annotator can start at once), the next round if none awaits labels,
        every annotation pulled and applied, the queue pushed."""
        pending = self.session.store.pending_round()
        if pending is not None:
            self.studio.ensure_tasks(self.session, pending.picks)
        else:
            self._retrain()
        self._pull("pulled on start")
        self._retrain_if_due(False)
        if self.stale:
            self._publish()
        self.inbox.update(starting=False, labels=len(self.session.store.labels()), new_labels=new_labels(self.session))

    def run(self) -> None:
        while not self.inbox.stopping.is_set():
            events = self.held + self.inbox.take(timeout=5.0)
            self.held = []
            wanted = False
            for e in events:
                wanted |= e.train
                self.skipped |= e.skipped
                if e.answers:
                    self._apply(e, kind="webhook", origin=f"{self.studio.link.url} ({e.action})")
            if wanted:  # Label Studio asks before it sends the annotation that triggered the request: take it first
                self._pull("pulled on a training request")
            self._retrain_if_due(wanted)
            if self.stale:
                self._publish()

    # --- steps -----------------------------------------------------------------------------
    def _apply(self, event: Event, *, kind: str, origin: str) -> None:
        if not event.answers:
            return
        if self.session.store.pending_round() is None:
            self.held.append(event)
            return
        try:
            report = apply_live_answers(self.session, event.answers, relabel=self.relabel, kind=kind, origin=origin)
        except SessionError as e:
            if len(event.answers) > 1:  # a pull: apply its answers one by one, so one refusal stops only itself
                for a in event.answers:
                    self._apply(Event(event.action, [a]), kind=kind, origin=origin)
                return
            log.warning("refused %s: %s", event.action, e)
            self.inbox.update(refused=1)
            return
        if report.added or report.corrected:
            log.info("%s: %s", event.action, report.describe())
        self.inbox.update(applied=len(event.answers))

    def _pull(self, why: str) -> None:
        """Every annotation and skip in Label Studio, applied (what the store has already changes nothing)."""
        try:
            got = self.studio.answers()
        except ActiveKDError as e:
            log.warning("could not pull the annotations from Label Studio (%s)", e)
            return
        self.skipped |= got.skipped
        self._apply(Event("PULL", got.labels), kind="sync", origin=f"{self.studio.link.url} ({why})")

    def _answered(self) -> bool:
        """No round awaits labels, or each of its picks is labeled or skipped (no label can land before a retrain)."""
        pending = self.session.store.pending_round()
        if pending is None:
            return True
        labeled = {i for i, _ in self.session.store.labels()}
        return all(p in labeled or p in self.skipped for p in pending.picks)

    def _retrain_if_due(self, wanted: bool) -> None:
        n = new_labels(self.session)
        complete = self._answered()
        due = n >= self.retrain_every or (n > 0 and (wanted or complete))
        self.inbox.update(training=due, labels=len(self.session.store.labels()), new_labels=n)  # one update: never "applied, idle" before a retrain
        if due:
            self._retrain()
        elif wanted:
            log.info("training asked for, but no new label since round %s; nothing to train on", self._round())

    def _retrain(self) -> None:
        self.inbox.update(training=True)
        try:
            time.sleep(float(os.environ.get(TRAIN_DELAY_ENV) or 0))
            rec = train_next_round(self.session, self.skipped)
            log.info("round %d trained on %d labels (student %.2f%%); %d picks served first", rec.round, rec.num_labeled,
                     100 * (rec.result.test.student or 0.0), len(rec.picks))
            self.inbox.update(rounds_trained=1)
            self.stale = True
            self._publish()  # still "training" until Label Studio serves the new queue
        except SessionError as e:
            log.warning("no retrain: %s", e)
        finally:
            self.inbox.update(training=False, labels=len(self.session.store.labels()), new_labels=new_labels(self.session))

    def _publish(self) -> None:
        s = self.session
        scores = score_pool(s)
        snap = snapshot(scores.round, serve_version(s.out.resolve().name, scores.round), scores.ids, scores.probs, scores.teacher,
                        scores.picks, {i for i, _ in s.store.labels()}, s.dataset.class_names)
        self.inbox.publish(snap)
        try:
            self.studio.push_queue(s, snap, head=HEAD_BATCHES * self.retrain_every)
        except Exception as e:  # noqa: BLE001 -- Label Studio down or refusing: keep serving, try again soon
            log.warning("could not push round %d's queue to Label Studio (%s); trying again", snap.round, str(e)[:200])
            return
        self.stale = False

    def _round(self):
        snap = self.inbox.snapshot
        return None if snap is None else snap.round
