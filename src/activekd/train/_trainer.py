"""One round of student training: DHO (or a baseline) on labeled + unlabeled images.

A flat loop you can read in one sitting: AdamW, linear warm-up then linear decay, the labeled set
sampled with replacement to ``repeat × |labeled|`` samples in batches of ``batch_labeled``, each
paired with ``batch_unlabeled`` unlabeled images cycled in a seeded order. Teacher logits come
precomputed (one teacher pass per round, never per step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from activekd.device import autocast, channels_last
from activekd.errors import InputError
from activekd.heads import mix_heads
from activekd.progress import bar
from activekd.students import DualHeadStudent

from ._augment import random_crop_flip
from ._bank import ImageBank
from ._config import TrainConfig
from ._losses import DHOLoss


@dataclass
class TrainBatchSource:
    """What one round trains on, as dataset positions and precomputed teacher logits.

    Shapes: ``m`` labeled, ``u`` unlabeled, ``C`` classes. ``*_teacher`` may be None when
    ``TrainConfig.kd == "none"``.
    """

    labeled: Tensor  # [m] long positions
    labels: Tensor  # [m] long
    unlabeled: Tensor  # [u] long positions
    labeled_teacher: Tensor | None = None  # [m, C]
    unlabeled_teacher: Tensor | None = None  # [u, C]


def num_steps(num_labeled: int, cfg: TrainConfig) -> int:
    """Steps per round: ``ceil(repeat · m / batch_labeled)``."""
    return max(1, math.ceil(cfg.repeat * num_labeled / cfg.batch_labeled))


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup · total`` steps, then linear decay to 0."""
    w = int(warmup * total)
    if step < w:
        return (step + 1) / w
    return max(0.0, (total - step) / max(1, total - w))


def train_student(
    student: DualHeadStudent, bank: ImageBank, data: TrainBatchSource, cfg: TrainConfig, *,
    device: torch.device | str, generator: torch.Generator, progress: bool = True,
) -> list[float]:
    """Train ``student`` in place; returns the loss of every step.

    Randomness (labeled sampling, unlabeled order, augmentation) comes from ``generator`` only.
    """
    device = torch.device(device)
    m = int(data.labeled.numel())
    if m == 0:
        raise InputError("cannot train on an empty labeled set")
    if cfg.uses_teacher and (data.labeled_teacher is None or data.unlabeled_teacher is None):
        raise InputError(f"kd={cfg.kd!r} needs teacher logits for the labeled and unlabeled images")
    channels_last(student.to(device).train(), device)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = num_steps(m, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, cfg.warmup))
    loss_fn = DHOLoss(cfg.temperature)
    labels = data.labels.to(device)
    t_lab = data.labeled_teacher.to(device) if cfg.uses_teacher else None
    t_unl = data.unlabeled_teacher.to(device) if cfg.uses_teacher else None
    u = int(data.unlabeled.numel())
    if cfg.uses_teacher and u == 0:
        raise InputError("distillation needs unlabeled images; the pool is empty")
    order = torch.randperm(u, generator=generator) if u else None
    cursor = 0
    losses: list[float] = []

    def aug(x: Tensor) -> Tensor:
        x = x.float() / 255.0
        return random_crop_flip(x, generator) if cfg.augment else x

    for step in bar(range(total), desc="training", unit="step", enabled=progress):
        li = torch.randint(m, (cfg.batch_labeled,), generator=generator)
        x_l = aug(bank.get(data.labeled[li]))
        y = labels[li.to(device)]
        with autocast(device, cfg.bf16):
            if cfg.uses_teacher:
                take = torch.arange(cursor, cursor + cfg.batch_unlabeled) % u
                cursor = (cursor + cfg.batch_unlabeled) % u
                ui = order[take]
                x_u = aug(bank.get(data.unlabeled[ui]))
                ce, kd, _ = student(channels_last(torch.cat([x_l, x_u]), device))
                b = x_l.shape[0]
                if cfg.kd == "single-head":
                    kd = ce
                loss = loss_fn(ce[:b], y, kd[:b], t_lab[li.to(device)], kd[b:], t_unl[ui.to(device)])
            else:
                ce, _, _ = student(x_l)
                loss = F.cross_entropy(ce.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    student.eval()
    return losses


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
    bf16: bool = True, progress: bool = True, desc: str = "inference",
) -> Outputs:
    """Run the student (eval mode) over ``positions``; returns CPU float32 outputs."""
    device = torch.device(device)
    student.to(device).eval()
    ce, kd, feats = [], [], []
    for s in bar(range(0, int(positions.numel()), batch_size), desc=desc, unit="batch", enabled=progress):
        x = channels_last(bank.get(positions[s : s + batch_size]), device)
        with autocast(device, bf16):
            a, b, h = student(x)
        ce.append(a.float().cpu())
        kd.append(b.float().cpu())
        feats.append(h.float().cpu())
    c = student.num_classes
    if not ce:
        return Outputs(torch.empty(0, c), torch.empty(0, c), torch.empty(0, student.feature_dim))
    return Outputs(torch.cat(ce), torch.cat(kd), torch.cat(feats))
