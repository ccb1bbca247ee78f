"""Head to head: seed-by-seed wins and the labels plain labeling needs to catch up."""

import pytest

from activekd.report._groups import group_runs
from activekd.report._headtohead import catchups, labels_to_reach, win_counts
from activekd.report._runs import load_runs
from activekd.report._table import compare_table


def _groups(folders):
    return group_runs(load_runs(folders))


def test_wins_count_first_or_tied_cells_from_round_3(make_run):
    # rounds 0..5; a wins rounds 3 and 5 of seed 1, ties round 4; b wins everything of seed 2 from round 3
    a1 = make_run("a-seed1", [0.1, 0.9, 0.9, 0.6, 0.5, 0.7], strategy="entropy", seed=1)
    a2 = make_run("a-seed2", [0.1, 0.9, 0.9, 0.4, 0.4, 0.4], strategy="entropy", seed=2)
    b1 = make_run("b-seed1", [0.9, 0.1, 0.1, 0.5, 0.5, 0.6], strategy="random", seed=1)
    b2 = make_run("b-seed2", [0.9, 0.1, 0.1, 0.5, 0.5, 0.5], strategy="random", seed=2)
    wins = win_counts(_groups([a1, a2, b1, b2]))
    assert (wins["a"].first, wins["a"].cells) == (3, 6)
    assert (wins["b"].first, wins["b"].cells) == (4, 6)
    assert wins["a"].fraction == 0.5


def test_only_cells_every_group_has_count(make_run):
    a = make_run("a-seed1", [0.5] * 6, strategy="entropy", seed=1)
    b = make_run("b-seed1", [0.4] * 5, strategy="random", seed=1)  # one round fewer
    c = make_run("c-seed2", [0.9] * 6, strategy="margin", seed=2)  # another seed: no shared cell with a and b
    assert win_counts(_groups([a, b]))["a"].cells == 2
    assert all(w.cells == 0 and w.fraction is None for w in win_counts(_groups([a, b, c])).values())


@pytest.mark.parametrize("curve, target, want", [
    ([(10, 0.5), (20, 0.7), (30, 0.8)], 0.75, 25.0),
    ([(10, 0.5), (20, 0.7)], 0.4, 10),
    ([(10, 0.5), (20, 0.7)], 0.7, 20.0),
    ([(20, 0.7), (10, 0.5)], 0.6, 15.0),  # unsorted points
    ([(10, 0.5), (20, 0.6), (30, 0.55), (40, 0.9)], 0.6, 20.0),  # the first time it reaches the target
    ([(10, 0.5), (20, 0.7)], 0.71, None),
    ([], 0.5, None),
])
def test_labels_to_reach_reads_the_interpolated_curve(curve, target, want):
    assert labels_to_reach(curve, target) == (pytest.approx(want) if want is not None else None)


def test_plain_labeling_is_compared_with_every_group_with_a_teacher(make_run):
    dho = make_run("pcoreset-dho-seed1", [0.70, 0.80], strategy="pcoreset", labels=[10, 110])
    plain = make_run("baseline-random-none-seed1", [0.3, 0.6, 0.7, 0.9], kd="none", labels=[10, 110, 500, 1000])
    (k,) = catchups(_groups([dho, plain]))
    assert (k.plain, k.group, k.at_labels, k.plain_max) == ("baseline-random-none", "pcoreset-dho", 110, 1000)
    assert k.target == pytest.approx(0.80) and k.needs == pytest.approx(500 + 500 * 0.1 / 0.2)
    text = compare_table([dho, plain])
    assert "baseline-random-none reaches pcoreset-dho's 80.00% (at 110 labels) at 750 labels (6.8× as many)" in text
    assert "first or tied (seed, round ≥ 3)" not in text  # no shared round >= 3 in this pair
