"""The 11 few-shot benchmark datasets in CoOp's layout (Zhou et al., IJCV 2022, ``DATASETS.md``).

Specs: ``coop:NAME`` with ``--data-root ROOT`` (the folder holding all of them, CoOp's ``$DATA``),
or ``coop:NAME:DIR`` with ``DIR`` the dataset's own folder. Names: imagenet, caltech101, dtd,
eurosat, fgvc-aircraft, food101, flowers102, oxford-pets, stanford-cars, sun397, ucf101 (CoOp's
folder names and class names, e.g. ``oxford_pets`` or ``EuroSAT``, work too).

Splits come from CoOp's fixed ``split_zhou_<Name>.json`` (keys ``train``/``val``/``test``, each a
list of ``[relative_path, label, classname]``): train -> pool, val -> val, test -> test.
FGVC-Aircraft has no such file; its ``images_variant_{train,val,test}.txt`` + ``variants.txt`` are
read instead. ImageNet has none either: ``images/train/<wnid>/`` -> pool, ``images/val/<wnid>/`` ->
test (CoOp evaluates on the validation set), class names from ``classnames.txt``.

Class names are CoOp's, with ``_`` shown as a space ("Apply_Eye_Makeup" -> "Apply Eye Makeup");
each dataset carries its CoOp prompt template. Sample ids are image paths relative to the image
folder. Every listed image must exist; a missing folder, split file or image is an error naming
the expected path. Images are not decoded here (a file that exists but is corrupt fails when read).
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from activekd.errors import DataError

from ._base import Dataset
from ._files import FileSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoopInfo:
    """Where one CoOp dataset lives under the root and how it is prompted."""

    name: str
    folder: str
    image_dir: str
    split_file: str | None
    template: str
    aliases: tuple[str, ...] = ()


COOP_DATASETS: dict[str, CoopInfo] = {
    i.name: i
    for i in (
        CoopInfo("imagenet", "imagenet", "images", None, "a photo of a {}."),
        CoopInfo("caltech101", "caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json", "a photo of a {}."),
        CoopInfo("dtd", "dtd", "images", "split_zhou_DescribableTextures.json", "{} texture.", ("describabletextures",)),
        CoopInfo("eurosat", "eurosat", "2750", "split_zhou_EuroSAT.json", "a centered satellite photo of {}."),
        CoopInfo("fgvc-aircraft", "fgvc_aircraft", "images", None, "a photo of a {}, a type of aircraft.", ("aircraft",)),
        CoopInfo("food101", "food-101", "images", "split_zhou_Food101.json", "a photo of {}, a type of food."),
        CoopInfo("flowers102", "oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json", "a photo of a {}, a type of flower.", ("flowers",)),
        CoopInfo("oxford-pets", "oxford_pets", "images", "split_zhou_OxfordPets.json", "a photo of a {}, a type of pet.", ("pets",)),
        CoopInfo("stanford-cars", "stanford_cars", "", "split_zhou_StanfordCars.json", "a photo of a {}.", ("cars",)),
        CoopInfo("sun397", "sun397", "SUN397", "split_zhou_SUN397.json", "a photo of a {}."),
        CoopInfo("ucf101", "ucf101", "UCF-101-midframes", "split_zhou_UCF101.json", "a photo of a person doing {}."),
    )
}

SPLIT_MAP = {"train": "pool", "val": "val", "test": "test"}


def _norm(name: str) -> str:
    return re.sub(r"[-_\s]", "", name.lower())


def list_coop_datasets() -> list[str]:
    return sorted(COOP_DATASETS)


def coop_info(name: str) -> CoopInfo:
    """Look a CoOp dataset up by name, folder name or alias; an unknown name lists the valid ones."""
    key = _norm(name)
    for info in COOP_DATASETS.values():
        keys = {_norm(info.name), _norm(info.folder), *(_norm(a) for a in info.aliases)}
        if info.split_file:
            keys.add(_norm(info.split_file[len("split_zhou_"):-len(".json")]))
        if key in keys:
            return info
    raise DataError(f"unknown CoOp dataset {name!r}; valid: {', '.join(list_coop_datasets())}")


def _display(classname: str) -> str:
    return classname.replace("_", " ").strip()


def _read_split_json(folder: Path, info: CoopInfo) -> tuple[list[str], list[int], list[str], dict[int, str]]:
    """-> (relative paths, labels, split names, label -> CoOp class name)."""
    assert info.split_file is not None
    path = folder / info.split_file
    if not path.is_file():
        raise FileNotFoundError(
            f"coop:{info.name}: split file {path} not found. Put CoOp's {info.split_file} there "
            f"(see CoOp's DATASETS.md); expected layout: {folder}/{info.image_dir + '/' if info.image_dir else ''}... and {path}"
        )
    try:
        split = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"coop:{info.name}: {path} is not valid JSON ({e})") from None
    if not isinstance(split, dict) or not set(SPLIT_MAP) <= set(split):
        raise DataError(f"coop:{info.name}: {path} must have keys train, val and test")
    rel, labels, splits, names = [], [], [], {}
    for key, our_split in SPLIT_MAP.items():
        for n, item in enumerate(split[key]):
            if not (isinstance(item, list) and len(item) == 3):
                raise DataError(f"coop:{info.name}: {path} {key}[{n}] must be [relative_path, label, classname], got {item!r}")
            p, label, cname = item
            label = int(label)
            if names.setdefault(label, cname) != cname:
                raise DataError(f"coop:{info.name}: {path}: label {label} is named both {names[label]!r} and {cname!r}")
            rel.append(str(p))
            labels.append(label)
            splits.append(our_split)
    return rel, labels, splits, names


def _read_aircraft(folder: Path, info: CoopInfo) -> tuple[list[str], list[int], list[str], dict[int, str]]:
    variants = folder / "variants.txt"
    if not variants.is_file():
        raise FileNotFoundError(f"coop:{info.name}: {variants} not found; expected the data/ folder of fgvc-aircraft-2013b renamed to {folder}")
    classes = [ln.strip() for ln in variants.read_text(encoding="utf-8").splitlines() if ln.strip()]
    cidx = {c: i for i, c in enumerate(classes)}
    rel, labels, splits = [], [], []
    for key, our_split in SPLIT_MAP.items():
        f = folder / f"images_variant_{key}.txt"
        if not f.is_file():
            raise FileNotFoundError(f"coop:{info.name}: {f} not found")
        for n, ln in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            if not ln.strip():
                continue
            image, _, cname = ln.strip().partition(" ")
            if cname not in cidx:
                raise DataError(f"coop:{info.name}: {f} line {n}: variant {cname!r} is not in {variants}")
            rel.append(f"{image}.jpg")
            labels.append(cidx[cname])
            splits.append(our_split)
    return rel, labels, splits, dict(enumerate(classes))


def _imagenet_classnames(folder: Path, wnids: list[str]) -> dict[str, str]:
    f = folder / "classnames.txt"
    if f.is_file():
        out = {}
        for ln in f.read_text(encoding="utf-8").splitlines():
            wnid, _, name = ln.strip().partition(" ")
            if wnid:
                out[wnid] = name
        missing = [w for w in wnids if w not in out]
        if missing:
            raise DataError(f"coop:imagenet: {f} has no class name for folder(s) {missing[:5]}")
        return out
    try:  # the same CLIP class names CoOp's classnames.txt was copied from, in sorted-wnid order
        from open_clip import IMAGENET_CLASSNAMES
    except ImportError:
        IMAGENET_CLASSNAMES = ()
    if len(wnids) == len(IMAGENET_CLASSNAMES) == 1000:
        log.warning("coop:imagenet: %s not found; using open_clip's CLIP ImageNet class names in sorted-folder order", f)
        return dict(zip(wnids, IMAGENET_CLASSNAMES))
    raise FileNotFoundError(f"coop:imagenet: {f} not found (CoOp's classnames.txt: lines '<wnid> <class name>')")


def _read_imagenet(folder: Path, info: CoopInfo) -> tuple[list[str], list[int], list[str], dict[int, str]]:
    images = folder / info.image_dir
    parts = {"train": "pool", "val": "test"}
    for d in parts:
        if not (images / d).is_dir():
            raise FileNotFoundError(f"coop:imagenet: {images / d} not found; expected {images}/train/<wnid>/*.JPEG and {images}/val/<wnid>/*.JPEG")
    wnids = sorted(e.name for e in os.scandir(images / "train") if e.is_dir())
    if not wnids:
        raise DataError(f"coop:imagenet: no class folders in {images / 'train'}")
    names = _imagenet_classnames(folder, wnids)
    widx = {w: i for i, w in enumerate(wnids)}
    rel, labels, splits = [], [], []
    for d, our_split in parts.items():
        for w in sorted(e.name for e in os.scandir(images / d) if e.is_dir()):
            if w not in widx:
                raise DataError(f"coop:imagenet: {images / d / w} is not a class of {images / 'train'}")
            for f in sorted(e.name for e in os.scandir(images / d / w) if e.is_file() and not e.name.startswith(".")):
                rel.append(f"{d}/{w}/{f}")
                labels.append(widx[w])
                splits.append(our_split)
    return rel, labels, splits, {i: names[w] for w, i in widx.items()}


def dataset_folder(name: str, *, data_root: str | None = None, folder: str | None = None) -> Path:
    """The folder of CoOp dataset ``name``: ``folder`` if given, else ``data_root / <CoOp folder name>``."""
    info = coop_info(name)
    if folder:
        return Path(folder)
    if not data_root:
        raise DataError(f"coop:{info.name} needs --data-root ROOT (the folder holding {info.folder}/) or coop:{info.name}:DIR")
    return Path(data_root) / info.folder


def load_coop(name: str, *, data_root: str | None = None, folder: str | None = None, image_size: int = 224,
              cache_dir: str | None = None) -> Dataset:
    """Load CoOp dataset ``name`` (see the module docstring for the layout)."""
    info = coop_info(name)
    base = dataset_folder(name, data_root=data_root, folder=folder)
    if not base.is_dir():
        expected = f"{base}/{info.split_file}" if info.split_file else f"{base}/{info.image_dir}/"
        raise FileNotFoundError(f"coop:{info.name}: dataset folder {base} not found (expected CoOp's layout, e.g. {expected}; see CoOp's DATASETS.md)")
    if info.name == "imagenet":
        rel, labels, splits, names = _read_imagenet(base, info)
    elif info.split_file is None:
        rel, labels, splits, names = _read_aircraft(base, info)
    else:
        rel, labels, splits, names = _read_split_json(base, info)
    if not rel:
        raise DataError(f"coop:{info.name}: no images listed under {base}")
    num_classes = max(names) + 1
    if sorted(names) != list(range(num_classes)):
        raise DataError(f"coop:{info.name}: labels must be 0..C-1 with no gaps; missing {sorted(set(range(num_classes)) - set(names))[:5]}")
    image_root = base / info.image_dir if info.image_dir else base
    if len(set(rel)) != len(rel):
        raise DataError(f"coop:{info.name}: the same image is listed more than once")
    paths = [str(image_root / r) for r in rel]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"coop:{info.name}: {len(missing)} of {len(paths)} listed image(s) missing under {image_root}, e.g. {missing[0]}"
        )
    return Dataset(
        name=f"coop:{info.name}", class_names=tuple(_display(names[i]) for i in range(num_classes)),
        ids=[Path(r).as_posix() for r in rel], labels=np.array(labels, dtype=np.int64), splits=np.array(splits, dtype=object),
        images=FileSource(paths, image_size, cache_dir), templates=(info.template,), paths=paths,
    )


def load_coop_spec(arg: str | None, *, data_root: str | None, image_size: int, cache_dir: str | None) -> Dataset:
    """``coop:NAME`` or ``coop:NAME:DIR`` (the registry entry)."""
    if not arg:
        raise DataError(f"coop needs a dataset name: coop:NAME[:DIR], NAME in {', '.join(list_coop_datasets())}")
    name, sep, folder = arg.partition(":")
    return load_coop(name, data_root=data_root, folder=folder if sep else None, image_size=image_size, cache_dir=cache_dir)
