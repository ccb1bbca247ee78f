"""Fashion-MNIST (Xiao et al. 2017) from IDX files: the offline demo dataset.

Looks in ``data_root``, then ``/usr/share/datasets/fashion-mnist`` (Debian's
``dataset-fashion-mnist``), then downloads through torchvision when online.
Splits: training images 0-49,999 form the pool, 50,000-59,999 the ``holdout`` slice (used only
to fit the stand-in teacher), and the 10,000 test images the test split.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np

from ._base import ArraySource, Dataset

log = logging.getLogger(__name__)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
TEMPLATES = ("a photo of a {}.", "a photo of the {}, a type of clothing.", "a black and white photo of a {}.")
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
HOLDOUT_START = 50_000


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(dims))} values, found {arr.size}")
    return arr.reshape(tuple(dims))


def _find(root: Path, stem: str) -> Path | None:
    for cand in (root / f"{stem}.gz", root / stem, root / "FashionMNIST" / "raw" / stem, root / "FashionMNIST" / "raw" / f"{stem}.gz"):
        if cand.exists():
            return cand
    return None


def locate(data_root: str | None) -> Path:
    """The folder holding the four IDX files; downloads via torchvision if nothing local has them."""
    roots = [Path(data_root)] if data_root else []
    roots.append(DEBIAN_DIR)
    for root in roots:
        if all(_find(root, s) for s in FILES.values()):
            return root
    target = Path(data_root) if data_root else Path.home() / ".cache" / "activekd" / "fashion-mnist"
    try:
        from torchvision.datasets import FashionMNIST

        for train in (True, False):
            FashionMNIST(str(target), train=train, download=True)
    except Exception as e:  # offline, or a mirror is down
        raise FileNotFoundError(
            f"Fashion-MNIST IDX files not found in {', '.join(map(str, roots))} and download failed ({e}). "
            "Install Debian's dataset-fashion-mnist or pass --data-root DIR with the four *-ubyte(.gz) files."
        ) from None
    return target


def load_fashion_mnist(data_root: str | None = None) -> Dataset:
    root = locate(data_root)
    arrays = {k: read_idx(_find(root, s)) for k, s in FILES.items()}  # type: ignore[arg-type]
    images = np.concatenate([arrays["train_images"], arrays["test_images"]])
    labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]]).astype(np.int64)
    n_train = len(arrays["train_images"])
    ids = [f"train-{i:05d}" for i in range(n_train)] + [f"test-{i:05d}" for i in range(len(arrays["test_images"]))]
    splits = np.array(["pool"] * HOLDOUT_START + ["holdout"] * (n_train - HOLDOUT_START) + ["test"] * len(arrays["test_images"]), dtype=object)
    log.debug("loaded Fashion-MNIST from %s", root)
    return Dataset(
        name="fashion-mnist", class_names=CLASS_NAMES, ids=ids, labels=labels, splits=splits,
        images=ArraySource(images), templates=TEMPLATES,
    )
