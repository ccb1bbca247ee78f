"""The active-learning session: rounds of train → evaluate → select → label, resumable at any point.

Data flows one way: dataset → teacher logits (once per teacher fit) → per round: train a fresh
student → pool outputs → strategy → picked ids → oracle labels → store → next round. Every random
draw of round ``r`` is seeded from ``(seed, r, purpose)``, so a round redone after a kill makes the
same picks. Opening a session (``_open.py``) checks everything before the first write.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from activekd import __version__
from activekd._faults import kill_point
from activekd.config import RunConfig
from activekd.data import Dataset
from activekd.layout import RunLayout
from activekd.round_result import Agreement, ExtraSetResult, MixChoice, RoundResult, SelectionMix, Training
from activekd.select import SelectionInputs, select, strategy_info
from activekd.students import DualHeadStudent
from activekd.students.io import load_student, save_student, student_metadata
from activekd.train import (
    Evaluation,
    ImageBank,
    LabeledSplit,
    Outputs,
    TrainBatchSource,
    ViewTargets,
    evaluate_student,
)

from ._batch import Batch, suggestions
from ._mislabels import check_labels, standing_in, with_evidence
from ._mix import round_mix, with_votes
from ._compute import Compute, StudentSpec, TrainJob
from ._errors import SessionError
from ._lock import RunLock
from ._open import open_session, stored_config
from ._oracle import Oracle
from ._results import build_results, dataset_entry, write_results
from ._runlog import attach_run_log, detach_run_log, log_opened, log_round
from ._signals import agreement_positions, agreement_signals
from ._store import SessionStore
from ._teacher_logits import TeacherLogits
from ._zero_start import run_zero_label_round

log = logging.getLogger(__name__)


def round_seed(seed: int, r: int, purpose: int) -> int:
    """A seed for one purpose (0 init, 1 training, 2 selection) of round ``r``."""
    return int(np.random.SeedSequence([seed, r, purpose]).generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass(frozen=True)
class RoundData:
    """What round ``round`` trains on and picks from: positions are dataset rows."""

    round: int
    labeled: list[tuple[str, int]]  # (id, label) in the store's order
    labeled_pos: Tensor  # [m] long
    labels: Tensor  # [m] long
    unlabeled_pos: Tensor  # [u] long: pool images without a label
    teacher: Tensor | None  # [N, C] teacher logits by dataset row, None without a teacher
    views: ViewTargets | None = None  # the teacher's fixed views by dataset row (VLM teacher, --views, --augment)

    def labels_digest(self) -> str:
        """A short hash of the (id, label) pairs this round trains on: a correction changes it."""
        return hashlib.sha256("\n".join(f"{i}\t{y}" for i, y in sorted(self.labeled)).encode()).hexdigest()[:16]

    def train_source(self) -> TrainBatchSource:
        t, v = self.teacher, self.views
        return TrainBatchSource(self.labeled_pos, self.labels, self.unlabeled_pos,
                                None if t is None else t[self.labeled_pos], None if t is None else t[self.unlabeled_pos],
                                None if v is None else v.take(self.labeled_pos), None if v is None else v.take(self.unlabeled_pos))


class PhaseClock:
    """Seconds per phase of a round: ``lap(phase, value)`` books the time since the last lap and returns ``value``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, phase: str, value=None):
        now = time.perf_counter()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self._t, 3)
        self._t = now
        return value


