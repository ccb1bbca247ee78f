"""The active-learning session: a SQLite store, oracles, rounds, labels and resume."""

from activekd.round_result import LikelyMistake, RoundResult

from ._answers import Answer, read_answer_file
from ._compute import Compute, launch, serve_rank
from ._errors import AnswerError, SessionError, StoreError
from ._history import LabelHistory, label_history
from ._labeling import LabelReport, sync, undo_last_import
from ._mislabels import standing_flags, write_review_file
from ._mix import pick_evidence
from ._open import embed_teacher, load_dataset, read_stored_config, registered_names
from ._oracle import ORACLES, Oracle, create_oracle
from ._runner import ActiveSession, round_seed
from ._standing import STATES, Standing, standing
from ._store import LABEL_SOURCES, RoundRecord, SessionStore, check_store_file

__all__ = [
    "Answer", "read_answer_file", "AnswerError", "SessionError", "StoreError", "LabelReport", "sync", "undo_last_import",
    "ORACLES", "Oracle", "create_oracle", "embed_teacher", "load_dataset", "read_stored_config", "registered_names", "ActiveSession", "round_seed",
    "pick_evidence", "LABEL_SOURCES", "RoundRecord", "SessionStore", "Compute", "launch", "serve_rank", "STATES", "Standing", "standing",
    "check_store_file", "LikelyMistake", "RoundResult", "standing_flags", "write_review_file", "LabelHistory", "label_history",
]
