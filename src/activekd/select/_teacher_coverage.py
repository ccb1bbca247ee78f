"""Teacher coverage: the first batch of a run that has no labels at all (``--shots 0``).

With no label there is no student to ask, but the vision-language teacher has already put every
pool image somewhere in the probability simplex. PCoreSet (Kang et al., 2025, arXiv 2506.00910,
Sec. 3.2) covers the simplex of the *student's* probabilities; here the same greedy k-center
(Gonzalez, 1985) runs on the *teacher's* probabilities, from an empty labeled set:

    q_i = softmax(teacher_i),   pick_t = argmax_i min_{c in centres_t} |q_i - q_c|_2,   centres_0 = {}

so the batch spreads over the regions the teacher tells apart (each confident class corner, and
the confusions between classes) instead of piling up where the pool is dense.

First centre. A min over no centres is +inf everywhere, so the rule leaves the first pick open; we
keep :func:`greedy_k_center`'s rule for an empty centre set: the pool point whose ``q`` is farthest
from the pool's mean ``q`` (lowest position on ties). In the simplex that is a point the teacher
is confident about, in a class that is far from the pool's average, i.e. a corner; it is
deterministic (no generator: a round redone after a kill picks the same) and is exactly what
``pcoreset`` would pick from these probabilities with no labeled point.
"""

from __future__ import annotations

import torch
from torch import Tensor

from activekd.errors import InputError

from ._kcenter import greedy_k_center
from ._ops import check_finite


def teacher_coverage(teacher_logits: Tensor, budget: int) -> Tensor:
    """Greedy k-center picks over the teacher's probabilities of the pool, with no initial centre.

    Args:
        teacher_logits: ``[n, C]`` teacher logits of the pool (any float dtype, any device; the
            work happens there). The softmax is taken in float64.
        budget: number of picks, ``1 <= budget <= n``.

    Returns:
        ``[budget]`` distinct long pool positions in pick order, on ``teacher_logits.device``.
        Cost: O(budget * n * C) time, O(n * C) memory (see ``_kcenter``).
    """
    if teacher_logits.dim() != 2 or teacher_logits.shape[1] < 1:
        raise InputError(f"teacher logits must be [n, C], got shape {tuple(teacher_logits.shape)}")
    n = teacher_logits.shape[0]
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= n:
        raise InputError(f"budget must be an integer between 1 and the pool size ({n}), got {budget!r}")
    check_finite(teacher_logits, "teacher_coverage logits")
    probs = torch.softmax(teacher_logits.double(), dim=1)
    return greedy_k_center(probs, probs.new_empty(0, probs.shape[1]), budget, metric="l2")