@dataclass
class ActiveSession:
    """One run folder: its store (held under the run lock), dataset, teacher, oracle and the loop over rounds.

    Build with :meth:`open` (a new run or the same one) or :meth:`resume` (the stored configuration).
    """

    config: RunConfig
    out: Path
    dataset: Dataset
    teacher: TeacherLogits | None
    store: SessionStore
    device: torch.device
    oracle: Oracle
    lock: RunLock
    compute: Compute = field(default_factory=Compute)

    @classmethod
    def open(cls, config: RunConfig, out: str | Path, *, compute: Compute | None = None) -> "ActiveSession":
        """Open (or start) the run in ``out``; ``compute``: the process group of a ``torchrun`` launch (rank 0)."""
        return open_session(cls, config, Path(out), compute or Compute())

    @classmethod
    def resume(cls, out: str | Path, *, compute: Compute | None = None, **changes) -> "ActiveSession":
        """Open a run with its stored configuration; ``changes`` (``device=``, ``rounds=``, ``budget=``, ...) override it."""
        return cls.open(stored_config(Path(out), changes), out, compute=compute)

    def __post_init__(self) -> None:
        self.compute.start(self.config)
        self._log_handler = attach_run_log(self.out)
        log_opened(self.out, __version__, self.teacher.name if self.teacher else "none", self.device)

    def close(self) -> None:
        detach_run_log(self._log_handler)
        self.store.close()
        self.lock.release()

    def __enter__(self) -> "ActiveSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @functools.cached_property
    def bank(self) -> ImageBank:
        return ImageBank(self.dataset.images, self.device)

    # --- the loop -----------------------------------------------------------------------------
    def run(self, on_round: Callable[[RoundResult, bool], None] | None = None) -> dict:
        """Run (or resume) every remaining round; returns the results also written to results.json. ``on_round(result,
        resumed)`` sees each round, ``resumed`` true for those an earlier command recorded."""
        notify = on_round or (lambda result, resumed: None)
        for rec in self.store.rounds():
            notify(rec.result, True)
        restore_checkpoint(self)
        extend_last_round(self)
        pending = self.store.pending_round()
        if pending is not None:
            self.oracle.request(self.batch(pending.round))  # rebuilds a deleted or never-written batch
        else:
            for r in range(self.store.next_round(), self.config.loop.rounds + 1):
                notify(self.run_round(r), False)
                kill_point("between-rounds")
                if self.store.pending_round() is not None:
                    break
        return self.write_results()

    def run_round(self, r: int) -> RoundResult:
        """Train, evaluate, checkpoint and (before the last round) pick; one store transaction records it.

        A round with no label (round 0 of ``--shots 0``) trains nothing: see ``_zero_start``."""
        loop, clock = self.config.loop, PhaseClock()
        data = clock.lap("teacher", self.round_data(r))
        if not data.labeled:
            return run_zero_label_round(self, data, clock)
        student, losses = clock.lap("train", self.train(data))
        kill_point("train")
        ev, eval_on = evaluate_round(self, student, data)
        training = training_record(losses, self.compute)
        kill_point("evaluate")
        clock.lap("evaluate")
        ckpt = clock.lap("checkpoint", self.save_checkpoint(student, r, ev.mix) if loop.checkpoints or r == loop.rounds else (None, None))
        agreement, pool = pool_pass(self, student, data, ev.mix)
        clock.lap("inference")
        batch = clock.lap("select", pick_batch(self, student, data, ev.mix, ev.selection_mix, pool) if r < loop.rounds
                          else Batch(r, (), {}))
        teacher = None if data.teacher is None else data.teacher[data.labeled_pos]
        flags, thumbs = check_labels(self.out, self.dataset, self.store, data.labeled, teacher, batch.ids)
        result = RoundResult(round=r, num_labeled=len(data.labeled), mix=ev.mix, selection_mix=ev.selection_mix, test=ev.test,
                             per_class=ev.per_class, agreement=agreement, training=training, eval_on=eval_on, num_picked=len(batch.ids),
                             seconds=clock.seconds, labels_sha256=data.labels_digest(), likely_mistakes=flags, pick_thumbnails=thumbs)
        self._record(r, result, dataclasses.replace(batch, review=flags), ckpt)
        log_round(result)
        return result

    def train(self, data: RoundData) -> tuple[DualHeadStudent, list[float]]:
        """A fresh student (seeded by the round) trained on ``data``; returns it and the loss of every step."""
        cfg, seed = self.config, self.config.loop.seed
        spec = StudentSpec(cfg.student.name, self.dataset.num_classes, cfg.student.pretrained, cfg.student.input_size,
                           round_seed(seed, data.round, 0), cfg.student.tune, cfg.student.require_pretrained)
        job = TrainJob(spec, data.train_source(), cfg.train, round_seed(seed, data.round, 1), self.compute.draw_steps)
        return self.compute.train(job, self.bank, self.device, cfg.progress)

    def round_data(self, r: int) -> RoundData:
        ds = self.dataset
        labeled = self.store.labels(up_to_round=r)
        lab_pos = torch.from_numpy(ds.index_of([i for i, _ in labeled]))
        unl_pos = torch.from_numpy(np.setdiff1d(ds.split_indices("pool"), lab_pos.numpy()))
        table = self.teacher.table(labeled) if self.teacher is not None else None
        views = self.teacher.views(labeled) if self.teacher is not None and self.config.train.augment else None
        return RoundData(r, labeled, lab_pos, torch.tensor([y for _, y in labeled], dtype=torch.long), unl_pos, table, views)

    def _record(self, r: int, result: RoundResult, batch: Batch, ckpt: tuple[str | None, str | None]) -> None:
        now = self.oracle.answers_now(batch) if batch.ids else []
        status = "done" if now is not None else "awaiting-labels"
        self.store.finish_round(r, metrics=result.to_dict(), picks=batch.ids, new_labels=now or [], source=self.oracle.source,
                                checkpoint=ckpt[0], checkpoint_sha256=ckpt[1], status=status, suggestions=batch.suggestions)
        if now is None:
            self.oracle.request(batch)
            log.debug("round %d: %d images to label (%s)", r, len(batch.ids), self.oracle.describe(batch))

    def predict(self, student, positions: Tensor, desc: str) -> Outputs:
        """The student's outputs for selection, suggestions and agreement: always fp32, whatever ``--bf16`` says for
        training and evaluation (bf16 outputs move 10-20% of PCoreSet's picks on a GPU)."""
        return self.compute.predict(student, self.bank, positions, device=self.device, batch_size=self.config.train.eval_batch_size,
                                    bf16=False, progress=self.config.progress, desc=desc)

    def save_checkpoint(self, student, r: int, mix: MixChoice) -> tuple[str, str]:
        rel = RunLayout.checkpoint_name(r)
        meta = student_metadata(self.config.student.name, self.dataset.class_names, mix.alpha, mix.beta, student.input_size,
                                _mix_note(mix))
        digest = save_student(self.out / rel, student, meta)
        kill_point("checkpoint-write")
        return rel, digest

    def batch(self, r: int) -> Batch:
        """Round ``r``'s picks and suggestions, as recorded."""
        rec = self.store.round(r)
        return Batch(r, tuple(rec.picks), rec.suggestions, tuple(standing_in(self.store, rec.result)))

    # --- results and labels -------------------------------------------------------------------
    def write_results(self) -> dict:
        teacher = None if self.teacher is None else self.teacher.name
        res = build_results(self.store, self.config.to_dict(), dataset_entry(self.dataset), teacher, self.config.loop.rounds)
        return write_results(self.out, res)

    def add_labels(self, answers, *, relabel: bool = False, origin: str = "python"):
        """Apply a person's answers: ``[(id, class name or index), ...]``, a label file's path, or :class:`Answer` rows."""
        from ._labeling import add_labels

        return add_labels(self, answers, relabel=relabel, origin=origin)



