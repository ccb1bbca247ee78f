"""End-to-end training throughput from JPEG files: activekd's data path vs the reference design, 1 vs 2 processes.

    python bench/train.py                                   # ResNet-18 at 224 px, on CUDA when there is one
    python bench/train.py --images 128 --steps 4 --batch 16 # a quick CPU run

Writes ``--images`` synthetic photos (smooth random colour JPEGs, sides 160-640 px, quality 90) in ten class
folders, then trains the same student (ResNet-18 with its two heads, random init: speed does not depend on the
weights) with the DHO loss, ``--batch`` labeled + ``--batch`` unlabeled images per step, three ways in one run:

- **reference** (the design of erjui/DHO and erjui/PCoreSet): a torch DataLoader with ``--workers`` processes
  that PIL-decode every sample, random-resized-crop it to 224 (area 0.5-1, aspect 3/4-4/3) and flip it on the host;
  fp32; the teacher (a CLIP ViT-B/16 image tower, random init through open_clip) runs forward on every step's
  images.
- **activekd**: the files are decoded once into the uint8 cache (DataLoader workers) and the teacher runs once per
  image; training then reads the cache on the device, crops and flips there, and uses the stored teacher logits
  (bf16 autocast on a GPU). Its end-to-end figure charges the decode and teacher pass of every image to the run.
- **activekd, 2 processes**: the same, under ``torchrun --nproc-per-node 2`` (DistributedDataParallel, gloo on CPU,
  NCCL on GPUs), the same global batch and steps.

Figures are images trained per second (labeled + unlabeled): the time of ``--steps + 1`` steps less that of one
step (start-up costs cancel). The reference's figure is end to end by construction: its data path and teacher run
inside every step. activekd's end-to-end figure is for one pass over the files: ``images / (images / training
rate + decoding every file once + the teacher on every file once)`` — the least favourable case for a cache,
which later passes and later rounds reuse. Ratios are to the reference measured in the same run. Run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

CLIP_MEAN, CLIP_STD = (0.4815, 0.4578, 0.4082), (0.2686, 0.2613, 0.2758)


def write_jpegs(root: Path, n: int, classes: int = 10, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = (int(v) for v in rng.integers(160, 641, 2))
        im = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
        folder = root / f"c{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        im.save(folder / f"{i:05d}.jpg", quality=90)


def teacher_tower(device: torch.device) -> torch.nn.Module:
    import open_clip

    return open_clip.create_model("ViT-B-16", pretrained=None).visual.to(device).eval()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reference(root: Path, steps: int, batch: int, workers: int, device: torch.device) -> float:
    """Images/s of the reference design: host decode + crop in DataLoader workers, fp32, teacher forward every step."""
    from torchvision import datasets, transforms

    from activekd.students import create_student
    from activekd.train import DHOLoss

    tf = transforms.Compose([transforms.RandomResizedCrop(224, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)),
                             transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    loader = torch.utils.data.DataLoader(datasets.ImageFolder(str(root), tf), batch_size=2 * batch, shuffle=True, drop_last=True,
                                         num_workers=workers, persistent_workers=workers > 0, pin_memory=device.type == "cuda")
    student, teacher = create_student("resnet18", 10, pretrained=False).to(device).train(), teacher_tower(device)
    proj = torch.randn(teacher.output_dim, 10, device=device)
    mean, std = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in (CLIP_MEAN, CLIP_STD))
    opt, loss_fn = torch.optim.AdamW(student.parameters(), lr=1e-3), DHOLoss(2.0)
    it, done, t0 = iter(loader), 0, 0.0
    for step in range(steps + 1):
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            x, y = next(it)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.no_grad():
            t = teacher((x - mean) / std) @ proj
        ce, kd, _ = student(x)
        loss = loss_fn(ce[:batch], y[:batch], kd[:batch], t[:batch], kd[batch:], t[batch:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step == 0:
            _sync(device)
            t0 = time.perf_counter()
        else:
            done += 2 * batch
    _sync(device)
    return done / (time.perf_counter() - t0)


def prepare(root: Path, cache: Path, device: torch.device) -> dict:
    """Decode the files into the cache and run the teacher once per image; returns the data and the seconds each took."""
    from activekd.data import create_dataset

    t0 = time.perf_counter()
    ds = create_dataset(f"imagefolder:{root}", image_size=224, cache_dir=str(cache))
    ds.images.materialize()
    decode = time.perf_counter() - t0
    teacher, bank = teacher_tower(device), _bank(ds, device)
    proj = torch.randn(teacher.output_dim, 10, device=device)
    mean, std = (torch.tensor(v, device=device).view(1, 3, 1, 1) for v in (CLIP_MEAN, CLIP_STD))
    t0 = time.perf_counter()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        logits = torch.cat([(teacher((bank.get(torch.arange(s, min(s + 64, len(ds)))).float() / 255 - mean) / std) @ proj).float()
                            for s in range(0, len(ds), 64)])
    _sync(device)
    return {"n": len(ds), "decode_s": decode, "teacher_s": time.perf_counter() - t0, "logits": logits.cpu()}


def _bank(ds, device):
    from activekd.train import ImageBank

    return ImageBank(ds.images, device)


def activekd_train(root: Path, cache: Path, logits: torch.Tensor, steps: int, batch: int, device: torch.device, group) -> float:
    """Images/s of activekd's training loop (cache on the device, crops there, teacher logits stored) on ``group``."""
    from activekd.data import create_dataset
    from activekd.students import create_student
    from activekd.train import TrainBatchSource, TrainConfig, train_student

    ds = create_dataset(f"imagefolder:{root}", image_size=224, cache_dir=str(cache))
    bank, n = _bank(ds, device), len(ds)
    lab, unl = torch.arange(batch), torch.arange(batch, n)
    src = TrainBatchSource(lab, torch.as_tensor(ds.labels[:batch]), unl, logits[lab], logits[unl])

    def run(k: int) -> float:
        cfg = TrainConfig(repeat=k, batch_labeled=batch, batch_unlabeled=batch, augment=True, warmup=0.0)
        torch.manual_seed(0)
        student = create_student("resnet18", 10, pretrained=False)
        _sync(device)
        t0 = time.perf_counter()
        train_student(student, bank, src, cfg, device=device, generator=torch.Generator().manual_seed(0), progress=False, group=group)
        _sync(device)
        return time.perf_counter() - t0

    warm = run(1)
    return 2 * batch * (steps - 1) / max(1e-9, run(steps) - warm)  # the steps after the first (start-up costs cancel)


