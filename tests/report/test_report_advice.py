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


# --------------------------------------------------------------------------- the test set's uncertainty


def measured(hits: list[int], n: int, labels: list[int]) -> list[dict]:
    """Rounds whose accuracy is ``hits / n`` on ``n`` test images, with a confusion matrix that reproduces it."""
    out = rounds([h / n for h in hits], labels=labels)
    for r, h in zip(out, hits):
        r["confusion"] = [[h, n - h], [0, 0]]
    return out


def test_the_wilson_interval():
    from activekd.report._advice import wilson_interval

    lo, hi = wilson_interval(0.8, 80)
    assert (lo, hi) == (pytest.approx(0.69954, abs=1e-5), pytest.approx(0.87297, abs=1e-5))  # ±8.7 points on 80 images
    assert wilson_interval(1.0, 10)[1] == pytest.approx(1.0) and wilson_interval(1.0, 10)[0] < 0.75  # not a point at 100%
    assert wilson_interval(0.0, 10)[0] == 0.0 and 0.25 < wilson_interval(0.0, 10)[1] < 0.35
    a, b = wilson_interval(0.8, 10_000)
    assert b - a < 0.016 and a < 0.8 < b


def test_the_test_set_size_is_read_from_a_confusion_matrix_that_gives_the_accuracy():
    from activekd.report._advice import count_test_images

    assert [count_test_images(r) for r in measured([62, 63], 80, [10, 20])] == [80, 80]
    assert count_test_images(rounds([0.4])[0]) is None  # its matrix (23 of 30 right) is not the one behind 40%
    assert count_test_images({"student_acc": 0.5}) is None and count_test_images({"student_acc": 0.5, "confusion": [[]]}) is None


def test_one_image_on_an_80_image_test_set_drives_no_advice():
    """The issue's case: 80 test images, one image = 1.25 points. A rise or a fall of one image per round, which the
    slope alone reads as +12.5 or -12.5 points per 100 labels, is inside the ±8.7-point interval: neither stop nor continue."""
    for hits in ([62, 63, 64], [64, 63, 62], [63, 63, 63]):
        a = stopping_advice(measured(hits, 80, [10, 20, 30]))
        assert a["decision"] == "undecided", (hits, a)
        assert "95% interval" in a["reason"] and "on 80 test images, one image = 1.25 points" in a["reason"]
    assert stopping_advice(rounds([62 / 80, 63 / 80, 64 / 80], labels=[10, 20, 30]))["decision"] == "continue"  # size unknown


def test_a_large_test_set_decides_and_states_its_interval():
    n = 10_000  # ±0.8 points at 80%
    rise = stopping_advice(measured([7000, 7500, 8000], n, [100, 200, 300]))
    assert rise["decision"] == "continue" and "beyond the test set's uncertainty" in rise["reason"] and f"on {n} test images" in rise["reason"]
    flat = stopping_advice(measured([8000, 8010, 7995], n, [100, 200, 300]))  # a 1-point gain over 200 labels would show
    assert flat["decision"] == "stop" and "no change beyond the test set's uncertainty" in flat["reason"]
    short = stopping_advice(measured([8000, 8010, 7995], n, [100, 110, 120]))  # over 20 labels the threshold is 0.2 points
    assert short["decision"] == "undecided"
    slow = stopping_advice(measured([7800, 7900, 8000], n, [100, 1100, 2100]))  # visible, but 0.1 point per 100 labels
    assert slow["decision"] == "stop" and "below 1 point per 100 labels" in slow["reason"]
