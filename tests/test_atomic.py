"""Atomic writes: the old file or the new one, a file and its folder together or neither, errors naming the user's path."""

import os

import pytest

import activekd._atomic as atomic
from activekd._atomic import atomic_file_and_folder, atomic_path, atomic_write


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_folder_as_the_target_is_refused_naming_it_and_nothing_is_written(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError) as e:
        atomic_write(tmp_path / "out", "x")
    assert e.value.filename == str(tmp_path / "out") and "not a folder" in e.value.strerror
    with pytest.raises(IsADirectoryError):
        with atomic_file_and_folder(tmp_path / "out", tmp_path / "out_files"):
            pytest.fail("ran the writer")
    assert listing(tmp_path) == ["out"]


def test_an_error_on_the_temporary_file_names_the_users_path(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(PermissionError) as e:
        with atomic_path(target, suffix=".onnx") as tmp:
            raise PermissionError(13, "Permission denied", str(tmp))
    assert e.value.filename == str(target) and e.value.errno == 13
    with pytest.raises(FileNotFoundError) as e:  # an error about another file is left as it is
        with atomic_path(target):
            open(tmp_path / "missing-input")
    assert e.value.filename == str(tmp_path / "missing-input")
    assert listing(tmp_path) == []


def test_a_file_and_its_folder_replace_the_old_ones_together(tmp_path):
    page, figs = tmp_path / "report.html", tmp_path / "report_files"
    figs.mkdir()
    (figs / "stale.png").write_bytes(b"old")
    page.write_text("old page")
    with atomic_file_and_folder(page, figs) as (tmp, folder):
        (folder / "new.png").write_bytes(b"new")
        tmp.write_text("new page")
        assert (figs / "stale.png").exists() and page.read_text() == "old page"  # nothing visible before the end
    assert page.read_text() == "new page" and listing(figs) == ["new.png"]
    assert listing(tmp_path) == ["report.html", "report_files", "report_files/new.png"]


def test_a_failure_while_writing_or_at_the_last_step_leaves_the_old_ones_and_nothing_else(tmp_path, monkeypatch):
    page, figs = tmp_path / "report.html", tmp_path / "report_files"
    figs.mkdir()
    (figs / "a.png").write_bytes(b"old")
    page.write_text("old page")
    before = listing(tmp_path)
    with pytest.raises(RuntimeError):
        with atomic_file_and_folder(page, figs) as (tmp, folder):
            (folder / "b.png").write_bytes(b"new")
            raise RuntimeError("figure failed")
    assert listing(tmp_path) == before and page.read_text() == "old page"

    real = os.replace

    def page_fails(src, dst):
        if str(dst) == str(page):
            raise OSError(28, "No space left on device", str(src))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", page_fails)
    with pytest.raises(OSError) as e:
        with atomic_file_and_folder(page, figs) as (tmp, folder):
            (folder / "b.png").write_bytes(b"new")
            tmp.write_text("new page")
    assert e.value.filename == str(page) and e.value.errno == 28
    assert listing(tmp_path) == before and (figs / "a.png").read_bytes() == b"old" and page.read_text() == "old page"
