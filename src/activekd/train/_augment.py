"""Batched, device-side augmentation: random resized crop and horizontal flip, as one affine map per image.

The crop is torchvision's ``RandomResizedCrop(scale=(0.5, 1), ratio=(3/4, 4/3))`` (``get_params``), as the reference
code (PCoreSet, DHO) trains with, on the square image: up to 10 tries of an area fraction ``a ~ U(scale)`` and a log
aspect ``log r ~ U(log ratio)``, relative width ``√(a·r)`` and height ``√(a/r)``; the first try whose crop fits
(both ≤ 1) is kept, at a position uniform inside the image; when none fits, torchvision's fallback, the centred
crop of the image's own aspect (1) clamped into ``ratio`` (the whole image for the default ratio). Then a horizontal
flip with probability 0.5. Sizes are continuous (torchvision rounds to whole pixels). A crop is the ``affine_grid``
map ``θ`` ``[2, 3]``: ``x_in = ±w · x_out + tx``, ``y_in = h · y_out + ty`` in the normalised ``[-1, 1]``
coordinates of the image.

The draws are vectorised: every crop takes the same :data:`_DRAWS` uniforms (10 areas, 10 log aspects, x, y,
flip), used or not, so a batch's crops are a pure function of the generator's state. Live crops draw from a
``torch.Generator``; fixed *views* (:func:`view_params`) are a pure function of (seed, dataset position, view
index), so a teacher can embed each view once and the trainer crop the same one.

The image is the dataset's square cache (the centre square of the file, ``activekd.imaging.square``); the
reference crops the whole decoded file, so on a non-square photo its crops also reach the two strips outside
the square (docs/presets.md).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

CROP_SCALE = (0.5, 1.0)
CROP_RATIO = (3 / 4, 4 / 3)
TRIES = 10  # torchvision's RandomResizedCrop.get_params
_DRAWS = 2 * TRIES + 3  # uniforms per crop: TRIES areas, TRIES log aspects, x, y, flip


def random_crop_flip(x: Tensor, generator: torch.Generator, *, scale: tuple[float, float] = CROP_SCALE,
                     ratio: tuple[float, float] = CROP_RATIO, flip: bool = True) -> Tensor:
    """Augment a float batch ``[B, C, H, W]`` with one ``grid_sample`` call (crops of :func:`crop_flip_params`,
    resized back to ``H × W``). Random numbers come from ``generator`` (CPU), so results do not depend on the device."""
    return apply_crop_flip(x, crop_flip_params(x.shape[0], generator, scale=scale, ratio=ratio, flip=flip))


def crop_flip_params(b: int, generator: torch.Generator, *, scale: tuple[float, float] = CROP_SCALE,
                     ratio: tuple[float, float] = CROP_RATIO, flip: bool = True) -> Tensor:
    """The affine maps ``[b, 2, 3]`` of ``b`` random crops (see the module docstring): drawn for a whole batch, so
    that processes sharing a batch can each apply their rows and draw exactly what one process would."""
    return theta_from_uniforms(torch.rand(b, _DRAWS, generator=generator, dtype=torch.float64), scale, ratio, flip)


def theta_from_uniforms(u: Tensor, scale: tuple[float, float], ratio: tuple[float, float], flip: bool) -> Tensor:
    """``[..., _DRAWS]`` uniforms in ``[0, 1)`` -> float32 affine maps ``[..., 2, 3]`` of RandomResizedCrop + flip."""
    u = u.double()
    area = scale[0] + (scale[1] - scale[0]) * u[..., :TRIES]
    lo, hi = math.log(ratio[0]), math.log(ratio[1])
    r = torch.exp(lo + (hi - lo) * u[..., TRIES:2 * TRIES])
    w_try, h_try = torch.sqrt(area * r), torch.sqrt(area / r)
    fits = (w_try <= 1.0) & (h_try <= 1.0)
    first = (~fits).long().cumprod(-1).sum(-1, keepdim=True)  # tries before the first fit (TRIES: none fits)
    pick = first.clamp(max=TRIES - 1)
    r_fall = min(max(1.0, ratio[0]), ratio[1])  # the square's aspect clamped into ratio, centred
    none = first.squeeze(-1) == TRIES
    w = torch.where(none, min(1.0, r_fall), w_try.gather(-1, pick).squeeze(-1))
    h = torch.where(none, min(1.0, 1.0 / r_fall), h_try.gather(-1, pick).squeeze(-1))
    x, y, f = u[..., 2 * TRIES], u[..., 2 * TRIES + 1], u[..., 2 * TRIES + 2]
    tx = torch.where(none, 0.0, (2 * x - 1) * (1 - w))
    ty = torch.where(none, 0.0, (2 * y - 1) * (1 - h))
    sx = torch.where((f < 0.5) & flip, -w, w)
    zero = torch.zeros_like(w)
    return torch.stack([torch.stack([sx, zero, tx], -1), torch.stack([zero, h, ty], -1)], -2).float()


def view_params(seed: int, positions: Tensor | np.ndarray, views: int, *, scale: tuple[float, float] = CROP_SCALE,
                ratio: tuple[float, float] = CROP_RATIO, flip: bool = True) -> Tensor:
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
