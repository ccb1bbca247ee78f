"""Class names given by the user: ``--classes FILE|a,b,c`` and ``classes.txt`` (``activekd.data._classes``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activekd.data import create_dataset
from activekd.data._classes import parse_classes
from activekd.errors import DataError


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(path)


def test_a_comma_list_and_a_file_give_names_in_their_order(tmp_path):
    assert parse_classes("zebra, ant ,cow") == ("zebra", "ant", "cow")
    (tmp_path / "c.txt").write_text("zebra\r\nant\n\n")
    assert parse_classes(str(tmp_path / "c.txt")) == ("zebra", "ant")


@pytest.mark.parametrize("spec, words", [("a,a", "given twice"), ("a, ,b", "name 2 is an empty"), ("a", "not a comma-separated"),
                                         (",", "name 1 is an empty")])
def test_bad_lists_are_refused(spec, words):
    with pytest.raises(DataError, match=words):
        parse_classes(spec)


def test_csv_labels_index_the_given_order_and_empty_labels_stay_unlabeled(tmp_path):
    for n in range(3):
        _png(tmp_path / f"{n}.png")
    (tmp_path / "d.csv").write_text("path,label\n0.png,cow\n1.png,\n2.png,ant\n")
    ds = create_dataset(f"csv:{tmp_path / 'd.csv'}", classes="cow,bee,ant", image_size=8)
    assert ds.class_names == ("cow", "bee", "ant") and ds.labels.tolist() == [0, -1, 2]
    plain = create_dataset(f"csv:{tmp_path / 'd.csv'}", image_size=8)  # without names: the sorted labels, as before
    assert plain.class_names == ("ant", "cow") and plain.labels.tolist() == [1, -1, 0]


def test_imagefolder_class_folders_must_be_given_names_and_loose_images_are_unlabeled(tmp_path):
    _png(tmp_path / "cow" / "a.png")
    _png(tmp_path / "b.png")
    ds = create_dataset(f"imagefolder:{tmp_path}", classes="ant,cow", image_size=8)
    assert dict(zip(ds.ids, ds.labels.tolist())) == {"b.png": -1, "cow/a.png": 1}
    assert create_dataset(f"imagefolder:{tmp_path}", image_size=8).ids == ["cow/a.png"]  # no names: loose images ignored, as before
    with pytest.raises(DataError, match="folder 'cow': label 'cow' is not one of the given class names"):
        create_dataset(f"imagefolder:{tmp_path}", classes="ant,bee", image_size=8)


def test_datasets_with_their_own_names_refuse_classes():
    with pytest.raises(DataError, match="fashion-mnist has its own class names"):
        create_dataset("fashion-mnist", classes="a,b")
