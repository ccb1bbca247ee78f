"""The dataset record every part of activekd reads: stable ids, labels, splits, images."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from activekd.errors import DataError, UnknownIdError

SPLITS = ("pool", "val", "test", "holdout", "unused")
"""``pool``: unlabeled images AL may pick from; ``val``: labeled validation (optional);
``test``: labeled evaluation; ``holdout``: kept out of the run (e.g. the stand-in teacher's fit set);
``unused``: left out by a size limit (``limit_split``)."""

UNLABELED = -1


class ImageSource(Protocol):
    """Where a dataset's pixels come from.

    ``pil(i)`` gives the original image (for VLM teachers with their own preprocessing);
    ``batch(indices)`` gives a ``[B, C, H, W]`` uint8 tensor at the source's fixed storage size
    (for students, which resize and normalise themselves).
    """

    channels: int
    size: tuple[int, int]

    def pil(self, index: int) -> Image.Image: ...

    def batch(self, indices: np.ndarray) -> Tensor: ...


class ArraySource:
    """Images held as one uint8 array ``[N, H, W]`` or ``[N, C, H, W]`` (in memory or memory-mapped)."""

    def __init__(self, array: np.ndarray) -> None:
        if array.dtype != np.uint8:
            raise DataError(f"image array must be uint8, got {array.dtype}")
        if array.ndim == 3:
            array = array[:, None]
        if array.ndim != 4:
            raise DataError(f"image array must be [N, H, W] or [N, C, H, W], got shape {array.shape}")
        self.array = array
        self.channels = int(array.shape[1])
        self.size = (int(array.shape[2]), int(array.shape[3]))

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def pil(self, index: int) -> Image.Image:
        a = self.array[index]
        return Image.fromarray(a[0]) if self.channels == 1 else Image.fromarray(np.moveaxis(a, 0, -1))

    def batch(self, indices: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.array[np.asarray(indices)]))

    def as_tensor(self) -> Tensor:
        """All images as one ``[N, C, H, W]`` uint8 tensor (no copy when the array is in memory)."""
        return torch.from_numpy(np.ascontiguousarray(self.array))


@dataclass
class Dataset:
    """An image classification dataset with stable string ids.

    Attributes:
        name: the dataset spec it was built from.
        class_names: ``C`` class names, index = label.
        ids: ``N`` unique sample ids, stable across runs.
        labels: ``[N]`` int64 labels, ``UNLABELED`` (-1) where unknown.
        splits: ``[N]`` split name per sample, one of ``SPLITS``.
        images: the pixels.
        templates: prompt templates for zero-shot teachers ("a photo of a {}."), may be empty.
        paths: ``N`` file paths for file-backed datasets, else empty.
        unreadable: the files left out because they would not decode (file-backed datasets), else empty.
    """

    name: str
    class_names: tuple[str, ...]
    ids: list[str]
    labels: np.ndarray
    splits: np.ndarray
    images: ImageSource
    templates: tuple[str, ...] = ()
    paths: list[str] = field(default_factory=list)
    unreadable: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.splits = np.asarray(self.splits, dtype=object)
        if self.labels.shape != (n,) or self.splits.shape != (n,):
            raise DataError(f"ids, labels and splits must have one entry per sample ({n})")
        bad = set(self.splits.tolist()) - set(SPLITS)
        if bad:
            raise DataError(f"unknown split names {sorted(bad)}; valid: {', '.join(SPLITS)}")
        if n and (self.labels.max(initial=-1) >= len(self.class_names) or self.labels.min(initial=0) < UNLABELED):
            raise DataError("labels out of range of class_names")
        self._index = dict(zip(self.ids, range(n)))
        if len(self._index) != n:
            raise DataError("sample ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split_indices(self, split: str) -> np.ndarray:
        """Positions of the samples in ``split`` (ascending)."""
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        return np.flatnonzero(self.splits == split)

    def labeled_indices(self, split: str) -> np.ndarray:
        """Positions of the samples in ``split`` whose label is known (ascending)."""
        idx = self.split_indices(split)
        return idx[self.labels[idx] != UNLABELED]

    def split_ids(self, split: str) -> list[str]:
        """The ids of the samples in ``split``, in dataset order."""
        return [self.ids[i] for i in self.split_indices(split)]

    def has(self, sample_id: str) -> bool:
        """Whether ``sample_id`` is one of the dataset's images."""
        return sample_id in self._index

    def index_of(self, ids: Sequence[str]) -> np.ndarray:
        """Positions of ``ids``; an unknown id raises ``KeyError`` naming it."""
        try:
            return np.fromiter((self._index[i] for i in ids), dtype=np.int64, count=len(ids))
        except KeyError as e:
            raise UnknownIdError(f"unknown sample id {e.args[0]!r} in dataset {self.name!r}") from None

    def fingerprint(self) -> str:
        """A short hash of ids, labels, splits, class names and paths: changes when the data does."""
        h = hashlib.sha256()
        for part in (self.class_names, self.ids, self.paths):
            h.update("\x1f".join(part).encode())
            h.update(b"\x1e")
        h.update(self.labels.tobytes())
        h.update("\x1f".join(self.splits.tolist()).encode())
        return h.hexdigest()[:16]


def limit_split(dataset: Dataset, split: str, limit: int | None, seed: int = 0) -> Dataset:
    """Keep a seeded random ``limit`` samples of ``split``; the rest move to ``unused``.

    Returns ``dataset`` itself when no limit applies. Used for quick trials and tests.
    """
    idx = dataset.split_indices(split)
    if limit is None or limit >= len(idx):
        return dataset
    if limit < 1:
        raise DataError(f"a {split} limit must be >= 1, got {limit}")
    drop = np.random.default_rng(seed).permutation(idx)[limit:]
    splits = dataset.splits.copy()
    splits[drop] = "unused"
    return dataclasses.replace(dataset, splits=splits)


def k_shot_ids(dataset: Dataset, shots: int, seed: int, split: str = "pool") -> list[str]:
    """The initial labeled set: exactly ``shots`` images per class from ``split``, seeded.

    Raises ``ValueError`` naming the first class that has fewer than ``shots`` labeled images.
    Returned in class order, then in the seeded draw order within a class.
    """
    if shots < 0:
        raise DataError(f"shots must be >= 0, got {shots}")
    idx = dataset.split_indices(split)
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for c, name in enumerate(dataset.class_names):
        members = idx[dataset.labels[idx] == c]
        if len(members) < shots:
            raise DataError(f"class {name!r} has {len(members)} labeled images in {split!r}, fewer than shots={shots}")
        out.extend(dataset.ids[i] for i in rng.choice(members, size=shots, replace=False))
    return out
