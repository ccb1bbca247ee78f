"""The head mix of a round, from the session's store: fixed, or chosen on the labeled picks' stored votes."""

from __future__ import annotations

import torch

from activekd.select import strategy_info
from activekd.train import MIX_GRID, VOTES_KEY, MixChoice, Outputs, choose_mix, mix_votes

from ._batch import with_pick_data
from ._store import SessionStore


def pick_evidence(store: SessionStore, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(votes [n, M], labels [n])`` of every image picked before round ``r`` and labeled by round ``r``: the votes
    of the student that picked it (out-of-sample for that student), the label as it stands now."""
    labels = dict(store.labels(up_to_round=r))
    votes, ys = [], []
    for rec in store.rounds():
        if rec.round >= r:
            break
        for sid in rec.picks:
            v = rec.suggestions.get(sid, {}).get(VOTES_KEY)
            if v is not None and len(v) == len(MIX_GRID) and sid in labels:
                votes.append(v)
                ys.append(labels[sid])
    if not votes:
        return torch.empty(0, len(MIX_GRID), dtype=torch.long), torch.empty(0, dtype=torch.long)
    return torch.tensor(votes, dtype=torch.long), torch.tensor(ys, dtype=torch.long)


def round_mix(store: SessionStore, r: int, loop, num_classes: int) -> MixChoice:
    """Round ``r``'s mix before any validation search: ``--alpha``/``--beta`` when the search is off, else the
    choice on the out-of-sample picks (:func:`activekd.train.choose_mix`, stricter for a strategy whose picks are
    where the student is least sure)."""
    if not loop.search_alpha_beta:
        return MixChoice(loop.alpha, loop.beta, "fixed")
    votes, labels = pick_evidence(store, r)
    return choose_mix(votes, labels, num_classes, uncertain_picks=uncertain_picks(loop.strategy))


def uncertain_picks(strategy: str) -> bool:
    """Whether ``strategy`` picks where the student is least sure (its picks overrate the CE head)."""
    return strategy_info(strategy).needs.uncertain_picks


def with_votes(ids: list[str], outputs: Outputs, suggestions: dict[str, dict]) -> dict[str, dict]:
    """``suggestions`` with each picked id's votes under :data:`MIX_GRID` added (``outputs``: the picks', in ``ids`` order)."""
    return with_pick_data(suggestions, ids, VOTES_KEY, mix_votes(outputs.ce, outputs.kd).tolist())
