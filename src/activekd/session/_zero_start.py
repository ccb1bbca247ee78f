"""A run that starts with no labels (``--shots 0``): round 0 trains nothing and picks from the teacher alone.

With an empty labeled set there is nothing to train a student on, so round 0 only

* reports what can be measured without one: no label, the teacher's test accuracy, every student figure
  ``None`` (``Training.trained`` false);
* picks ``budget`` pool images by :func:`activekd.select.teacher_coverage` (greedy k-center over the
  teacher's probabilities, first centre the point farthest from the pool's mean probability; no
  randomness, so a round 0 redone after a kill picks the same images);
* records the round like any other (no checkpoint), so a person's answers, ``status``, ``report``
  and ``resume`` read it as usual. Round 1 trains the first student on those ``budget`` labels,
  and from then on the run's ``--strategy`` picks.

Only a run with a teacher may start so (refused at the start otherwise, see ``_checks``).
"""

from __future__ import annotations

import torch

from activekd._faults import kill_point
from activekd.config import LoopConfig
from activekd.round_result import Accuracy, MixChoice, RoundResult, SelectionMix, Training
from activekd.select import teacher_coverage
from activekd.train import accuracy

from ._batch import Batch, suggestions
from ._errors import SessionError
from ._mislabels import check_labels, with_evidence
from ._runlog import log_round

SELECTION = "teacher-coverage"


def starts_without_labels(loop: LoopConfig) -> bool:
    """``--shots 0`` (with ``--initial shots``): the run begins with an empty labeled set."""
    return loop.initial == "shots" and loop.shots == 0


def run_zero_label_round(session, data, clock) -> RoundResult:
    """Round ``data.round`` with no label: report, pick from the teacher, record; returns its result.

    ``session``: the :class:`ActiveSession`; ``data``: its ``RoundData`` (``labeled`` empty);
    ``clock``: the round's ``PhaseClock``.
    """
    r, loop = data.round, session.config.loop
    if data.teacher is None:
        raise SessionError(f"round {r} has no labels and the run has no teacher: nothing can train or pick")
    teacher_acc = teacher_test_accuracy(session, data)
    clock.lap("evaluate")
    batch = clock.lap("select", teacher_batch(session, data) if r < loop.rounds else Batch(r, (), {}))
    flags, thumbs = check_labels(session.out, session.dataset, session.store, [], None, batch.ids)
    fixed = session.config.train.default_alpha(loop.alpha), loop.beta
    result = RoundResult(round=r, num_labeled=len(data.labeled), mix=MixChoice(*fixed, "fixed"), selection_mix=SelectionMix(*fixed),
                         test=Accuracy(teacher=teacher_acc), training=Training(trained=False), num_picked=len(batch.ids),
                         seconds=clock.seconds, labels_sha256=data.labels_digest(), selection=SELECTION, likely_mistakes=flags,
                         pick_thumbnails=thumbs)
    session._record(r, result, batch, (None, None))
    log_round(result)
    return result


def teacher_test_accuracy(session, data) -> float | None:
    """The teacher's accuracy on the labeled test split (None without one): a round without a student reports only it."""
    ds = session.dataset
    test = ds.labeled_indices("test")
    if not len(test):
        return None
    return accuracy(data.teacher[torch.from_numpy(test)], torch.from_numpy(ds.labels[test]))


def teacher_batch(session, data) -> Batch:
    """``budget`` picks by teacher coverage of the unlabeled pool; a person sees the teacher's guess only."""
    ds, budget = session.dataset, session.config.loop.budget
    pool = data.unlabeled_pos
    if budget > len(pool):
        raise SessionError(f"budget {budget} is larger than the remaining pool ({len(pool)} images)")
    logits = data.teacher[pool]
    picks = teacher_coverage(logits.to(session.device), budget).cpu()
    ids = [ds.ids[i] for i in pool[picks].tolist()]
    kill_point("select")
    if session.oracle.source == "oracle":
        return Batch(data.round, tuple(ids), with_evidence(ids, None, logits[picks], {}))
    guesses = suggestions(ids, torch.softmax(logits[picks].double(), 1), logits[picks], ds.class_names)
    shown = {i: {"student": None, "teacher": g["teacher"]} for i, g in guesses.items()}
    return Batch(data.round, tuple(ids), with_evidence(ids, None, logits[picks], shown))
