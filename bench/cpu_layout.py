"""Channels-last on the CPU: one demo training round and one pool pass, in the default layout vs channels-last.

    python bench/cpu_layout.py                        # small-cnn, 28 px, the demo's first round (10 labels, 200 steps)
    python bench/cpu_layout.py --labeled 110 --steps 400 --repeats 5

Both arms run activekd's own ``train_student`` and ``predict`` on the same uint8 images (random pixels: speed does
not depend on them) with the same seeds; the only difference is ``activekd.device.CHANNELS_LAST_DEVICES``: the
baseline leaves CPUs out (the layout activekd used before), the other arm is today's default. The arms alternate,
``--repeats`` times each, and each figure is the median; the ratio is channels-last over the baseline measured in
the same run. It also prints the largest difference between the two arms' step losses (the layouts run different
convolution kernels, so the losses agree to rounding, not bit for bit). Run it alone on an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import activekd.device as device_mod
from activekd.data import ArraySource
from activekd.students import create_student
from activekd.train import ImageBank, TrainBatchSource, TrainConfig, predict, train_student

LAYOUTS = {"default (NCHW)": frozenset({"cuda"}), "channels-last": frozenset({"cuda", "cpu"})}


def _source(args) -> tuple[ImageBank, TrainBatchSource]:
    rng = np.random.default_rng(0)
    n = args.labeled + args.pool
    images = rng.integers(0, 256, (n, 1, args.size, args.size), dtype=np.uint8)
    logits = torch.from_numpy(rng.normal(size=(n, 10)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, 10, args.labeled))
    lab, unl = torch.arange(args.labeled), torch.arange(args.labeled, n)
    return ImageBank(ArraySource(images), "cpu"), TrainBatchSource(lab, labels, unl, logits[lab], logits[unl])


def _train(bank: ImageBank, src: TrainBatchSource, args) -> tuple[float, list[float]]:
    torch.manual_seed(0)
    student = create_student(args.student, 10, pretrained=False, input_size=args.size)
    batches = max(1, -(-args.labeled // 64))
    cfg = TrainConfig(repeat=max(1, args.steps // batches))
    t0 = time.perf_counter()
    losses = train_student(student, bank, src, cfg, device="cpu", generator=torch.Generator().manual_seed(0), progress=False)
    return len(losses) / (time.perf_counter() - t0), losses


def _infer(bank: ImageBank, src: TrainBatchSource, args) -> float:
    torch.manual_seed(0)
    student = device_mod.channels_last(create_student(args.student, 10, pretrained=False, input_size=args.size), "cpu")
    t0 = time.perf_counter()
    predict(student, bank, src.unlabeled, device="cpu", progress=False)
    return int(src.unlabeled.numel()) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--student", default="small-cnn")
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--labeled", type=int, default=10)
    p.add_argument("--steps", type=int, default=200, help="training steps per timed round (the demo's first round: 200)")
    p.add_argument("--pool", type=int, default=20000, help="unlabeled images (the pool pass's size)")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    bank, src = _source(args)
    rates: dict[str, list[tuple[float, float]]] = {k: [] for k in LAYOUTS}
    losses: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for name, devices in LAYOUTS.items():
            device_mod.CHANNELS_LAST_DEVICES = devices
            steps_s, losses[name] = _train(bank, src, args)
            rates[name].append((steps_s, _infer(bank, src, args)))
    print(f"{args.student}, {args.size} px, {torch.get_num_threads()} threads; {args.labeled} labeled, "
          f"{len(next(iter(losses.values())))} steps of 64 + 64 images; pool pass over {args.pool:,} images")
    base = None
    for name, rs in rates.items():
        steps_s, images_s = (statistics.median(r[i] for r in rs) for i in (0, 1))
        base = base or (steps_s, images_s)
        print(f"{name:>16}: {steps_s:6.1f} steps/s ({steps_s / base[0]:.2f}x)   pool pass {images_s:8,.0f} images/s "
              f"({images_s / base[1]:.2f}x)")
    a, b = losses.values()
    print(f"largest step-loss difference between the layouts: {max(abs(x - y) for x, y in zip(a, b)):.2e}")


if __name__ == "__main__":
    main()
