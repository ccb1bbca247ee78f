"""``create_dataset(spec)``: the one door to every dataset.

Specs: a registered name (``fashion-mnist``) or ``KIND:ARG`` (``imagefolder:DIR``, ``csv:FILE``,
``coop:NAME[:DIR]`` for the 11 CoOp few-shot benchmarks).
"""

from __future__ import annotations

from typing import Callable

from activekd.errors import DataError
from activekd.registry import Registry, parse_spec

from ._base import Dataset
from ._coop import load_coop_spec
from ._fashion_mnist import load_fashion_mnist
from ._files import load_csv, load_imagefolder

DatasetFactory = Callable[..., Dataset]
DATASETS: Registry[DatasetFactory] = Registry("dataset")


@DATASETS.register("fashion-mnist")
def _fashion_mnist(arg: str | None, *, data_root: str | None, image_size: int, cache_dir: str | None, classes: str | None) -> Dataset:
    _own_classes("fashion-mnist", classes)
    return load_fashion_mnist(data_root)


@DATASETS.register("imagefolder")
def _imagefolder(arg: str | None, *, data_root: str | None, image_size: int, cache_dir: str | None, classes: str | None) -> Dataset:
    if not arg:
        raise DataError("imagefolder needs a folder: imagefolder:DIR")
    return load_imagefolder(arg, image_size=image_size, cache_dir=cache_dir, classes=classes)


@DATASETS.register("csv")
def _csv(arg: str | None, *, data_root: str | None, image_size: int, cache_dir: str | None, classes: str | None) -> Dataset:
    if not arg:
        raise DataError("csv needs a file: csv:FILE")
    return load_csv(arg, image_size=image_size, cache_dir=cache_dir, classes=classes)


@DATASETS.register("coop")
def _coop(arg: str | None, *, data_root: str | None, image_size: int, cache_dir: str | None, classes: str | None) -> Dataset:
    _own_classes("coop", classes)
    return load_coop_spec(arg, data_root=data_root, image_size=image_size, cache_dir=cache_dir)


def create_dataset(spec: str, *, data_root: str | None = None, image_size: int = 224, cache_dir: str | None = None,
                   classes: str | None = None) -> Dataset:
    """Build the dataset named by ``spec``; an unknown kind raises listing the valid ones.

    ``classes``: ``FILE|a,b,c``, the class names of a ``csv:`` or ``imagefolder:`` dataset (see ``_classes``)."""
    kind, arg = parse_spec(spec)
    return DATASETS.get(kind)(arg, data_root=data_root, image_size=image_size, cache_dir=cache_dir, classes=classes)


def _own_classes(kind: str, classes: str | None) -> None:
    if classes:
        raise DataError(f"--classes: {kind} has its own class names; --classes is for csv: and imagefolder: datasets")


def list_datasets() -> list[str]:
    return DATASETS.names()
