"""Image files and the one square crop every part of activekd uses (torch-free, so the ONNX predictor can import it).

The training loader and the deployed predictor must prepare an image the same way: RGB, the shorter
side resized to ``size`` (bilinear), the centre ``size × size`` square cropped.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def square(im: Image.Image, size: int) -> np.ndarray:
    """``[3, size, size]`` uint8: ``im`` in RGB, shorter side resized to ``size`` (bilinear), centre square."""
    im = im.convert("RGB")
    w, h = im.size
    s = size / min(w, h)
    im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    im = im.crop((left, top, left + size, top + size))
    return np.moveaxis(np.asarray(im, dtype=np.uint8), -1, 0)
