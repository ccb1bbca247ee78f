"""Image checks cached by (path, size, mtime): an unchanged folder is not decoded again, a changed file is re-checked,
a bad verdict file is ignored and rebuilt."""

import json
import logging
import os

import pytest
from PIL import Image

import activekd.data._verdicts as verdicts
from activekd.data import create_dataset
from activekd.errors import DataError

PAST_NS = 1_600_000_000 * 10**9  # an mtime far from now: not racy, so its verdict is cached


def _jpeg(path, color, *, mtime_ns=PAST_NS):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (48, 40), color).save(path, quality=95)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def decodes(monkeypatch):
    """The paths the check decodes, in order (also a first check's, which squares as it decodes)."""
    seen: list[str] = []
    real = verdicts.decodes

    def counting(path, then=None):
        seen.append(os.path.basename(path))
        return real(path, then)

    monkeypatch.setattr(verdicts, "decodes", counting)
    return seen


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "imgs"
    for i in range(4):
        _jpeg(root / ("cat" if i % 2 else "dog") / f"{i}.jpg", (60 * i, 20, 200))
    return root


def _load(root, cache):
    return create_dataset(f"imagefolder:{root}", image_size=8, cache_dir=str(cache))


def _verdict_file(root, cache):
    return verdicts.verdict_file(str(cache), root)


def test_an_unchanged_folder_is_not_decoded_again(folder, tmp_path, decodes):
    first = _load(folder, tmp_path / "cache")
    assert sorted(decodes) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    decodes.clear()
    again = _load(folder, tmp_path / "cache")
    assert decodes == []
    assert again.ids == first.ids and again.fingerprint() == first.fingerprint() and again.unreadable == ()


def test_a_file_truncated_after_the_first_check_is_rechecked_and_left_out(folder, tmp_path, decodes, caplog):
    ds = _load(folder, tmp_path / "cache")
    assert len(ds) == 4
    victim = folder / "cat" / "1.jpg"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    os.utime(victim, ns=(PAST_NS + 10**9, PAST_NS + 10**9))
    decodes.clear()
    with caplog.at_level(logging.WARNING):
        again = _load(folder, tmp_path / "cache")
    assert decodes == ["1.jpg"]
    assert "cat/1.jpg" not in again.ids and len(again) == 3
    assert again.unreadable == (str(victim),) and "1.jpg" in caplog.text
    decodes.clear()
    assert _load(folder, tmp_path / "cache").unreadable == (str(victim),) and decodes == []  # the bad verdict is cached too


def test_a_same_size_rewrite_with_a_new_mtime_is_rechecked(folder, tmp_path, decodes):
    _load(folder, tmp_path / "cache")
    victim = folder / "dog" / "0.jpg"
    size = victim.stat().st_size
    victim.write_bytes(b"\0" * size)  # same size, not an image
    os.utime(victim, ns=(PAST_NS + 5, PAST_NS + 5))
    decodes.clear()
    again = _load(folder, tmp_path / "cache")
    assert decodes == ["0.jpg"] and "dog/0.jpg" not in again.ids


def test_a_file_repaired_later_comes_back(folder, tmp_path, decodes):
    victim = folder / "dog" / "2.jpg"
    victim.write_bytes(b"broken")
    os.utime(victim, ns=(PAST_NS, PAST_NS))
    assert "dog/2.jpg" not in _load(folder, tmp_path / "cache").ids
    _jpeg(victim, (1, 2, 3), mtime_ns=PAST_NS + 7)
    decodes.clear()
    assert "dog/2.jpg" in _load(folder, tmp_path / "cache").ids and decodes == ["2.jpg"]


def test_a_file_modified_just_now_keeps_no_verdict(tmp_path, decodes):
    root = tmp_path / "imgs"
    _jpeg(root / "a" / "old.jpg", (1, 2, 3))
    _jpeg(root / "a" / "new.jpg", (1, 2, 3), mtime_ns=None)  # now: within the timestamp granularity of a rewrite
    _load(root, tmp_path / "cache")
    decodes.clear()
    _load(root, tmp_path / "cache")
    assert decodes == ["new.jpg"]
    assert json.loads(_verdict_file(root, tmp_path / "cache").read_bytes())["paths"] == [str(root / "a" / "old.jpg")]


