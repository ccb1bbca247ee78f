"""The CoOp benchmark datasets on fake trees in CoOp's layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activekd.data import create_dataset, list_coop_datasets, load_coop
from activekd.data._coop import coop_info


def jpeg(path: Path, value: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(path)


def eurosat_tree(root: Path) -> Path:
    d = root / "eurosat"
    split = {"train": [], "val": [], "test": []}
    for label, (folder, name) in enumerate([("AnnualCrop", "Annual Crop Land"), ("SeaLake", "Sea or Lake")]):
        for i, part in enumerate(["train", "train", "val", "test", "test"]):
            rel = f"{folder}/{folder}_{i}.jpg"
            jpeg(d / "2750" / rel, 40 * label + i)
            split[part].append([rel, label, name])
    (d / "split_zhou_EuroSAT.json").write_text(json.dumps(split))
    return d


def aircraft_tree(root: Path) -> Path:
    d = root / "fgvc_aircraft"
    d.mkdir(parents=True)
    (d / "variants.txt").write_text("707-320\nA300B4\n")
    rows = {"train": ["1000001 707-320", "1000002 A300B4"], "val": ["1000003 A300B4"], "test": ["1000004 707-320", "1000005 A300B4"]}
    for part, lines in rows.items():
        (d / f"images_variant_{part}.txt").write_text("\n".join(lines) + "\n")
        for ln in lines:
            jpeg(d / "images" / f"{ln.split()[0]}.jpg")
    return d


def imagenet_tree(root: Path) -> Path:
    d = root / "imagenet"
    for part, n in [("train", 3), ("val", 1)]:
        for wnid in ["n01440764", "n01443537"]:
            for i in range(n):
                jpeg(d / "images" / part / wnid / f"{wnid}_{part}_{i}.JPEG")
    (d / "classnames.txt").write_text("n01440764 tench\nn01443537 goldfish\n")
    return d


def test_split_json_dataset(tmp_path):
    eurosat_tree(tmp_path)
    ds = create_dataset("coop:eurosat", data_root=str(tmp_path))
    assert ds.name == "coop:eurosat"
    assert ds.class_names == ("Annual Crop Land", "Sea or Lake")
    assert ds.templates == ("a centered satellite photo of {}.",)
    assert len(ds) == 10 and [len(ds.split_indices(s)) for s in ("pool", "val", "test")] == [4, 2, 4]
    i = ds.index_of(["SeaLake/SeaLake_2.jpg"])[0]
    assert ds.splits[i] == "val" and ds.labels[i] == 1
    assert ds.images.pil(int(i)).size == (8, 8)
    assert ds.paths[i] == str(tmp_path / "eurosat" / "2750" / "SeaLake" / "SeaLake_2.jpg")


def test_dataset_folder_given_in_the_spec_and_aliases(tmp_path):
    d = eurosat_tree(tmp_path / "elsewhere")
    a = create_dataset(f"coop:eurosat:{d}")
    b = load_coop("EuroSAT", data_root=str(tmp_path / "elsewhere"))
    assert a.ids == b.ids and a.fingerprint() == b.fingerprint()
    assert coop_info("oxford_pets").name == "oxford-pets" and coop_info("DescribableTextures").name == "dtd"
    assert len(list_coop_datasets()) == 11


def test_fgvc_aircraft_reads_variant_files(tmp_path):
    aircraft_tree(tmp_path)
    ds = create_dataset("coop:fgvc-aircraft", data_root=str(tmp_path))
    assert ds.class_names == ("707-320", "A300B4")
    assert ds.templates == ("a photo of a {}, a type of aircraft.",)
    assert dict(zip(ds.ids, ds.splits)) == {"1000001.jpg": "pool", "1000002.jpg": "pool", "1000003.jpg": "val",
                                           "1000004.jpg": "test", "1000005.jpg": "test"}
    assert ds.labels.tolist() == [0, 1, 1, 0, 1]


def test_imagenet_uses_train_and_val_folders(tmp_path):
    imagenet_tree(tmp_path)
    ds = create_dataset("coop:imagenet", data_root=str(tmp_path))
    assert ds.class_names == ("tench", "goldfish")
    assert [len(ds.split_indices(s)) for s in ("pool", "val", "test")] == [6, 0, 2]
    assert "val/n01443537/n01443537_val_0.JPEG" in ds.ids


def test_class_names_show_underscores_as_spaces(tmp_path):
    d = tmp_path / "ucf101"
    jpeg(d / "UCF-101-midframes" / "Apply_Eye_Makeup" / "a.jpg")
    (d / "split_zhou_UCF101.json").write_text(json.dumps({"train": [["Apply_Eye_Makeup/a.jpg", 0, "Apply_Eye_Makeup"]], "val": [], "test": []}))
    ds = create_dataset("coop:ucf101", data_root=str(tmp_path))
    assert ds.class_names == ("Apply Eye Makeup",) and ds.templates == ("a photo of a person doing {}.",)


def test_missing_or_incomplete_trees_name_the_expected_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"dataset folder {tmp_path / 'eurosat'} not found.*split_zhou_EuroSAT.json"):
        create_dataset("coop:eurosat", data_root=str(tmp_path))
    d = eurosat_tree(tmp_path)
    (d / "2750" / "SeaLake" / "SeaLake_4.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of 10 listed image\(s\) missing .*SeaLake_4.jpg"):
        create_dataset("coop:eurosat", data_root=str(tmp_path))
    (d / "split_zhou_EuroSAT.json").unlink()
    with pytest.raises(FileNotFoundError, match=f"split file {d / 'split_zhou_EuroSAT.json'} not found"):
        create_dataset("coop:eurosat", data_root=str(tmp_path))
    (tmp_path / "imagenet").mkdir()
    with pytest.raises(FileNotFoundError, match="images/train not found"):
        create_dataset("coop:imagenet", data_root=str(tmp_path))


def test_bad_specs_and_bad_split_files(tmp_path):
    with pytest.raises(ValueError, match="unknown CoOp dataset 'mnist'; valid: caltech101, dtd, eurosat"):
        create_dataset("coop:mnist", data_root=str(tmp_path))
    with pytest.raises(ValueError, match="needs --data-root ROOT"):
        create_dataset("coop:eurosat")
    with pytest.raises(ValueError, match="coop needs a dataset name"):
        create_dataset("coop")
    d = eurosat_tree(tmp_path)
    split = json.loads((d / "split_zhou_EuroSAT.json").read_text())
    split["test"][0][2] = "Forest"
    (d / "split_zhou_EuroSAT.json").write_text(json.dumps(split))
    with pytest.raises(ValueError, match="label 0 is named both"):
        create_dataset("coop:eurosat", data_root=str(tmp_path))
    (d / "split_zhou_EuroSAT.json").write_text(json.dumps({"train": []}))
    with pytest.raises(ValueError, match="keys train, val and test"):
        create_dataset("coop:eurosat", data_root=str(tmp_path))
