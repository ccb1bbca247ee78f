"""The image folder walk (one ``scandir`` per folder) finds the same files, with the same ids, in the same order as the
``pathlib`` walk it replaced (``sorted(class_dir.rglob("*"))``, ``Path.is_file``, ``Path.suffix``): ids and order are
part of every run, so a folder must load identically across versions."""

import io
import os
from pathlib import Path

import pytest
from PIL import Image

from activekd.data import create_dataset
from activekd.imaging import IMAGE_EXTENSIONS


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (5, 4), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


IMAGE = _png()
CLASS_FILES = [  # inside each class folder; "/" makes subfolders
    "x/1.jpg", "x-y.jpg", "x.jpg", "X.PNG", "x.JPEG", ".hidden.jpg", ".jpg", "..jpg", "a.", "dir.jpg/in.png", "notes.txt",
    "noext", "a b/c d.jpg", "café/Ünï.webp", "日本.jpg", ".hid/z.bmp", "deep/er/est/1.gif", "deep/er.png", "deep-1.png",
    "deep0.png", "10.png", "9.png",
]
WANT_IN_CLASS = [  # the previous implementation's order: path parts compared in turn (a folder's files right after its name)
    "..jpg", ".hid/z.bmp", ".hidden.jpg", "10.png", "9.png", "X.PNG", "a b/c d.jpg", "café/Ünï.webp", "deep/er/est/1.gif",
    "deep/er.png", "deep-1.png", "deep0.png", "dir.jpg/in.png", "link.jpg", "x/1.jpg", "x-y.jpg", "x.JPEG", "x.jpg",
    "日本.jpg",
]


def _build(root: Path, top: str = "") -> None:
    for cls in ("dog", "cat", "a-b"):
        for rel in CLASS_FILES:
            f = root / top / cls / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(IMAGE)
        os.symlink(root / top / cls / "x.jpg", root / top / cls / "link.jpg")  # a linked file counts
        os.symlink(root / top / cls / "deep", root / top / cls / "linked")  # a linked folder is not entered
        os.symlink(root / top / cls / "gone.jpg", root / top / cls / "dangling.jpg")  # a dangling link is no file
    (root / top / ".hidden_class").mkdir()
    (root / top / ".hidden_class" / "h.jpg").write_bytes(IMAGE)
    for loose in ("top.jpg", "a-top.png", ".top.jpg"):
        (root / top / loose).write_bytes(IMAGE)


def _pathlib_walk(root: Path, loose: bool) -> list[str]:
    """The previous implementation, kept here as the reference."""
    def is_image(f: Path) -> bool:
        return f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS

    layout = [root / s for s in ("train", "pool", "val", "test") if (root / s).is_dir()] or [root]
    found: list[Path] = []
    for d in layout:
        found += [f for f in sorted(d.iterdir()) if is_image(f)] if loose else []
        for cdir in sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found += [f for f in sorted(cdir.rglob("*")) if is_image(f)]
    return [f.relative_to(root).as_posix() for f in found]


@pytest.mark.parametrize("top", ["", "train"])
def test_ids_and_order_are_those_of_the_pathlib_walk(tmp_path, top):
    root = tmp_path / "imgs"
    _build(root, top)
    if top:
        _build(root, "test")
    for loose in (False, True):
        classes = "a-b,cat,dog" if loose else None
        ds = create_dataset(f"imagefolder:{root}", image_size=8, cache_dir=str(tmp_path / "cache"), classes=classes)
        assert ds.ids == _pathlib_walk(root, loose)
        assert ds.paths == [str(root / i) for i in ds.ids]
    prefix = f"{top}/" if top else ""
    loose_ids = [f"{prefix}.top.jpg", f"{prefix}a-top.png", f"{prefix}top.jpg"]  # loose images first, unlabeled
    assert ds.ids[: 3 + len(WANT_IN_CLASS)] == loose_ids + [f"{prefix}a-b/{r}" for r in WANT_IN_CLASS]
    assert ds.class_names == ("a-b", "cat", "dog") and ds.labels[:4].tolist() == [-1, -1, -1, 0]


def test_a_relative_root_with_a_trailing_slash_gives_the_same_ids(tmp_path, monkeypatch):
    _build(tmp_path / "imgs")
    monkeypatch.chdir(tmp_path)
    ds = create_dataset("imagefolder:./imgs/", image_size=8)
    assert ds.ids == _pathlib_walk(Path("imgs"), False)
    assert ds.paths == [str(Path("./imgs/") / i) for i in ds.ids] and ds.paths[0].startswith("imgs/")
