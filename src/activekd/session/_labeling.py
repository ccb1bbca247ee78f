"""A person's labels reaching the store: from a file, from Python, from Label Studio; corrections and undo.

Every path ends in :func:`apply_answers`: the same rules (``_answers.plan_changes``), one store
transaction, the same history. Nothing is written when any answer is refused.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

from activekd._faults import kill_point

from ._answers import Answer, plan_changes, read_answer_file
from ._history import label_batch
from ._errors import AnswerError, SessionError


@dataclass(frozen=True)
class LabelReport:
    """What an import did: ``added`` new labels, ``corrected`` labels, ``unchanged`` answers; picks of ``round`` still ``missing``."""

    round: int | None
    added: int
    corrected: int
    unchanged: int
    missing: int
    skipped: int = 0  # picks skipped in Label Studio and not labeled
    returned: int | None = None  # picks put back in the pool when the round was closed (None: not closed here)
    corrected_from: tuple[tuple[str, int], ...] = ()  # (whose labels the corrected ones were: _history.label_batch, how many)

    def describe(self) -> str:
        only_fixes = bool(self.corrected and not self.added)  # corrections name their own round, not the round awaiting labels
        head = f"round {self.round}: " if self.round is not None and not only_fixes else ""
        fixed = f" ({', '.join(f'{n} of {b}' for b, n in self.corrected_from)})" if self.corrected_from else ""
        text = f"{head}{self.added} label(s) added, {self.corrected} corrected{fixed}, {self.unchanged} unchanged"
        if self.round is not None:
            where = f"round {self.round}: " if only_fixes else ""
            text += f"; {where}{self.missing} still missing" if self.missing else f"; {where}the batch is complete"
        if self.skipped and self.returned is None:
            text += f" ({self.skipped} of them skipped in Label Studio)"
        if self.returned is not None:
            text += f"; round closed: {self.returned} unlabeled pick(s) back in the pool ({self.skipped} skipped)"
        return text


def as_answers(answers, class_names: Sequence[str]) -> list[Answer]:
    """A label file path, ``Answer`` rows, or ``(id, class name or index)`` pairs → ``Answer`` rows."""
    if isinstance(answers, (str, Path)):
        return read_answer_file(Path(answers), class_names)
    out = []
    for n, a in enumerate(answers):
        if isinstance(a, Answer):
            out.append(a)
        else:
            sid, label = a
            out.append(Answer(str(sid), str(label), f"answer {n}"))
    if not out:
        raise AnswerError("no answers given")
    return out


def add_labels(session, answers, *, relabel: bool, origin: str) -> LabelReport:
    rows = as_answers(answers, session.dataset.class_names)
    origin = str(answers) if isinstance(answers, (str, Path)) else origin
    return apply_answers(session, rows, relabel=relabel, kind="relabel" if relabel else "label", origin=origin)


def apply_answers(session, rows: list[Answer], *, relabel: bool, kind: str, origin: str,
                  open_ids: Collection[str] | None = None) -> LabelReport:
    """Check ``rows`` and record them as one import (or nothing). New labels may name the picks of the round awaiting
    labels, or ``open_ids`` when given (``serve`` opens the whole unlabeled pool)."""
    store, ds = session.store, session.dataset
    pending = store.pending_round()
    current = dict(store.labels())
    batch = set(open_ids) if open_ids is not None else set(pending.picks) if pending else set()
    changes, unchanged = plan_changes(rows, class_names=ds.class_names, known=ds.has, current=current,
                                      open_batch=batch, relabel=relabel)
    if not changes:
        missing = len([p for p in pending.picks if p not in current]) if pending else 0
        return LabelReport(pending.round if pending else None, 0, 0, unchanged, missing)
    kill_point("label-import")
    fixed = _corrected_from(store, changes)
    missing = store.apply_labels(pending.round if pending else None, changes, kind=kind, origin=origin)
    added = sum(c.old is None for c in changes)
    return LabelReport(pending.round if pending else None, added, len(changes) - added, unchanged, missing, corrected_from=fixed)


def _corrected_from(store, changes) -> tuple[tuple[str, int], ...]:
    """How many of the corrected labels were the initial labels, round 0's picks, ...: each names the round it came from."""
    rounds = {r["id"]: r["round"] for r in store.label_rows()} if any(c.old is not None for c in changes) else {}
    counts = Counter(rounds[c.sample_id] for c in changes if c.old is not None)
    return tuple((label_batch(r), n) for r, n in sorted(counts.items()))


def sync(session, *, relabel: bool, close: bool = False) -> LabelReport:
    """Pull every finished annotation from the run's Label Studio project and apply it (partial batches allowed).

    A pick skipped in Label Studio (a cancelled annotation) counts as answered for the round: when every pick is
    labeled or skipped, or with ``close``, the round awaiting labels is closed and its unlabeled picks go back to the pool."""
    if not hasattr(session.oracle, "pull"):
        raise SessionError(f"{session.out} does not label in Label Studio (oracle {session.config.loop.oracle!r}); "
                           f"use `activekd label` with a file")
    pending = session.store.pending_round()
    if pending is not None:
        session.oracle.request(session.batch(pending.round))  # make sure the batch is there (idempotent)
    pulled = session.oracle.pull()
    report = LabelReport(pending.round if pending else None, 0, 0, 0, len(pending.picks) if pending else 0)
    if pulled.labels:
        report = apply_answers(session, pulled.labels, relabel=relabel, kind="sync", origin=session.config.labelstudio.url)
    return close_if_answered(session, report, pulled.skipped, force=close)


def close_if_answered(session, report: LabelReport, skipped, *, force: bool) -> LabelReport:
    """Close the round awaiting labels when each pick is labeled or ``skipped`` (or ``force``); the report then says so."""
    pending = session.store.pending_round()
    if pending is None:
        return report
    labeled = {i for i, _ in session.store.labels()}
    unanswered = [p for p in pending.picks if p not in labeled]
    if unanswered and not force and not set(unanswered) <= set(skipped):
        return dataclasses.replace(report, skipped=len(set(unanswered) & set(skipped)))
    session.store.close_round(pending.round, skipped=[p for p in unanswered if p in set(skipped)])
    return dataclasses.replace(report, missing=0, skipped=len(set(unanswered) & set(skipped)), returned=len(unanswered))


def undo_last_import(session) -> tuple[dict, int]:
    """Undo the newest import not undone yet: restore the labels it replaced, remove those it added.

    Refused when a round already trained on labels it added (correct those with ``--relabel``).
    """
    store = session.store
    last = store.last_import()
    if last is None:
        raise SessionError(f"{session.out}: no label import to undo")
    added_rounds = {r for _, r in store.added_by(last["import_id"])}
    trained = store.next_round() - 1
    if any(r <= trained for r in added_rounds):
        raise SessionError(f"round {max(added_rounds)} already trained on the labels import {last['import_id']} added; "
                           f"correct them with `activekd label --relabel` instead")
    reopen = next(iter(added_rounds)) - 1 if added_rounds else None
    rec = store.round(reopen) if reopen is not None else None
    restored = store.undo_import(last["import_id"], reopen if rec is not None and rec.status == "done" else None)
    return last, restored

