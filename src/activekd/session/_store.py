"""The session store: one SQLite file, the single source of truth for a run.

Tables: ``meta`` (config, dataset fingerprint, versions), ``samples`` (the dataset manifest),
``labels`` (the current label of each labeled sample with its source, round and time: one row per
sample, so no label is ever counted twice), ``imports`` and ``label_events`` (every label a person
added or changed, with the value it replaced, so corrections keep their history and the last import
can be undone), ``rounds`` (status, picks, metrics, checkpoint path and hash per round).

The file marks itself (SQLite ``application_id`` and ``user_version``); a file without the mark, a
newer schema or a corrupt file is refused before anything is written to it. Every change is one
transaction, and a round changes state only by compare-and-set, so a second process can never flip
a finished round back.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from activekd._faults import kill_point
from activekd.layout import RunLayout
from activekd.round_result import RoundResult

from ._errors import StoreError
from ._ledger import LabelLedger

APPLICATION_ID = 0x414B4431  # "AKD1"
SCHEMA_VERSION = 2
LABEL_SOURCES = ("initial", "oracle", "human")
SQLITE_HEADER = b"SQLite format 3\x00"
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE samples (id TEXT PRIMARY KEY, position INTEGER NOT NULL, split TEXT NOT NULL, path TEXT);
CREATE TABLE imports (
    import_id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, origin TEXT NOT NULL,
    created_at REAL NOT NULL, undone_at REAL
);
CREATE TABLE labels (
    sample_id TEXT PRIMARY KEY REFERENCES samples(id),
    label INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('initial', 'oracle', 'human')),
    round INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE label_events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id INTEGER NOT NULL REFERENCES imports(import_id),
    sample_id TEXT NOT NULL REFERENCES samples(id),
    new_label INTEGER NOT NULL,
    old_label INTEGER, old_source TEXT, old_round INTEGER, old_created_at REAL
);
CREATE TABLE rounds (
    round INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('awaiting-labels', 'done')),
    num_labeled INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    picks TEXT NOT NULL,
    checkpoint TEXT,
    checkpoint_sha256 TEXT,
    suggestions TEXT NOT NULL,
    finished_at REAL
);
"""


@dataclass(frozen=True)
class RoundRecord:
    """A stored round: its state, picks and checkpoint; ``metrics`` the JSON object :attr:`result` is read from."""

    round: int
    status: str
    num_labeled: int
    metrics: dict
    picks: list[str]
    checkpoint: str | None
    checkpoint_sha256: str | None
    suggestions: dict

    @functools.cached_property
    def result(self) -> RoundResult:
        """What the round found (:class:`~activekd.round_result.RoundResult`)."""
        return RoundResult.from_dict(self.metrics)


