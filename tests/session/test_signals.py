import numpy as np
import pytest
import torch

from activekd.layout import RunLayout
from activekd.round_result import Agreement
from activekd.session._signals import agreement_signals


def test_agreement_with_the_previous_round_and_the_teacher(tmp_path):
    probs0 = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    s0 = agreement_signals(tmp_path, 0, torch.tensor([3, 5, 7, 9]), probs0, None)
    assert s0 == Agreement(pool=None, teacher=None)
    # round 1: position 5 was labeled; 7 flips class, 3 and 9 stay
    probs1 = torch.tensor([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9]])
    teacher = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    s1 = agreement_signals(tmp_path, 1, torch.tensor([3, 7, 9]), probs1, teacher)
    assert s1.pool == pytest.approx(2 / 3) and s1.teacher == pytest.approx(2 / 3)
    with np.load(RunLayout(tmp_path).predictions(1)) as f:
        assert f["positions"].tolist() == [3, 7, 9] and f["classes"].tolist() == [0, 1, 1]
