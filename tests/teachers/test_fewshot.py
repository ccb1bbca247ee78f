"""Zero-shot classifier, CLAP and Tip-Adapter-F on synthetic CLIP-like embeddings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from activekd.teachers import (
    clap_logits, clap_penalty_weights, fit_clap, fit_tip_adapter_f, tip_adapter_logits, zero_shot_classifier, zero_shot_logits,
)
from activekd.teachers._fewshot import ClapSettings, TipAdapterSettings, create_head

pytestmark = pytest.mark.usefixtures("single_thread")

D, C = 64, 8


def world(seed: int = 0):
    """Image embeddings = modality direction + class direction + noise (same-class cosine ~0.85,
    image-text cosine ~0.15, as with CLIP); each text prototype leans towards the next class, so
    zero-shot confuses class c with c+1 about half of the time."""
    q, _ = torch.linalg.qr(torch.randn(D, C + 2, generator=torch.Generator().manual_seed(seed)))
    g_img, g_txt, mu = q[:, 0], q[:, 1], q[:, 2:].T
    text = F.normalize(0.8 * g_txt + 0.45 * F.normalize(mu + 0.95 * torch.roll(mu, -1, 0), dim=-1), dim=-1)
    gen = torch.Generator().manual_seed(seed + 1)

    def sample(per_class: int):
        y = torch.arange(C).repeat_interleave(per_class)
        noise = F.normalize(torch.randn(len(y), D, generator=gen), dim=-1)
        return F.normalize(0.8 * g_img + 0.45 * mu[y] + 0.3 * noise, dim=-1), y

    return text.T.contiguous(), sample  # classifier [D, C]


def acc(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


def test_zero_shot_classifier_matches_hand_computation():
    e = torch.tensor([[[3.0, 4.0], [0.0, 2.0]], [[1.0, 0.0], [1.0, 1.0]]])  # [C=2, T=2, D=2]
    w, norm = zero_shot_classifier(e)
    c0 = torch.tensor([0.6, 0.8]) + torch.tensor([0.0, 1.0])  # normalised templates, summed
    c1 = torch.tensor([1.0, 0.0]) + torch.tensor([2 ** -0.5, 2 ** -0.5])
    expect = torch.stack([c0 / c0.norm(), c1 / c1.norm()], dim=1)
    assert w.shape == (2, 2)
    torch.testing.assert_close(w, expect)
    assert norm == pytest.approx((torch.tensor([1.5, 3.0]).norm() + torch.tensor([1.0, 0.5]).norm()).item() / 2)
    f = F.normalize(torch.tensor([[1.0, 2.0]]), dim=-1)
    torch.testing.assert_close(zero_shot_logits(f, w), 100 * f @ expect)


def test_clap_penalty_weights_are_zero_shot_support_confidence():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.1, 0.3, 0.6]]))
    lam = clap_penalty_weights(logits, torch.tensor([0, 0, 1]), 3)
    torch.testing.assert_close(lam, torch.tensor([0.6, 0.3, 1.0]))  # class 2 unseen -> kept at zero-shot


@pytest.mark.parametrize("shots", [2, 8])
def test_few_shot_beats_zero_shot_on_perturbed_prototypes(shots):
    classifier, sample = world()
    xs, ys = sample(shots)
    xt, yt = sample(100)
    zs = acc(zero_shot_logits(xt, classifier), yt)
    assert 0.3 < zs < 0.8  # the perturbation really hurts zero-shot

    proto = fit_clap(xs, ys, classifier.T * 5.0, generator=torch.Generator().manual_seed(0))
    assert acc(clap_logits(xt, proto), yt) > zs + 0.1

    keys, values = fit_tip_adapter_f(xs, ys, classifier, generator=torch.Generator().manual_seed(0))
    assert keys.shape == xs.shape and values.shape == (len(ys), C)
    tip = tip_adapter_logits(xt, keys, values, classifier, alpha=1.0, beta=5.5)
    assert acc(tip, yt) > zs + 0.1


def test_tip_adapter_logits_formula():
    f = F.normalize(torch.randn(3, D), dim=-1)
    keys = F.normalize(torch.randn(4, D), dim=-1)
    values = F.one_hot(torch.tensor([0, 1, 1, 2]), C).float()
    w = F.normalize(torch.randn(D, C), dim=0)
    expect = 100 * f @ w + 2.0 * torch.exp(-3.0 * (1 - f @ keys.T)) @ values
    torch.testing.assert_close(tip_adapter_logits(f, keys, values, w, alpha=2.0, beta=3.0), expect)


def test_fits_are_deterministic_given_the_seed():
    classifier, sample = world(seed=3)
    xs, ys = sample(4)
    a = fit_clap(xs, ys, classifier.T, generator=torch.Generator().manual_seed(7), settings=ClapSettings(epochs=20, batch_size=8))
    b = fit_clap(xs, ys, classifier.T, generator=torch.Generator().manual_seed(7), settings=ClapSettings(epochs=20, batch_size=8))
    assert torch.equal(a, b)
    k1, _ = fit_tip_adapter_f(xs, ys, classifier, generator=torch.Generator().manual_seed(7), settings=TipAdapterSettings(batch_size=8))
    k2, _ = fit_tip_adapter_f(xs, ys, classifier, generator=torch.Generator().manual_seed(7), settings=TipAdapterSettings(batch_size=8))
    assert torch.equal(k1, k2)
    assert not torch.equal(k1, xs)  # the keys were fine-tuned


@pytest.mark.parametrize("method", ["clap", "tip-adapter-f"])
def test_heads_start_and_reset_at_zero_shot(method):
    classifier, sample = world()
    xs, ys = sample(2)
    head = create_head(method, classifier, 5.0, epochs=3)
    zs = zero_shot_logits(xs, classifier)
    torch.testing.assert_close(head.logits(xs), zs)
    head.fit(xs, ys, torch.Generator().manual_seed(0))
    assert not torch.allclose(head.logits(xs), zs)
    head.fit(xs[:0], ys[:0], torch.Generator().manual_seed(0))
    torch.testing.assert_close(head.logits(xs), zs)


def test_unknown_method_and_bad_labels_are_errors():
    classifier, sample = world()
    xs, ys = sample(1)
    with pytest.raises(ValueError, match="clap, tip-adapter-f"):
        create_head("lp++", classifier, 1.0)
    with pytest.raises(ValueError, match="labels must be in"):
        fit_clap(xs, ys + C, classifier.T, generator=torch.Generator())
