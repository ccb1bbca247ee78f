"""``file:PATH``: precomputed teacher logits or probabilities keyed by sample id.

Formats:
- ``.npz`` with arrays ``ids`` (``[N]`` str) and ``logits`` or ``probs`` (``[N, C]``);
- ``.npy``: a structured array with fields ``id`` and ``logits``/``probs``, or a plain ``[N, C]``
  array whose rows follow the dataset's sample order (``N`` = dataset size);
- ``.csv`` / ``.parquet``: a column ``id`` and ``C`` numeric columns (in class order).

Probabilities (given as ``probs``, or every row non-negative and summing to 1) are turned into
log-probabilities, which are valid logits; ``probs`` rows must each sum to 1 (± 1e-3). A UTF-8 BOM
and CRLF line ends in a ``.csv`` are fine; a file that cannot be read is one clear error. Every id the run needs must be present, the class count
must match the dataset and every value must be finite and within float32's range; otherwise a clear error is raised. A
``.npy``/``.npz`` that does not start with NumPy's header / a zip archive is named as not that format (NumPy would try to
unpickle it); only a real array of Python objects is said to hold them. CSV cells are limited as in :mod:`activekd._parsers`.
"""

from __future__ import annotations

import csv
import io
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from activekd._parsers import csv_errors, decode_utf8
from activekd.errors import TeacherError

from ._base import TableTeacher, TeacherConfig, TeacherContext, register_teacher


class TeacherFileError(TeacherError):
    """A precomputed teacher file that cannot serve this run."""


_MAGIC = {".npz": ((b"PK\x03\x04", b"PK\x05\x06"), "a zip archive, as np.savez writes"),
          ".npy": ((b"\x93NUMPY",), "NumPy's header, as np.save writes")}
"""The first bytes a file of each NumPy type starts with; without them NumPy would try to unpickle it."""


def _read(path: Path, dataset_ids: Sequence[str]) -> tuple[list[str], np.ndarray, bool]:
    """-> (ids, values [N, C] float64, values_are_probs); a file numpy/pyarrow cannot read is one clear error."""
    if path.stat().st_size == 0:
        raise TeacherFileError(f"teacher file {path} is empty")
    suf = path.suffix.lower()
    if suf not in _READERS:
        raise TeacherFileError(f"{path}: unsupported teacher file type {suf!r}; use .npz, .npy, .csv or .parquet")
    if suf in _MAGIC:
        with path.open("rb") as f:
            head = f.read(6)
        starts, what = _MAGIC[suf]
        if not any(head.startswith(m) for m in starts):
            raise TeacherFileError(f"teacher file {path} is not a {suf} file (it does not start with {what})")
    try:
        return _READERS[suf](path, dataset_ids)
    except TeacherFileError:
        raise
    except MemoryError:
        raise TeacherFileError(f"teacher file {path} declares arrays too large for this machine's memory") from None
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from None


def _unreadable(path: Path, e: Exception) -> TeacherFileError:
    if "allow_pickle" in str(e):
        return TeacherFileError(f"teacher file {path} holds Python objects (pickled arrays are not read); "
                                "save ids as strings, e.g. np.array(ids, dtype=str), and values as floats")
    return TeacherFileError(f"teacher file {path} cannot be read as {path.suffix.lower()} "
                            f"(truncated or not that format?): {_one_line(e)}")


_READ_ERRORS = (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, NotImplementedError, RuntimeError, SyntaxError,
                tokenize.TokenError, zipfile.BadZipFile, zlib.error)
"""What NumPy (its header parser included), zipfile and pyarrow raise on a damaged file (most of pyarrow's derive from these)."""


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


def _floats(path: Path, what: str, arr) -> np.ndarray:
    if not isinstance(arr, np.ndarray) and not hasattr(arr, "__array__"):
        raise TeacherFileError(f"{path}: {what} is not an array")
    if np.iscomplexobj(arr):
        raise TeacherFileError(f"{path}: {what} must be real numbers, got complex ones")
    try:
        return np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TeacherFileError(f"{path}: {what} must be numbers ({_one_line(e)})") from None


def _value_key(path: Path, names: Sequence[str], kind: str) -> str:
    key = "logits" if "logits" in names else "probs" if "probs" in names else None
    if key is None:
        raise TeacherFileError(f"{path}: {kind} needs a 'logits' or 'probs' array; has {sorted(names)}")
    return key


def _read_npz(path: Path, dataset_ids: Sequence[str]) -> tuple[list[str], np.ndarray, bool]:
    with np.load(path, allow_pickle=False) as z:
        if "ids" not in z:
            raise TeacherFileError(f"{path}: .npz needs an 'ids' array and a 'logits' or 'probs' array; has {sorted(z.files)}")
        key = _value_key(path, z.files, ".npz")
        return _ids(path, z["ids"]), _floats(path, repr(key), z[key]), key == "probs"


def _read_npy(path: Path, dataset_ids: Sequence[str]) -> tuple[list[str], np.ndarray, bool]:
    arr = np.load(path, allow_pickle=False)
    if arr.dtype.names:
        if "id" not in arr.dtype.names or not {"logits", "probs"} & set(arr.dtype.names):
            raise TeacherFileError(f"{path}: structured .npy needs fields 'id' and 'logits' or 'probs'; has {arr.dtype.names}")
        key = _value_key(path, arr.dtype.names, "structured .npy")
        return _ids(path, arr["id"]), _floats(path, repr(key), arr[key]), key == "probs"
    if arr.ndim != 2 or arr.shape[0] != len(dataset_ids):
        raise TeacherFileError(
            f"{path}: a plain .npy must be [N, C] with one row per dataset sample (N = {len(dataset_ids)}); got {arr.shape}"
        )
    return list(dataset_ids), _floats(path, "the values", arr), False


