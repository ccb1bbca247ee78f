"""The reference crop (torchvision's RandomResizedCrop(scale=(0.5, 1), ratio=(3/4, 4/3)): up to 10 tries, then the
centred fallback) + flip, and the fixed views."""

import math

import numpy as np
import torch

from activekd.train import apply_crop_flip, crop_flip_params, view_params
from activekd.train._augment import TRIES, theta_from_uniforms


def crop_geometry(theta):
    """Relative width, height, centre and flip of each affine map ``[n, 2, 3]``."""
    w, h = theta[:, 0, 0].abs(), theta[:, 1, 1]
    return w, h, theta[:, 0, 2], theta[:, 1, 2], theta[:, 0, 0] < 0


def check_reference_ranges(theta, scale=(0.5, 1.0), ratio=(0.75, 4 / 3)):
    """Every crop lies inside the image with its area and aspect in the stated ranges (redraws, not clipping)."""
    w, h, tx, ty, flipped = crop_geometry(theta.double())
    eps = 1e-5
    assert (w > 0).all() and (w <= 1 + eps).all() and (h > 0).all() and (h <= 1 + eps).all()
    assert (tx.abs() <= 1 - w + eps).all() and (ty.abs() <= 1 - h + eps).all()  # the crop lies inside the image
    area, aspect = w * h, w / h
    assert (area >= scale[0] - eps).all() and (area <= scale[1] + eps).all()
    assert (aspect >= ratio[0] - eps).all() and (aspect <= ratio[1] + eps).all()
    assert area.min() < scale[0] + 0.03 and area.max() > 0.9  # the whole range is used
    assert aspect.min() < ratio[0] * 1.04 and aspect.max() > ratio[1] / 1.04
    assert abs(float(aspect.log().mean())) < 0.03  # log aspect symmetric around 0
    assert abs(float(flipped.double().mean()) - 0.5) < 0.05
    assert float(tx.std()) > 0.05 and float(ty.std()) > 0.05  # positions vary in both directions


def test_live_crops_follow_the_reference_ranges():
    check_reference_ranges(crop_flip_params(4000, torch.Generator().manual_seed(0)))


def test_fixed_views_follow_the_reference_ranges():
    check_reference_ranges(view_params(7, np.arange(1000), 4).reshape(-1, 2, 3))


def test_crops_are_distributed_as_torchvisions():
    """The same area and aspect distribution as ``RandomResizedCrop.get_params`` on a large square image (redrawing
    a crop that does not fit shifts the mean area to 0.69; clipping it, as before, gave 0.74)."""
    from torchvision.transforms import RandomResizedCrop

    n = 5000
    w, h, *_ = crop_geometry(crop_flip_params(n, torch.Generator().manual_seed(3)).double())
    image = torch.zeros(1, 2000, 2000)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        boxes = torch.tensor([RandomResizedCrop.get_params(image, [0.5, 1.0], [3 / 4, 4 / 3])[2:] for _ in range(n)]).double()
    tv_area, tv_log_aspect = (boxes[:, 0] * boxes[:, 1] / 2000**2), (boxes[:, 1] / boxes[:, 0]).log()
    assert abs(float((w * h).mean() - tv_area.mean())) < 0.012
    assert abs(float((w / h).log().abs().mean() - tv_log_aspect.abs().mean())) < 0.01
    assert abs(float((w * h).mean()) - 0.69) < 0.01


def test_the_first_try_that_fits_is_kept():
    """Hand-made uniforms: tries 0 and 1 do not fit (area 1 at aspect ≠ 1), try 2 fits (area 0.5, aspect 1)."""
    u = torch.zeros(1, 2 * TRIES + 3, dtype=torch.float64)
    u[0, :TRIES] = 1.0  # area 1 ...
    u[0, 2] = 0.0  # ... except try 2: area 0.5
    u[0, TRIES:2 * TRIES] = 1.0  # aspect 4/3 ...
    u[0, TRIES + 2] = 0.5  # ... except try 2: aspect 1
    u[0, 2 * TRIES:] = torch.tensor([1.0, 0.0, 0.9])  # right edge, top edge, no flip
    w, h, tx, ty, flipped = crop_geometry(theta_from_uniforms(u, (0.5, 1.0), (3 / 4, 4 / 3), True).double())
    s = math.sqrt(0.5)
    torch.testing.assert_close((w, h, tx, ty), tuple(torch.tensor([v], dtype=torch.float64) for v in (s, s, 1 - s, s - 1)),
                               atol=1e-6, rtol=0)
    assert not flipped.any()


