import numpy as np
import pytest
from PIL import Image

from activekd.data import create_dataset, k_shot_ids, limit_split
from activekd.registry import UnknownNameError


def test_fashion_mnist_ids_and_splits(fmnist):
    assert len(fmnist) == 70_000 and fmnist.num_classes == 10
    assert fmnist.ids[0] == "train-00000" and fmnist.ids[-1] == "test-09999"
    assert len(fmnist.split_indices("pool")) == 50_000
    assert len(fmnist.split_indices("holdout")) == 10_000
    assert len(fmnist.split_indices("test")) == 10_000
    assert fmnist.images.batch(np.array([0, 69_999])).shape == (2, 1, 28, 28)
    # The first training label of Fashion-MNIST is 9 (ankle boot), the first test label 9 too.
    assert fmnist.labels[0] == 9 and fmnist.labels[60_000] == 9


def test_k_shot_is_exact_and_seeded(fmnist):
    a = k_shot_ids(fmnist, 3, seed=5)
    assert a == k_shot_ids(fmnist, 3, seed=5)
    assert a != k_shot_ids(fmnist, 3, seed=6)
    y = fmnist.labels[fmnist.index_of(a)]
    assert np.bincount(y, minlength=10).tolist() == [3] * 10
    assert set(fmnist.splits[fmnist.index_of(a)]) == {"pool"}


def test_k_shot_too_few_images_is_an_error(fmnist):
    small = limit_split(fmnist, "pool", 30, seed=0)
    counts = np.bincount(small.labels[small.split_indices("pool")], minlength=10)
    with pytest.raises(ValueError, match="fewer than shots"):
        k_shot_ids(small, int(counts.min()) + 1, seed=0)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid: .*csv.*fashion-mnist.*imagefolder"):
        create_dataset("mnist-fashion")


def test_missing_idx_files_clear_error(tmp_path, monkeypatch):
    import activekd.data._fashion_mnist as fm

    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "nothing")
    monkeypatch.setattr("torchvision.datasets.FashionMNIST", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("offline")))
    with pytest.raises(FileNotFoundError, match="--data-root"):
        create_dataset("fashion-mnist", data_root=str(tmp_path / "empty"))


def _img(path, color):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 9), color).save(path)


def test_imagefolder_skips_unreadable_images(tmp_path, caplog):
    _img(tmp_path / "cat" / "a.png", (255, 0, 0))
    _img(tmp_path / "cat" / "b.jpg", (250, 10, 0))
    _img(tmp_path / "dog" / "c.png", (0, 0, 255))
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"not an image")
    ds = create_dataset(f"imagefolder:{tmp_path}", image_size=16, cache_dir=str(tmp_path / ".cache"))
    assert ds.class_names == ("cat", "dog")
    assert ds.ids == ["cat/a.png", "cat/b.jpg", "dog/c.png"]
    assert ds.labels.tolist() == [0, 0, 1]
    assert "broken.jpg" in caplog.text
    x = ds.images.batch(np.array([0, 2]))
    assert x.shape == (2, 3, 16, 16)
    assert x[0, 0].float().mean() > 200 and x[1, 2].float().mean() > 200
    again = create_dataset(f"imagefolder:{tmp_path}", image_size=16, cache_dir=str(tmp_path / ".cache"))
    assert again.fingerprint() == ds.fingerprint()


def test_imagefolder_split_layout(tmp_path):
    _img(tmp_path / "train" / "a" / "1.png", (1, 2, 3))
    _img(tmp_path / "train" / "b" / "2.png", (1, 2, 3))
    _img(tmp_path / "test" / "a" / "3.png", (1, 2, 3))
    ds = create_dataset(f"imagefolder:{tmp_path}", image_size=8)
    assert list(ds.splits) == ["pool", "pool", "test"]
    assert ds.ids[2] == "test/a/3.png"


def test_csv_dataset(tmp_path):
    _img(tmp_path / "x1.png", (0, 0, 0))
    _img(tmp_path / "x2.png", (0, 0, 0))
    _img(tmp_path / "x3.png", (0, 0, 0))
    (tmp_path / "d.csv").write_text("path,label,split\nx1.png,zebra,pool\nx2.png,,pool\nx3.png,ant,test\n")
    ds = create_dataset(f"csv:{tmp_path / 'd.csv'}", image_size=8)
    assert ds.class_names == ("ant", "zebra")
    assert ds.labels.tolist() == [1, -1, 0]
    assert list(ds.splits) == ["pool", "pool", "test"]
    assert ds.labeled_indices("pool").tolist() == [0] and ds.labeled_indices("test").tolist() == [2]


@pytest.mark.parametrize("body,msg", [
    ("file,label\nx1.png,a\n", "header"),
    ("path,label,split\nx1.png,a,train\n", "unknown split"),
    ("path,label\nx1.png,a\nx1.png,b\n", "duplicate path"),
])
def test_csv_bad_input(tmp_path, body, msg):
    _img(tmp_path / "x1.png", (0, 0, 0))
    (tmp_path / "d.csv").write_text(body)
    with pytest.raises(ValueError, match=msg):
        create_dataset(f"csv:{tmp_path / 'd.csv'}")


def test_limit_split_moves_the_rest_to_unused(fmnist):
    small = limit_split(fmnist, "pool", 1000, seed=0)
    assert len(small.split_indices("pool")) == 1000 and len(small.split_indices("unused")) == 49_000
    assert small.fingerprint() != fmnist.fingerprint()
    assert limit_split(fmnist, "pool", None) is fmnist


def test_a_large_folder_is_decoded_in_worker_processes_to_the_same_pixels(tmp_path, monkeypatch):
    from activekd.data import _files
    from activekd.imaging import square

    rng = np.random.default_rng(0)
    for i in range(70):
        im = Image.fromarray(rng.integers(0, 256, (int(rng.integers(9, 40)), int(rng.integers(9, 40)), 3), dtype=np.uint8))
        path = tmp_path / f"c{i % 3}" / f"{i:03d}.{'png' if i % 2 else 'jpg'}"
        path.parent.mkdir(exist_ok=True)
        im.save(path)
    monkeypatch.setattr(_files, "DECODE_IN_WORKERS", 10)
    monkeypatch.setattr(_files.os, "cpu_count", lambda: 2)
    ds = create_dataset(f"imagefolder:{tmp_path}", image_size=16)
    assert len(ds) == 70
    want = np.stack([square(Image.open(p), 16) for p in ds.paths])
    assert np.array_equal(ds.images.materialize(), want)
