"""Batched, device-side augmentation: random resized crop (zoom in) with translation, and flip."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_crop_flip(x: Tensor, generator: torch.Generator, *, min_scale: float = 0.8, flip: bool = True) -> Tensor:
    """Augment a float batch ``[B, C, H, W]`` with one ``grid_sample`` call.

    Each image gets a crop of relative side ``s ~ U(min_scale, 1)`` at a uniform position inside
    the image, resized back to ``H × W``, and a horizontal flip with probability 0.5. Random numbers
    come from ``generator`` (CPU), so results do not depend on the device.
    """
    return apply_crop_flip(x, crop_flip_params(x.shape[0], generator, min_scale=min_scale, flip=flip))


def crop_flip_params(b: int, generator: torch.Generator, *, min_scale: float = 0.8, flip: bool = True) -> Tensor:
    """The affine maps ``[b, 2, 3]`` of :func:`random_crop_flip` for ``b`` images: drawn for a whole batch, so that
    processes sharing a batch can each apply their rows and draw exactly what one process would."""
    r = torch.rand(b, 4, generator=generator)
    s = min_scale + (1 - min_scale) * r[:, 0]
    tx = (2 * r[:, 1] - 1) * (1 - s)
    ty = (2 * r[:, 2] - 1) * (1 - s)
    sx = torch.where((r[:, 3] < 0.5) & flip, -s, s)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, tx, s, ty
    return theta


def apply_crop_flip(x: Tensor, theta: Tensor) -> Tensor:
    """Resample ``x`` ``[B, C, H, W]`` through the affine maps ``theta`` ``[B, 2, 3]``."""
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
