"""Stopping advice: a rising curve continues, a flat one stops, no test labels falls back to agreement."""

import copy

import pytest
from report_synthetic import round_dict

from activekd.report import ADVICE_WINDOW, AGREEMENT_STOP, SLOPE_STOP, stopping_advice
from activekd.report._advice import slope_per_100


def rounds(accs, labels=None, agreements=None, teacher_agreements=None):
    labels = labels or [10 * (i + 1) for i in range(len(accs))]
    out = [round_dict(i, n, a, pool_agreement=None if agreements is None else agreements[i]) for i, (n, a) in enumerate(zip(labels, accs))]
    for r, t in zip(out, teacher_agreements or []):
        r["teacher_agreement"] = t
    return out


def test_slope_is_in_points_per_100_labels():
    assert slope_per_100([(10, 0.50), (20, 0.52), (30, 0.54)]) == pytest.approx(20.0)
    assert slope_per_100([(100, 0.80), (200, 0.80), (300, 0.80)]) == pytest.approx(0.0)


def test_a_rising_curve_continues():
    a = stopping_advice(rounds([0.40, 0.50, 0.58, 0.64, 0.70]))
    assert a["decision"] == "continue" and a["criterion"] == "accuracy-slope"
    assert a["value"] == pytest.approx(60.0) and "points per 100 labels" in a["reason"]


def test_a_flat_curve_stops():
    a = stopping_advice(rounds([0.40, 0.60, 0.801, 0.800, 0.802], labels=[10, 100, 200, 300, 400]))
    assert a["decision"] == "stop" and a["value"] < SLOPE_STOP
    a = stopping_advice(rounds([0.5, 0.82, 0.81, 0.80]))  # falling counts as flat
    assert a["decision"] == "stop"


def test_only_the_last_window_counts():
    early_flat_then_rising = [0.5, 0.5, 0.5, 0.5, 0.6, 0.7]
    assert stopping_advice(rounds(early_flat_then_rising))["decision"] == "continue"
    assert ADVICE_WINDOW == 3


def test_too_few_rounds_continue():
    assert stopping_advice([])["decision"] == "continue"
    assert stopping_advice(rounds([0.5, 0.5]))["decision"] == "continue"


def test_without_test_labels_stabilising_predictions_decide():
    no_acc = [None] * 5
    stable = rounds(no_acc, agreements=[None, 0.9, 0.995, 0.992, 0.999])
    a = stopping_advice(stable)
    assert a["decision"] == "stop" and a["criterion"] == "pool-agreement" and a["value"] == pytest.approx(0.992)
    moving = rounds(no_acc, agreements=[None, 0.9, 0.995, AGREEMENT_STOP - 0.001, 0.999])
    assert stopping_advice(moving)["decision"] == "continue"
    assert stopping_advice(rounds(no_acc, agreements=[None] * 5))["decision"] == "continue"  # older runs: nothing to judge by
    short = rounds([None] * 3, agreements=[None, 0.999, 0.999])
    assert stopping_advice(short)["decision"] == "continue"


def test_a_teacher_that_still_moves_keeps_the_run_going():
    stable = [None, 0.9, 0.995, 0.995, 0.995]
    assert stopping_advice(rounds([None] * 5, agreements=stable, teacher_agreements=[0.5, 0.6, 0.90, 0.905, 0.91]))["decision"] == "stop"
    a = stopping_advice(rounds([None] * 5, agreements=stable, teacher_agreements=[0.5, 0.6, 0.80, 0.85, 0.90]))
    assert a["decision"] == "continue" and "teacher" in a["reason"]


def test_advice_is_pure_and_reads_old_rounds():
    rs = rounds([0.4, 0.5, 0.6])
    before = copy.deepcopy(rs)
    stopping_advice(list(reversed(rs)))
    assert rs == before
    old = [{"round": i, "num_labeled": 10 * (i + 1), "student_acc": 0.8} for i in range(4)]  # no newer fields at all
    assert stopping_advice(old)["decision"] == "stop"
