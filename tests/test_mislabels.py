"""The label check's rule (``activekd.mislabels``): flagged when every model with evidence gives the label p < threshold."""

from __future__ import annotations

import math

import pytest
import torch

from activekd.errors import InputError
from activekd.mislabels import THRESHOLD, flag_mislabels, label_probability

NAN = math.nan


def test_a_flipped_label_with_a_confident_teacher_and_student_is_flagged_and_a_correct_one_is_not():
    # image 0 is a trouser labeled "tshirt" (flipped); image 1 is a trouser labeled "trouser"; classes: tshirt, trouser, bag
    teacher = torch.tensor([[0.00, 1.00, 0.00], [0.01, 0.98, 0.01]])
    student = torch.tensor([[0.02, 0.97, 0.01], [0.03, 0.95, 0.02]])
    labels = torch.tensor([0, 1])
    p = torch.stack([label_probability(student, labels), label_probability(teacher, labels)], dim=1)
    assert flag_mislabels(p).tolist() == [True, False]


def test_both_models_must_disagree_where_both_have_evidence():
    p = torch.tensor([[0.01, 0.02], [0.01, 0.5], [0.5, 0.01], [THRESHOLD, 0.0], [THRESHOLD - 1e-4, 0.0]])
    assert flag_mislabels(p).tolist() == [True, False, False, False, True]


def test_missing_evidence_leaves_the_other_model_to_decide_and_none_flags_nothing():
    p = torch.tensor([[NAN, 0.01], [0.01, NAN], [NAN, 0.5], [NAN, NAN]])
    assert flag_mislabels(p).tolist() == [True, True, False, False]


def test_the_threshold_is_a_parameter():
    p = torch.tensor([[0.15, 0.15]])
    assert THRESHOLD < 0.15
    assert flag_mislabels(p).tolist() == [False] and flag_mislabels(p, threshold=0.2).tolist() == [True]


def test_empty_input_flags_nothing():
    assert flag_mislabels(torch.empty(0, 2)).shape == (0,)


@pytest.mark.parametrize("call", [
    lambda: flag_mislabels(torch.zeros(3)),
    lambda: flag_mislabels(torch.zeros(3, 2), threshold=1.0),
    lambda: label_probability(torch.zeros(3, 2), torch.tensor([0, 2, 1])),
    lambda: label_probability(torch.zeros(3, 2), torch.tensor([0, 1])),
])
def test_contract_violations_are_input_errors(call):
    with pytest.raises(InputError):
        call()
