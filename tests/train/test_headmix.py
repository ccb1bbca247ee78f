import torch
import torch.nn.functional as F

from activekd.heads import mix_heads
from activekd.train import MIX_GRID, choose_from_picks, choose_mix, mix_votes, search_alpha_beta
from activekd.train._headmix import UNCERTAIN_GUARD, UNCERTAIN_MIN_ALPHA

C = 4


def _heads(right_ce, right_kd, y, scale=5.0, margin=0.0):
    """Logits whose argmax is ``y`` where ``right_*`` is True, else the next class."""
    wrong = (y + 1) % C
    ce = F.one_hot(torch.where(right_ce, y, wrong), C).float() * scale
    kd = F.one_hot(torch.where(right_kd, y, wrong), C).float() * (scale + margin)
    return ce, kd


def test_dho_search_keeps_pure_kd_first_on_ties():
    y = torch.tensor([0, 1, 2, 0])
    ce = F.one_hot(torch.tensor([1, 2, 0, 1]), 3).float() * 5  # always wrong
    kd = F.one_hot(y, 3).float() * 5  # always right
    assert search_alpha_beta(ce, kd, y) == (1.0, 0.5, 1.0)  # DHO: β outer from 0.5, then α_DHO = 0 (pure KD) first
    a, b, acc = search_alpha_beta(kd, ce, y)  # now the CE head is right
    assert acc == 1.0 and (a, b) == (0.45, 0.5)  # the first mix in DHO's order where the sharper CE head wins


def test_mix_votes_are_the_mixes_argmax():
    g = torch.Generator().manual_seed(0)
    ce, kd = torch.randn(50, C, generator=g) * 3, torch.randn(50, C, generator=g) * 3
    v = mix_votes(ce, kd)
    assert v.shape == (50, len(MIX_GRID))
    for j, (a, b) in enumerate(MIX_GRID):
        assert torch.equal(v[:, j], mix_heads(ce, kd, a, b).argmax(1))
    assert MIX_GRID[0] == (1.0, 1.0) and len(set(MIX_GRID)) == len(MIX_GRID)


def test_too_few_picks_keep_pure_kd():
    y = torch.arange(7) % C
    ce, kd = _heads(torch.ones(7, dtype=torch.bool), torch.zeros(7, dtype=torch.bool), y)
    got = choose_from_picks(mix_votes(ce, kd), y, C)  # the CE head is right everywhere, but 7 < 2 per class
    assert (got.alpha, got.beta, got.source, got.evidence) == (1.0, 1.0, "prior", 7)


def test_kd_right_ce_wrong_keeps_a_mix_at_least_as_good_as_kd():
    g = torch.Generator().manual_seed(1)
    y = torch.randint(C, (200,), generator=g)
    kd_right = torch.rand(200, generator=g) < 0.9
    ce, kd = _heads(torch.zeros(200, dtype=torch.bool), kd_right, y)
    got = choose_from_picks(mix_votes(ce, kd), y, C)
    acc = lambda a, b: float((mix_heads(ce, kd, a, b).argmax(1) == y).float().mean())  # noqa: E731
    assert got.source == "picks" and acc(got.alpha, got.beta) >= acc(1.0, 1.0)


def test_heads_that_err_on_different_images_move_to_the_mix():
    """Each head is wrong on its own third of the images, and confident only where it is right: the mix beats both."""
    n = 300
    y = torch.arange(n) % C
    part = torch.arange(n) % 3
    ce, kd = _heads(part != 0, part != 1, y)
    ce = ce * torch.where(part != 0, 1.0, 0.2).view(-1, 1)  # a head unsure where it errs
    kd = kd * torch.where(part != 1, 1.0, 0.2).view(-1, 1)
    acc = lambda a, b: float((mix_heads(ce, kd, a, b).argmax(1) == y).float().mean())  # noqa: E731
    got = choose_from_picks(mix_votes(ce, kd), y, C)
    assert got.source == "picks" and got.alpha < 1.0
    assert acc(got.alpha, got.beta) > acc(1.0, 1.0) and acc(got.alpha, got.beta) > acc(0.0, 1.0)
    assert got.gain > got.se > 0


