"""The session store: one SQLite file, the single source of truth for a run.

Tables: ``meta`` (config, dataset fingerprint, versions), ``samples`` (the dataset manifest),
``labels`` (every label with its source, round and time; one row per sample, so no label is ever
counted twice), ``rounds`` (status, picks, metrics, checkpoint path and hash per round).
Every change is one transaction: a kill at any moment leaves the last committed state.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

LABEL_SOURCES = ("initial", "oracle", "human")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (id TEXT PRIMARY KEY, position INTEGER NOT NULL, split TEXT NOT NULL, path TEXT);
CREATE TABLE IF NOT EXISTS labels (
    sample_id TEXT PRIMARY KEY REFERENCES samples(id),
    label INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('initial', 'oracle', 'human')),
    round INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('awaiting-labels', 'done')),
    num_labeled INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    picks TEXT NOT NULL,
    checkpoint TEXT,
    checkpoint_sha256 TEXT,
    finished_at REAL
);
"""


class StoreError(ValueError):
    """A request the store refuses; nothing was written."""


@dataclass(frozen=True)
class RoundRecord:
    round: int
    status: str
    num_labeled: int
    metrics: dict
    picks: list[str]
    checkpoint: str | None
    checkpoint_sha256: str | None


class SessionStore:
    """Typed access to a run's SQLite file."""

    FILENAME = "session.sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(SCHEMA)

    @classmethod
    def exists_in(cls, out: str | Path) -> bool:
        return (Path(out) / cls.FILENAME).exists()

    @classmethod
    def open(cls, out: str | Path) -> "SessionStore":
        return cls(Path(out) / cls.FILENAME)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def initialise(self, meta: dict[str, str], samples: Sequence[tuple[str, int, str, str | None]],
                   initial: Sequence[tuple[str, int]]) -> None:
        """Write the config, manifest and initial labels in one transaction."""
        now = time.time()
        with self.transaction() as c:
            if c.execute("SELECT COUNT(*) FROM meta").fetchone()[0]:
                raise StoreError(f"{self.path} is already initialised")
            c.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))
            c.executemany("INSERT INTO samples (id, position, split, path) VALUES (?, ?, ?, ?)", samples)
            c.executemany(
                "INSERT INTO labels (sample_id, label, source, round, created_at) VALUES (?, ?, 'initial', 0, ?)",
                [(i, int(y), now) for i, y in initial],
            )

    @property
    def initialised(self) -> bool:
        return self.get_meta("config") is not None

    # --- labels ---------------------------------------------------------------------------
    def labels(self, up_to_round: int | None = None) -> list[tuple[str, int]]:
        """``(id, label)`` of every label with round <= ``up_to_round``, in insertion order."""
        q = "SELECT sample_id, label FROM labels"
        args: tuple = ()
        if up_to_round is not None:
            q += " WHERE round <= ?"
            args = (up_to_round,)
        return [(r[0], int(r[1])) for r in self.conn.execute(q + " ORDER BY rowid", args)]

    def label_rows(self) -> list[dict]:
        cur = self.conn.execute("SELECT sample_id, label, source, round, created_at FROM labels ORDER BY rowid")
        return [dict(zip(("id", "label", "source", "round", "created_at"), r)) for r in cur]

    # --- rounds ---------------------------------------------------------------------------
    def rounds(self) -> list[RoundRecord]:
        cur = self.conn.execute(
            "SELECT round, status, num_labeled, metrics, picks, checkpoint, checkpoint_sha256 FROM rounds ORDER BY round")
        return [RoundRecord(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5], r[6]) for r in cur]

    def round(self, r: int) -> RoundRecord | None:
        return next((x for x in self.rounds() if x.round == r), None)

    def pending_round(self) -> RoundRecord | None:
        """The round whose picks await human labels, if any."""
        return next((x for x in self.rounds() if x.status == "awaiting-labels"), None)

    def next_round(self) -> int:
        """The first round that is not done."""
        row = self.conn.execute("SELECT MAX(round) FROM rounds WHERE status = 'done'").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def finish_round(self, r: int, *, metrics: dict, picks: Sequence[str], new_labels: Sequence[tuple[str, int]],
                     source: str, checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                     status: str = "done") -> None:
        """Record round ``r`` and the labels of its picks (for round ``r + 1``) atomically."""
        if source not in LABEL_SOURCES:
            raise StoreError(f"unknown label source {source!r}")
        now = time.time()
        num_labeled = len(self.labels(up_to_round=r))
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO rounds (round, status, num_labeled, metrics, picks, checkpoint, checkpoint_sha256, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (r, status, num_labeled, json.dumps(metrics), json.dumps(list(picks)), checkpoint, checkpoint_sha256,
                 now if status == "done" else None),
            )
            try:
                c.executemany(
                    "INSERT INTO labels (sample_id, label, source, round, created_at) VALUES (?, ?, ?, ?, ?)",
                    [(i, int(y), source, r + 1, now) for i, y in new_labels],
                )
            except sqlite3.IntegrityError as e:
                raise StoreError(f"label rejected ({e}): a sample may be labeled only once, and must be in the manifest") from None

    def add_human_labels(self, r: int, new_labels: Sequence[tuple[str, int]]) -> int:
        """Add labels for the picks of round ``r`` (awaiting labels); marks it done when all are in.

        Returns how many picks still lack a label. Validation is the caller's; the database's
        constraints still refuse a second label for a sample.
        """
        rec = self.round(r)
        if rec is None or rec.status != "awaiting-labels":
            raise StoreError(f"round {r} is not awaiting labels")
        now = time.time()
        with self.transaction() as c:
            try:
                c.executemany(
                    "INSERT INTO labels (sample_id, label, source, round, created_at) VALUES (?, ?, 'human', ?, ?)",
                    [(i, int(y), r + 1, now) for i, y in new_labels],
                )
            except sqlite3.IntegrityError as e:
                raise StoreError(f"label rejected ({e})") from None
            have = {row[0] for row in c.execute("SELECT sample_id FROM labels WHERE round = ?", (r + 1,))}
            missing = [p for p in rec.picks if p not in have]
            if not missing:
                c.execute("UPDATE rounds SET status = 'done', finished_at = ? WHERE round = ?", (now, r))
        return len(missing)
