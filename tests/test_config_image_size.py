"""The decoded-image cache side: larger than the 224 input when training on crops, resolved once and saved."""

from __future__ import annotations

import pytest

from activekd.config import DataConfig, RunConfig
from activekd.errors import ConfigError
from activekd.train import TrainConfig


def test_the_cache_side_is_224_without_crops_and_256_with_them():
    assert RunConfig().data.image_size == 224
    assert RunConfig(train=TrainConfig(augment=True)).data.image_size == 256
    assert RunConfig().to_dict()["data"]["image_size"] == 224  # saved resolved: an older run (224) still matches


def test_an_explicit_side_wins():
    assert RunConfig(data=DataConfig(image_size=320), train=TrainConfig(augment=True)).data.image_size == 320
    assert RunConfig(data=DataConfig(image_size=96)).data.image_size == 96


def test_a_side_below_8_is_refused():
    with pytest.raises(ConfigError, match="image_size must be >= 8, got 4"):
        DataConfig(image_size=4)
