import numpy as np
import pytest
import torch

from activekd.data import ArraySource
from activekd.students import create_student
from activekd.train import DrawDigest, ImageBank, TrainBatchSource, TrainConfig, predict, random_crop_flip, train_student


def toy_data(n=256, seed=0):
    """Images whose class is which quadrant is bright: learnable in a few steps."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 4, n)
    x = g.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(y):
        r, k = divmod(int(c), 2)
        x[i, r * 14:(r + 1) * 14, k * 14:(k + 1) * 14] += 180
    return x, torch.from_numpy(y)


@pytest.mark.parametrize("kd", ["dho", "single-head", "none"])
def test_training_learns_and_is_deterministic(kd):
    x, y = toy_data()
    bank = ImageBank(ArraySource(x), torch.device("cpu"))
    teacher = torch.nn.functional.one_hot(y, 4).float() * 4
    lab = torch.arange(16)
    unl = torch.arange(16, 256)
    src = TrainBatchSource(lab, y[lab], unl, teacher[lab], teacher[unl])
    cfg = TrainConfig(kd=kd, repeat=40, batch_labeled=16, batch_unlabeled=16)

    def run():
        torch.manual_seed(0)
        s = create_student("small-cnn", 4, pretrained=False)
        losses = train_student(s, bank, src, cfg, device=torch.device("cpu"), generator=torch.Generator().manual_seed(3), progress=False)
        return s, losses

    s1, l1 = run()
    s2, l2 = run()
    assert l1 == l2
    assert np.mean(l1[-5:]) < np.mean(l1[:5])
    out = predict(s1, bank, unl, device=torch.device("cpu"), progress=False)
    acc = (out.probs(cfg.default_alpha(0.5), 1.0).argmax(1) == y[unl]).float().mean()
    assert acc > 0.8
    assert out.features.shape == (240, s1.feature_dim)


def test_the_draw_digest_reads_the_draws_and_changes_nothing():
    x, y = toy_data(64)
    bank = ImageBank(ArraySource(x), torch.device("cpu"))
    teacher = torch.nn.functional.one_hot(y, 4).float() * 4
    src = TrainBatchSource(torch.arange(8), y[:8], torch.arange(8, 64), teacher[:8], teacher[8:])
    cfg = TrainConfig(repeat=3, batch_labeled=4, batch_unlabeled=6, augment=True)

    def run(seed, draws=None):
        torch.manual_seed(0)
        s = create_student("small-cnn", 4, pretrained=False)
        return train_student(s, bank, src, cfg, device="cpu", generator=torch.Generator().manual_seed(seed), progress=False, draws=draws)

    digests = [DrawDigest(3) for _ in range(3)]
    assert run(1, digests[0]) == run(1)  # the same losses: the digest only reads
    run(1, digests[1]), run(2, digests[2])
    assert digests[0].taken == 6 and digests[0].hexdigest() == digests[1].hexdigest() != digests[2].hexdigest()
    longer = DrawDigest(4)
    run(1, longer)
    assert longer.hexdigest() != digests[0].hexdigest()  # a fourth step's draws count too


def test_kd_modes_need_teacher_logits():
    x, y = toy_data(32)
    bank = ImageBank(ArraySource(x), torch.device("cpu"))
    src = TrainBatchSource(torch.arange(4), y[:4], torch.arange(4, 32))
    with pytest.raises(ValueError, match="needs teacher logits"):
        train_student(create_student("small-cnn", 4, pretrained=False), bank, src, TrainConfig(), device=torch.device("cpu"),
                      generator=torch.Generator(), progress=False)


def test_augmentation_keeps_shape_and_is_seeded():
    x = torch.rand(5, 3, 20, 20)
    a = random_crop_flip(x, torch.Generator().manual_seed(1))
    b = random_crop_flip(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.allclose(a, x)
