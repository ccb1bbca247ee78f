"""The active-learning session: a SQLite store, oracles, rounds and resume."""

from ._oracle import SimulatedOracle, read_label_answers, write_label_request
from ._runner import ActiveSession, SessionError, load_dataset, resolve_device, round_seed
from ._store import LABEL_SOURCES, RoundRecord, SessionStore, StoreError

__all__ = [
    "SimulatedOracle", "read_label_answers", "write_label_request", "ActiveSession", "SessionError", "load_dataset", "resolve_device",
    "round_seed", "LABEL_SOURCES", "RoundRecord", "SessionStore", "StoreError",
]
