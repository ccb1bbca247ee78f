"""The learning-rate schedule, written once: the student's trainer and the few-shot teachers' heads both follow it."""

from __future__ import annotations


def lr_factor(step: int, total: int, warmup: float) -> float:
    """Linear warm-up over ``warmup · total`` steps, then linear decay to 0."""
    w = int(warmup * total)
    if step < w:
        return (step + 1) / w
    return max(0.0, (total - step) / max(1, total - w))
