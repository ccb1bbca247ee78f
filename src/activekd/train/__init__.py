"""DHO losses, the per-round trainer, inference and evaluation."""

from activekd.schedule import lr_factor

from ._augment import CROP_RATIO, CROP_SCALE, apply_crop_flip, crop_flip_params, random_crop_flip, view_params
from ._bank import ImageBank
from ._config import KD_MODES, TrainConfig
from ._evaluate import Evaluation, LabeledSplit, accuracy, evaluate_extra_set, evaluate_student
from ._headmix import (
    ALPHAS,
    BETAS,
    MIX_GRID,
    MIX_SOURCES,
    VOTES_KEY,
    MixChoice,
    choose_from_picks,
    choose_mix,
    mix_votes,
    search_alpha_beta,
)
from ._losses import DHOLoss, kl_t
from ._trainer import (
    DrawDigest,
    Outputs,
    TrainBatchSource,
    ViewTargets,
    num_steps,
    predict,
    train_student,
)

__all__ = [
    "CROP_RATIO", "CROP_SCALE", "apply_crop_flip", "crop_flip_params", "random_crop_flip", "view_params", "ViewTargets", "ImageBank", "KD_MODES", "TrainConfig", "ALPHAS", "BETAS", "Evaluation", "LabeledSplit", "evaluate_extra_set", "evaluate_student", "accuracy", "search_alpha_beta",
    "MIX_GRID", "MIX_SOURCES", "VOTES_KEY", "MixChoice", "choose_from_picks", "choose_mix", "mix_votes",
    "DHOLoss", "kl_t", "DrawDigest", "Outputs", "TrainBatchSource", "lr_factor", "num_steps", "predict", "train_student",
]