def test_a_gain_inside_the_noise_keeps_pure_kd():
    """A mix right on 3 images where pure KD errs and wrong on 2 where it is right: a gain of 1 image in 40 is
    inside one standard error."""
    n = 40
    y = torch.arange(n) % C
    votes = y.view(-1, 1).repeat(1, len(MIX_GRID))
    votes[:3, 0] = (y[:3] + 1) % C  # pure KD errs on images 0-2
    votes[3:5, 2] = (y[3:5] + 1) % C  # the 0.5/1 mix errs on images 3-4 ...
    votes[:3, 1:] = ((y[:3] + 1) % C).view(-1, 1)
    votes[:3, 2] = y[:3]  # ... and is right on 0-2
    got = choose_from_picks(votes, y, C)
    assert got.source == "picks" and (got.alpha, got.beta) == (1.0, 1.0)
    assert got.gain == 1 / 40 and 0 < got.gain <= got.se


def test_ties_go_to_pure_kd():
    y = torch.arange(40) % C
    votes = y.view(-1, 1).repeat(1, len(MIX_GRID))  # every mix right everywhere
    got = choose_from_picks(votes, y, C)
    assert (got.alpha, got.beta, got.gain) == (1.0, 1.0, 0.0)


def _votes_where(right: dict[tuple[float, float], torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """Votes ``[n, M]``: mix ``g`` votes ``y`` where ``right[g]`` is True, else a wrong class (pure KD's column by default)."""
    wrong = (y + 1) % C
    cols = [torch.where(right.get(g, right[(1.0, 1.0)]), y, wrong) for g in MIX_GRID]
    return torch.stack(cols, dim=1)


def test_uncertain_picks_never_choose_more_than_half_ce_weight():
    y = torch.arange(40) % C
    kd_right = torch.zeros(40, dtype=torch.bool)
    ce_right = torch.ones(40, dtype=torch.bool)  # pure CE right on every pick, pure KD on none
    votes = _votes_where({(1.0, 1.0): kd_right, (0.0, 1.0): ce_right, (0.25, 1.0): ce_right, (0.5, 1.0): ce_right}, y)
    fair = choose_mix(votes, y, C)
    assert (fair.alpha, fair.beta) == (0.5, 1.0)  # the first of the tied best in DHO's order (more KD first)
    votes = _votes_where({(1.0, 1.0): kd_right, (0.0, 1.0): ce_right, (0.25, 1.0): ce_right}, y)
    assert choose_mix(votes, y, C).alpha == 0.25  # a fair sample may move the mix anywhere on the grid
    biased = choose_mix(votes, y, C, uncertain_picks=True)
    assert biased.alpha >= UNCERTAIN_MIN_ALPHA and (biased.alpha, biased.beta) == (1.0, 1.0)


def test_uncertain_picks_need_a_gain_beyond_two_standard_errors():
    y = torch.arange(40) % C
    kd_right = torch.ones(40, dtype=torch.bool)
    kd_right[:8] = False  # pure KD wrong on 8 picks where α 0.75 is right,
    mix_right = torch.ones(40, dtype=torch.bool)
    mix_right[8:12] = False  # right on 4 where α 0.75 is wrong: paired gain 0.10, standard error 0.086
    votes = _votes_where({(1.0, 1.0): kd_right, (0.75, 1.0): mix_right}, y)
    diff = (mix_right.double() - kd_right.double())
    se = float(diff.std()) / 40 ** 0.5
    assert se < float(diff.mean()) < UNCERTAIN_GUARD * se  # beyond one standard error, inside two
    assert choose_mix(votes, y, C).alpha == 0.75
    assert choose_mix(votes, y, C, uncertain_picks=True).alpha == 1.0


def test_strategies_that_pick_where_the_student_is_unsure_say_so():
    from activekd.select import list_strategies, strategy_info

    unsure = {s for s in list_strategies() if strategy_info(s).needs.uncertain_picks}
    assert unsure == {"entropy", "margin", "least-confidence", "badge", "badge-reference", "disagreement"}
