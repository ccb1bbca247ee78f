"""Issue 8: every user mistake is refused with exit 2 and one line, and leaves the store as it was.

Each case runs the real CLI (``main([...])``) and checks: exit code 2; exactly one stderr line,
``activekd: error: ...``, naming the thing (no traceback); and that the store's labels and rounds
are byte-for-byte unchanged (the file too), or, on a new ``--out``, that no store (and no folder)
was created. Most cases fail before any data loads; the few that train use a 60-image folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from activekd.cli import main

CLASSES = ("cat", "dog", "fox")
PER_CLASS = 20
FAST = ["--repeat", "5", "--rounds", "1", "--budget", "5", "--device", "cpu", "--no-progress"]


# --------------------------------------------------------------------------- helpers


def make_images(root: Path, classes=CLASSES, n: int = PER_CLASS, side: int = 32, seed: int = 0) -> list[str]:
    """``root/<class>/NNN.png``: noise tinted by class; returns the ids (``class/NNN.png``)."""
    rng = np.random.default_rng(seed)
    ids = []
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            a = rng.integers(0, 60, (side, side, 3), dtype=np.uint8)
            a[..., c % 3] += 150
            Image.fromarray(a).save(root / name / f"{i:03d}.png")
            ids.append(f"{name}/{i:03d}.png")
    return ids


def cli(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def assert_refused(rc: int, err: str, *words: str) -> str:
    """Exit 2 and exactly one stderr line ``activekd: error: ...`` containing every word."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, f"exit {rc}, stderr: {err!r}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("activekd: error: "), lines[0]
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"
    return lines[0]


def store_state(out: Path):
    """The store file's hash and its labels/rounds rows (``None`` without a store)."""
    path = out / "session.sqlite"
    if not path.is_file():
        return None
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in ("labels", "rounds")}
    finally:
        con.close()
    return hashlib.sha256(path.read_bytes()).hexdigest(), tables


