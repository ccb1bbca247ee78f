"""The GPU goals in one call: selection, training and embedding throughput, and selection's precision, in one table.

    python bench/gpu.py            # on a CUDA machine: the full sizes, one process, within 5 minutes (an H100-class GPU)
    python bench/gpu.py --small    # the same table at small sizes (the default without CUDA; a test runs it on CPU)
    python bench/gpu.py --json runs/bench_gpu.json   # also write the table as JSON

Rows (goal in brackets, for an H100-class GPU at the full sizes):

- PCoreSet, 50,000 pool x 100 classes, 1,000 picks (100 labeled): seconds, best of 2 after a warm-up [<= 0.15 s];
- PCoreSet, 1,281,167 x 1,000 classes, 1,000 picks (1,000 labeled): seconds and peak extra GPU memory [<= 3 s];
- coreset (k-center greedy), 50,000 x 512-d features, 1,000 picks: seconds;
- training, ResNet-18 at 224 px end to end from JPEG files, activekd's design vs the reference design in the same
  run (``bench/train.py``'s functions: ``prepare``, ``activekd_train``, ``reference``; the end-to-end figure charges
  decoding every file once and the teacher pass on every file once) [>= 12,000 images/s];
- ViT-B/32 embedding (``openclip:ViT-B-32``, random init: the cost of the pretrained model) of JPEG files through
  ``ImageEmbedder`` (DataLoader workers, bf16 autocast on CUDA), model loading and a warm-up batch excluded
  [>= 3,000 images/s];
- selection under bf16 training: a student trained with ``--bf16`` (autocast on CUDA), then its pool outputs through
  the session's own ``ActiveSession.predict``: they must be float32 and give PCoreSet the picks of an fp32 pass
  (on a CPU autocast does nothing, so only a GPU can show it); the picks a bf16 pass would move are shown beside.

The JPEGs are ``bench/train.py``'s synthetic photos (160-640 px). Synthetic selection pools are
``bench/selection.py``'s. Everything runs in this process (the 2-process training figure is bench/train.py's).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import selection as sel_bench  # noqa: E402  (bench/selection.py)
import train as train_bench  # noqa: E402  (bench/train.py)

from activekd.select import SelectionInputs, select  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    pcoreset: tuple[sel_bench.Size, sel_bench.Size]
    coreset: sel_bench.Size
    images: int  # JPEG files (training and embedding)
    steps: int  # timed training steps
    batch: int  # labeled (and as many unlabeled) images per step
    embed_batch: int


FULL = Sizes((sel_bench.Size("50k", 50_000, 100, 512, 100, 1_000), sel_bench.Size("1.28M", 1_281_167, 1_000, 512, 1_000, 1_000)),
             sel_bench.Size("50k", 50_000, 100, 512, 100, 1_000), images=8192, steps=30, batch=256, embed_batch=512)
SMALL = Sizes((sel_bench.Size("5k", 5_000, 100, 64, 100, 100), sel_bench.Size("20k", 20_000, 200, 64, 200, 100)),
              sel_bench.Size("5k", 5_000, 100, 512, 100, 100), images=8, steps=2, batch=2, embed_batch=4)


def _timed_select(name: str, inputs: SelectionInputs, picks: int, device: torch.device) -> tuple[list, float, int]:
    return sel_bench.timed(lambda: select(name, inputs, picks, generator=torch.Generator().manual_seed(0), device=device), device)


def selection_rows(sizes: Sizes, device: torch.device) -> list[dict]:
    warm = sel_bench.make_inputs(sel_bench.PRESETS["smoke"], 0, torch.float32, str(device))
    _timed_select("pcoreset", warm, 10, device)
    rows = []
    for size, goal in zip(sizes.pcoreset, (0.15, 3.0)):
        inputs = sel_bench.make_inputs(size, 0, torch.float32, str(device))
        runs = [_timed_select("pcoreset", inputs, size.picks, device) for _ in range(2)]
        seconds, peak = min(r[1] for r in runs), max(r[2] for r in runs)
        rows.append(_row(f"PCoreSet {size.pool:,} x {size.classes:,} classes, {size.picks:,} picks", seconds, "s",
                         f"<= {goal} s", seconds <= goal, f"peak {peak / 2**20:,.0f} MiB"))
        del inputs
    size = sizes.coreset
    inputs = sel_bench.make_inputs(size, 0, torch.float32, str(device))
    _, seconds, peak = _timed_select("coreset", inputs, size.picks, device)
    rows.append(_row(f"coreset {size.pool:,} x {size.dim}-d, {size.picks:,} picks", seconds, "s", "", None,
                     f"peak {peak / 2**20:,.0f} MiB"))
    return rows


def training_rows(sizes: Sizes, root: Path, cache: Path, device: torch.device) -> tuple[list[dict], dict]:
    """ResNet-18 at 224 px from the JPEGs in ``root``: activekd end to end and from the cache vs the reference."""
    prep = train_bench.prepare(root, cache, device)
    one = train_bench.activekd_train(root, cache, prep["logits"], sizes.steps, sizes.batch, device, _solo())
    workers = min(16, os.cpu_count() or 1)
    ref = train_bench.reference(root, sizes.steps, sizes.batch, workers, device)
    n = prep["n"]
    e2e = n / (n / one + prep["decode_s"] + prep["teacher_s"])
    return [_row("training ResNet-18 224 px, end to end from JPEG", e2e, "images/s", ">= 12,000", e2e >= 12_000,
                 f"{e2e / ref:.2f}x the reference"),
            _row("  from the cache (decoded once, teacher once)", one, "images/s", "", None, f"{one / ref:.2f}x the reference"),
            _row(f"  reference design (PIL in {workers} workers, fp32, teacher every step)", ref, "images/s", "", None, "1.00x")], prep


def embedding_row(sizes: Sizes, root: Path, tmp: Path, device: torch.device) -> dict:
    from activekd.data import create_dataset
    from activekd.teachers import ImageEmbedder, create_backbone

    ds = create_dataset(f"imagefolder:{root}", image_size=224, cache_dir=str(tmp / "embed-data"))
    model = create_backbone("openclip:ViT-B-32", device=device)
    workers = min(16, os.cpu_count() or 1)
    ImageEmbedder(model, ds, tmp / "embed-warm", batch_size=sizes.embed_batch, workers=0, device=device).embeddings(ds.ids[:8])
    embedder = ImageEmbedder(model, ds, tmp / "embed", batch_size=sizes.embed_batch, workers=workers, device=device)
    train_bench._sync(device)
    t0 = time.perf_counter()
    embedder.embeddings(ds.ids)
    train_bench._sync(device)
    ips = len(ds) / (time.perf_counter() - t0)
    return _row(f"ViT-B/32 embedding, {len(ds):,} JPEG files", ips, "images/s", ">= 3,000", ips >= 3_000,
                f"batch {sizes.embed_batch}, {workers} workers")


def precision_row(root: Path, cache: Path, logits: torch.Tensor, device: torch.device) -> dict:
    """Train with bf16 on, then the session's pool pass (``ActiveSession.predict``) and PCoreSet's picks from it."""
    from activekd.data import create_dataset
    from activekd.session import ActiveSession, Compute
    from activekd.students import create_student
    from activekd.train import ImageBank, TrainBatchSource, TrainConfig, predict, train_student

    ds = create_dataset(f"imagefolder:{root}", image_size=224, cache_dir=str(cache))
    bank, n = ImageBank(ds.images, device), len(ds)
    m = max(2, n // 8)
    lab, pool = torch.arange(m), torch.arange(m, n)
    cfg = TrainConfig(repeat=2, batch_labeled=min(32, m), batch_unlabeled=min(32, n - m), bf16=True, eval_batch_size=256)
    src = TrainBatchSource(lab, torch.as_tensor(ds.labels[:m]), pool, logits[lab], logits[pool])
    torch.manual_seed(0)
    student = create_student("resnet18", 10, pretrained=False)
    train_student(student, bank, src, cfg, device=device, generator=torch.Generator().manual_seed(0), progress=False)
    session = SimpleNamespace(compute=Compute(), bank=bank, device=device, config=SimpleNamespace(train=cfg, progress=False))
    picks = min(100, max(2, len(pool) // 2))

    def picked(p_out, l_out) -> list:
        inputs = SelectionInputs([str(i) for i in pool.tolist()], p_out.ce, p_out.kd, p_out.features, [str(i) for i in lab.tolist()],
                                 l_out.ce, l_out.kd, l_out.features, torch.as_tensor(ds.labels[:m]))
        return select("pcoreset", inputs, picks, generator=torch.Generator().manual_seed(0), device=device)

    ours = [ActiveSession.predict(session, student, p, "pool") for p in (pool, lab)]
    fp32 = [predict(student, bank, p, device=device, bf16=False, progress=False) for p in (pool, lab)]
    bf16 = [predict(student, bank, p, device=device, bf16=True, progress=False) for p in (pool, lab)]
    dtypes = {t.dtype for o in ours for t in (o.ce, o.kd, o.features)}
    same = picked(*ours) == picked(*fp32)
    moved = len(set(picked(*bf16)) - set(picked(*fp32)))
    ok = dtypes == {torch.float32} and same
    return _row("selection under bf16 training: pool outputs fp32, picks = fp32 pass", int(ok), "yes/no", "yes", ok,
                f"outputs {'/'.join(sorted(str(d) for d in dtypes))}; a bf16 pass would move {moved} of {picks} picks")


def _row(what: str, value: float, unit: str, goal: str, met: bool | None, note: str) -> dict:
    return {"what": what, "value": value, "unit": unit, "goal": goal, "met": met, "note": note}


def _solo():
    from activekd.parallel import SOLO

    return SOLO


def print_table(rows: list[dict], device: torch.device, small: bool, seconds: float) -> None:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'}, {os.cpu_count()} cores"
    print(f"bench/gpu.py on {device} ({name}), torch {torch.__version__}, {'small' if small else 'full'} sizes, {seconds:.0f} s")
    print(f"| {'measurement':<70} | {'value':>12} | {'unit':<8} | {'goal':<12} | met | note")
    print(f"|{'-' * 72}|{'-' * 14}|{'-' * 10}|{'-' * 14}|-----|-----")
    for r in rows:
        value = ("yes" if r["value"] else "no") if r["unit"] == "yes/no" else (f"{r['value']:.3f}" if r["unit"] == "s" else f"{r['value']:,.{0 if r['value'] >= 100 else 1}f}")
        met = "" if r["met"] is None else ("yes" if r["met"] else "NO")
        print(f"| {r['what']:<70} | {value:>12} | {r['unit']:<8} | {r['goal']:<12} | {met:<3} | {r['note']}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="small sizes (the default without CUDA)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    device = train_bench._device(args.device)
    small = args.small or device.type != "cuda"
    sizes = SMALL if small else FULL
    t0 = time.perf_counter()
    rows = selection_rows(sizes, device)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "images", Path(tmp) / "cache"
        train_bench.write_jpegs(root, sizes.images)
        train, prep = training_rows(sizes, root, cache, device)
        rows += train
        rows.append(embedding_row(sizes, root, Path(tmp), device))
        rows.append(precision_row(root, cache, prep["logits"], device))
    seconds = time.perf_counter() - t0
    if small:  # the goals are for the full sizes on a GPU
        rows = [r if r["unit"] == "yes/no" or not r["goal"] else {**r, "met": None, "goal": f"({r['goal']})"} for r in rows]
    print_table(rows, device, small, seconds)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": str(device), "small": small, "seconds": seconds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
