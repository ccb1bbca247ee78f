"""Shared helpers for the vision-language teacher tests: a tiny dataset and a cheap fake backbone."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from activekd.data import ArraySource, Dataset


def tiny_dataset(n: int = 12, size: int = 32, classes: tuple[str, ...] = ("cat", "dog"), name: str = "tiny",
                 templates: tuple[str, ...] = ("a photo of a {}.", "a drawing of a {}."), seed: int = 0) -> Dataset:
    """``n`` random RGB images, labels cycling over ``classes``; the first 2/3 pool, the rest test."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 3, size, size), dtype=np.uint8)
    splits = np.array(["pool"] * (2 * n // 3) + ["test"] * (n - 2 * n // 3), dtype=object)
    return Dataset(name=name, class_names=classes, ids=[f"s{i:03d}" for i in range(n)], labels=np.arange(n) % len(classes),
                   splits=splits, images=ArraySource(images), templates=templates)


class FakeTransform:
    """PIL -> ``[3, s, s]`` float in [0, 1] (picklable, for DataLoader workers)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, im: Image.Image) -> torch.Tensor:
        arr = np.asarray(im.convert("RGB").resize((self.size, self.size)), dtype=np.float32) / 255.0
        return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


class FakeVLM:
    """A deterministic, cheap stand-in for a CLIP-like model that counts what it encodes."""

    def __init__(self, tag: str = "v1", size: int = 8, dim: int = 16, broken: bool = False) -> None:
        self.name = f"fake:{tag}"
        self.identity = {"backend": "fake", "tag": tag}
        self.preprocess = {"size": size}
        self.size, self.dim, self.broken = size, dim, broken
        self.proj = torch.randn(3 * size * size, dim, generator=torch.Generator().manual_seed(0))
        self.images_encoded = 0
        self.texts: list[str] = []

    def transform(self) -> FakeTransform:
        return FakeTransform(self.size)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.broken:
            raise AssertionError("the image encoder was called")
        self.images_encoded += len(pixels)
        return (pixels.flatten(1) - 0.5) @ self.proj

    def encode_texts(self, texts) -> torch.Tensor:
        if self.broken:
            raise AssertionError("the text encoder was called")
        self.texts.extend(texts)
        return torch.stack([3 * torch.randn(self.dim, generator=torch.Generator().manual_seed(zlib.crc32(t.encode()))) for t in texts])


@pytest.fixture(scope="session")
def make_dataset():
    """``make_dataset(**kw)`` -> a tiny in-memory dataset (see ``tiny_dataset``)."""
    return tiny_dataset


@pytest.fixture(scope="session")
def fake_vlm():
    """The ``FakeVLM`` class (import-free access from test modules)."""
    return FakeVLM


@pytest.fixture
def single_thread():
    """Run tiny-tensor loops on one intra-op thread (two OpenMP threads crawl when the CPU is shared)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