def _two_processes(args, root: Path, cache: Path, logits_file: Path) -> float | None:
    out = logits_file.with_suffix(".json")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", __file__, "--rank-of", str(root),
           str(cache), str(logits_file), str(out), "--steps", str(args.steps), "--batch", str(args.batch), "--device", args.device]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.read_text())["images_per_s"]


def rank_main(args) -> None:
    """One process of the 2-process measurement (started by torchrun)."""
    from activekd.parallel import join, leave

    root, cache, logits_file, out = (Path(p) for p in args.rank_of)
    device = _device(args.device)
    group = join(device)
    device = group.device(device)
    ips = activekd_train(root, cache, torch.load(logits_file), args.steps, args.batch, device, group)
    if group.is_main:
        out.write_text(json.dumps({"images_per_s": ips}))
    leave()


def _device(name: str) -> torch.device:
    from activekd.device import resolve_device

    return resolve_device(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--steps", type=int, default=20, help="timed training steps (after one warm-up step)")
    ap.add_argument("--batch", type=int, default=64, help="labeled images per step (and as many unlabeled)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="DataLoader workers of the reference")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--rank-of", nargs=4, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rank_of:
        return rank_main(args)
    device = _device(args.device)
    torch.set_num_threads(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "images", Path(tmp) / "cache"
        write_jpegs(root, args.images)
        prep = prepare(root, cache, device)
        torch.save(prep["logits"], Path(tmp) / "logits.pt")
        one = activekd_train(root, cache, prep["logits"], args.steps, args.batch, device, _solo())
        two = _two_processes(args, root, cache, Path(tmp) / "logits.pt")
        ref = reference(root, args.steps, args.batch, args.workers, device)
    report(args, device, prep, ref, one, two)


def _solo():
    from activekd.parallel import SOLO

    return SOLO


def report(args, device, prep: dict, ref: float, one: float, two: float | None) -> None:
    n = prep["n"]
    e2e = n / (n / one + prep["decode_s"] + prep["teacher_s"])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'}, {os.cpu_count()} cores"
    print(f"bench/train.py on {device} ({name}), torch {torch.__version__}: ResNet-18 at 224 px, {n} JPEG files, "
          f"{args.batch}+{args.batch} images per step, {args.steps} timed steps")
    print(f"  decode once into the cache: {n / prep['decode_s']:8.1f} images/s; teacher (ViT-B/16) once: {n / prep['teacher_s']:8.1f} images/s")
    print(f"  reference (PIL in {args.workers} workers, fp32, teacher every step): {ref:8.1f} images/s   1.00x")
    print(f"  activekd, training from the cache:                {one:8.1f} images/s   {one / ref:5.2f}x")
    print(f"  activekd, end to end, one pass over the files:    {e2e:8.1f} images/s   {e2e / ref:5.2f}x")
    if two is not None:
        print(f"  activekd, 2 processes, training from the cache:   {two:8.1f} images/s   {two / ref:5.2f}x  ({two / one:.2f}x one process)")


if __name__ == "__main__":
    main()