def evaluate_round(session: ActiveSession, student, data: RoundData) -> tuple[Evaluation, dict[str, ExtraSetResult] | None]:
    """The figures of a round's student on the labeled val/test splits (α, β searched on val when asked), and on the
    ``--eval-on`` sets (``{spec: ExtraSetResult}``, see ``_extra_eval``; None without any)."""
    from ._extra_eval import evaluate_extra_sets

    ds, loop = session.dataset, session.config.loop

    def split(name: str) -> LabeledSplit:
        pos = ds.labeled_indices(name)
        return LabeledSplit(torch.from_numpy(pos), torch.from_numpy(ds.labels[pos]))

    test = split("test")
    teacher_test = None if data.teacher is None else data.teacher[test.positions]
    mix = round_mix(session.store, data.round, loop, ds.num_classes)
    ev = evaluate_student(student, session.bank, session.config.train, val=split("val"), test=test, teacher_test=teacher_test,
                          mix=mix, search=loop.search_alpha_beta, select_mix=(loop.alpha, loop.beta), device=session.device,
                          progress=session.config.progress, predict_fn=session.compute.predict)
    eval_on = evaluate_extra_sets(session, student, ev.mix.alpha, ev.mix.beta) if session.config.data.eval_on else None
    return ev, eval_on


def pool_pass(session: ActiveSession, student, data: RoundData, mix: MixChoice) -> tuple[Agreement, Outputs | None]:
    """The student (with the round's ``mix``) on the unlabeled pool: the agreement signals, and the outputs when the
    strategy reads them. A strategy that reads none (``random``) gets the signals from a fixed pool sample only."""
    loop = session.config.loop
    full = strategy_info(loop.strategy).needs.outputs
    pos = data.unlabeled_pos if full else agreement_positions(data.unlabeled_pos, session.dataset.split_indices("pool"), loop.seed)
    pool = session.predict(student, pos, "pool inference")
    t_pool = None if data.teacher is None else data.teacher[pos]
    agreement = agreement_signals(session.out, data.round, pos, pool.probs(mix.alpha, mix.beta), t_pool)
    return agreement, pool if full else None


