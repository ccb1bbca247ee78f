import numpy as np
from PIL import Image

from activekd.imaging import square


def test_square_resizes_the_shorter_side_and_keeps_the_centre():
    a = np.zeros((10, 30, 3), dtype=np.uint8)  # H 10, W 30: a white vertical band in the middle third
    a[:, 10:20] = 255
    out = square(Image.fromarray(a), 10)
    assert out.shape == (3, 10, 10) and out.dtype == np.uint8
    assert (out == 255).all()  # only the centre third is kept


def test_square_upsamples_small_and_gray_images_to_rgb():
    out = square(Image.fromarray(np.full((4, 6), 7, dtype=np.uint8)), 8)
    assert out.shape == (3, 8, 8) and (out == 7).all()
