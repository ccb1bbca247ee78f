"""activekd.device: where channels-last applies, and that it changes layout only, never values."""

from __future__ import annotations

import torch
from torch import nn

from activekd.device import CHANNELS_LAST_DEVICES, channels_last


def test_cpu_and_cuda_take_channels_last_and_other_devices_do_not():
    assert CHANNELS_LAST_DEVICES == {"cpu", "cuda"}
    x = torch.rand(2, 3, 5, 5)
    assert channels_last(x, torch.device("cpu")).is_contiguous(memory_format=torch.channels_last)
    assert channels_last(x, torch.device("meta")) is x


def test_only_four_dimensional_tensors_change_layout_and_values_stay():
    x = torch.rand(2, 3, 5, 5)
    y = channels_last(x, torch.device("cpu"))
    assert not x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(x, y)
    flat = torch.rand(4, 7)
    assert channels_last(flat, torch.device("cpu")) is flat


def test_a_module_s_convolution_weights_become_channels_last_and_its_output_agrees():
    torch.manual_seed(0)
    conv = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()).eval()
    x = torch.rand(4, 3, 9, 9)
    before = conv(x)
    channels_last(conv, torch.device("cpu"))
    assert conv[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(conv(channels_last(x, torch.device("cpu"))), before, rtol=1e-5, atol=1e-5)
