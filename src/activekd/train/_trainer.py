"""One round of student training: DHO (or a baseline) on labeled + unlabeled images.

A flat loop you can read in one sitting: AdamW, linear warm-up then linear decay, ``repeat ·
⌈|labeled| / batch_labeled⌉`` steps (the reference's count: its loader pads the labeled set to a multiple
of the batch, then draws ``repeat`` times that many samples with replacement), each of
``batch_labeled`` labeled images drawn uniformly with replacement and ``batch_unlabeled`` unlabeled
images cycled in a seeded order. Teacher logits come
precomputed (one teacher pass per round, never per step).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from activekd.device import autocast, channels_last, inference_batch
from activekd.errors import InputError
from activekd.heads import mix_heads
from activekd.parallel import SOLO, ProcessGroup
from activekd.progress import bar
from activekd.schedule import lr_factor

from ._augment import apply_crop_flip, crop_flip_params
from ._bank import ImageBank
from ._config import TrainConfig
from ._losses import DHOLoss

if TYPE_CHECKING:
    from activekd.students import DualHeadStudent


@dataclass(frozen=True)
class ViewTargets:
    """``K`` fixed augmented views of ``n`` images and the teacher's logits on each view (CPU tensors).

    ``theta``: ``[n, K, 2, 3]`` crop + flip maps (``_augment.view_params``); ``logits``: ``[n, K, C]``.
    """

    theta: Tensor
    logits: Tensor

    def __post_init__(self) -> None:
        t, z = self.theta, self.logits
        if t.ndim != 4 or t.shape[2:] != (2, 3) or z.ndim != 3 or z.shape[:2] != t.shape[:2] or t.shape[1] < 1:
            raise InputError(f"views need theta [n, K, 2, 3] and logits [n, K, C], got {tuple(t.shape)} and {tuple(z.shape)}")

    @property
    def count(self) -> int:
        return int(self.theta.shape[1])

    def take(self, rows: Tensor) -> ViewTargets:
        """The views of ``rows`` ``[r]`` (indices into the first dimension)."""
        return ViewTargets(self.theta[rows], self.logits[rows])


@dataclass
class TrainBatchSource:
    """What one round trains on, as dataset positions and precomputed teacher logits.

    Shapes: ``m`` labeled, ``u`` unlabeled, ``C`` classes. ``*_teacher`` may be None when
    ``TrainConfig.kd == "none"``. ``*_views`` (optional, used when ``TrainConfig.augment``): fixed views whose
    teacher logits are known; each sample then trains on a view drawn uniformly and that view's logits, instead
    of a live crop and the whole-image logits.
    """

    labeled: Tensor  # [m] long positions
    labels: Tensor  # [m] long
    unlabeled: Tensor  # [u] long positions
    labeled_teacher: Tensor | None = None  # [m, C]
    unlabeled_teacher: Tensor | None = None  # [u, C]
    labeled_views: ViewTargets | None = None  # n = m
    unlabeled_views: ViewTargets | None = None  # n = u


def num_steps(num_labeled: int, cfg: TrainConfig) -> int:
    """Steps per round: ``repeat · ceil(m / batch_labeled)``, as the reference trains (200 steps for 10 labels, 400 for 110).

    erjui/PCoreSet pads the labeled set to a multiple of the batch (``build_data_loader(drop_last=True,
    duplicate_if_needed=True)``) and draws ``repeat`` times the padded size with replacement
    (``RandomSampler(replacement=True, num_samples=len · 200)``); erjui/DHO runs ``repeat`` shuffled epochs of
    ``⌈m / 64⌉`` batches (its loader neither pads nor drops: the last batch is short). ``batch_labeled`` is the
    global batch: a process group trains the same count.
    """
    return cfg.repeat * max(1, math.ceil(num_labeled / cfg.batch_labeled))


class DrawDigest:
    """A SHA-256 of a round's global draws over its first ``steps`` steps: the unlabeled order, then per step the labeled
    indices, their crops (or view indices), the unlabeled slice and its crops (or view indices), each as drawn for
    the whole batch. Equal draws give equal digests on every rank and for any number of processes; it only reads
    what the sampler drew (a debug check, ``ACTIVEKD_DRAW_DIGEST``)."""

    def __init__(self, steps: int) -> None:
        self.steps, self.taken = steps, 0
        self._hash = hashlib.sha256()

    def note(self, t: Tensor) -> None:
        if self.taken < self.steps:
            self._hash.update(f"{t.dtype}{tuple(t.shape)}".encode())
            self._hash.update(t.detach().cpu().contiguous().numpy().tobytes())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def train_student(
    student: DualHeadStudent, bank: ImageBank, data: TrainBatchSource, cfg: TrainConfig, *,
    device: torch.device | str, generator: torch.Generator, progress: bool = True, group: ProcessGroup = SOLO,
    draws: DrawDigest | None = None,
) -> list[float]:
    """Train ``student`` in place; returns the loss of every step.

    Randomness (labeled sampling, unlabeled order, augmentation) comes from ``generator`` only. In a process
    ``group`` every rank draws the same global batch from the same generator and trains on its share under
    DistributedDataParallel: the global batch, the number of steps and the draws equal one process's; the
    returned losses are the mean over ranks. ``draws``: fed what the first steps draw (changes nothing else).
    """
    device = torch.device(device)
    m = _check_source(data, cfg)
    sampler = _Sampler(data, cfg, generator, group, device, draws)
    model = _wrap(student, device, group, cfg)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = num_steps(m, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, cfg.warmup))
    loss_fn = DHOLoss(cfg.temperature)
    losses: list[Tensor] = []
    for _ in bar(range(total), desc="training", unit="step", enabled=progress):
        x_l, y, t_l, x_u, t_u = sampler.next(bank)
        with autocast(device, cfg.bf16):
            if cfg.uses_teacher:
                ce, kd, _ = model(channels_last(torch.cat([x_l, x_u]), device))
                b = x_l.shape[0]
                kd = ce if cfg.kd == "single-head" else kd
                loss = loss_fn(ce[:b], y, kd[:b], t_l, kd[b:], t_u)
            else:
                ce, _, _ = model(channels_last(x_l, device))
                loss = F.cross_entropy(ce.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.detach())
    student.eval()
    return group.mean(torch.stack(losses).float()).tolist()


def _check_source(data: TrainBatchSource, cfg: TrainConfig) -> int:
    """Refuse a source the round cannot train on; returns the labeled count ``m``."""
    m = int(data.labeled.numel())
    if m == 0:
        raise InputError("cannot train on an empty labeled set")
    if cfg.uses_teacher and (data.labeled_teacher is None or data.unlabeled_teacher is None):
        raise InputError(f"kd={cfg.kd!r} needs teacher logits for the labeled and unlabeled images")
    if cfg.uses_teacher and int(data.unlabeled.numel()) == 0:
        raise InputError("distillation needs unlabeled images; the pool is empty")
    for views, n, what in ((data.labeled_views, m, "labeled"), (data.unlabeled_views, int(data.unlabeled.numel()), "unlabeled")):
        if views is not None and views.theta.shape[0] != n:
            raise InputError(f"{what} views cover {views.theta.shape[0]} images, the {what} set has {n}")
    return m


def _wrap(student: DualHeadStudent, device: torch.device, group: ProcessGroup, cfg: TrainConfig) -> torch.nn.Module:
    """The student on ``device`` in training mode; under DistributedDataParallel in a process group (batch-norm
    statistics stay per process, as DDP leaves them)."""
    channels_last(student.to(device).train(), device)
    if not group.distributed:
        return student
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None  # the KD head is unused without DHO: let DDP skip it
    return DistributedDataParallel(student, device_ids=ids, find_unused_parameters=cfg.kd != "dho")


class _Sampler:
    """Every step's batch, drawn in the order one process always draws it: the unlabeled order once, then per step
    the labeled indices (with replacement), their crops (or view indices), the next unlabeled slice and its crops
    (or view indices). A rank keeps its share of each draw."""

    def __init__(self, data: TrainBatchSource, cfg: TrainConfig, generator: torch.Generator, group: ProcessGroup,
                 device: torch.device, draws: DrawDigest | None = None) -> None:
        self.data, self.cfg, self.gen, self.device, self.draws = data, cfg, generator, device, draws
        self.mine_l = group.even_share(cfg.batch_labeled, "--batch-labeled")
        self.mine_u = group.even_share(cfg.batch_unlabeled, "--batch-unlabeled") if cfg.uses_teacher else None
        self.labels = data.labels.to(device)
        self.t_lab = data.labeled_teacher.to(device) if cfg.uses_teacher else None
        self.t_unl = data.unlabeled_teacher.to(device) if cfg.uses_teacher else None
        self.u = int(data.unlabeled.numel())
        self.order = torch.randperm(self.u, generator=generator) if self.u else None
        self.cursor = 0
        self._note(self.order)

    def _note(self, *drawn: Tensor | None) -> None:
        if self.draws is not None:
            for t in drawn:
                if t is not None:
                    self.draws.note(t)

    def _draw(self, bank: ImageBank, positions: Tensor, rows: Tensor, mine: slice, table: Tensor | None,
              views: ViewTargets | None) -> tuple[Tensor, Tensor | None]:
        """This rank's images and teacher targets for the global batch ``rows`` (indices into ``positions``)."""
        views = views if self.cfg.augment else None
        v = torch.randint(views.count, (rows.numel(),), generator=self.gen) if views is not None else None
        if v is not None:
            theta = views.theta[rows, v]
        else:
            theta = crop_flip_params(rows.numel(), self.gen) if self.cfg.augment else None
        self._note(rows, theta if v is None else v)
        x = bank.get(positions[rows[mine]]).float() / 255.0
        x = x if theta is None else apply_crop_flip(x, theta[mine])
        if table is None:
            return x, None
        if v is None:
            return x, table[rows[mine].to(self.device)]
        return x, views.logits[rows[mine], v[mine]].to(self.device)

    def next(self, bank: ImageBank) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """``(x_l, y, t_l, x_u, t_u)`` of this rank's share of the next step (the last three None without a teacher)."""
        cfg, d = self.cfg, self.data
        li = torch.randint(int(d.labeled.numel()), (cfg.batch_labeled,), generator=self.gen)
        x_l, t_l = self._draw(bank, d.labeled, li, self.mine_l, self.t_lab, d.labeled_views)
        y = self.labels[li[self.mine_l].to(self.device)]
        if not cfg.uses_teacher:
            self._step_done()
            return x_l, y, None, None, None
        take = torch.arange(self.cursor, self.cursor + cfg.batch_unlabeled) % self.u
        self.cursor = (self.cursor + cfg.batch_unlabeled) % self.u
        x_u, t_u = self._draw(bank, d.unlabeled, self.order[take], self.mine_u, self.t_unl, d.unlabeled_views)
        self._step_done()
        return x_l, y, t_l, x_u, t_u

    def _step_done(self) -> None:
        if self.draws is not None:
            self.draws.taken += 1


