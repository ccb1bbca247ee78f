"""Batched, device-side augmentation: random resized crop and horizontal flip, as one affine map per image.

The crop follows torchvision's ``RandomResizedCrop(scale=(0.5, 1), ratio=(3/4, 4/3))`` as the reference
code (PCoreSet, DHO) trains with: area fraction ``a ~ U(scale)``, log aspect ``log r ~ U(log ratio)``,
relative width ``√(a·r)`` and height ``√(a/r)`` (each clipped to at most 1), a position uniform inside the
image, and a horizontal flip with probability 0.5. A crop is the ``affine_grid`` map ``θ`` ``[2, 3]``:
``x_in = ±w · x_out + tx``, ``y_in = h · y_out + ty`` in the normalised ``[-1, 1]`` coordinates of the image.

Live crops draw from a ``torch.Generator``; fixed *views* (:func:`view_params`) are a pure function of
(seed, dataset position, view index), so a teacher can embed each view once and the trainer crop the same one.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

SCALE = (0.5, 1.0)
RATIO = (3 / 4, 4 / 3)
_DRAWS = 5  # uniforms per crop: area, log aspect, x, y, flip


def random_crop_flip(x: Tensor, generator: torch.Generator, *, scale: tuple[float, float] = SCALE,
                     ratio: tuple[float, float] = RATIO, flip: bool = True) -> Tensor:
    """Augment a float batch ``[B, C, H, W]`` with one ``grid_sample`` call (crops of :func:`crop_flip_params`,
    resized back to ``H × W``). Random numbers come from ``generator`` (CPU), so results do not depend on the device."""
    return apply_crop_flip(x, crop_flip_params(x.shape[0], generator, scale=scale, ratio=ratio, flip=flip))


def crop_flip_params(b: int, generator: torch.Generator, *, scale: tuple[float, float] = SCALE,
                     ratio: tuple[float, float] = RATIO, flip: bool = True) -> Tensor:
    """The affine maps ``[b, 2, 3]`` of ``b`` random crops (see the module docstring): drawn for a whole batch, so
    that processes sharing a batch can each apply their rows and draw exactly what one process would."""
    return theta_from_uniforms(torch.rand(b, _DRAWS, generator=generator, dtype=torch.float64), scale, ratio, flip)


def theta_from_uniforms(u: Tensor, scale: tuple[float, float], ratio: tuple[float, float], flip: bool) -> Tensor:
    """``[..., 5]`` uniforms in ``[0, 1)`` -> float32 affine maps ``[..., 2, 3]`` of RandomResizedCrop + flip."""
    u = u.double()
    area = scale[0] + (scale[1] - scale[0]) * u[..., 0]
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    r = torch.exp(lo + (hi - lo) * u[..., 1])
    w = torch.sqrt(area * r).clamp(max=1.0)
    h = torch.sqrt(area / r).clamp(max=1.0)
    tx = (2 * u[..., 2] - 1) * (1 - w)
    ty = (2 * u[..., 3] - 1) * (1 - h)
    sx = torch.where((u[..., 4] < 0.5) & flip, -w, w)
    zero = torch.zeros_like(w)
    return torch.stack([torch.stack([sx, zero, tx], -1), torch.stack([zero, h, ty], -1)], -2).float()


def view_params(seed: int, positions: Tensor | np.ndarray, views: int, *, scale: tuple[float, float] = SCALE,
                ratio: tuple[float, float] = RATIO, flip: bool = True) -> Tensor:
    """The fixed views ``[n, views, 2, 3]`` of the images at dataset ``positions`` ``[n]``.

    View ``k`` of position ``p`` depends on ``(seed, p, k)`` only (a SplitMix64 hash gives its uniforms), not on
    which other positions are asked for, so every process and every round sees the same crops.
    """
    pos = np.asarray(positions, dtype=np.uint64).reshape(-1, 1, 1)
    k = np.arange(views, dtype=np.uint64).reshape(1, -1, 1)
    j = np.arange(_DRAWS, dtype=np.uint64).reshape(1, 1, -1)
    with np.errstate(over="ignore"):
        key = _splitmix64(np.array([seed % 2**64], dtype=np.uint64))
        bits = _splitmix64(_splitmix64(key + pos) ^ (k * np.uint64(_DRAWS) + j))
    u = torch.from_numpy((bits >> np.uint64(11)).astype(np.float64) * 2.0**-53)
    return theta_from_uniforms(u, scale, ratio, flip)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele et al. 2014) on uint64 arrays (wrapping arithmetic)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def apply_crop_flip(x: Tensor, theta: Tensor) -> Tensor:
    """Resample ``x`` ``[B, C, H, W]`` through the affine maps ``theta`` ``[B, 2, 3]``."""
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
