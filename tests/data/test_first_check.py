"""A first load checks every image with a full decode; those squares become the pixel cache, so a first run decodes
each image once (not once to check it and again for the cache), with the same pixels as a plain cache build."""

import os

import numpy as np
import pytest
from PIL import Image

import activekd.data._files as files
import activekd.data._verdicts as verdicts
from activekd.data import create_dataset
from activekd.imaging import square

PAST_NS = 1_600_000_000 * 10**9


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for i in range(9):
        path = root / f"c{i % 3}" / f"{i}.{'png' if i % 2 else 'jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (int(rng.integers(9, 30)), int(rng.integers(9, 30)), 3), dtype=np.uint8)).save(path)
        os.utime(path, ns=(PAST_NS, PAST_NS))
    return root


@pytest.fixture
def decoded(monkeypatch):
    """Paths decoded by a check, and a switch making any later pixel decode an error."""
    seen: list[str] = []
    real = verdicts.decodes
    monkeypatch.setattr(verdicts, "decodes", lambda path, then=None: seen.append(os.path.basename(path)) or real(path, then))

    def forbid():
        def fail(self, i):
            raise AssertionError(f"{self.paths[i]} decoded again")
        monkeypatch.setattr(files._Squares, "__getitem__", fail)

    return seen, forbid


def _want(ds, side):
    return np.stack([square(Image.open(p), side) for p in ds.paths])


@pytest.mark.parametrize("broken", [0, 2])
@pytest.mark.parametrize("workers", [False, True])
def test_a_first_load_decodes_each_image_once_into_the_pixel_cache(folder, tmp_path, decoded, monkeypatch, broken, workers):
    seen, forbid = decoded
    for k in range(broken):
        (folder / "c1" / f"broken{k}.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    if workers:
        monkeypatch.setattr(files, "DECODE_IN_WORKERS", 4)
        monkeypatch.setattr(files.os, "cpu_count", lambda: 2)
    cache = tmp_path / "cache"
    ds = create_dataset(f"imagefolder:{folder}", image_size=12, cache_dir=str(cache))
    assert len(ds) == 9 and len(ds.unreadable) == broken
    if not workers:
        files_there = [f"{i}.{'png' if i % 2 else 'jpg'}" for i in range(9)] + [f"broken{k}.jpg" for k in range(broken)]
        assert sorted(seen) == sorted(files_there)
    forbid()
    assert np.array_equal(ds.images.materialize(), _want(ds, 12))
    assert sorted(os.listdir(cache / "images")) == [ds.images.cache_file().name]  # nothing staged left behind
    again = create_dataset(f"imagefolder:{folder}", image_size=12, cache_dir=str(cache))
    assert np.array_equal(again.images.materialize(), _want(ds, 12))


def test_a_later_check_of_some_files_leaves_the_cache_to_be_rebuilt(folder, tmp_path, decoded):
    seen, _ = decoded
    cache = tmp_path / "cache"
    create_dataset(f"imagefolder:{folder}", image_size=12, cache_dir=str(cache)).images.materialize()
    victim = folder / "c0" / "3.png"
    Image.new("RGB", (20, 14), (200, 10, 10)).save(victim)
    os.utime(victim, ns=(PAST_NS + 5, PAST_NS + 5))
    seen.clear()
    ds = create_dataset(f"imagefolder:{folder}", image_size=12, cache_dir=str(cache))
    assert seen == ["3.png"]
    assert np.array_equal(ds.images.materialize(), _want(ds, 12))


def test_a_first_check_of_a_csv_fills_its_cache_too(tmp_path, decoded):
    seen, forbid = decoded
    for n in ("a", "b"):
        Image.new("RGB", (16, 10), (9, 90, 9)).save(tmp_path / f"{n}.png")
    (tmp_path / "d.csv").write_text("path,label\na.png,x\nb.png,y\ngone.png,x\n")
    ds = create_dataset(f"csv:{tmp_path / 'd.csv'}", image_size=8, cache_dir=str(tmp_path / "cache"))
    assert sorted(seen) == ["a.png", "b.png"] and len(ds.unreadable) == 1
    forbid()
    assert np.array_equal(ds.images.materialize(), _want(ds, 8))
