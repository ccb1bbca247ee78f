"""The dual-head student of DHO (Kang et al. 2025, arXiv 2505.07675).

One backbone, two linear heads on its pooled features: a CE head trained on human labels and a KD
head trained to match the teacher. The student owns its input pipeline: it takes uint8 images
``[B, C, H, W]`` at any size and channel count, scales to ``[0, 1]``, adapts channels, resizes to
its input size and normalises.

Two ways to tune it (``TUNES``): ``full`` trains everything; ``linear`` is a linear probe, the
backbone frozen (no gradients, always in eval mode, so its batch-norm statistics and dropout stay
fixed) and only the two heads trained.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from activekd.errors import StudentError

TUNES = ("full", "linear")


def check_tune(tune: str) -> str:
    """``tune`` if it is one of ``TUNES``, else a :class:`StudentError` listing them."""
    if tune not in TUNES:
        raise StudentError(f"unknown tune {tune!r}; valid: {', '.join(TUNES)}")
    return tune


def _recording() -> bool:
    """True while ``torch.export`` or ``torch.jit.trace`` records a graph.

    Then ``prepare`` always resizes (the identity at ``S×S``) instead of testing the input's size,
    so an exported graph takes any ``H, W`` (see ``activekd.export``).
    """
    return torch.compiler.is_exporting() or torch.jit.is_tracing()


class DualHeadStudent(nn.Module):
    """``forward(images) -> (ce_logits [B, C], kd_logits [B, C], features [B, d])``.

    Args:
        backbone: maps a normalised ``[B, in_chans, S, S]`` batch to pooled features ``[B, d]``.
        feature_dim: ``d``.
        num_classes: ``C``.
        input_size: ``S``, the side the backbone expects.
        in_chans: channels the backbone expects (1 or 3).
        mean, std: per-channel normalisation (length ``in_chans``).
    """

    def __init__(
        self, backbone: nn.Module, feature_dim: int, num_classes: int, *, input_size: int, in_chans: int = 3,
        mean: tuple[float, ...] = (0.485, 0.456, 0.406), std: tuple[float, ...] = (0.229, 0.224, 0.225),
    ) -> None:
        super().__init__()
        if len(mean) != in_chans or len(std) != in_chans:
            raise StudentError("mean and std need one value per input channel")
        self.backbone = backbone
        self.ce_head = nn.Linear(feature_dim, num_classes)
        self.kd_head = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.input_size = input_size
        self.in_chans = in_chans
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self.tune = "full"

    def set_tune(self, tune: str) -> DualHeadStudent:
        """``full``: every parameter trains; ``linear``: the backbone is frozen (``requires_grad`` off, kept in
        eval mode by :meth:`train`) and only ``ce_head`` and ``kd_head`` train. Returns ``self``."""
        self.tune = check_tune(tune)
        self.backbone.requires_grad_(tune == "full")
        return self.train(self.training)

    def train(self, mode: bool = True) -> DualHeadStudent:
        super().train(mode)
        if self.tune == "linear":
            self.backbone.eval()
        return self

    def prepare(self, images: Tensor) -> Tensor:
        """uint8 (or float in [0, 1]) ``[B, c, H, W]`` -> normalised float ``[B, in_chans, S, S]``."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        c = x.shape[1]
        if c != self.in_chans:
            if c == 1:
                x = x.expand(-1, self.in_chans, -1, -1)
            elif self.in_chans == 1:
                x = x.mean(dim=1, keepdim=True)
            else:
                raise StudentError(f"cannot feed {c}-channel images to a {self.in_chans}-channel student")
        if _recording() or x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = self.backbone(self.prepare(images))
        return self.ce_head(h), self.kd_head(h), h
