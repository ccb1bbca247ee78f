"""Where a round's heavy work runs: this process, or every process of a ``torchrun`` launch.

Rank 0 runs the session: the store, the lock, selection, every file. Ranks > 0 run :func:`serve_rank`, a
loop that receives rank 0's jobs — train this round's student, run this student over these images, embed
these images with the teacher's backbone — and does its share. A job is broadcast before rank 0 starts its own
share, so every rank makes the same collective calls in the same order; the first message is the run's
configuration, the last ``None``.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from activekd._faults import kill_point
from activekd.config import RunConfig
from activekd.data import Dataset
from activekd.device import resolve_device
from activekd.parallel import SOLO, ParallelError, ProcessGroup, join, leave, peers_alive
from activekd.students import DualHeadStudent, create_student
from activekd.teachers import TeacherConfig, create_backbone, crop_views, encode_images
from activekd.train import DrawDigest, ImageBank, Outputs, TrainBatchSource, TrainConfig, predict, train_student


log = logging.getLogger(__name__)

DRAW_DIGEST_ENV = "ACTIVEKD_DRAW_DIGEST"
"""A debug check: set to ``N``, every rank digests the global draws of each round's first ``N`` training steps
(:class:`~activekd.train.DrawDigest`) and the round's result keeps them, one per rank (``Training.draw_digests``)."""