def test_the_fallback_is_the_centred_crop_of_the_clamped_aspect():
    """No try can fit (area ≥ 0.95 at aspect ≥ 1.5 needs a width > 1): torchvision's fallback, the image's aspect (1)
    clamped into ``ratio``, centred: full width and height 1/1.5 here; full height and width 0.6 for ratio (0.5, 0.6);
    the whole image when the ratio range holds 1."""
    g = torch.Generator().manual_seed(0)
    for ratio, want in (((1.5, 2.0), (1.0, 1 / 1.5)), ((0.5, 0.6), (0.6, 1.0))):
        w, h, tx, ty, _ = crop_geometry(crop_flip_params(200, g, scale=(0.95, 1.0), ratio=ratio).double())
        torch.testing.assert_close(w, torch.full_like(w, want[0]), atol=1e-6, rtol=0)
        torch.testing.assert_close(h, torch.full_like(h, want[1]), atol=1e-6, rtol=0)
        assert (tx == 0).all() and (ty == 0).all()
    u = torch.zeros(1, 2 * TRIES + 3, dtype=torch.float64)
    u[0, :TRIES] = 1.0
    u[0, TRIES:2 * TRIES] = 1.0  # every try: area 1 at aspect 4/3, too wide
    w, h, tx, ty, _ = crop_geometry(theta_from_uniforms(u, (0.5, 1.0), (3 / 4, 4 / 3), False).double())
    assert (float(w), float(h), float(tx), float(ty)) == (1.0, 1.0, 0.0, 0.0)


def test_rarely_fitting_crops_are_redrawn_not_clipped():
    """Area 0.9-1 at aspect 1/2-2 rarely fits: crops are redrawn (each kept one in range) or fall back to the whole image."""
    theta = crop_flip_params(2000, torch.Generator().manual_seed(1), scale=(0.9, 1.0), ratio=(0.5, 2.0))
    w, h, tx, ty, _ = crop_geometry(theta.double())
    whole = (w == 1) & (h == 1)
    assert 0.2 < float(whole.float().mean()) < 0.7  # (1 - P(fit))^10 of them fall back
    assert (tx[whole] == 0).all() and (ty[whole] == 0).all()
    kept = ~whole
    assert ((w * h)[kept] >= 0.9 - 1e-5).all() and (w[kept] < 1).all() and (h[kept] < 1).all()
    assert (tx.abs() <= 1 - w + 1e-6).all() and (ty.abs() <= 1 - h + 1e-6).all()


def test_no_flip_when_flip_is_off():
    assert (crop_flip_params(500, torch.Generator().manual_seed(2), flip=False)[:, 0, 0] > 0).all()


def test_the_applied_crop_is_the_described_window():
    """A ramp image (pixel = its x coordinate) cut through θ shows the window θ describes."""
    side = 64
    ramp = ((torch.arange(side) + 0.5) / side * 2 - 1).expand(1, 1, side, side)  # normalised x of each pixel centre
    theta = torch.tensor([[[0.5, 0.0, 0.25], [0.0, 0.7, -0.1]], [[-0.6, 0.0, -0.2], [0.0, 0.6, 0.0]]])
    out = apply_crop_flip(ramp.expand(2, 1, side, side).contiguous(), theta)
    for t, o in zip(theta, out):
        sx, tx = float(t[0, 0]), float(t[0, 2])
        xs = (torch.arange(side) + 0.5) / side * 2 - 1
        torch.testing.assert_close(o[0, side // 2], sx * xs + tx, atol=2 / side, rtol=0)


def test_views_depend_only_on_seed_position_and_view():
    a = view_params(3, [5, 9, 2], 4)
    assert a.shape == (3, 4, 2, 3)
    torch.testing.assert_close(view_params(3, [9], 4)[0], a[1], rtol=0, atol=0)  # other positions do not matter
    torch.testing.assert_close(view_params(3, [2, 5], 2), a[[2, 0], :2], rtol=0, atol=0)  # nor the view count
    assert not torch.equal(view_params(4, [5, 9, 2], 4), a)  # the seed does
    assert not torch.equal(a[0, 0], a[0, 1]) and not torch.equal(a[0, 0], a[2, 0])  # views and positions differ
    assert math.isfinite(float(view_params(-1, [0], 1).sum()))  # any int seed
