"""Training configuration (DHO reference schedule)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from annotated_types import Interval

from activekd._fields import NonNegative, Positive, PositiveCount, check_fields
from activekd.errors import ConfigError

KD_MODES = ("dho", "single-head", "none")


@dataclass(frozen=True)
class TrainConfig:
    """How each round's student is trained (re-initialised every round)."""

    kd: str = field(default="dho", metadata={"help": "dho (two heads) | single-head (one head, CE + KD) | none (CE only: plain AL)"})
    temperature: Positive = field(default=2.0, metadata={"help": "distillation temperature T"})
    lr: Positive = field(default=1e-3, metadata={"help": "AdamW learning rate"})
    weight_decay: NonNegative = field(default=1e-2, metadata={"help": "AdamW weight decay"})
    warmup: Annotated[float, Interval(ge=0, lt=1)] = field(default=0.1, metadata={"help": "fraction of steps of linear warm-up (then linear decay)"})
    repeat: PositiveCount = field(default=200, metadata={"help": "steps per round: repeat × ⌈|labeled| / batch_labeled⌉, each drawing batch_labeled "
                                                       "labeled images with replacement (the references' count)"})
    batch_labeled: PositiveCount = field(default=64, metadata={"help": "labeled images per step"})
    batch_unlabeled: PositiveCount = field(default=64, metadata={"help": "unlabeled images per step (cycled)"})
    augment: bool = field(default=False, metadata={"help": "train on augmented views: a random resized crop (area 0.5-1, aspect 3/4-4/3) + horizontal flip of each image, on the device; with a VLM teacher and --views K, one of K fixed views whose teacher logits match the crop"})
    bf16: bool = field(default=True, metadata={"help": "bf16 autocast on CUDA (ignored on CPU)"})
    eval_batch_size: PositiveCount = field(default=1024, metadata={"help": "images per forward pass at inference"})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.kd not in KD_MODES:
            raise ConfigError(f"unknown kd mode {self.kd!r}; valid: {', '.join(KD_MODES)}")

    @property
    def uses_teacher(self) -> bool:
        return self.kd != "none"

    def default_alpha(self, alpha: float) -> float:
        """The head mix weight to predict with: the KD head exists only in ``dho`` mode."""
        return alpha if self.kd == "dho" else 0.0