def _read_csv(path: Path, dataset_ids: Sequence[str]) -> tuple[list[str], np.ndarray, bool]:
    text = decode_utf8(path.read_bytes(), f"teacher file {path}", TeacherFileError)  # a BOM (Excel) and CRLF line ends are fine
    reader = csv.reader(io.StringIO(text, newline=""))
    with csv_errors(reader, str(path), TeacherFileError):
        rows = [[c.strip() for c in r] for r in reader if any(c.strip() for c in r)]
    if not rows or rows[0][:1] != ["id"]:
        raise TeacherFileError(f"{path}: .csv needs a header whose first column is 'id' (then one column per class)")
    body = rows[1:]
    if not body:
        raise TeacherFileError(f"{path}: .csv has a header but no rows")
    bad = next((n for n, r in enumerate(body, start=2) if len(r) != len(rows[0])), None)
    if bad is not None:
        raise TeacherFileError(f"{path}: row {bad} has {len(body[bad - 2])} cells, the header {len(rows[0])}")
    try:
        vals = np.array([[float(v) for v in r[1:]] for r in body], dtype=np.float64)
    except ValueError as e:
        raise TeacherFileError(f"{path}: non-numeric value ({_one_line(e)})") from None
    return [r[0] for r in body], vals, False


def _read_parquet(path: Path, dataset_ids: Sequence[str]) -> tuple[list[str], np.ndarray, bool]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise TeacherFileError("reading .parquet needs pyarrow: pip install 'activekd[parquet]'") from None
    try:
        table = pq.read_table(path)
        if "id" not in table.column_names:
            raise TeacherFileError(f"{path}: .parquet needs an 'id' column")
        ids = [str(i) for i in table.column("id").to_pylist()]
        cols = [c for c in table.column_names if c != "id"]
        values = [_floats(path, f"column {c!r}", table.column(c).to_numpy()) for c in cols]
    except pa.ArrowException as e:  # some of pyarrow's errors derive from no builtin one
        raise _unreadable(path, e) from None
    return ids, np.stack(values, axis=1) if cols else np.zeros((len(ids), 0)), False


_READERS = {".npz": _read_npz, ".npy": _read_npy, ".csv": _read_csv, ".parquet": _read_parquet}


def _ids(path: Path, arr: np.ndarray) -> list[str]:
    if not isinstance(arr, np.ndarray):
        raise TeacherFileError(f"{path}: ids must be an array of sample ids, not a raw file inside the .npz")
    if arr.ndim != 1:
        raise TeacherFileError(f"{path}: ids must be a 1-D array of sample ids; got shape {arr.shape}")
    return [str(i) for i in arr.tolist()]


def load_teacher_file(path: str | Path, *, dataset_ids: Sequence[str], needed_ids: Sequence[str], num_classes: int) -> TableTeacher:
    """Read and validate a precomputed teacher file; see the module docstring for formats."""
    path = Path(path)
    if not path.is_file():
        raise TeacherFileError(f"teacher file {path} {'is not a file' if path.exists() else 'not found'}")
    ids, vals, probs = _read(path, dataset_ids)
    if vals.ndim != 2:
        raise TeacherFileError(f"{path}: teacher values must be a 2-D [N, C] array (one row per sample, one column per class); "
                               f"got shape {vals.shape}")
    if len(ids) != len(vals):
        raise TeacherFileError(f"{path}: {len(ids)} ids but {len(vals)} rows of values")
    if vals.shape[1] != num_classes:
        raise TeacherFileError(f"{path}: {vals.shape[1]} classes, but the dataset has {num_classes}")
    finite = np.isfinite(vals) & (np.abs(vals) <= np.finfo(np.float32).max)  # logits are float32 tensors
    if not finite.all():
        bad = int((~finite).any(axis=1).sum())
        raise TeacherFileError(f"{path}: {bad} row(s) contain NaN or infinite values (or values beyond float32's ±3.4e38)")
    if len(set(ids)) != len(ids):
        raise TeacherFileError(f"{path}: duplicate sample ids")
    have = set(ids)
    missing = [i for i in needed_ids if i not in have]
    if missing:
        raise TeacherFileError(f"{path}: missing {len(missing)} needed sample id(s), e.g. {', '.join(missing[:5])}")
    if not probs and len(vals) and (vals >= 0).all() and np.allclose(vals.sum(axis=1), 1.0, atol=1e-4):
        probs = True
    if probs:
        if (vals < 0).any():
            raise TeacherFileError(f"{path}: probabilities must be non-negative")
        sums = vals.sum(axis=1)
        off = np.flatnonzero(~np.isclose(sums, 1.0, atol=1e-3))
        if len(off):
            raise TeacherFileError(f"{path}: {len(off)} row(s) of probabilities do not sum to 1 (e.g. row {off[0]} sums to "
                                   f"{sums[off[0]]:.4g}); give normalised probabilities, or logits")
        vals = np.log(np.clip(vals, 1e-12, None))
    return TableTeacher(f"file:{path}", ids, torch.from_numpy(vals.astype(np.float32)))


def needed_ids(ctx: TeacherContext) -> list[str]:
    """Ids a teacher must cover: the pool, validation and test splits."""
    ds = ctx.dataset
    return [ds.ids[i] for i in np.flatnonzero(np.isin(ds.splits, ("pool", "val", "test")))]


@register_teacher("file")
def _file_teacher(arg: str | None, config: TeacherConfig, ctx: TeacherContext) -> TableTeacher:
    if not arg:
        raise TeacherFileError("file teacher needs a path: file:PATH")
    return load_teacher_file(arg, dataset_ids=ctx.dataset.ids, needed_ids=needed_ids(ctx), num_classes=ctx.dataset.num_classes)
