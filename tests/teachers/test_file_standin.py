"""The precomputed-file teacher (every format, every refusal) and the offline stand-in."""

import csv

import numpy as np
import pytest
import torch

from activekd.data import ArraySource, Dataset
from activekd.teachers import TeacherConfig, TeacherContext, TeacherFileError, create_teacher
from activekd.registry import UnknownNameError


def tiny(n=6, c=3):
    ids = [f"s{i}" for i in range(n)]
    return Dataset("tiny", tuple("abc"[:c]), ids, np.arange(n) % c, np.array(["pool"] * (n - 2) + ["test"] * 2, dtype=object),
                   ArraySource(np.zeros((n, 4, 4), np.uint8)))


def make(tmp_path, ds, spec):
    return create_teacher(TeacherConfig(spec=spec), TeacherContext(ds, tmp_path, torch.device("cpu")))


LOGITS = np.arange(18, dtype=np.float32).reshape(6, 3) / 7


@pytest.mark.parametrize("fmt", ["npz", "npy-structured", "npy-plain", "csv", "parquet"])
def test_every_format_gives_the_same_logits(tmp_path, fmt):
    ds = tiny()
    ids = list(reversed(ds.ids))  # file order differs from dataset order (except plain npy)
    vals = LOGITS[::-1].copy()
    if fmt == "npz":
        p = tmp_path / "t.npz"
        np.savez(p, ids=np.array(ids), logits=vals)
    elif fmt == "npy-structured":
        p = tmp_path / "t.npy"
        arr = np.zeros(6, dtype=[("id", "U8"), ("logits", "f4", (3,))])
        arr["id"], arr["logits"] = ids, vals
        np.save(p, arr)
    elif fmt == "npy-plain":
        p = tmp_path / "t.npy"
        np.save(p, LOGITS)
    elif fmt == "csv":
        p = tmp_path / "t.csv"
        with open(p, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "a", "b", "c"])
            for i, row in zip(ids, vals):
                w.writerow([i, *map(repr, row.tolist())])
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = tmp_path / "t.parquet"
        pq.write_table(pa.table({"id": ids, "a": vals[:, 0], "b": vals[:, 1], "c": vals[:, 2]}), p)
    t = make(tmp_path, ds, f"file:{p}")
    got = t.logits(["s4", "s0"])
    assert torch.allclose(got, torch.from_numpy(LOGITS[[4, 0]]), atol=1e-6)
    assert t.num_classes == 3 and not t.adaptive


def test_probabilities_become_log_probabilities(tmp_path):
    ds = tiny()
    probs = np.full((6, 3), 1 / 3)
    probs[0] = [0.7, 0.2, 0.1]
    np.savez(tmp_path / "p.npz", ids=np.array(ds.ids), probs=probs)
    t = make(tmp_path, ds, f"file:{tmp_path / 'p.npz'}")
    assert torch.allclose(torch.softmax(t.logits(["s0"]), 1), torch.tensor([[0.7, 0.2, 0.1]]), atol=1e-6)


def test_missing_ids_are_an_error(tmp_path):
    ds = tiny()
    np.savez(tmp_path / "t.npz", ids=np.array(ds.ids[:4]), logits=LOGITS[:4])
    with pytest.raises(TeacherFileError, match=r"missing 2 needed sample id\(s\), e.g. s4, s5"):
        make(tmp_path, ds, f"file:{tmp_path / 't.npz'}")


def test_wrong_class_count_is_an_error(tmp_path):
    ds = tiny()
    np.savez(tmp_path / "t.npz", ids=np.array(ds.ids), logits=np.zeros((6, 4)))
    with pytest.raises(TeacherFileError, match="4 classes, but the dataset has 3"):
        make(tmp_path, ds, f"file:{tmp_path / 't.npz'}")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_an_error(tmp_path, bad):
    ds = tiny()
    vals = LOGITS.copy()
    vals[2, 1] = bad
    np.savez(tmp_path / "t.npz", ids=np.array(ds.ids), logits=vals)
    with pytest.raises(TeacherFileError, match="NaN or infinite"):
        make(tmp_path, ds, f"file:{tmp_path / 't.npz'}")


def test_missing_file_and_unknown_kind(tmp_path):
    with pytest.raises(TeacherFileError, match="not found"):
        make(tmp_path, tiny(), f"file:{tmp_path / 'nope.npz'}")
    with pytest.raises(UnknownNameError, match="valid: .*file.*standin"):
        make(tmp_path, tiny(), "clip-please")


def test_unknown_id_lookup_names_the_id(tmp_path):
    ds = tiny()
    np.savez(tmp_path / "t.npz", ids=np.array(ds.ids), logits=LOGITS)
    t = make(tmp_path, ds, f"file:{tmp_path / 't.npz'}")
    with pytest.raises(KeyError, match="zzz"):
        t.logits(["zzz"])


def test_standin_is_a_decent_imperfect_teacher(fmnist, cache_dir):
    t = make(cache_dir, fmnist, "standin")
    test = fmnist.split_ids("test")
    pred = t.logits(test).argmax(1).numpy()
    y = fmnist.labels[fmnist.index_of(test)]
    acc = (pred == y).mean()
    assert 0.81 <= acc <= 0.85, acc
    # It confuses shirt (6) with T-shirt (0) / pullover (2) / coat (4), like a zero-shot teacher.
    shirts = pred[y == 6]
    assert (shirts == 6).mean() < 0.7 and np.isin(shirts, [0, 2, 4]).mean() > 0.25
    # Cached: a second build reads the file and gives identical logits.
    again = make(cache_dir, fmnist, "standin")
    assert torch.equal(again.logits(test[:50]), t.logits(test[:50]))


def test_standin_needs_a_holdout_split(tmp_path):
    with pytest.raises(ValueError, match="holdout"):
        make(tmp_path, tiny(), "standin")
