"""AUBC against hand-computed areas."""

import pytest

from activekd.report import aubc, common_range


def test_aubc_is_the_trapezoid_area_over_the_label_range():
    # 10·(0.5+0.7)/2 + 10·(0.7+0.6)/2 = 6 + 6.5 = 12.5 over 20 labels
    assert aubc([(10, 0.5), (20, 0.7), (30, 0.6)]) == pytest.approx(0.625)


def test_aubc_with_uneven_steps_and_unsorted_points():
    # 10·0.3 + 90·0.6 = 57 over 100 labels
    assert aubc([(110, 0.8), (10, 0.2), (20, 0.4)]) == pytest.approx(0.57)


def test_aubc_over_a_sub_range_interpolates_its_ends():
    # value at 15 = 0.6; 5·(0.6+0.7)/2 + 10·(0.7+0.6)/2 = 3.25 + 6.5 = 9.75 over 15 labels
    assert aubc([(10, 0.5), (20, 0.7), (30, 0.6)], 15, 30) == pytest.approx(0.65)
    # value at 25 = 0.65; 5·(0.7+0.65)/2 = 3.375 over 5 labels
    assert aubc([(10, 0.5), (20, 0.7), (30, 0.6)], 20, 25) == pytest.approx(0.675)


def test_a_flat_curve_has_its_own_value_and_a_single_point_its_accuracy():
    assert aubc([(10, 0.4), (50, 0.4), (60, 0.4)]) == pytest.approx(0.4)
    assert aubc([(10, 0.42)]) == pytest.approx(0.42)


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError):
        aubc([])
    with pytest.raises(ValueError):
        aubc([(10, 0.5), (20, 0.7)], 5, 20)
    with pytest.raises(ValueError):
        aubc([(10, 0.5), (20, 0.7)], 20, 10)


def test_common_range_is_what_every_curve_covers():
    assert common_range([[(10, 0.1), (110, 0.5)], [(10, 0.1), (1000, 0.9)], [(20, 0.1), (50, 0.2)]]) == (20, 50)
    assert common_range([[(10, 0.1), (20, 0.2)], [(30, 0.1), (40, 0.2)]]) is None
    assert common_range([[], []]) is None