def draw_digest_steps() -> int:
    """The steps :data:`DRAW_DIGEST_ENV` asks to digest (0: none)."""
    value = os.environ.get(DRAW_DIGEST_ENV, "0").strip()
    if not value.isdigit():
        raise ParallelError(f"{DRAW_DIGEST_ENV} must be a number of steps, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class StudentSpec:
    """How to build a round's fresh student: the same weights on every rank (DDP also broadcasts rank 0's)."""

    name: str
    num_classes: int
    pretrained: bool
    input_size: int | None
    seed: int
    tune: str = "full"
    require_pretrained: bool = False

    def build(self) -> DualHeadStudent:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            return create_student(self.name, self.num_classes, pretrained=self.pretrained, input_size=self.input_size,
                                  tune=self.tune, require_pretrained=self.require_pretrained)


@dataclass(frozen=True)
class TrainJob:
    student: StudentSpec
    source: TrainBatchSource
    cfg: TrainConfig
    seed: int  # of the generator every rank draws the batches from
    draw_steps: int = 0  # digest the draws of the first steps (DRAW_DIGEST_ENV)


@dataclass(frozen=True)
class PredictJob:
    positions: Tensor
    batch_size: int
    bf16: bool
    weights: tuple[StudentSpec, dict] | None  # the student to load, when the other ranks do not hold it already


@dataclass(frozen=True)
class EmbedJob:
    """Embed ``positions`` of the run's dataset with the run's teacher backbone (whose ``identity`` this is), whole images
    or the fixed view whose ``meta`` this is, in batches of ``batch_size``."""

    positions: np.ndarray
    batch_size: int
    workers: int
    identity: dict
    view: dict | None


class Compute:
    """Training and inference for a session, on one process or spread over a process group."""

    def __init__(self, group: ProcessGroup = SOLO) -> None:
        self.group = group
        self._held: DualHeadStudent | None = None  # the student every rank holds (the same weights)
        self._open = group.distributed  # the other ranks wait for messages
        self._student = ""  # the run's student name
        self._serving = False  # the other ranks have the run and serve jobs
        self.draw_steps = draw_digest_steps()  # read once, at the start of the command
        self.draw_digests: list[str] | None = None  # every rank's digest of the last training's draws, when asked

    def device(self, name: str) -> torch.device:
        """This rank's device for ``--device NAME``; refused when the group's backend cannot carry it."""
        device = self.group.device(resolve_device(name))
        if self.group.distributed and (device.type == "cuda") != (self.group.backend == "nccl"):
            raise ParallelError(f"this torchrun launch joined with {self.group.backend} but the run's device is {device}; "
                                "give the same --device to every process")
        return device

    def start(self, config: RunConfig) -> None:
        """Tell the other ranks which run this is (they load its dataset)."""
        self._student = config.student.name
        self.group.broadcast(config)
        self._serving = self._open

    def train(self, job: TrainJob, bank: ImageBank, device: torch.device, progress: bool) -> tuple[DualHeadStudent, list[float]]:
        if self.group.is_main:
            self.group.broadcast(job)
        student = job.student.build()
        draws = DrawDigest(job.draw_steps) if job.draw_steps else None
        with peers_alive(self.group):
            losses = train_student(student, bank, job.source, job.cfg, device=device, progress=progress,
                                   generator=torch.Generator().manual_seed(job.seed), group=self.group, draws=draws)
        self.draw_digests = None if draws is None else self.group.gather_objects(draws.hexdigest())
        self._held = student
        return student, losses

    def drawn(self) -> tuple[str, ...] | None:
        """The last training's draw digests, one per rank, when asked (:data:`DRAW_DIGEST_ENV`), else None."""
        return None if self.draw_digests is None else tuple(self.draw_digests)

    def predict(self, student: DualHeadStudent, bank: ImageBank, positions: Tensor, *, device: torch.device, batch_size: int,
                bf16: bool, progress: bool, desc: str) -> Outputs:
        """The student's outputs on ``positions`` (the signature of :func:`activekd.train.predict`, less the group).
        The other ranks get ``student``'s weights when they do not hold them already (a loaded checkpoint)."""
        if self.group.distributed and self.group.is_main:
            spec = StudentSpec(self._student, student.num_classes, False, student.input_size, 0)
            weights = None if student is self._held else (spec, {k: v.cpu() for k, v in student.state_dict().items()})
            self.group.broadcast(PredictJob(positions, batch_size, bf16, weights))
            self._held = student
        return predict(student, bank, positions, device=device, batch_size=batch_size, bf16=bf16, progress=progress, desc=desc,
                       group=self.group)

    def embed(self, model, images, positions: np.ndarray, *, batch_size: int, workers: int, device: torch.device,
              desc: str = "embedding images", view=None) -> Tensor:
        """:func:`activekd.teachers.encode_images` (an ``Encoder``), on every rank once they serve jobs and each gets a
        batch: each rank embeds its :meth:`~activekd.parallel.ProcessGroup.shard` of whole batches (the batches one
        process forms), rank 0 gets every row in order."""
        positions = np.asarray(positions, dtype=np.int64)
        if not (self._serving and -(-len(positions) // batch_size) >= self.group.world_size):
            return encode_images(model, images, positions, batch_size=batch_size, workers=workers, device=device, desc=desc,
                                 view=view)
        self.group.broadcast(EmbedJob(positions, batch_size, workers, model.identity, None if view is None else view.meta))
        return self.embed_share(model, images, positions, batch_size=batch_size, workers=workers, device=device, desc=desc,
                                view=view)

    def embed_share(self, model, images, positions: np.ndarray, *, batch_size: int, workers: int, device: torch.device,
                    desc: str, view) -> Tensor:
        """This rank's share of an embedding job, gathered: ``[len(positions), D]`` float32 on the CPU."""
        mine = positions[self.group.shard(len(positions), batch_size)]
        part = encode_images(model, images, mine, batch_size=batch_size, workers=workers, device=device, desc=desc, view=view,
                             progress=self.group.is_main)
        return self.group.gather_rows(part.to(device), len(positions), batch_size).cpu()

    def stop(self) -> None:
        """Release the other ranks (once); a dead rank is not waited for."""
        if self._open:
            self._open = self._serving = False
            try:
                self.group.broadcast(None)
            except ParallelError:
                pass


def serve_rank(compute: Compute) -> int:
    """A rank > 0: load the run's dataset, then do its share of every job until rank 0 sends ``None``."""
    from ._open import load_dataset

    config = compute.group.broadcast()
    if config is None:  # rank 0 stopped before opening the run (a bad input: it says why)
        return 0
    serve_jobs(compute, RankShare(load_dataset(config), compute.device(config.device), config.teacher, config.loop.seed))
    return 0


class RankShare:
    """What a rank > 0 holds to do its share of rank 0's jobs: the run's images on its device, and the teacher's
    backbone (built from the same spec and seed as rank 0's, on the first embedding job; its weights load then)."""

    def __init__(self, dataset: Dataset, device: torch.device, teacher: TeacherConfig, seed: int) -> None:
        self.dataset, self.device, self.teacher, self.seed = dataset, device, teacher, seed
        self.bank = ImageBank(dataset.images, device)
        self._backbone = None

    def embed(self, compute: Compute, job: EmbedJob) -> None:
        if self._backbone is None:
            self._backbone = create_backbone(self.teacher.spec, device=self.device, seed=self.seed)
        if self._backbone.identity != job.identity:
            raise ParallelError(f"this process built another teacher model than process 0 ({self._backbone.identity} vs "
                                f"{job.identity}); give every process the same teacher and cache")
        views = [v for v in crop_views(self.dataset.images, self.seed, self.teacher.views) if v.meta == job.view]
        if job.view is not None and not views:
            raise ParallelError(f"process 0 embeds a view this process does not know ({job.view})")
        compute.embed_share(self._backbone, self.dataset.images, job.positions, batch_size=job.batch_size, workers=job.workers,
                            device=self.device, desc="embedding images", view=views[0] if views else None)


def serve_jobs(compute: Compute, share: RankShare) -> None:
    """Do this rank's share of every job rank 0 broadcasts until it sends ``None``."""
    while (job := compute.group.broadcast()) is not None:
        if isinstance(job, TrainJob):
            kill_point("rank-train")
            compute.train(job, share.bank, share.device, progress=False)
        elif isinstance(job, EmbedJob):
            share.embed(compute, job)
        else:
            student = compute._held
            if job.weights is not None:
                student = job.weights[0].build()
                student.load_state_dict(job.weights[1])
            compute.predict(student, share.bank, job.positions, device=share.device, batch_size=job.batch_size, bf16=job.bf16,
                            progress=False, desc="inference")


@contextmanager
def launch(device_name: str):
    """The :class:`Compute` of this command: one process, or this rank of a ``torchrun`` launch (left at the end)."""
    group = join(resolve_device(device_name))
    compute = Compute(group)
    try:
        yield compute
    finally:
        if group.is_main:
            compute.stop()
        leave()
