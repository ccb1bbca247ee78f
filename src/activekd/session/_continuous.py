"""A run that keeps learning while a team labels: the session pieces ``activekd serve`` needs.

In the round-by-round loop a person may label only the picks of the round awaiting labels, and the
next round trains once that batch is complete. A continuous loop relaxes two things and nothing
else: a person may label any unlabeled pool image (the picks are only served first), and the
next round may train before every pick is answered (every ``N`` new labels, or on demand). The
rules for the answers themselves are those of :func:`._labeling.apply_answers` (``plan_changes``):
unknown ids and classes, duplicates and corrections without ``relabel`` are refused the same way,
and every import is kept in the same history.

Each retrain is one more round of the run (its stored ``rounds`` grows by one), so ``resume``,
``status`` and ``results.json`` read a served run like any other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from activekd.layout import RunLayout
from activekd.students.io import load_student

from ._answers import Answer
from ._errors import SessionError
from ._labeling import LabelReport, apply_answers
from ._store import RoundRecord
from ._store import recover_interrupted_commit as _recover


def recover_interrupted_commit(out: str | Path) -> bool:
    """Roll back a change a killed ``serve`` left half-written (see :func:`_store.recover_interrupted_commit`)."""
    return _recover(RunLayout(out).store)


def labelstudio_project(session) -> tuple:
    """``(LabelStudioLink, project id)`` of a run that labels in Label Studio (``--oracle labelstudio``)."""
    if session.config.loop.oracle != "labelstudio":
        raise SessionError(f"{session.out} does not label in Label Studio (oracle {session.config.loop.oracle!r}); "
                           f"a continuous loop needs a run made with --oracle labelstudio")
    return session.oracle._project()


def open_ids(session) -> frozenset:
    """Ids a new label may name now: every unlabeled pool image while a round awaits labels, else none."""
    pending = session.store.pending_round()
    return frozenset() if pending is None else frozenset(set(pending.picks) | unlabeled_pool_ids(session))


def apply_live_answers(session, rows: list[Answer], *, relabel: bool, kind: str, origin: str) -> LabelReport:
    """:func:`._labeling.apply_answers` with :func:`open_ids` as the open batch: one store transaction, or nothing."""
    return apply_answers(session, rows, relabel=relabel, kind=kind, origin=origin, open_ids=open_ids(session))


def new_labels(session) -> int:
    """Labels no round has trained on yet (answers to the round awaiting labels, or to a batch just completed)."""
    return session.store.untrained_label_count()


def close_round(session, r: int, skipped: Collection[str] = ()) -> None:
    """Close round ``r`` (awaiting labels) before all its picks are answered: the unanswered picks go back to the pool
    (``skipped``: those skipped in Label Studio, counted in the round's record)."""
    labeled = {i for i, _ in session.store.labels()}
    session.store.close_round(r, skipped=[p for p in session.store.round(r).picks if p in set(skipped) and p not in labeled])


def extend_rounds(session, rounds: int) -> None:
    """Raise the run's number of rounds to ``rounds`` (as ``activekd resume --rounds`` does), in the store and the session."""
    if rounds <= session.config.loop.rounds:
        return
    new = dataclasses.replace(session.config, loop=dataclasses.replace(session.config.loop, rounds=rounds))
    session.store.replace_config(session.store.get_meta("config"), new.to_json())
    session.config = new


def train_next_round(session, skipped: Collection[str] = ()) -> RoundRecord:
    """Close the round awaiting labels (answered or not), train the next one and record its picks; returns its record.

    Refused (``SessionError``) when no label came since the last round, or the pool holds fewer images than the budget.
    """
    store = session.store
    pending = store.pending_round()
    if pending is not None and new_labels(session) == 0:
        raise SessionError(f"round {pending.round} has no new label yet; nothing to train on")
    if pending is not None:
        close_round(session, pending.round, skipped)
    r = store.next_round()
    unlabeled = len(unlabeled_pool_ids(session))
    if unlabeled < session.config.loop.budget:
        raise SessionError(f"the pool has {unlabeled} unlabeled image(s) left, fewer than the budget "
                           f"{session.config.loop.budget}; no further round")
    extend_rounds(session, r + 1)
    session.run()
    return store.round(store.next_round() - 1)


def unlabeled_pool_ids(session) -> set[str]:
    """Ids of the pool images without a label."""
    ds = session.dataset
    labeled = {i for i, _ in session.store.labels()}
    return {ds.ids[p] for p in ds.split_indices("pool").tolist() if ds.ids[p] not in labeled}


@dataclass(frozen=True)
class PoolScores:
    """Round ``round``'s student on the pool: ``ids`` ``[n]``, ``probs`` ``[n, C]`` (mixed heads), ``teacher`` ``[n, C]`` or None."""

    round: int
    ids: list[str]
    probs: Tensor
    teacher: Tensor | None
    picks: tuple[str, ...]


def score_pool(session) -> PoolScores:
    """The latest round's student (its checkpoint, retrained with the same seeds if missing) on every pool image."""
    rec = next((x for x in reversed(session.store.rounds()) if x.checkpoint), None)
    ds = session.dataset
    pos = torch.from_numpy(np.asarray(ds.split_indices("pool"), dtype=np.int64))
    if rec is None:
        return _teacher_scores(session, pos)
    if not (session.out / rec.checkpoint).is_file():
        student, _ = session.train(session.round_data(rec.round))
    else:
        student, _ = load_student(session.out / rec.checkpoint)
    probs = session.predict(student, pos, "pool scores").probs(rec.result.mix.alpha, rec.result.mix.beta)
    teacher = _teacher_probs(session, session.store.labels(up_to_round=rec.round), pos) if session.teacher is not None else None
    pending = session.store.pending_round()
    picks = tuple(pending.picks) if pending is not None and pending.round == rec.round else ()
    return PoolScores(rec.round, [ds.ids[p] for p in pos.tolist()], probs, teacher, picks)


def _teacher_scores(session, pos: Tensor) -> PoolScores:
    """Before any student exists (a zero-label start, ``--shots 0``): the teacher's probabilities stand in for it."""
    if session.teacher is None:
        raise SessionError(f"{session.out} has no trained round yet")
    probs = _teacher_probs(session, [], pos)
    pending = session.store.pending_round()
    r, picks = (pending.round, tuple(pending.picks)) if pending is not None else (0, ())
    return PoolScores(r, [session.dataset.ids[p] for p in pos.tolist()], probs, probs, picks)


def _teacher_probs(session, labeled: list[tuple[str, int]], pos: Tensor) -> Tensor:
    """``[len(pos), C]``: the teacher's softmax on the pool rows ``pos``, fitted on ``labeled`` when it is adaptive."""
    return torch.softmax(session.teacher.table(labeled)[pos].double(), dim=1).float()