def check_store_file(path: Path) -> None:
    """Refuse a file that is not an activekd store of a schema this version reads; never writes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror}") from None
    if len(head) < 100 or not head.startswith(SQLITE_HEADER):
        raise StoreError(f"{path} is not an activekd session (not an SQLite file, or truncated); refusing to touch it")
    app_id, version = int.from_bytes(head[68:72], "big"), int.from_bytes(head[60:64], "big")
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path} is an SQLite file that activekd did not write; refusing to touch it")
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer activekd (store schema {version}, this one reads {SCHEMA_VERSION}); upgrade activekd")
    try:
        with _connect(path, readonly=True) as conn:
            bad = "; ".join(r[0] for r in conn.execute("PRAGMA quick_check(5)")).replace("\n", " ")
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is corrupt ({e}); restore it from a backup or start a new --out") from None
    if bad != "ok":
        raise StoreError(f"{path} is corrupt ({bad}); restore it from a backup or start a new --out")


def recover_interrupted_commit(path: Path) -> bool:
    """Roll back a transaction a killed process left half-written (a hot ``-journal``); True if there was a journal.

    A read-only connection cannot roll a hot journal back ("attempt to write a readonly database"),
    so the checks would call the store corrupt; a read-write connection does it on its first read,
    safely (SQLite treats a journal as hot only when no process holds the database's write lock).
    Only a file that carries activekd's mark is touched.
    """
    if not Path(f"{path}-journal").exists() or not path.is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or int.from_bytes(head[68:72], "big") != APPLICATION_ID:
        return False  # not our store: left to the checks that refuse it
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=30)
        try:
            conn.execute("PRAGMA schema_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: a command was killed mid-write and its change must be rolled back, which needs write access "
                         f"({e}); run `activekd resume` where the folder is writable") from None
    return True


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode={'ro' if readonly else 'rw'}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        conn.execute("PRAGMA synchronous = FULL")
    return conn


class SessionStore(LabelLedger):
    """Typed access to a run's SQLite file; a context manager that closes it."""

    FILENAME = RunLayout.STORE

    def __init__(self, path: Path, conn: sqlite3.Connection, readonly: bool) -> None:
        self.path, self.conn, self.readonly = path, conn, readonly

    @classmethod
    def exists_in(cls, out: str | Path) -> bool:
        return RunLayout(out).store.exists()

    @classmethod
    def open(cls, out: str | Path, *, readonly: bool = False) -> "SessionStore":
        """Open an existing store after checking its mark, schema and integrity."""
        path = RunLayout(out).store
        if not path.is_file():
            raise StoreError(f"{out} holds no activekd session ({cls.FILENAME} not found)")
        recover_interrupted_commit(path)
        check_store_file(path)
        try:
            return cls(path, _connect(path, readonly), readonly)
        except sqlite3.OperationalError as e:
            raise StoreError(f"cannot open {path} for writing ({e}); check the folder's permissions") from None

    @classmethod
    def create(cls, out: str | Path) -> "SessionStore":
        """A new, empty, marked store; refuses when one exists."""
        path = RunLayout(out).store
        if path.exists():
            raise StoreError(f"{path} already exists")
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.executescript(f"BEGIN; PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
                           f"{SCHEMA} COMMIT;")
        conn.close()
        return cls.open(out)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "SessionStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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

    def config(self) -> dict:
        """The run's stored configuration (a dict for ``RunConfig.from_dict``)."""
        raw = self.get_meta("config")
        if raw is None:
            raise StoreError(f"{self.path} holds no configuration")
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise StoreError(f"{self.path}: its stored configuration is not readable JSON; the store is damaged") from None

    def replace_config(self, old: str, new: str) -> None:
        """Compare-and-set the stored config JSON (a run extended with more rounds)."""
        with self.transaction() as c:
            if c.execute("UPDATE meta SET value = ? WHERE key = 'config' AND value = ?", (new, old)).rowcount != 1:
                raise StoreError(f"{self.path}: the configuration changed underneath this command; run it again")

    def initialise(self, meta: dict[str, str], samples: Sequence[tuple[str, int, str, str | None]],
                   initial: Sequence[tuple[str, int]]) -> None:
        """Write the config, manifest and initial labels in one transaction."""
        now = time.time()
        with self.transaction() as c:
            if c.execute("SELECT COUNT(*) FROM meta").fetchone()[0]:
                raise StoreError(f"{self.path} is already initialised")
            c.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))
            c.executemany("INSERT INTO samples (id, position, split, path) VALUES (?, ?, ?, ?)", samples)
            c.executemany("INSERT INTO labels (sample_id, label, source, round, created_at) VALUES (?, ?, 'initial', 0, ?)",
                          [(i, int(y), now) for i, y in initial])

    # --- rounds ---------------------------------------------------------------------------
    def rounds(self) -> list[RoundRecord]:
        cur = self.conn.execute(
            "SELECT round, status, num_labeled, metrics, picks, checkpoint, checkpoint_sha256, suggestions FROM rounds ORDER BY round")
        return [RoundRecord(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5], r[6], json.loads(r[7])) for r in cur]

    def round(self, r: int) -> RoundRecord | None:
        return next((x for x in self.rounds() if x.round == r), None)

    def pending_round(self) -> RoundRecord | None:
        """The round whose picks await human labels, if any."""
        return next((x for x in self.rounds() if x.status == "awaiting-labels"), None)

    def next_round(self) -> int:
        """The first round not yet recorded."""
        row = self.conn.execute("SELECT MAX(round) FROM rounds").fetchone()
        return 0 if row[0] is None else int(row[0]) + 1

    def finish_round(self, r: int, *, metrics: dict, picks: Sequence[str], new_labels: Sequence[tuple[str, int]],
                     source: str, checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                     status: str = "done", suggestions: dict | None = None) -> None:
        """Record round ``r`` (once: a second record is refused) and the labels of its picks, atomically."""
        if source not in LABEL_SOURCES:
            raise StoreError(f"unknown label source {source!r}")
        now = time.time()
        with self.transaction() as c:
            num_labeled = c.execute("SELECT COUNT(*) FROM labels WHERE round <= ?", (r,)).fetchone()[0]
            try:
                c.execute("INSERT INTO rounds (round, status, num_labeled, metrics, picks, checkpoint, checkpoint_sha256, suggestions,"
                          " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (r, status, num_labeled, json.dumps(metrics), json.dumps(list(picks)), checkpoint, checkpoint_sha256,
                           json.dumps(suggestions or {}), now if status == "done" else None))
            except sqlite3.IntegrityError:
                raise StoreError(f"round {r} was recorded by another command meanwhile; nothing written") from None
            self._insert_labels(c, new_labels, source, r + 1, now)
            kill_point("round-commit")

    def add_picks(self, r: int, picks: Sequence[str], new_labels: Sequence[tuple[str, int]], *, source: str, status: str,
                  suggestions: dict) -> None:
        """Give a finished round without picks (a run's old last round) the picks of an extended run."""
        now = time.time()
        with self.transaction() as c:
            if c.execute("UPDATE rounds SET picks = ?, status = ?, suggestions = ? WHERE round = ? AND picks = '[]' AND status = 'done'",
                         (json.dumps(list(picks)), status, json.dumps(suggestions), r)).rowcount != 1:
                raise StoreError(f"round {r} has picks already; nothing written")
            self._insert_labels(c, new_labels, source, r + 1, now)

    @staticmethod
    def _insert_labels(c: sqlite3.Connection, labels: Sequence[tuple[str, int]], source: str, r: int, now: float) -> None:
        try:
            c.executemany("INSERT INTO labels (sample_id, label, source, round, created_at) VALUES (?, ?, ?, ?, ?)",
                          [(i, int(y), source, r, now) for i, y in labels])
        except sqlite3.IntegrityError as e:
            raise StoreError(f"label rejected ({e}): a sample may be labeled only once, and must be in the manifest") from None

    def set_checkpoint(self, r: int, checkpoint: str, sha256: str) -> None:
        """Record a checkpoint rebuilt for round ``r``."""
        with self.transaction() as c:
            c.execute("UPDATE rounds SET checkpoint = ?, checkpoint_sha256 = ? WHERE round = ?", (checkpoint, sha256, r))
