"""Fast access to a dataset's uint8 pixels during training and inference."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from activekd.data import ImageSource
from activekd.device import is_accelerator


class ImageBank:
    """uint8 images by dataset position, delivered on ``device``.

    When the images fit in ``max_device_bytes`` they are copied to the device once (the uint8 cache
    of DESIGN.md: no decoding or host transfer per step); otherwise each batch is gathered on the
    host (from memory or a memory map) and transferred.
    """

    def __init__(self, source: ImageSource, device: torch.device | str, *, max_device_bytes: int = 8 << 30) -> None:
        self.device = device = torch.device(device)
        self.source = source
        self._all: Tensor | None = None
        if hasattr(source, "as_tensor"):
            full = source.as_tensor()
        elif hasattr(source, "materialize"):
            with warnings.catch_warnings():  # a read-only memory map: the bank never writes to it
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                full = torch.from_numpy(np.asarray(source.materialize()))
        else:
            full = None
        if full is not None:
            if is_accelerator(device) and full.numel() <= max_device_bytes:
                full = full.to(device)
            self._all = full

    def get(self, positions: Tensor | np.ndarray) -> Tensor:
        """``[B, C, H, W]`` uint8 on the device."""
        if self._all is not None:
            pos = torch.as_tensor(positions, dtype=torch.long)
            out = self._all[pos.to(self._all.device)]
        else:
            out = self.source.batch(np.asarray(positions))
        return out.to(self.device, non_blocking=True)