def file_bytes(out: Path) -> bytes | None:
    path = out / "session.sqlite"
    return path.read_bytes() if path.is_file() else None


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def world(tmp_path_factory, cache_dir):
    """Every input the cases need: a good 60-image folder, its teacher file, and bad variants of each."""
    root = tmp_path_factory.mktemp("bad-input")
    w = {"root": root, "cache": cache_dir}
    folder = root / "folder"
    ids = make_images(folder)
    w["folder"] = folder
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(len(ids), len(CLASSES)))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    t = root / "teachers"
    t.mkdir()

    def npz(name, **arrays):
        np.savez(t / name, **arrays)
        return t / name

    sid = np.array(ids)
    w["teacher"] = npz("good.npz", ids=sid, logits=logits)
    good = w["teacher"].read_bytes()
    (t / "empty.npz").write_bytes(b"")
    (t / "truncated.npz").write_bytes(good[: len(good) // 2])
    (t / "garbage.npz").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 20)
    npz("1d.npz", ids=sid, logits=logits[:, 0])
    npz("3d.npz", ids=sid, logits=logits[:, :, None])
    npz("classes.npz", ids=sid, logits=np.zeros((len(ids), 4)))
    npz("missing-ids.npz", ids=sid[:-3], logits=logits[:-3])
    npz("nan.npz", ids=sid, logits=np.where(np.arange(len(ids))[:, None] == 7, np.nan, logits))
    npz("inf.npz", ids=sid, logits=np.where(np.arange(len(ids))[:, None] == 7, np.inf, logits))
    npz("probs-sum.npz", ids=sid, probs=probs * 0.7)
    npz("probs-negative.npz", ids=sid, probs=probs - 0.2)
    npz("duplicate-ids.npz", ids=np.concatenate([sid, sid[:1]]), logits=np.vstack([logits, logits[:1]]))
    npz("no-ids.npz", logits=logits)
    npz("no-values.npz", ids=sid, scores=logits)
    npz("ids-rows.npz", ids=sid[:10], logits=logits)
    npz("text-values.npz", ids=sid, logits=np.full((len(ids), 3), "a"))
    npz("object-ids.npz", ids=np.array(ids, dtype=object), logits=logits)
    np.save(t / "short.npy", logits[:10])
    (t / "no-id.csv").write_text("sample,a,b,c\n" + "".join(f"{i},1,2,3\n" for i in ids))
    (t / "text.csv").write_text("id,a,b,c\n" + "".join(f"{i},1,x,3\n" for i in ids))
    (t / "ragged.csv").write_text("id,a,b,c\n" + "".join(f"{i},1,2\n" for i in ids))
    (t / "header-only.csv").write_text("id,a,b,c\n")
    (t / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    (t / "bom-crlf.csv").write_bytes(("\ufeffid,a,b,c\r\n" + "".join(f"{i},{a},{b},{c}\r\n" for i, (a, b, c) in zip(ids, logits))
                                      + "\r\n").encode())
    (t / "logits.txt").write_text("nope")
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {"a": logits[:, 0], "b": logits[:, 1], "c": logits[:, 2]}
    pq.write_table(pa.table({"sample": ids, **cols}), t / "no-id.parquet")
    pq.write_table(pa.table({"id": ids, **cols, "b": ["x"] * len(ids)}), t / "text.parquet")
    pq.write_table(pa.table({"id": ids, "a": cols["a"], "b": cols["b"]}), t / "two-columns.parquet")
    (t / "not.parquet").write_bytes(b"not parquet at all")

    d = root / "data"
    d.mkdir()
    (d / "empty").mkdir()
    make_images(d / "one-class", classes=("cat",), n=5)
    jpeg = folder / "cat" / "000.png"
    for c in ("a", "b"):
        (d / "corrupt" / c).mkdir(parents=True)
        Image.open(jpeg).convert("RGB").save(d / "corrupt" / c / "truncated.jpg", quality=90)
        data = (d / "corrupt" / c / "truncated.jpg").read_bytes()
        (d / "corrupt" / c / "truncated.jpg").write_bytes(data[: len(data) // 2])
        (d / "corrupt" / c / "garbage.jpg").write_bytes(b"not a jpeg")
    for c in ("a", "b"):
        (d / "no-images" / c).mkdir(parents=True)
        (d / "no-images" / c / "notes.txt").write_text("x")
    rows = [f"{folder}/{i}" for i in ids]
    (d / "header.csv").write_text("file,class\n" + "".join(f"{r},{r.split('/')[-2]}\n" for r in rows))
    (d / "split.csv").write_text("path,label,split\n" + "".join(f"{r},{r.split('/')[-2]},training\n" for r in rows))
    (d / "no-rows.csv").write_text("path,label\n")
    (d / "duplicate.csv").write_text(f"path,label\n{rows[0]},cat\n{rows[0]},cat\n")
    (d / "binary.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    (d / "latin1.csv").write_bytes(f"path,label\n{rows[0]},caf\xe9\n".encode("latin-1"))
    (d / "extra-cells.csv").write_text(f"path,label\n{rows[0]},cat,surplus\n")
    (d / "images-missing.csv").write_text("path,label\nnope/1.png,cat\nnope/2.png,dog\n")
    (d / "a-folder.csv").mkdir()
    (d / "unlabeled.csv").write_text("path,label\n" + "".join(f"{r},{r.split('/')[-2] if j % 10 == 0 else ''}\n"
                                                               for j, r in enumerate(rows)))
    (d / "bom-crlf.csv").write_bytes(("\ufeffpath , label \r\n" + "".join(f" {r} ,{r.split('/')[-2]}  \r\n" for r in rows)
                                      + "\r\n").encode())
    (d / "a-file").write_text("not a folder")
    (d / "answer.csv").write_text("id,label\ncat/000.png,dog\n")
    make_images(d / "other-classes", classes=("dog", "wolf"), n=2)
    (d / "no-labels.csv").write_text(f"path,label\n{rows[0]},\n")
    w["data"] = d
    w["teachers"] = t
    return w


@pytest.fixture(scope="module")
def good_run(world, tmp_path_factory):
    """A finished 1-round run on the folder (simulated oracle), for cases on an existing run."""
    out = tmp_path_factory.mktemp("good") / "run"
    assert main(["run", "--out", str(out), *base_args(world), *FAST]) == 0
    con = sqlite3.connect(out / "session.sqlite")
    sid, label = con.execute("SELECT sample_id, label FROM labels ORDER BY rowid LIMIT 1").fetchone()
    con.close()
    (world["data"] / "relabel.csv").write_text(f"id,label\n{sid},{CLASSES[(label + 1) % 3]}\n")
    return out


def base_args(w) -> list[str]:
    return ["--dataset", f"imagefolder:{w['folder']}", "--teacher", f"file:{w['teacher']}", "--cache-dir", str(w["cache"])]


# --------------------------------------------------------------------------- new runs: nothing created


F, T, D = "{folder}", "{teachers}", "{data}"

NEW_RUN_CASES = [
    # names
    ("dataset-name", ["--dataset", "fashion"], ["'fashion'", "valid:", "fashion-mnist"]),
    ("student-name", ["--student", "resnet-18"], ["'resnet-18'", "valid:", "small-cnn"]),
    ("strategy-name", ["--strategy", "entropi"], ["'entropi'", "valid:", "entropy"]),
    ("teacher-name", ["--teacher", "clip"], ["'clip'", "valid:", "standin"]),
    ("oracle-name", ["--oracle", "robot"], ["'robot'", "valid:", "human"]),
    ("kd-name", ["--kd", "distill"], ["'distill'", "valid:", "dho"]),
    ("initial-name", ["--initial", "some"], ["'some'", "valid:", "shots"]),
    ("few-shot-name", ["--few-shot", "foo"], ["'foo'", "valid:", "clap"]),
    ("timm-without-name", ["--student", "timm:"], ["timm:NAME"]),
    ("timm-unknown-model", ["--student", "timm:no_such_model_xyz"], ["no_such_model_xyz"]),
    ("coop-name", ["--dataset", "coop:nope"], ["'nope'", "valid:", "eurosat"]),
    # specs without their argument
    ("imagefolder-without-dir", ["--dataset", "imagefolder:"], ["imagefolder:DIR"]),
    ("csv-without-file", ["--dataset", "csv:"], ["csv:FILE"]),
    ("file-teacher-without-path", ["--teacher", "file:"], ["file:PATH"]),
    # image folders
    ("imagefolder-missing", ["--dataset", f"imagefolder:{D}/nowhere"], ["nowhere", "not a directory"]),
    ("imagefolder-is-a-file", ["--dataset", f"imagefolder:{D}/a-file"], ["a-file", "not a directory"]),
    ("imagefolder-empty", ["--dataset", f"imagefolder:{D}/empty"], ["empty", "no class folders"]),
    ("imagefolder-one-class", ["--dataset", f"imagefolder:{D}/one-class"], ["1 class", "at least 2"]),
    ("imagefolder-only-corrupt-images", ["--dataset", f"imagefolder:{D}/corrupt"], ["can be read", "truncated.jpg"]),
    ("imagefolder-no-images", ["--dataset", f"imagefolder:{D}/no-images"], ["no images", "no-images"]),
    # csv datasets
    ("csv-missing", ["--dataset", f"csv:{D}/nowhere.csv"], ["nowhere.csv", "not found"]),
    ("csv-is-a-folder", ["--dataset", f"csv:{D}/a-folder.csv"], ["a-folder.csv", "not a file"]),
    ("csv-wrong-header", ["--dataset", f"csv:{D}/header.csv"], ["header.csv", "path,label"]),
    ("csv-unknown-split", ["--dataset", f"csv:{D}/split.csv"], ["line 2", "'training'", "valid:"]),
    ("csv-no-rows", ["--dataset", f"csv:{D}/no-rows.csv"], ["no-rows.csv", "no rows"]),
    ("csv-duplicate-path", ["--dataset", f"csv:{D}/duplicate.csv"], ["line 3", "duplicate path"]),
    ("csv-binary", ["--dataset", f"csv:{D}/binary.csv"], ["binary.csv", "UTF-8"]),
    ("csv-latin1", ["--dataset", f"csv:{D}/latin1.csv"], ["latin1.csv", "UTF-8"]),
    ("csv-extra-cells", ["--dataset", f"csv:{D}/extra-cells.csv"], ["line 2", "more cells"]),
    ("csv-images-missing", ["--dataset", f"csv:{D}/images-missing.csv"], ["images-missing.csv", "can be read", "nope"]),
    ("csv-unlabeled-simulated", ["--dataset", f"csv:{D}/unlabeled.csv", "--kd", "none"], ["simulated oracle", "--oracle human"]),
    ("fashion-mnist-data-root-nowhere", ["--dataset", "fashion-mnist", "--data-root", f"{D}/nowhere"], ["--data-root", "nowhere"]),
    # teacher files
    ("teacher-missing", ["--teacher", f"file:{T}/nowhere.npz"], ["nowhere.npz", "not found"]),
    ("teacher-is-a-folder", ["--teacher", f"file:{T}"], ["is not a file"]),
    ("teacher-empty", ["--teacher", f"file:{T}/empty.npz"], ["empty.npz", "empty"]),
    ("teacher-truncated-npz", ["--teacher", f"file:{T}/truncated.npz"], ["truncated.npz", "cannot be read"]),
    ("teacher-corrupt-npz", ["--teacher", f"file:{T}/garbage.npz"], ["garbage.npz", "cannot be read"]),
    ("teacher-1d", ["--teacher", f"file:{T}/1d.npz"], ["1d.npz", "2-D", "(60,)"]),
    ("teacher-3d", ["--teacher", f"file:{T}/3d.npz"], ["3d.npz", "2-D", "(60, 3, 1)"]),
    ("teacher-class-count", ["--teacher", f"file:{T}/classes.npz"], ["4 classes", "has 3"]),
    ("teacher-missing-ids", ["--teacher", f"file:{T}/missing-ids.npz"], ["missing 3 needed sample id(s)", "fox/019.png"]),
    ("teacher-nan", ["--teacher", f"file:{T}/nan.npz"], ["1 row(s)", "NaN"]),
    ("teacher-inf", ["--teacher", f"file:{T}/inf.npz"], ["1 row(s)", "infinite"]),
    ("teacher-probs-not-summing-to-1", ["--teacher", f"file:{T}/probs-sum.npz"], ["60 row(s)", "do not sum to 1", "0.7"]),
    ("teacher-probs-negative", ["--teacher", f"file:{T}/probs-negative.npz"], ["non-negative"]),
    ("teacher-duplicate-ids", ["--teacher", f"file:{T}/duplicate-ids.npz"], ["duplicate sample ids"]),
    ("teacher-npz-without-ids", ["--teacher", f"file:{T}/no-ids.npz"], ["'ids'", "has ['logits']"]),
    ("teacher-npz-without-values", ["--teacher", f"file:{T}/no-values.npz"], ["'logits' or 'probs'", "scores"]),
    ("teacher-ids-rows-mismatch", ["--teacher", f"file:{T}/ids-rows.npz"], ["10 ids", "60 rows"]),
    ("teacher-text-values", ["--teacher", f"file:{T}/text-values.npz"], ["text-values.npz", "must be numbers"]),
    ("teacher-pickled-ids", ["--teacher", f"file:{T}/object-ids.npz"], ["object-ids.npz", "dtype=str"]),
    ("teacher-npy-rows", ["--teacher", f"file:{T}/short.npy"], ["short.npy", "N = 60", "(10, 3)"]),
    ("teacher-csv-no-id-column", ["--teacher", f"file:{T}/no-id.csv"], ["no-id.csv", "'id'"]),
    ("teacher-csv-text-values", ["--teacher", f"file:{T}/text.csv"], ["text.csv", "non-numeric", "'x'"]),
    ("teacher-csv-ragged", ["--teacher", f"file:{T}/ragged.csv"], ["ragged.csv", "row 2", "3 cells"]),
    ("teacher-csv-header-only", ["--teacher", f"file:{T}/header-only.csv"], ["header-only.csv", "no rows"]),
    ("teacher-csv-binary", ["--teacher", f"file:{T}/binary.csv"], ["binary.csv", "UTF-8"]),
    ("teacher-parquet-no-id-column", ["--teacher", f"file:{T}/no-id.parquet"], ["no-id.parquet", "'id' column"]),
    ("teacher-parquet-text-column", ["--teacher", f"file:{T}/text.parquet"], ["text.parquet", "column 'b'", "numbers"]),
    ("teacher-parquet-class-count", ["--teacher", f"file:{T}/two-columns.parquet"], ["2 classes", "has 3"]),
    ("teacher-parquet-corrupt", ["--teacher", f"file:{T}/not.parquet"], ["not.parquet", "cannot be read"]),
    ("teacher-unsupported-type", ["--teacher", f"file:{T}/logits.txt"], ["'.txt'", ".npz"]),
    ("teacher-standin-without-holdout", ["--teacher", "standin"], ["holdout"]),
    # config values
    ("lr-nan", ["--lr", "nan"], ["lr", "nan"]),
    ("lr-negative", ["--lr", "-1"], ["lr", "-1"]),
    ("lr-inf", ["--lr", "inf"], ["lr", "inf"]),
    ("temperature-0", ["--temperature", "0"], ["temperature", "> 0"]),
    ("weight-decay-negative", ["--weight-decay", "-1"], ["weight_decay"]),
    ("beta-nan", ["--beta", "nan"], ["beta", "nan"]),
    ("beta-0", ["--beta", "0"], ["beta"]),
    ("alpha-2", ["--alpha", "2"], ["alpha", "[0, 1]"]),
    ("alpha-negative", ["--alpha", "-0.1"], ["alpha", "-0.1"]),
    ("warmup-1", ["--warmup", "1"], ["warmup", "[0, 1)"]),
    ("budget-0", ["--budget", "0"], ["budget", ">= 1"]),
    ("rounds-negative", ["--rounds", "-1"], ["rounds", ">= 0"]),
    ("shots-negative", ["--shots", "-1"], ["shots", ">= 0"]),
    ("shots-more-than-a-class-has", ["--shots", "10000"], ["'cat'", "20", "shots=10000", "lower --shots"]),
    ("shots-0-without-teacher", ["--shots", "0", "--kd", "none"], ["--shots 0", "teacher", "--kd none"]),
    ("shots-0-with-rounds-0", ["--shots", "0", "--rounds", "0"], ["--shots 0", "--rounds 1 or more"]),
    ("seed-negative", ["--seed", "-1"], ["seed", ">= 0"]),
    ("pool-limit-0", ["--pool-limit", "0"], ["pool_limit", ">= 1"]),
    ("test-limit-0", ["--test-limit", "0"], ["test_limit", ">= 1"]),
    ("image-size-2", ["--image-size", "2"], ["image_size", ">= 8"]),
    ("student-input-size-2", ["--student-input-size", "2"], ["input_size", ">= 8"]),
    ("repeat-0", ["--repeat", "0"], ["repeat", ">= 1"]),
    ("batch-labeled-0", ["--batch-labeled", "0"], ["batch_labeled"]),
    ("eval-batch-size-0", ["--eval-batch-size", "0"], ["eval_batch_size"]),
    ("teacher-batch-size-0", ["--teacher-batch-size", "0"], ["batch_size", ">= 1"]),
    ("embed-workers-negative", ["--embed-workers", "-1"], ["embed_workers"]),
    ("few-shot-epochs-0", ["--few-shot-epochs", "0"], ["few_shot_epochs"]),
    ("device-tpu", ["--device", "tpu"], ["'tpu'", "valid:"]),
    pytest.param("device-cuda-without-gpu", ["--device", "cuda"], ["CUDA is not available", "--device cpu"],
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: --device cuda is no mistake here")),
    ("cache-dir-is-a-file", ["--cache-dir", f"{D}/a-file"], ["--cache-dir", "a-file", "not a folder"]),
    ("cache-dir-under-a-file", ["--cache-dir", f"{D}/a-file/cache"], ["--cache-dir", "which is a file"]),
    # combinations
    ("kd-none-with-disagreement", ["--kd", "none", "--strategy", "disagreement"], ["'disagreement' needs a teacher", "--kd none"]),
    ("few-shot-with-standin", ["--few-shot", "clap", "--teacher", "standin"], ["needs a vision-language teacher", "standin"]),
    ("few-shot-with-file-teacher", ["--few-shot", "tip-adapter-f"], ["needs a vision-language teacher", "file:"]),
    ("budget-times-rounds-over-pool", ["--rounds", "20", "--budget", "5"], ["5 × 20", "100 labels", "57 unlabeled"]),
    ("initial-all-leaves-nothing-to-pick", ["--initial", "all"], ["0 unlabeled", "60 labeled"]),
    ("labelstudio-without-token", ["--oracle", "labelstudio"], ["LABEL_STUDIO_API_KEY", "--oracle human"]),
    # --eval-on sets
    ("eval-on-class-not-in-the-run", ["--eval-on", f"imagefolder:{D}/other-classes"], ["--eval-on", "'wolf'", "class names must match"]),
    ("eval-on-missing", ["--eval-on", f"imagefolder:{D}/nowhere"], ["--eval-on", "nowhere", "not a directory"]),
    ("eval-on-no-labels", ["--eval-on", f"csv:{D}/no-labels.csv"], ["--eval-on", "no-labels.csv", "no labeled image"]),
    ("eval-on-twice", ["--eval-on", f"csv:{D}/x.csv,csv:{D}/x.csv"], ["eval_on", "twice"]),
    # run folders
    ("out-under-a-file", ["--out", f"{D}/a-file/run"], ["a-file", "is a file"]),
]


def _name(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


def _fill(args: list[str], w, **more) -> list[str]:
    return [a.format(folder=w["folder"], teachers=w["teachers"], data=w["data"], **more) for a in args]


@pytest.mark.parametrize("name,args,words", NEW_RUN_CASES, ids=[_name(c) for c in NEW_RUN_CASES])
def test_a_refused_start_creates_nothing(world, tmp_path, capsys, monkeypatch, name, args, words):
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    out = tmp_path / "run"
    rc, err = cli(capsys, "run", "--out", out, *base_args(world), *FAST, *_fill(args, world))
    assert_refused(rc, err, *words)
    assert not out.exists()


def test_no_case_is_listed_twice():
    names = [_name(c) for c in NEW_RUN_CASES]
    assert len(names) == len(set(names)) and len(names) >= 60


def test_out_is_a_file(world, capsys):
    target = world["data"] / "a-file"
    before = target.read_bytes()
    rc, err = cli(capsys, "run", "--out", target, *base_args(world), *FAST)
    assert_refused(rc, err, "a-file", "is a file, not a folder")
    assert target.read_bytes() == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes through chmod 0555; test_out_in_an_unwritable_folder_as_seen_by_access covers the check")
def test_out_in_a_read_only_folder(tmp_path, world, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, err = cli(capsys, "run", "--out", ro / "run", *base_args(world), *FAST)
    finally:
        ro.chmod(0o755)
    assert_refused(rc, err, "cannot write to", str(ro))
    assert not (ro / "run").exists()


def test_out_in_an_unwritable_folder_as_seen_by_access(tmp_path, world, capsys, monkeypatch):
    """Root-proof: the folder's write permission as the OS reports it (``os.access``) is what the check reads."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro else real(p, mode, **kw))
    rc, err = cli(capsys, "run", "--out", ro / "run", *base_args(world), *FAST)
    assert_refused(rc, err, "cannot write to", str(ro), "writable --out")
    assert not (ro / "run").exists()


def test_unparsable_number(world, tmp_path, capsys):
    out = tmp_path / "run"
    try:
        rc = main(["run", "--out", str(out), *base_args(world), *FAST, "--lr", "abc"])
    except SystemExit as e:
        rc = e.code
    assert_refused(rc, capsys.readouterr().err, "--lr", "'abc'")
    assert not out.exists()


def test_tip_alpha_nan(world, tmp_path, capsys):
    out = tmp_path / "run"
    rc, err = cli(capsys, "run", "--out", out, *base_args(world), *FAST, "--tip-alpha", "nan")
    assert_refused(rc, err, "tip_alpha")
    assert not out.exists()


def test_hf_teacher_folder_missing(world, tmp_path, capsys):
    out = tmp_path / "run"
    try:
        rc, err = cli(capsys, "run", "--out", out, *base_args(world), *FAST, "--teacher", f"hf:{tmp_path}/nowhere")
    except RuntimeError as e:
        pytest.fail(f"traceback: {e!r}")
    assert_refused(rc, err, "nowhere")
    assert not out.exists()


# --------------------------------------------------------------------------- the corrected command works on the same --out


@pytest.mark.parametrize("name,bad,fixed", [
    ("bad-teacher-file", ["--teacher", f"file:{T}/nan.npz"], []),
    ("budget-over-pool", ["--rounds", "20"], []),
    ("unknown-strategy", ["--strategy", "entropi"], ["--strategy", "entropy"]),
    ("shots-0-without-teacher", ["--shots", "0", "--kd", "none"], ["--shots", "0"]),
    ("unlabeled-csv-simulated", ["--dataset", f"csv:{D}/unlabeled.csv", "--kd", "none"],
     ["--dataset", f"csv:{D}/unlabeled.csv", "--kd", "none", "--oracle", "human"]),
])
def test_the_corrected_command_works_on_the_same_out(world, tmp_path, capsys, name, bad, fixed):
    out = tmp_path / "run"
    out.mkdir()  # an existing, empty --out stays, empty
    rc, err = cli(capsys, "run", "--out", out, *base_args(world), *FAST, *_fill(bad, world))
    assert_refused(rc, err)
    assert out.is_dir() and not any(out.iterdir())
    assert main(["run", "--out", str(out), *base_args(world), *FAST, *_fill(fixed, world)]) == (3 if "human" in fixed else 0)  # 3: waits
    assert (out / "session.sqlite").is_file()


# --------------------------------------------------------------------------- tolerant inputs that must work


def test_csv_with_bom_crlf_and_padding_works(world, tmp_path):
    out = tmp_path / "run"
    args = ["--dataset", f"csv:{world['data']}/bom-crlf.csv", "--kd", "none", "--cache-dir", str(world["cache"]), *FAST]
    assert main(["run", "--out", str(out), *args]) == 0
    con = sqlite3.connect(out / "session.sqlite")
    ids = [r[0] for r in con.execute("SELECT id FROM samples")]
    con.close()
    assert len(ids) == 60 and all(i == i.strip() and i.endswith(".png") for i in ids)


def test_teacher_csv_with_bom_and_crlf_works(world, tmp_path):
    out = tmp_path / "run"
    args = ["--dataset", f"imagefolder:{world['folder']}", "--teacher", f"file:{world['teachers']}/bom-crlf.csv",
            "--cache-dir", str(world["cache"]), *FAST]
    assert main(["run", "--out", str(out), *args]) == 0


def test_a_truncated_jpeg_is_reported_by_path_and_skipped(world, tmp_path, caplog):
    folder = tmp_path / "photos"
    shutil.copytree(world["folder"], folder)
    bad = folder / "dog" / "broken.jpg"
    Image.open(folder / "dog" / "000.png").convert("RGB").save(bad, quality=90)
    bad.write_bytes(bad.read_bytes()[:300])
    out = tmp_path / "run"
    args = ["--dataset", f"imagefolder:{folder}", "--kd", "none", "--cache-dir", str(world["cache"]), *FAST]
    assert main(["run", "--out", str(out), *args]) == 0
    assert str(bad) in caplog.text and "unreadable" in caplog.text
    con = sqlite3.connect(out / "session.sqlite")
    ids = {r[0] for r in con.execute("SELECT id FROM samples")}
    con.close()
    assert "dog/broken.jpg" not in ids and len(ids) == 60


# --------------------------------------------------------------------------- an existing run: nothing changes


EXISTING_RUN_CASES = [
    ("different-lr", ["run", "{out}", "--lr", "0.01"], ["different configuration", "train.lr: 0.001 -> 0.01"]),
    ("different-dataset", ["run", "{out}", "--dataset", f"imagefolder:{D}/one-class"], ["different configuration", "data.dataset"]),
    ("different-seed", ["run", "{out}", "--seed", "2"], ["different configuration", "loop.seed: 1 -> 2"]),
    ("different-eval-on", ["run", "{out}", "--eval-on", f"imagefolder:{D}/one-class"], ["different configuration", "data.eval_on"]),
    ("unknown-strategy-on-existing", ["run", "{out}", "--strategy", "nope"], ["'nope'", "valid:"]),
    ("extend-over-pool", ["resume", "{out}", "--rounds", "1000"], ["× 999 round(s)", "lower --budget or --rounds"]),
    ("rounds-below-done", ["resume", "{out}", "--rounds", "0"], ["finished round 1", "--rounds"]),
    ("resume-budget-0", ["resume", "{out}", "--budget", "0"], ["budget", ">= 1"]),
    ("resume-rounds-negative", ["resume", "{out}", "--rounds", "-1"], ["rounds", ">= 0"]),
    ("resume-device-tpu", ["resume", "{out}", "--device", "tpu"], ["'tpu'"]),
    ("resume-cache-dir-is-a-file", ["resume", "{out}", "--cache-dir", f"{D}/a-file"], ["--cache-dir", "not a folder"]),
    ("label-without-file", ["label", "{out}"], ["give a label FILE", "--undo"]),
    ("label-missing-file", ["label", "{out}", f"{D}/nowhere.csv"], ["nowhere.csv", "No such file"]),
    ("label-a-folder", ["label", "{out}", f"{D}/empty"], ["empty", "Is a directory"]),
    ("label-undo-nothing", ["label", "{out}", "--undo"], ["no label import to undo"]),
    ("label-changes-a-label-without-relabel", ["label", "{out}", f"{D}/relabel.csv"], ["is labeled", "pass --relabel"]),
    ("sync-on-a-file-run", ["sync", "{out}"], ["does not label in Label Studio", "activekd label"]),
]


@pytest.mark.parametrize("name,args,words", EXISTING_RUN_CASES, ids=[c[0] for c in EXISTING_RUN_CASES])
def test_a_refused_command_on_an_existing_run_changes_nothing(world, good_run, capsys, name, args, words):
    before = store_state(good_run)
    cmd = _fill(args, world, out=good_run)
    extra = [*base_args(world), *FAST] if cmd[0] == "run" else []
    cmd = ["run", "--out", cmd[1], *extra, *cmd[2:]] if cmd[0] == "run" else cmd
    rc, err = cli(capsys, *cmd)
    assert_refused(rc, err, *words)
    assert store_state(good_run) == before


def test_a_locked_run_is_refused(world, good_run, capsys):
    from activekd.session._lock import RunLock

    before = store_state(good_run)
    with RunLock(good_run):
        for cmd in (["run", "--out", good_run, *base_args(world), *FAST], ["resume", good_run], ["label", good_run, "--undo"]):
            rc, err = cli(capsys, *cmd)
            assert_refused(rc, err, "is in use by pid", "wait for it")
    assert store_state(good_run) == before


# --------------------------------------------------------------------------- folders and files that are not a store


def _no_session(d: Path, good: Path) -> None:
    d.mkdir()


def _foreign(d: Path, good: Path) -> None:
    d.mkdir()
    con = sqlite3.connect(d / "session.sqlite")
    con.execute("CREATE TABLE notes (x TEXT)")
    con.execute("INSERT INTO notes VALUES ('another tool')")
    con.commit()
    con.close()


def _truncated(d: Path, good: Path) -> None:
    shutil.copytree(good, d)
    data = (d / "session.sqlite").read_bytes()
    (d / "session.sqlite").write_bytes(data[: len(data) // 2])


def _truncated_header(d: Path, good: Path) -> None:
    d.mkdir()
    (d / "session.sqlite").write_bytes((good / "session.sqlite").read_bytes()[:50])


def _newer(d: Path, good: Path) -> None:
    shutil.copytree(good, d)
    con = sqlite3.connect(d / "session.sqlite")
    con.execute("PRAGMA user_version = 99")
    con.close()


def _empty_file(d: Path, good: Path) -> None:
    d.mkdir()
    (d / "session.sqlite").write_bytes(b"")


def _text_file(d: Path, good: Path) -> None:
    d.mkdir()
    (d / "session.sqlite").write_text("these are my notes\n" * 20)


def _store_is_a_folder(d: Path, good: Path) -> None:
    d.mkdir()
    (d / "session.sqlite").mkdir()


STORES = {
    "no-session": (_no_session, "holds no activekd session"),
    "no-folder": (None, "holds no activekd session"),
    "foreign-sqlite": (_foreign, "did not write"),
    "truncated": (_truncated, "corrupt"),
    "truncated-header": (_truncated_header, "not an activekd session"),
    "newer-schema": (_newer, "newer activekd"),
    "empty-file": (_empty_file, "not an activekd session"),
    "text-file": (_text_file, "not an activekd session"),
    "store-is-a-folder": (_store_is_a_folder, "session.sqlite"),
}
COMMANDS = ("resume", "label", "status", "sync", "run")
STORE_CASES = [(s, c) for s in STORES for c in COMMANDS if not (c == "run" and s in ("no-session", "no-folder"))]


@pytest.mark.parametrize("store,command", STORE_CASES, ids=[f"{s}-{c}" for s, c in STORE_CASES])
def test_a_folder_without_a_valid_store_is_refused_untouched(world, good_run, tmp_path, capsys, store, command):
    make, words = STORES[store]
    d = tmp_path / "run"
    if make is not None:
        make(d, good_run)
    before = file_bytes(d)
    args = {"resume": ["resume", d], "label": ["label", d, world["data"] / "answer.csv"], "status": ["status", d],
            "sync": ["sync", d], "run": ["run", "--out", d, *base_args(world), *FAST]}[command]
    rc, err = cli(capsys, *args)
    assert_refused(rc, err, words)
    assert file_bytes(d) == before
    if make is None:
        assert not d.exists()
    if store in ("no-session", "store-is-a-folder"):
        assert not (d / "session.sqlite").is_file()


def test_a_store_with_a_corrupt_page_is_refused_in_one_line(good_run, tmp_path, capsys):
    d = tmp_path / "run"
    shutil.copytree(good_run, d)
    data = bytearray((d / "session.sqlite").read_bytes())
    page = 4096 if len(data) > 3 * 4096 else 1024
    data[2 * page: 2 * page + 200] = b"\xff" * 200
    (d / "session.sqlite").write_bytes(bytes(data))
    rc, err = cli(capsys, "status", d)
    assert_refused(rc, err, "corrupt")
    assert (d / "session.sqlite").read_bytes() == bytes(data)


def test_a_store_with_an_unreadable_config_is_refused(good_run, tmp_path, capsys):
    d = tmp_path / "run"
    shutil.copytree(good_run, d)
    con = sqlite3.connect(d / "session.sqlite")
    con.execute("UPDATE meta SET value = '{not json' WHERE key = 'config'")
    con.commit()
    con.close()
    before = file_bytes(d)
    rc, err = cli(capsys, "resume", d)
    assert_refused(rc, err, "session.sqlite", "config")
    assert file_bytes(d) == before
