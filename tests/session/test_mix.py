"""The head mix from the store: the picks' stored votes, their labels as they stand, and the fixed mix when asked."""

import torch

from activekd.config import LoopConfig
from activekd.session import SessionStore, pick_evidence
from activekd.session._mix import round_mix, with_votes
from activekd.train import MIX_GRID, VOTES_KEY, Outputs

M = len(MIX_GRID)


def _store(tmp_path):
    s = SessionStore.create(tmp_path)
    s.initialise({"config": "{}"}, [(f"id{i}", i, "pool", None) for i in range(40)], [("id0", 0), ("id1", 1)])
    return s


def _votes(classes):
    return {VOTES_KEY: [int(classes)] * M}


def test_evidence_is_the_labeled_picks_of_earlier_rounds(tmp_path):
    s = _store(tmp_path)
    s.finish_round(0, metrics={}, picks=["id2", "id3"], new_labels=[("id2", 1), ("id3", 0)], source="oracle",
                   suggestions={"id2": _votes(1), "id3": _votes(1)})
    s.finish_round(1, metrics={}, picks=["id4"], new_labels=[], source="human", status="awaiting-labels",
                   suggestions={"id4": dict(_votes(0), student=["a", 0.9])})
    votes, labels = pick_evidence(s, 1)
    assert votes.tolist() == [[1] * M, [1] * M] and labels.tolist() == [1, 0]  # round 1's own picks are not evidence yet
    assert pick_evidence(s, 0)[0].shape == (0, M)  # round 0 has no earlier picks
    assert pick_evidence(s, 2)[1].tolist() == [1, 0]


def test_the_search_off_keeps_the_fixed_mix_and_too_few_picks_keep_pure_kd(tmp_path):
    s = _store(tmp_path)
    s.finish_round(0, metrics={}, picks=["id2"], new_labels=[("id2", 1)], source="oracle", suggestions={"id2": _votes(0)})
    fixed = round_mix(s, 1, LoopConfig(alpha=0.3, beta=2.0, search_alpha_beta=False), num_classes=2)
    assert (fixed.alpha, fixed.beta, fixed.source) == (0.3, 2.0, "fixed")
    chosen = round_mix(s, 1, LoopConfig(), num_classes=2)
    assert (chosen.alpha, chosen.beta, chosen.source, chosen.evidence) == (1.0, 1.0, "prior", 1)


def test_with_votes_keeps_the_suggestions_and_adds_each_mix_vote():
    ce = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    kd = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    out = with_votes(["a", "b"], Outputs(ce, kd, torch.zeros(2, 3)), {"a": {"student": ["x", 0.9]}})
    assert out["a"]["student"] == ["x", 0.9] and set(out["b"]) == {VOTES_KEY}
    assert out["a"][VOTES_KEY][0] == 1 and out["a"][VOTES_KEY][MIX_GRID.index((0.0, 1.0))] == 0  # pure KD vs pure CE
