import math

import pytest
import torch

from activekd.heads import mix_heads


def test_mix_heads_matches_formula():
    g = torch.Generator().manual_seed(0)
    ce, kd = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    for alpha, beta in [(0.0, 1.0), (0.3, 0.5), (0.5, 1.0), (1.0, 2.0)]:
        p = mix_heads(ce, kd, alpha, beta)
        for i in range(7):
            for c in range(5):
                e_ce = math.exp(ce[i, c]) / sum(math.exp(v) for v in ce[i])
                e_kd = math.exp(kd[i, c] / beta) / sum(math.exp(v / beta) for v in kd[i])
                assert p[i, c].item() == pytest.approx((1 - alpha) * e_ce + alpha * e_kd, rel=1e-5)
        assert torch.allclose(p.sum(1), torch.ones(7))


@pytest.mark.parametrize("alpha,beta", [(-0.1, 1.0), (1.1, 1.0), (0.5, 0.0)])
def test_mix_heads_rejects_bad_parameters(alpha, beta):
    with pytest.raises(ValueError):
        mix_heads(torch.zeros(2, 3), torch.zeros(2, 3), alpha, beta)


def test_mix_heads_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shapes differ"):
        mix_heads(torch.zeros(2, 3), torch.zeros(2, 4))
