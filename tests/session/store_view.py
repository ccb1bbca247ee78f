"""What the session tests read back from a run's store, written independently of the library."""

import hashlib
import sqlite3
from pathlib import Path


def store_labels(out: Path) -> dict[str, int]:
    """``{sample id: label}`` as stored."""
    con = sqlite3.connect(out / "session.sqlite")
    try:
        return dict(con.execute("SELECT sample_id, label FROM labels"))
    finally:
        con.close()


def digest(labels: dict[str, int]) -> str:
    """The ``labels_sha256`` a round records for the labels it trained on."""
    return hashlib.sha256("\n".join(f"{i}\t{y}" for i, y in sorted(labels.items())).encode()).hexdigest()[:16]
