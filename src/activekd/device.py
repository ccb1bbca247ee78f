"""Device and precision in one place: resolving ``--device``, bf16 autocast, channels-last.

Library code takes a ``torch.device`` (or a name) and calls these helpers; nothing else checks
``device.type``.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from activekd.errors import ActiveKDError


class DeviceError(ActiveKDError):
    """A device that cannot be used here (e.g. CUDA requested without a GPU)."""


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available else CPU; any other name or device is checked and returned."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeviceError(f"unknown device {device!r}; valid: auto, cpu, cuda, cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {str(device)!r} requested but CUDA is not available; use --device cpu")
    return dev


def is_accelerator(device: torch.device) -> bool:
    """True on a GPU, where bf16 autocast, channels-last and pinned memory pay."""
    return torch.device(device).type == "cuda"


CPU_INFERENCE_BATCH = 128
"""Images per forward pass at inference on a CPU: small batches stay in the caches. Measured with small-cnn on
28 px images on 2 cores (``python bench/inference.py``): a plain eval loop runs 2,443 images/s at batch 1,024 and
6,037 at 128; ``predict`` at 128, 5,886 (2.4x the old default)."""


def inference_batch(device: torch.device, batch_size: int) -> int:
    """``batch_size`` on a GPU; at most :data:`CPU_INFERENCE_BATCH` on a CPU."""
    return batch_size if is_accelerator(device) else min(batch_size, CPU_INFERENCE_BATCH)


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on a GPU when ``enabled``; a no-op context elsewhere (CPU runs fp32)."""
    if enabled and is_accelerator(device):
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


CHANNELS_LAST_DEVICES = frozenset({"cuda", "cpu"})
"""Where convolutions run faster on channels-last tensors: GPUs, and CPUs through oneDNN. Measured on 2 cores with
``python bench/cpu_layout.py`` (small-cnn, 28 px, the demo's first round, both layouts in the same run): training
18.6 vs 12.0 steps/s (1.55x), the pool pass 8,595 vs 3,442 images/s (2.50x); step losses agree to 3e-5."""


def channels_last(x: Tensor | nn.Module, device: torch.device) -> Tensor | nn.Module:
    """``x`` in channels-last memory format where :data:`CHANNELS_LAST_DEVICES` say it pays, unchanged elsewhere.

    Only 4-d tensors change layout (a module's 4-d weights, a batch of images); anything else is returned as is.
    """
    if torch.device(device).type not in CHANNELS_LAST_DEVICES:
        return x
    if isinstance(x, nn.Module):
        return x.to(memory_format=torch.channels_last)
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x
