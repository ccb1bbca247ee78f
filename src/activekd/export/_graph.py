"""The graph every format records: uint8 images in, mixed class probabilities out.

``MixedProbabilities`` wraps a trained :class:`~activekd.students.DualHeadStudent` and folds the
run's ``alpha`` and ``beta`` in through :func:`activekd.heads.mix_heads`, so resizing,
normalisation (the student's own ``prepare``) and the head mix all live inside the file.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from activekd.heads import mix_heads
from activekd.students import DualHeadStudent


class MixedProbabilities(nn.Module):
    """``forward(images uint8 [B, 3, H, W]) -> probs float32 [B, C]`` (DHO prediction rule).

    ``p = (1 - alpha) * softmax(ce) + alpha * softmax(kd / beta)`` (Kang et al. 2025, arXiv
    2505.07675), computed by ``activekd.heads.mix_heads`` on the student's two heads.
    """

    def __init__(self, student: DualHeadStudent, alpha: float, beta: float) -> None:
        super().__init__()
        mix_heads(torch.zeros(1, 2), torch.zeros(1, 2), alpha, beta)  # validates alpha and beta now
        self.student = student.eval()
        self.alpha = float(alpha)
        self.beta = float(beta)

    def forward(self, images: Tensor) -> Tensor:
        ce, kd, _ = self.student(images)
        return mix_heads(ce, kd, self.alpha, self.beta)


def example_batch(input_size: int) -> Tensor:
    """A uint8 ``[2, 3, S + 3, S + 5]`` batch to record with (not square, not ``S``: nothing specialises on it)."""
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (2, 3, input_size + 3, input_size + 5), dtype=torch.uint8, generator=g)


def dynamic_dims() -> dict[int, object]:
    """``torch.export`` dims for the image batch: batch size, height and width are free."""
    from torch.export import Dim

    return {0: Dim("batch", min=1), 2: Dim("height", min=2), 3: Dim("width", min=2)}


class TorchBackend:
    """Runs a recorded (or eager) module on numpy batches: uint8 ``[B, 3, H, W]`` -> float32 ``[B, C]``."""

    def __init__(self, module, metadata: dict[str, str]) -> None:
        self.module = module
        self.metadata = metadata

    def __call__(self, images: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(np.ascontiguousarray(images))).float().numpy()
