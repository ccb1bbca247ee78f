"""The label half of the session store: current labels, a person's imports, their history and undo."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Sequence

from activekd._faults import kill_point
from activekd.round_result import Closing, RoundResult

from ._errors import StoreError


@dataclass(frozen=True)
class LabelChange:
    """One label a person adds (``old is None``) or corrects, as validated by the caller."""

    sample_id: str
    label: int
    old: int | None = None


class LabelLedger:
    """Mixed into :class:`SessionStore` (which provides ``conn``, ``transaction`` and ``rounds``)."""

    conn: sqlite3.Connection

    def labels(self, up_to_round: int | None = None) -> list[tuple[str, int]]:
        """``(id, label)`` of every label with round <= ``up_to_round``, in insertion order."""
        q, args = "SELECT sample_id, label FROM labels", ()
        if up_to_round is not None:
            q, args = q + " WHERE round <= ?", (up_to_round,)
        return [(r[0], int(r[1])) for r in self.conn.execute(q + " ORDER BY rowid", args)]

    def label_rows(self) -> list[dict]:
        cur = self.conn.execute("SELECT sample_id, label, source, round, created_at FROM labels ORDER BY rowid")
        return [dict(zip(("id", "label", "source", "round", "created_at"), r)) for r in cur]

    def history(self) -> list[dict]:
        """Every label a person added or changed, oldest first, with the value it replaced."""
        cur = self.conn.execute(
            "SELECT e.sample_id, e.new_label, e.old_label, e.old_source, i.import_id, i.kind, i.origin, i.created_at, i.undone_at"
            " FROM label_events e JOIN imports i USING (import_id) ORDER BY e.event_id")
        keys = ("id", "label", "old_label", "old_source", "import_id", "kind", "origin", "created_at", "undone_at")
        return [dict(zip(keys, r)) for r in cur]

    def sample_trail(self, sample_id: str) -> tuple[str, dict | None, list[dict]] | None:
        """``(split, current label row or None, its label events oldest first)`` of one sample; None when there is no such
        sample. Events carry :meth:`history`'s keys (less ``id``) and ``old_round``, ``old_created_at``."""
        split = self.conn.execute("SELECT split FROM samples WHERE id = ?", (sample_id,)).fetchone()
        if split is None:
            return None
        row = self.conn.execute("SELECT label, source, round, created_at FROM labels WHERE sample_id = ?", (sample_id,)).fetchone()
        keys = ("label", "old_label", "old_source", "old_round", "old_created_at", "import_id", "kind", "origin", "created_at", "undone_at")
        cur = self.conn.execute(
            "SELECT e.new_label, e.old_label, e.old_source, e.old_round, e.old_created_at, i.import_id, i.kind, i.origin, i.created_at,"
            " i.undone_at FROM label_events e JOIN imports i USING (import_id) WHERE e.sample_id = ? ORDER BY e.event_id", (sample_id,))
        current = None if row is None else dict(zip(("label", "source", "round", "created_at"), row))
        return split[0], current, [dict(zip(keys, r)) for r in cur]

    def apply_labels(self, pending: int | None, changes: Sequence[LabelChange], *, kind: str, origin: str) -> int:
        """Record a person's labels and corrections as one import; returns picks of round ``pending`` still unlabeled.

        New labels belong to the round awaiting labels (``pending``); each correction must still
        find the label it was validated against (else the store changed underneath: refused). The
        round closes (compare-and-set) when its last pick gets a label.
        """
        now = time.time()
        with self.transaction() as c:
            cur = c.execute("INSERT INTO imports (kind, origin, created_at) VALUES (?, ?, ?)", (kind, origin, now))
            imp = cur.lastrowid
            for ch in changes:
                self._apply_one(c, imp, ch, pending, now)
            missing = self._close_if_complete(c, pending, now)
            kill_point("label-commit")  # every row written, the transaction not committed yet
            return missing

    def _apply_one(self, c: sqlite3.Connection, imp: int, ch: LabelChange, pending: int | None, now: float) -> None:
        row = c.execute("SELECT label, source, round, created_at FROM labels WHERE sample_id = ?", (ch.sample_id,)).fetchone()
        if (row is None) != (ch.old is None) or (row is not None and row[0] != ch.old):
            raise StoreError(f"the label of {ch.sample_id!r} changed underneath this command; run it again")
        if row is None:
            if pending is None:
                raise StoreError(f"{ch.sample_id!r}: no round is waiting for labels")
            c.execute("INSERT INTO labels (sample_id, label, source, round, created_at) VALUES (?, ?, 'human', ?, ?)",
                      (ch.sample_id, ch.label, pending + 1, now))
        else:
            c.execute("UPDATE labels SET label = ?, source = 'human', created_at = ? WHERE sample_id = ?", (ch.label, now, ch.sample_id))
        c.execute("INSERT INTO label_events (import_id, sample_id, new_label, old_label, old_source, old_round, old_created_at)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?)", (imp, ch.sample_id, ch.label, *(row or (None,) * 4)))

    def _close_if_complete(self, c: sqlite3.Connection, pending: int | None, now: float) -> int:
        if pending is None:
            return 0
        picks = json.loads(c.execute("SELECT picks FROM rounds WHERE round = ? AND status = 'awaiting-labels'",
                                     (pending,)).fetchone()[0])
        have = {r[0] for r in c.execute("SELECT sample_id FROM labels WHERE round = ?", (pending + 1,))}
        missing = [p for p in picks if p not in have]
        if not missing and c.execute("UPDATE rounds SET status = 'done', finished_at = ? WHERE round = ? AND status = 'awaiting-labels'",
                                     (now, pending)).rowcount != 1:
            raise StoreError(f"round {pending} changed underneath this command; run it again")
        return len(missing)

    def last_import(self) -> dict | None:
        row = self.conn.execute("SELECT import_id, kind, origin, created_at FROM imports WHERE undone_at IS NULL"
                                " ORDER BY import_id DESC LIMIT 1").fetchone()
        return None if row is None else dict(zip(("import_id", "kind", "origin", "created_at"), row))

    def undo_import(self, import_id: int, reopen: int | None) -> int:
        """Restore every label an import changed (newest first); reopen round ``reopen`` if given. Returns labels restored."""
        now = time.time()
        with self.transaction() as c:
            if c.execute("UPDATE imports SET undone_at = ? WHERE import_id = ? AND undone_at IS NULL", (now, import_id)).rowcount != 1:
                raise StoreError(f"import {import_id} was undone already")
            events = c.execute("SELECT sample_id, old_label, old_source, old_round, old_created_at FROM label_events"
                               " WHERE import_id = ? ORDER BY event_id DESC", (import_id,)).fetchall()
            for sid, label, source, rnd, created in events:
                if label is None:
                    c.execute("DELETE FROM labels WHERE sample_id = ?", (sid,))
                else:
                    c.execute("UPDATE labels SET label = ?, source = ?, round = ?, created_at = ? WHERE sample_id = ?",
                              (label, source, rnd, created, sid))
            if reopen is not None and c.execute("UPDATE rounds SET status = 'awaiting-labels', finished_at = NULL"
                                                " WHERE round = ? AND status = 'done'", (reopen,)).rowcount != 1:
                raise StoreError(f"round {reopen} changed underneath this command; run it again")
        return len(events)

    def added_by(self, import_id: int) -> list[tuple[str, int]]:
        """``(id, label round)`` of the labels an import added (not corrections)."""
        return [(r[0], r[1]) for r in self.conn.execute(
            "SELECT e.sample_id, l.round FROM label_events e JOIN labels l USING (sample_id) WHERE e.import_id = ? AND e.old_label IS NULL",
            (import_id,))]

    def untrained_label_count(self) -> int:
        """Labels no round has trained on yet (their round is not recorded)."""
        row = self.conn.execute("SELECT COUNT(*) FROM labels WHERE round > (SELECT COALESCE(MAX(round), -1) FROM rounds)").fetchone()
        return int(row[0])

    def close_round(self, r: int, skipped: Sequence[str] = ()) -> None:
        """Close round ``r`` (awaiting labels) before every pick is answered (compare-and-set); the rest go back to the pool.

        The round's result keeps :class:`~activekd.round_result.Closing`: its picks unlabeled at closing and those of them
        skipped in Label Studio, for ``status`` and the report."""
        with self.transaction() as c:
            row = c.execute("SELECT metrics, picks FROM rounds WHERE round = ? AND status = 'awaiting-labels'", (r,)).fetchone()
            labeled = {x[0] for x in c.execute("SELECT sample_id FROM labels")}
            closing = Closing(skipped=len(skipped), returned=sum(p not in labeled for p in json.loads(row[1])) if row else 0)
            result = dataclasses.replace(RoundResult.from_dict(json.loads(row[0]) if row else {}), closing=closing)
            if c.execute("UPDATE rounds SET status = 'done', finished_at = ?, metrics = ? WHERE round = ? AND status = 'awaiting-labels'",
                         (time.time(), json.dumps(result.to_dict()), r)).rowcount != 1:
                raise StoreError(f"round {r} is not awaiting labels; nothing closed")