@pytest.mark.parametrize("content", [
    b"{not json", b"\xff\xfe", b"[]", b'{"version": 99, "files": {}}', b'{"version": 1, "files": []}',
    b'{"version": 1, "files": {"x": [1, 2]}}', b'{"version": 1, "files": {"x": [1, -2, true]}}',
    b'{"version": 1, "files": {"x": [1, 2, 1]}}', b'{"version": 1, "files": {"x": ["1", 2, true]}}',
    b'{"version": 1, "files": {"x": [1, 2, true]}}',  # the previous version's layout
    b'{"version": 2}', b'{"version": 2, "paths": ["x"], "sizes": [1], "mtimes": [2]}',
    b'{"version": 2, "paths": "x", "sizes": [1], "mtimes": [2], "ok": [true]}',
    b'{"version": 2, "paths": ["x"], "sizes": [1, 3], "mtimes": [2], "ok": [true]}',
    b'{"version": 2, "paths": ["x"], "sizes": [1], "mtimes": [-2], "ok": [true]}',
    b'{"version": 2, "paths": ["x"], "sizes": [-1], "mtimes": [2], "ok": [true]}',
    b'{"version": 2, "paths": ["x"], "sizes": [true], "mtimes": [2], "ok": [true]}',
    b'{"version": 2, "paths": ["x"], "sizes": ["1"], "mtimes": [2], "ok": [true]}',
    b'{"version": 2, "paths": ["x"], "sizes": [1.0], "mtimes": [2], "ok": [true]}',
    b'{"version": 2, "paths": ["x"], "sizes": [1], "mtimes": [2], "ok": [1]}',
    b'{"version": 2, "paths": [3], "sizes": [1], "mtimes": [2], "ok": [true]}',
    b'{"version": 2, "paths": ["x", "x"], "sizes": [1, 1], "mtimes": [2, 2], "ok": [true, false]}',
])
def test_a_bad_verdict_file_is_ignored_and_rebuilt(folder, tmp_path, decodes, caplog, content):
    cache = tmp_path / "cache"
    vf = _verdict_file(folder, cache)
    vf.parent.mkdir(parents=True)
    vf.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        ds = _load(folder, cache)
    assert len(decodes) == 4 and len(ds) == 4
    assert "ignoring the image check cache" in caplog.text
    assert json.loads(vf.read_bytes())["version"] == verdicts.VERSION
    decodes.clear()
    _load(folder, cache)
    assert decodes == []


def test_a_verdict_saying_good_for_a_file_now_broken_is_not_trusted(folder, tmp_path, decodes):
    """A verdict is trusted only for the same size and mtime: a cache claiming a broken file is fine is ignored once the
    file's stamp differs."""
    cache = tmp_path / "cache"
    _load(folder, cache)
    victim = folder / "cat" / "3.jpg"
    victim.write_bytes(b"junk")
    os.utime(victim, ns=(PAST_NS, PAST_NS))  # same mtime as before, another size
    assert "cat/3.jpg" not in _load(folder, cache).ids


def test_csv_verdicts_are_cached_and_missing_files_are_unreadable(tmp_path, decodes):
    for n in ("a", "b"):
        _jpeg(tmp_path / f"{n}.jpg", (9, 9, 9))
    (tmp_path / "d.csv").write_text("path,label\na.jpg,x\nb.jpg,y\ngone.jpg,x\n")
    ds = create_dataset(f"csv:{tmp_path / 'd.csv'}", image_size=8, cache_dir=str(tmp_path / "cache"))
    assert ds.ids == ["a.jpg", "b.jpg"] and ds.unreadable == (str((tmp_path / "gone.jpg").resolve()),)
    decodes.clear()
    create_dataset(f"csv:{tmp_path / 'd.csv'}", image_size=8, cache_dir=str(tmp_path / "cache"))
    assert decodes == []


def test_an_unwritable_cache_costs_a_recheck_not_the_load(folder, tmp_path, decodes, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")
    with caplog.at_level(logging.WARNING):
        ds = _load(folder, blocker)
    assert len(ds) == 4 and "could not write the image check cache" in caplog.text


def test_no_readable_image_is_still_one_clear_error(tmp_path, decodes):
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match="none of its 1 image"):
        _load(root, tmp_path / "cache")
    with pytest.raises(DataError, match="none of its 1 image"):
        _load(root, tmp_path / "cache")
