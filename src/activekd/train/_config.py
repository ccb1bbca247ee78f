"""Training configuration (DHO reference schedule)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from activekd.errors import ConfigError

KD_MODES = ("dho", "single-head", "none")


@dataclass(frozen=True)
class TrainConfig:
    """How each round's student is trained (re-initialised every round)."""

    kd: str = field(default="dho", metadata={"help": "dho (two heads) | single-head (one head, CE + KD) | none (CE only: plain AL)"})
    temperature: float = field(default=2.0, metadata={"help": "distillation temperature T"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    weight_decay: float = field(default=1e-2, metadata={"help": "AdamW weight decay"})
    warmup: float = field(default=0.1, metadata={"help": "fraction of steps of linear warm-up (then linear decay)"})
    repeat: int = field(default=200, metadata={"help": "steps per round: repeat × ⌈|labeled| / batch_labeled⌉, each drawing batch_labeled "
                                                       "labeled images with replacement (the references' count)"})
    batch_labeled: int = field(default=64, metadata={"help": "labeled images per step"})
    batch_unlabeled: int = field(default=64, metadata={"help": "unlabeled images per step (cycled)"})
    augment: bool = field(default=False, metadata={"help": "train on augmented views: a random resized crop (area 0.5-1, aspect 3/4-4/3) + horizontal flip of each image, on the device; with a VLM teacher and --views K, one of K fixed views whose teacher logits match the crop"})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast on CUDA (ignored on CPU)"})
    eval_batch_size: int = field(default=1024, metadata={"help": "images per forward pass at inference"})

    def __post_init__(self) -> None:
        if self.kd not in KD_MODES:
            raise ConfigError(f"unknown kd mode {self.kd!r}; valid: {', '.join(KD_MODES)}")
        for name in ("repeat", "batch_labeled", "batch_unlabeled", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"warmup must be in [0, 1), got {self.warmup}")
        for name in ("lr", "temperature"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{name} must be a finite number > 0, got {v}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be a finite number >= 0, got {self.weight_decay}")

    @property
    def uses_teacher(self) -> bool:
        return self.kd != "none"

    def default_alpha(self, alpha: float) -> float:
        """The head mix weight to predict with: the KD head exists only in ``dho`` mode."""
        return alpha if self.kd == "dho" else 0.0
