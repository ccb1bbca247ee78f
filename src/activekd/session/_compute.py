"""Where a round's heavy work runs: this process, or every process of a ``torchrun`` launch.

Rank 0 runs the session: the store, the lock, selection, every file. Ranks > 0 run :func:`serve_rank`, a
loop that receives rank 0's jobs — train this round's student, run this student over these images — and
does its share. A job is broadcast before rank 0 starts its own share, so every rank makes the same
collective calls in the same order; the first message is the run's configuration, the last ``None``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from activekd._faults import kill_point
from activekd.config import RunConfig
from activekd.device import resolve_device
from activekd.parallel import SOLO, ParallelError, ProcessGroup, join, leave, peers_alive
from activekd.students import DualHeadStudent, create_student
from activekd.train import ImageBank, Outputs, TrainBatchSource, TrainConfig, predict, train_student


log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class PredictJob:
    positions: Tensor
    batch_size: int
    bf16: bool
    weights: tuple[StudentSpec, dict] | None  # the student to load, when the other ranks do not hold it already


class Compute:
    """Training and inference for a session, on one process or spread over a process group."""

    def __init__(self, group: ProcessGroup = SOLO) -> None:
        self.group = group
        self._held: DualHeadStudent | None = None  # the student every rank holds (the same weights)
        self._open = group.distributed  # the other ranks wait for messages
        self._student = ""  # the run's student name

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

    def train(self, job: TrainJob, bank: ImageBank, device: torch.device, progress: bool) -> tuple[DualHeadStudent, list[float]]:
        if self.group.is_main:
            self.group.broadcast(job)
        student = job.student.build()
        with peers_alive(self.group):
            losses = train_student(student, bank, job.source, job.cfg, device=device, progress=progress,
                                   generator=torch.Generator().manual_seed(job.seed), group=self.group)
        self._held = student
        return student, losses

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

    def stop(self) -> None:
        """Release the other ranks (once); a dead rank is not waited for."""
        if self._open:
            self._open = False
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
    device = compute.device(config.device)
    bank = ImageBank(load_dataset(config).images, device)
    while (job := compute.group.broadcast()) is not None:
        if isinstance(job, TrainJob):
            kill_point("rank-train")
            compute.train(job, bank, device, progress=False)
        else:
            student = compute._held
            if job.weights is not None:
                student = job.weights[0].build()
                student.load_state_dict(job.weights[1])
            compute.predict(student, bank, job.positions, device=device, batch_size=job.batch_size, bf16=job.bf16,
                            progress=False, desc="inference")
    return 0


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
