"""Turning what a user hands the predictor into uint8 RGB batches (numpy + PIL; no torch).

Each image becomes RGB, its shorter side is resized to the model's input size ``S`` (bilinear)
and its centre square cropped, exactly as the file-backed training loader stores images
(``activekd.imaging.square``), so a batch stacks to uint8 ``[B, 3, S, S]``. The model's graph
then does the student's own conversion, resizing and normalisation.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from activekd.errors import ActiveKDError
from activekd.imaging import square  # noqa: F401 - the one crop, shared with the training loader

ImageLike = str | os.PathLike | Image.Image | np.ndarray


class UnreadableImageError(ActiveKDError):
    """An image file that does not exist or cannot be decoded; the message names its path.

    ``path`` and ``reason`` (a few words: ``no such file``, ``empty file``, ``not an image PIL can
    read``, ``truncated file``) are kept apart for reports that name many images in one line.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"unreadable image {path}: {reason}")
        self.path, self.reason = path, reason


class BadImageArrayError(ActiveKDError):
    """An array that is not a uint8 image (``[H, W]``, ``[H, W, C]`` or ``[C, H, W]``, C in 1, 3, 4)."""


def _reason(path: str, e: Exception) -> str:
    """Why ``path`` did not decode, in a few words (PIL's messages repeat the path)."""
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return "empty file"
    if isinstance(e, UnidentifiedImageError):
        return "not an image PIL can read"
    if "truncated" in str(e).lower():  # PIL: "image file is truncated (N bytes not processed)", "Truncated File Read"
        return "truncated file"
    return (str(e).splitlines() or [type(e).__name__])[0][:120]


def open_rgb(path: str | os.PathLike) -> Image.Image:
    """Decode an image file to RGB; raises :class:`UnreadableImageError` naming ``path``.

    A truncated file fails here (PIL refuses to fill in missing data unless a program sets
    ``ImageFile.LOAD_TRUNCATED_IMAGES``), as do empty files, non-images and decompression bombs.
    """
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise UnreadableImageError(os.fspath(path), _reason(os.fspath(path), e)) from None


def array_to_pil(a: np.ndarray) -> Image.Image:
    """uint8 ``[H, W]`` (gray), ``[H, W, C]`` or ``[C, H, W]`` (C = 1, 3 or 4) -> RGB PIL image.

    A 3-D array is channels-last when its last axis has 1, 3 or 4 entries, else channels-first.
    """
    a = np.asarray(a)
    if a.dtype != np.uint8:
        raise BadImageArrayError(f"image arrays must be uint8 (0-255), got {a.dtype}; convert with (x * 255).astype(np.uint8)")
    if a.ndim == 3 and a.shape[-1] not in (1, 3, 4) and a.shape[0] in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(a)).convert("RGB")
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        return Image.fromarray(np.ascontiguousarray(a[..., :3]))
    raise BadImageArrayError(f"cannot read an image array of shape {a.shape}; give [H, W], [H, W, C] or [C, H, W] with C in 1, 3, 4")


def to_pil(image: ImageLike) -> Image.Image:
    """A path, PIL image or uint8 array as an RGB PIL image."""
    if isinstance(image, (str, os.PathLike)):
        return open_rgb(image)
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if hasattr(image, "__array__"):
        return array_to_pil(np.asarray(image))
    raise TypeError(f"cannot read an image from {type(image).__name__}; give a path, a PIL image or a uint8 array")


CHANNELS = (1, 3, 4)
"""The channel counts a single image's array may have on its first or last axis (gray, RGB, RGBA)."""


def as_image_list(images) -> list:
    """One image or many -> a list of single images. A 4-D array ``[N, ...]`` is ``N`` images; so is a 3-D array whose
    first and last axes are both no channel count (``[N, H, W]``: ``N`` gray images, e.g. Fashion-MNIST's arrays)."""
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if hasattr(images, "__array__") and not isinstance(images, (list, tuple)):
        a = np.asarray(images)
        stack = a.ndim == 4 or (a.ndim == 3 and a.shape[0] not in CHANNELS and a.shape[-1] not in CHANNELS)
        return list(a) if stack else [a]
    return list(images)
