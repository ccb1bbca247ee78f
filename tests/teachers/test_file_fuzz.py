"""Issue 23: the teacher-file readers (.npz, .npy, .csv, .parquet) on any input: a teacher, or one TeacherFileError line.

Generated files are well formed, damaged (cut, bytes flipped) or any bytes at all; each is read in
bounded time and left as it was. A file of random bytes is named for what it is not, never said to
"hold Python objects" (only a real array of objects is).
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from activekd.errors import ActiveKDError
from activekd.teachers import TeacherFileError, load_teacher_file
from activekd.teachers._base import TableTeacher

IDS = [f"s{i}" for i in range(6)]
CLASSES = 3


def load(path: Path):
    return load_teacher_file(path, dataset_ids=IDS, needed_ids=IDS, num_classes=CLASSES)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_random_bytes_are_not_said_to_hold_python_objects(tmp_path, suffix):
    f = tmp_path / f"t{suffix}"
    f.write_bytes(np.random.default_rng(0).bytes(256))
    with pytest.raises(TeacherFileError) as e:
        load(f)
    assert "Python objects" not in str(e.value)
    assert f"is not a {suffix} file" in str(e.value)


def test_a_real_array_of_objects_is_said_to_hold_python_objects(tmp_path):
    f = tmp_path / "t.npz"
    np.savez(f, ids=np.array(IDS, dtype=object), logits=np.zeros((6, 3)))
    with pytest.raises(TeacherFileError, match="holds Python objects"):
        load(f)


def test_a_header_declaring_a_huge_array_is_one_line(tmp_path):
    f = tmp_path / "t.npy"
    with f.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 3)})
        fh.write(b"\0" * 64)
    with pytest.raises(TeacherFileError, match="too large|cannot be read"):
        load(f)


@pytest.mark.parametrize("body,words", [
    (b"id,a,b,c\ns0,1," + b"9" * 300_000 + b",3\n", ["line 2", "larger than 131,072 characters"]),
    (b"id,a,b,c\ns0,1,\x002,3\n", ["non-numeric value"]),
    ("id,a,b,c\ns0,caf\xe9,2,3\n".encode("latin-1"), ["not UTF-8 text", "byte 0xe9"]),
    (b"id,a,b,c\ns0,1j,2,3\n", ["non-numeric value"]),
])
def test_a_csv_past_a_limit_is_one_line(tmp_path, body, words):
    f = tmp_path / "t.csv"
    f.write_bytes(body)
    with pytest.raises(TeacherFileError) as e:
        load(f)
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_complex_values_are_refused(tmp_path):
    f = tmp_path / "t.npz"
    np.savez(f, ids=np.array(IDS), logits=np.ones((6, 3), dtype=complex))
    with pytest.raises(TeacherFileError, match="real numbers"):
        load(f)


# --------------------------------------------------------------------------- fuzz

DTYPES = st.sampled_from(["<f4", "<f8", "<i8", "|b1", "<c8", "<U4", "|S3", "<M8[s]", "<f2"]).map(np.dtype)
ARRAY = hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=3, max_side=7))
GOOD_IDS = st.permutations(IDS).map(np.array) | st.lists(st.sampled_from(IDS + ["x"]), max_size=7).map(lambda v: np.array(v, dtype="U4"))
GOOD_VALUES = hnp.arrays(st.sampled_from([np.float32, np.float64]), (6, CLASSES), elements=st.floats(-100, 100, width=32))
VALUES = GOOD_VALUES | hnp.arrays(np.float64, st.tuples(st.integers(0, 7), st.integers(0, 4)), elements=st.floats(width=64)) | ARRAY
ROWS = st.lists(st.floats(-100, 100, width=32).map(repr), min_size=CLASSES, max_size=CLASSES)


def _npz(arrays: dict, compressed: bool) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _structured(ids, values) -> np.ndarray:
    n = min(len(ids), len(values)) if values.ndim == 2 else 0
    arr = np.zeros(n, dtype=[("id", "U4"), ("logits", "f8", (values.shape[1] if values.ndim == 2 else 1,))])
    if n:
        arr["id"], arr["logits"] = ids[:n], values[:n]
    return arr


def _csv(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode()


def _parquet(columns: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


CELL = st.floats(width=32).map(repr) | st.sampled_from(["", "x", "1e999", "-0", " 2 ", "nan"]) | st.text(max_size=4)
KEYS = st.sampled_from(["ids", "logits", "probs", "scores"])
PARQUET_COLUMN = st.one_of(
    st.lists(st.floats(-100, 100), min_size=6, max_size=6), st.lists(st.floats(), min_size=6, max_size=6), st.lists(st.integers(-5, 5) | st.none(), min_size=6, max_size=6),
    st.lists(st.text(max_size=3), min_size=6, max_size=6), st.lists(st.lists(st.floats(0, 1), max_size=2), min_size=6, max_size=6),
    st.lists(st.booleans(), min_size=6, max_size=6))

FILES = st.one_of(
    st.tuples(st.just(".npz"), st.builds(_npz, st.dictionaries(KEYS, VALUES | GOOD_IDS, max_size=3) | st.fixed_dictionaries(
        {"ids": GOOD_IDS, "logits": VALUES}), st.booleans())),
    st.tuples(st.just(".npy"), st.builds(_npy, VALUES) | st.builds(_npy, st.builds(_structured, GOOD_IDS, GOOD_VALUES))),
    st.tuples(st.just(".csv"), st.builds(_csv, st.lists(ROWS, min_size=6, max_size=6).map(
        lambda r: [["id", "a", "b", "c"], *([i, *v] for i, v in zip(IDS, r))]))
              | st.builds(_csv, st.lists(st.lists(CELL, max_size=5), max_size=4).map(lambda r: [["id", "a", "b", "c"], *r]))
              | st.builds(_csv, st.lists(st.lists(st.sampled_from(IDS) | CELL, max_size=5), max_size=7))),
    st.tuples(st.just(".parquet"), st.builds(_parquet, st.fixed_dictionaries({"id": st.just(IDS)}, optional={
        "a": PARQUET_COLUMN, "b": PARQUET_COLUMN, "c": PARQUET_COLUMN}) | st.dictionaries(st.sampled_from(["id", "a", "b"]), PARQUET_COLUMN, min_size=1))),
)


def _damaged(body: bytes, how: str, at: float, junk: bytes) -> bytes:
    i = int(at * len(body))
    return {"as-is": body, "cut": body[:i], "flipped": body[:i] + bytes(b ^ 0xFF for b in body[i:i + 4]) + body[i + 4:],
            "junk": body[:i] + junk + body[i:]}[how]


ANY_FILE = (st.tuples(FILES, st.sampled_from(["as-is", "as-is", "cut", "flipped", "junk"]), st.floats(0, 1), st.binary(max_size=8))
            .map(lambda t: (t[0][0], _damaged(t[0][1], t[1], t[2], t[3])))
            | st.tuples(st.sampled_from([".npz", ".npy", ".csv", ".parquet", ".txt"]), st.binary(max_size=200)))


@given(ANY_FILE)
def test_any_teacher_file_is_a_teacher_or_one_line(tmp_path_factory, named):
    suffix, body = named
    f = tmp_path_factory.mktemp("teacher") / f"t{suffix}"
    f.write_bytes(body)
    t0 = time.perf_counter()
    try:
        teacher = load(f)
    except ActiveKDError as e:
        assert isinstance(e, TeacherFileError) and str(e) and "\n" not in str(e), repr(e)
        assert "Python objects" not in str(e) or b"\x93NUMPY" in body or body.startswith(b"PK"), str(e)
        event(f"{suffix}: refused")
    else:
        assert isinstance(teacher, TableTeacher) and np.isfinite(teacher.logits(IDS).numpy()).all()
        event(f"{suffix}: accepted")
    assert time.perf_counter() - t0 < 5 and f.read_bytes() == body
