"""DHO losses, the per-round trainer, inference and evaluation."""

from ._augment import random_crop_flip
from ._bank import ImageBank
from ._config import KD_MODES, TrainConfig
from ._evaluate import (
    ALPHAS,
    BETAS,
    LabeledSplit,
    accuracy,
    evaluate_extra_set,
    evaluate_student,
    search_alpha_beta,
)
from ._losses import DHOLoss, kl_t
from ._trainer import (
    Outputs,
    TrainBatchSource,
    lr_factor,
    num_steps,
    predict,
    train_student,
)

__all__ = [
    "random_crop_flip", "ImageBank", "KD_MODES", "TrainConfig", "ALPHAS", "BETAS", "LabeledSplit", "evaluate_extra_set", "evaluate_student", "accuracy", "search_alpha_beta",
    "DHOLoss", "kl_t", "Outputs", "TrainBatchSource", "lr_factor", "num_steps", "predict", "train_student",
]
