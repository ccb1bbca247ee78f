"""Teacher-student disagreement: a signal only the distillation setting has.

In ActiveKD the teacher (a vision-language model) has already labeled every pool image softly.
Where the student, after distillation, still disagrees with its teacher, either the teacher is
wrong (a human label fixes the student's target) or the student has not learned the region yet
(a label helps directly). The score is

    KL(q_i || p_i) = sum_c q_ic (log q_ic - log p_ic),   q_i = softmax(teacher_i),

with ``p_i`` the student's mixed DHO probabilities (Kang et al., 2025, arXiv 2505.07675), i.e.
the mass the teacher puts where the student does not; the highest scores are picked, ties by
the lowest pool position. ``p`` is clamped at the smallest normal float32 so a zero
probability gives a large finite score, not inf; ``0 log 0 = 0``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from activekd.errors import InputError

from ._base import SelectionInputs, StrategyNeeds, register_strategy
from ._ops import top_scores

_P_FLOOR = torch.finfo(torch.float32).tiny


def teacher_student_kl(teacher_logits: Tensor, student_probs: Tensor) -> Tensor:
    """``[n]`` float64 ``KL(softmax(teacher_logits) || student_probs)``, both ``[n, C]``."""
    if teacher_logits.shape != student_probs.shape:
        raise InputError(
            f"teacher logits {tuple(teacher_logits.shape)} and student probabilities "
            f"{tuple(student_probs.shape)} must have the same shape"
        )
    log_q = torch.log_softmax(teacher_logits.double(), dim=1)
    q = log_q.exp()
    log_p = student_probs.double().clamp_min(_P_FLOOR).log()
    terms = torch.where(q > 0, q * (log_q - log_p), torch.zeros_like(q))
    return terms.sum(dim=1)


@register_strategy("disagreement", needs=StrategyNeeds(teacher=True, uncertain_picks=True))
def disagreement(inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device) -> Tensor:
    """Largest KL(teacher || student) over the pool; reads ``inputs.pool_teacher`` ``[n, C]`` (``select`` refuses
    inputs without it). Its picks are where the student strays from the teacher: a biased sample (``uncertain_picks``)."""
    scores = torch.empty(inputs.num_pool, dtype=torch.float64, device=device)
    for start, stop, p in inputs.iter_pool_probs(device):
        scores[start:stop] = teacher_student_kl(inputs.pool_teacher[start:stop].to(device), p)
    return top_scores(scores, budget)
