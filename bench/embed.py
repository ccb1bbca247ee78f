"""Embedding-extraction throughput: activekd's cached pipeline vs a plain per-batch loop.

Writes N synthetic JPEGs (smooth random images, 500x375 by default) to a folder, then embeds them
all with a CLIP-like model two ways and prints images/s for each and their ratio:

- activekd: ``ImageEmbedder`` (DataLoader workers decode + preprocess, large batches, bf16 autocast
  on CUDA, results written to the on-disk cache);
- plain loop: PIL decode + preprocess in the main process, fp32, small batches (what research code
  usually does).

Model loading and one warm-up batch per path are excluded; the two paths run alternately
``--repeats`` times and the best run of each is reported. A random-init model (``openclip:ARCH``)
costs exactly what the pretrained one does, so no weights are needed. Also prints the time to serve
the same embeddings again from the cache.

    python bench/embed.py --model openclip:ViT-B-32 --images 256 --device cpu
    python bench/embed.py --model openclip:ViT-B-32 --images 8192 --device cuda --batch-size 512 --workers 16
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from activekd.data._files import load_imagefolder
from activekd.teachers import ImageEmbedder, create_backbone


def write_jpegs(folder: Path, n: int, size: tuple[int, int], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    w, h = size
    for i in range(n):
        path = folder / f"c{i % 2}" / f"{i:06d}.jpg"
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        small = rng.integers(0, 256, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((w, h), Image.BICUBIC)  # smooth, photo-like JPEG sizes
        im.save(path, quality=90)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model, paths: list[str], batch_size: int, device: torch.device) -> torch.Tensor:
    transform = model.transform()
    out = []
    with torch.inference_mode():
        for s in range(0, len(paths), batch_size):
            pixels = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[s:s + batch_size]]).to(device)
            out.append(F.normalize(model.encode_images(pixels).float(), dim=-1).cpu())
    return torch.cat(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="openclip:ViT-B-32", help="teacher spec of the backbone (openclip:... or hf:...)")
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--image-size", default="500x375", help="WxH of the synthetic JPEGs")
    p.add_argument("--data", default=None, help="folder for the JPEGs (reused if present); default: a temp folder")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch-size", type=int, default=256, help="activekd pipeline batch size")
    p.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1), help="activekd pipeline DataLoader workers")
    p.add_argument("--baseline-batch-size", type=int, default=16, help="plain loop batch size")
    p.add_argument("--repeats", type=int, default=2, help="alternating runs of each path; the best is reported")
    args = p.parse_args()
    device = torch.device(args.device)
    w, h = (int(v) for v in args.image_size.lower().split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "jpegs"
        t = time.perf_counter()
        write_jpegs(data, args.images, (w, h))
        print(f"{args.images} JPEGs {w}x{h} in {data} ({time.perf_counter() - t:.1f}s to write)")
        ds = load_imagefolder(str(data))
        ds_paths = ds.paths
        model = create_backbone(args.model, device=device)

        # warm-up: load the model, one batch through each path
        warm = ImageEmbedder(model, ds, Path(tmp) / "warm", batch_size=min(args.batch_size, len(ds)), workers=0, device=device)
        warm.embeddings(ds.ids[:min(8, len(ds))])
        plain_loop(model, ds_paths[:min(8, len(ds))], args.baseline_batch_size, device)

        t_base, t_ours = [], []
        for r in range(args.repeats):  # alternate the two paths so drifting machine load hits both alike
            sync(device)
            t = time.perf_counter()
            base = plain_loop(model, ds_paths, args.baseline_batch_size, device)
            sync(device)
            t_base.append(time.perf_counter() - t)

            embedder = ImageEmbedder(model, ds, Path(tmp) / f"cache{r}", batch_size=args.batch_size, workers=args.workers, device=device)
            sync(device)
            t = time.perf_counter()
            ours = embedder.embeddings(ds.ids)
            sync(device)
            t_ours.append(time.perf_counter() - t)

        t = time.perf_counter()
        ImageEmbedder(model, ds, Path(tmp) / "cache0", device=device).embeddings(ds.ids)
        t_cached = time.perf_counter() - t

    n = len(ds)
    agree = float((ours * base).sum(dim=1).min())
    dev = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    plain_ips, ours_ips = n / min(t_base), n / min(t_ours)
    print(f"model {args.model} on {dev}; best of {args.repeats} alternating runs of {n} images")
    print(f"plain loop (main-process PIL decode, fp32, batch {args.baseline_batch_size}): {plain_ips:8.1f} images/s"
          f"   (runs: {', '.join(f'{n / x:.1f}' for x in t_base)})")
    print(f"activekd   ({args.workers} workers, batch {args.batch_size}, {'bf16' if device.type == 'cuda' else 'fp32'}):"
          f" {ours_ips:8.1f} images/s   (runs: {', '.join(f'{n / x:.1f}' for x in t_ours)})")
    print(f"ratio: {ours_ips / plain_ips:.2f}x   (min cosine between the two paths' embeddings: {agree:.4f})")
    print(f"served again from the cache: {n / t_cached:,.0f} images/s")
    print(json.dumps({"model": args.model, "device": dev, "images": n, "plain_ips": plain_ips, "activekd_ips": ours_ips,
                      "ratio": ours_ips / plain_ips, "cached_ips": n / t_cached}))

if __name__ == "__main__":
    main()
