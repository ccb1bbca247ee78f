"""A session as small as the label paths need: a real store and dataset (8 pool images, classes cat/dog/fox), no model.

``label``, ``sync`` and ``serve`` apply answers through ``session.store`` and ``session.dataset`` only, so their rules
and the history they write are tested here in milliseconds, without training a round.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from activekd.config import LoopConfig, RunConfig
from activekd.data import ArraySource, Dataset
from activekd.session import SessionStore

CLASSES = ("cat", "dog", "fox")
IDS = [f"id{i}" for i in range(8)]
PICKS = ["id2", "id3", "id4"]


def tiny_session(out: Path) -> SimpleNamespace:
    """Round 0 trained (no checkpoint) with ``id0``, ``id1`` labeled; it waits for labels of :data:`PICKS`."""
    ds = Dataset("tiny", CLASSES, IDS, np.arange(len(IDS)) % 3, np.array(["pool"] * len(IDS), dtype=object),
                 ArraySource(np.zeros((len(IDS), 4, 4), np.uint8)))
    out.mkdir(parents=True, exist_ok=True)
    store = SessionStore.create(out)
    store.initialise({"config": RunConfig(loop=LoopConfig(oracle="human", rounds=1, budget=3)).to_json()},
                     [(i, n, "pool", None) for n, i in enumerate(IDS)], [("id0", 0), ("id1", 1)])
    store.finish_round(0, metrics={"round": 0}, picks=PICKS, new_labels=[], source="human", status="awaiting-labels")
    return SimpleNamespace(out=out, store=store, dataset=ds)


def history(out: Path) -> tuple[int, list[tuple]]:
    """``(imports, label events (sample, new, old))`` as stored."""
    con = sqlite3.connect(out / SessionStore.FILENAME)
    try:
        imports = con.execute("SELECT COUNT(*) FROM imports").fetchone()[0]
        events = con.execute("SELECT sample_id, new_label, old_label FROM label_events ORDER BY event_id").fetchall()
    finally:
        con.close()
    return imports, events
