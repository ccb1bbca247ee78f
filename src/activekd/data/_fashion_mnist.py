"""Fashion-MNIST (Xiao et al. 2017) from IDX files: the offline demo dataset.

Looks in ``data_root`` only when one is given (downloading into it when online), else in
``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``), then downloads through
torchvision when online.
Splits: training images 0-49,999 form the pool, 50,000-59,999 the ``holdout`` slice (used only
to fit the stand-in teacher), and the 10,000 test images the test split.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np

from activekd.errors import DataError

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
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: expected {int(np.prod(dims))} values, found {arr.size}")
    return arr.reshape(tuple(dims))


def _find(root: Path, stem: str) -> Path | None:
    for cand in (root / f"{stem}.gz", root / stem, root / "FashionMNIST" / "raw" / stem, root / "FashionMNIST" / "raw" / f"{stem}.gz"):
        if cand.exists():
            return cand
    return None


def locate(data_root: str | None) -> Path:
    """The folder holding the four IDX files.

    With ``data_root``, only that folder counts: it must exist, and when it lacks the files they are
    downloaded into it (online) or an error names it; never a silent fall-back to another copy.
    Without, Debian's folder, then a download into ``~/.cache/activekd/fashion-mnist``.
    """
    if data_root is not None:
        root = Path(data_root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"--data-root {data_root} is not a folder; pass the folder holding the Fashion-MNIST "
                                    "IDX files (*-ubyte or *-ubyte.gz), or leave --data-root out")
        roots, target = [root], root
    else:
        roots, target = [DEBIAN_DIR], Path.home() / ".cache" / "activekd" / "fashion-mnist"
    for root in roots:
        if all(_find(root, s) for s in FILES.values()):
            return root
    try:
        from torchvision.datasets import FashionMNIST

        for train in (True, False):
            FashionMNIST(str(target), train=train, download=True)
    except Exception as e:  # offline, or a mirror is down
        where = f"--data-root {data_root}" if data_root is not None else str(DEBIAN_DIR)
        raise FileNotFoundError(
            f"Fashion-MNIST IDX files not found in {where} and download failed ({_one_line(e)}); "
            "install Debian's dataset-fashion-mnist or pass --data-root DIR with the four *-ubyte(.gz) files"
        ) from None
    return target


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


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
