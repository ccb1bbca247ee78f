"""Training on fixed views: each sample's crop is one of its K views and its teacher target that view's logits."""

import numpy as np
import pytest
import torch

from activekd.data import ArraySource
from activekd.parallel import SOLO
from activekd.students import create_student
from activekd.train import ImageBank, TrainBatchSource, TrainConfig, ViewTargets, train_student
from activekd.train._trainer import _Sampler

N, SIDE, K = 40, 16, 3
# three views a crop identifies: the whole image, its mirror image, its left half
THETAS = torch.tensor([[[1.0, 0, 0], [0, 1, 0]], [[-1.0, 0, 0], [0, 1, 0]], [[0.5, 0, -0.5], [0, 1, 0]]])


def ramp_bank():
    """Channel 0 rises left to right (0..240), channel 1 holds the dataset position (x 5)."""
    x = np.zeros((N, 3, SIDE, SIDE), np.uint8)
    x[:, 0] = (np.arange(SIDE) * 16).astype(np.uint8)
    x[:, 1] = (np.arange(N) * 5).astype(np.uint8)[:, None, None]
    return ImageBank(ArraySource(x), torch.device("cpu"))


def which_view(x):
    """The view index each image ``[B, 3, H, W]`` was cut with, read off its ramp."""
    first, last = x[:, 0, SIDE // 2, 0] * 255, x[:, 0, SIDE // 2, -1] * 255
    return torch.where(first > last, 1, torch.where(last < 160, 2, 0))


def view_source(positions_l, positions_u):
    """Per-view logits ``[n, K, 2]`` that say (view index, dataset position)."""

    def views(pos):
        logits = torch.stack([torch.arange(K).float().expand(len(pos), K), pos.float()[:, None].expand(len(pos), K)], -1)
        return ViewTargets(THETAS.expand(len(pos), K, 2, 3).clone(), logits)

    whole = lambda pos: torch.stack([torch.full((len(pos),), -1.0), pos.float()], -1)  # noqa: E731
    return TrainBatchSource(positions_l, torch.zeros(len(positions_l), dtype=torch.long), positions_u,
                            whole(positions_l), whole(positions_u), views(positions_l), views(positions_u))


def test_the_teacher_target_is_the_trained_views():
    bank, src = ramp_bank(), view_source(torch.arange(0, 10), torch.arange(10, N))
    sampler = _Sampler(src, TrainConfig(augment=True, batch_labeled=16, batch_unlabeled=16), torch.Generator().manual_seed(0),
                       SOLO, torch.device("cpu"))
    seen = []
    for _ in range(6):
        x_l, _, t_l, x_u, t_u = sampler.next(bank)
        for x, t in ((x_l, t_l), (x_u, t_u)):
            assert torch.equal(which_view(x), t[:, 0].long())  # the crop trained on is the view whose logits are used
            torch.testing.assert_close(x[:, 1, 0, 0] * 255 / 5, t[:, 1])  # ... of the same image
            seen.append(t[:, 0])
    assert set(torch.cat(seen).long().tolist()) == {0, 1, 2}  # every view gets drawn


def test_views_are_unused_without_augment():
    bank, src = ramp_bank(), view_source(torch.arange(0, 10), torch.arange(10, N))
    sampler = _Sampler(src, TrainConfig(augment=False, batch_labeled=8, batch_unlabeled=8), torch.Generator().manual_seed(0),
                       SOLO, torch.device("cpu"))
    x_l, _, t_l, _, t_u = sampler.next(bank)
    assert (t_l[:, 0] == -1).all() and (t_u[:, 0] == -1).all() and (which_view(x_l) == 0).all()


def test_training_on_views_runs_and_is_deterministic():
    bank, src = ramp_bank(), view_source(torch.arange(0, 10), torch.arange(10, N))
    cfg = TrainConfig(augment=True, repeat=2, batch_labeled=4, batch_unlabeled=4)

    def run():
        torch.manual_seed(0)
        s = create_student("small-cnn", 2, pretrained=False)
        return train_student(s, bank, src, cfg, device="cpu", generator=torch.Generator().manual_seed(1), progress=False)

    assert run() == run()


def test_mismatched_views_are_refused():
    with pytest.raises(ValueError, match=r"theta \[n, K, 2, 3\] and logits \[n, K, C\]"):
        ViewTargets(torch.zeros(4, 2, 2, 3), torch.zeros(4, 3, 5))
    bank, src = ramp_bank(), view_source(torch.arange(0, 10), torch.arange(10, N))
    src.labeled_views = src.labeled_views.take(torch.arange(3))
    with pytest.raises(ValueError, match="labeled views cover 3 images, the labeled set has 10"):
        train_student(create_student("small-cnn", 2, pretrained=False), bank, src, TrainConfig(augment=True), device="cpu",
                      generator=torch.Generator(), progress=False)