@dataclass
class Outputs:
    """A student's outputs on some images (CPU float32): ``ce``/``kd`` ``[n, C]``, ``features`` ``[n, d]``."""

    ce: Tensor
    kd: Tensor
    features: Tensor

    def probs(self, alpha: float, beta: float) -> Tensor:
        return mix_heads(self.ce, self.kd, alpha, beta)


@torch.inference_mode()
def predict(
    student: DualHeadStudent, bank: ImageBank, positions: Tensor, *, device: torch.device | str, batch_size: int = 1024,
    bf16: bool = True, progress: bool = True, desc: str = "inference", group: ProcessGroup = SOLO,
) -> Outputs:
    """Run the student (eval mode) over ``positions``; returns CPU float32 outputs.

    In a process ``group`` each rank runs its :meth:`~activekd.parallel.ProcessGroup.shard` of ``positions`` and
    every rank gets all outputs, in ``positions`` order. On a CPU, batches are cut to
    :data:`~activekd.device.CPU_INFERENCE_BATCH` images (faster there).
    """
    device = torch.device(device)
    batch_size = inference_batch(device, batch_size)
    student.to(device).eval()
    n = int(positions.numel())
    mine = positions[group.shard(n)]
    ce, kd, feats = [], [], []
    for s in bar(range(0, int(mine.numel()), batch_size), desc=desc, unit="batch", enabled=progress):
        x = channels_last(bank.get(mine[s : s + batch_size]), device)
        with autocast(device, bf16):
            a, b, h = student(x)
        ce.append(a.float().cpu())
        kd.append(b.float().cpu())
        feats.append(h.float().cpu())
    c, d = student.num_classes, student.feature_dim
    parts = [torch.cat(t) if t else torch.empty(0, w) for t, w in ((ce, c), (kd, c), (feats, d))]
    if group.distributed:  # NCCL gathers device tensors
        parts = [group.gather_rows(t.to(device), n).cpu() for t in parts]
    return Outputs(*parts)
