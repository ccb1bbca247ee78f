"""The reference crop (RandomResizedCrop(scale=(0.5, 1), ratio=(3/4, 4/3)) + flip) and the fixed views."""

import math

import numpy as np
import torch

from activekd.train import apply_crop_flip, crop_flip_params, view_params


def crop_geometry(theta):
    """Relative width, height, centre and flip of each affine map ``[n, 2, 3]``."""
    w, h = theta[:, 0, 0].abs(), theta[:, 1, 1]
    return w, h, theta[:, 0, 2], theta[:, 1, 2], theta[:, 0, 0] < 0


def check_reference_ranges(theta):
    w, h, tx, ty, flipped = crop_geometry(theta.double())
    eps = 1e-5
    assert (w > 0).all() and (w <= 1 + eps).all() and (h > 0).all() and (h <= 1 + eps).all()
    assert (tx.abs() <= 1 - w + eps).all() and (ty.abs() <= 1 - h + eps).all()  # the crop lies inside the image
    free = (w < 1 - eps) & (h < 1 - eps)  # neither side clipped: area and aspect are the drawn ones
    area, aspect = (w * h)[free], (w / h)[free]
    assert free.float().mean() > 0.5
    assert (area >= 0.5 - eps).all() and (area <= 1 + eps).all()
    assert (aspect >= 0.75 - eps).all() and (aspect <= 4 / 3 + eps).all()
    assert area.min() < 0.53 and area.max() > 0.9  # the whole range is used (not the old 0.64-1 squares)
    assert aspect.min() < 0.78 and aspect.max() > 1.28
    assert abs(float(aspect.log().mean())) < 0.03  # log aspect uniform around 0
    assert abs(float(flipped.double().mean()) - 0.5) < 0.05
    assert float(tx.std()) > 0.05 and float(ty.std()) > 0.05  # positions vary in both directions


def test_live_crops_follow_the_reference_ranges():
    check_reference_ranges(crop_flip_params(4000, torch.Generator().manual_seed(0)))


def test_fixed_views_follow_the_reference_ranges():
    check_reference_ranges(view_params(7, np.arange(1000), 4).reshape(-1, 2, 3))


def test_clipped_crops_stay_inside_the_image():
    theta = crop_flip_params(2000, torch.Generator().manual_seed(1), scale=(0.9, 1.0), ratio=(0.5, 2.0))
    w, h, tx, ty, _ = crop_geometry(theta.double())
    assert ((w > 1 - 1e-6) | (h > 1 - 1e-6)).any()  # some sides clipped to the full image
    assert (w <= 1 + 1e-6).all() and (h <= 1 + 1e-6).all()
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
