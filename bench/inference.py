"""Pool inference on the CPU: activekd's ``predict`` against a plain PyTorch eval loop over the same tensors.

    python bench/inference.py                     # small-cnn, 20,000 28 px images (the demo's pool pass)
    python bench/inference.py --images 50000 --repeats 5

Both run the same randomly initialised student (speed does not depend on the weights) in ``inference_mode``
over the same uint8 images held in memory. The plain loop is the baseline: slice, forward, keep the three
outputs, at each batch size in ``--batches``. ``predict`` is what every session pool pass calls (it cuts CPU
batches to ``activekd.device.CPU_INFERENCE_BATCH``). Each figure is the median of ``--repeats`` timed passes
after a warm-up, in images/s, and as a ratio to the plain loop at batch 1,024 (the old default).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from activekd.data import ArraySource
from activekd.device import CPU_INFERENCE_BATCH
from activekd.students import create_student
from activekd.train import ImageBank, predict


def _median_rate(fn, n: int, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return n / statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--student", default="small-cnn")
    p.add_argument("--batches", type=int, nargs="+", default=[1024, 256, 128, 64])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.manual_seed(0)
    student = create_student(args.student, 10, pretrained=False).eval()
    pixels = np.random.default_rng(0).integers(0, 256, (args.images, 28, 28), dtype=np.uint8)
    bank = ImageBank(ArraySource(pixels), "cpu")
    x = bank.get(torch.arange(args.images))
    positions = torch.arange(args.images)

    def plain(bs: int):
        def run():
            with torch.inference_mode():
                for i in range(0, args.images, bs):
                    student(x[i : i + bs])
        return run

    rates = {f"plain loop, batch {bs}": _median_rate(plain(bs), args.images, args.repeats) for bs in args.batches}
    rates[f"activekd predict (batch {CPU_INFERENCE_BATCH} on CPU)"] = _median_rate(
        lambda: predict(student, bank, positions, device="cpu", progress=False), args.images, args.repeats)
    base = rates[f"plain loop, batch {args.batches[0]}"]
    print(f"{args.student}, {args.images} images of 28 px, {torch.get_num_threads()} threads; images/s (ratio to the first row)")
    for name, r in rates.items():
        print(f"{name:>40}  {r:8.0f}  {r / base:5.2f}x")


if __name__ == "__main__":
    main()