def pick_batch(session: ActiveSession, student, data: RoundData, mix: MixChoice, selection: SelectionMix,
               pool: Outputs | None = None) -> Batch:
    """Round ``data.round``'s picks from the unlabeled pool, with suggestions when a person will label them.

    ``mix``: the round's (its suggestions'); ``selection``: the strategy's (``--alpha``/``--beta`` when a round recorded
    none); ``pool``: the student's outputs on ``data.unlabeled_pos`` when already computed.
    """
    cfg, ds = session.config, session.dataset
    budget = cfg.loop.budget
    if budget > len(data.unlabeled_pos):
        raise SessionError(f"budget {budget} is larger than the remaining pool ({len(data.unlabeled_pos)} images)")
    outputs = strategy_info(cfg.loop.strategy).needs.outputs
    if pool is None:
        pool = session.predict(student, data.unlabeled_pos, "pool inference") if outputs else _zeros(len(data.unlabeled_pos), student)
    po = pool
    lo = session.predict(student, data.labeled_pos, "labeled inference") if outputs else _zeros(len(data.labeled_pos), student)
    t_pool = None if data.teacher is None else data.teacher[data.unlabeled_pos]
    inputs = SelectionInputs(
        pool_ids=[ds.ids[i] for i in data.unlabeled_pos.tolist()], pool_ce=po.ce, pool_kd=po.kd, pool_features=po.features,
        labeled_ids=[i for i, _ in data.labeled], labeled_ce=lo.ce, labeled_kd=lo.kd, labeled_features=lo.features,
        labeled_labels=data.labels, alpha=_or(selection.alpha, cfg.loop.alpha), beta=_or(selection.beta, cfg.loop.beta),
        pool_teacher=t_pool)
    ids = select(cfg.loop.strategy, inputs, budget, generator=torch.Generator().manual_seed(round_seed(cfg.loop.seed, data.round, 2)),
                 device=session.device)
    kill_point("select")
    pos = torch.from_numpy(ds.index_of(ids))
    picked = session.predict(student, pos, "picks")
    probs, t_picked = picked.probs(mix.alpha, mix.beta), None if data.teacher is None else data.teacher[pos]
    guesses = {} if session.oracle.source == "oracle" else suggestions(ids, probs, t_picked, ds.class_names)
    guesses = with_evidence(ids, probs, t_picked, guesses)  # the label check's out-of-sample evidence (_mislabels)
    return Batch(data.round, tuple(ids), with_votes(ids, picked, guesses) if cfg.train.kd == "dho" else guesses)


def _or(x, default):
    return default if x is None else x


def _mix_note(mix: MixChoice) -> str:
    """Where the round's α, β came from, for the checkpoint's metadata: ``picks (40 labels)``, ``val (500 labels)``, ``prior``..."""
    n = mix.counted()
    return f"{mix.source} ({n} labels)" if n is not None else mix.source or ""


def training_record(losses: list[float], compute: Compute) -> Training:
    """How a round trained: the mean loss of its last 20 steps, its steps, the loss curve, processes and draw digests."""
    return Training(float(np.mean(losses[-20:])), len(losses), tuple(loss_curve(losses)), compute.group.world_size, compute.drawn())


def loss_curve(losses: list[float], points: int = 20) -> list[float]:
    """The training loss as at most ``points`` means of consecutive, equal-as-possible chunks of steps."""
    chunks = np.array_split(np.asarray(losses, dtype=np.float64), min(points, len(losses)))
    return [round(float(c.mean()), 5) for c in chunks]


def _zeros(n: int, student) -> Outputs:
    c, d = student.num_classes, student.feature_dim
    return Outputs(torch.zeros(n, c), torch.zeros(n, c), torch.zeros(n, d))


def extend_last_round(session) -> None:
    """Give the old last round of an extended run its picks, from that round's checkpoint (same seeds as an unbroken run)."""
    store = session.store
    last = store.round(store.next_round() - 1) if store.next_round() else None
    if last is None or last.picks or last.status != "done" or last.round >= session.config.loop.rounds:
        return
    if not last.checkpoint or not (session.out / last.checkpoint).is_file():
        raise SessionError(f"round {last.round}'s checkpoint is missing; cannot extend {session.out}")
    student, _ = load_student(session.out / last.checkpoint)
    data = session.round_data(last.round)
    batch = pick_batch(session, student, data, last.result.mix, last.result.selection_mix)
    now = session.oracle.answers_now(batch)
    store.add_picks(last.round, batch.ids, now or [], source=session.oracle.source,
                    status="done" if now is not None else "awaiting-labels", suggestions=batch.suggestions)
    if now is None:
        session.oracle.request(batch)


def restore_checkpoint(session: ActiveSession) -> None:
    """The last finished round's checkpoint, retrained (same seeds, the stored labels) when its file is missing."""
    last = next((x for x in reversed(session.store.rounds()) if x.checkpoint), None)
    if last is None or (session.out / last.checkpoint).is_file():
        return
    log.warning("round %d's checkpoint %s is missing: retraining it from the store", last.round, last.checkpoint)
    student, _ = session.train(session.round_data(last.round))
    rel, digest = session.save_checkpoint(student, last.round, last.result.mix)
    session.store.set_checkpoint(last.round, rel, digest)
