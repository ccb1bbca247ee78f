"""onnxruntime vs PyTorch eager on CPU: images/s of an exported student (a benchmark, not a test).

    python bench/export.py                       # resnet18 at 224 px, batch 32
    python bench/export.py --student small-cnn --batch 256 --threads 2

Both engines run the same student graph (uint8 images in, mixed probabilities out: the
``MixedProbabilities`` module that ``activekd export`` records) on the same seeded uint8 batch
already at the input size, in the same process, alternately, after warm-up; each figure is the
median of ``--repeats`` timed runs of ``--iters`` batches. PyTorch runs in ``inference_mode``;
onnxruntime with its default CPU graph optimisations. Both use ``--threads`` intra-op threads
(default: every core). The student is randomly initialised (no download); speed does not depend
on the weights. Prints both figures and the ratio onnxruntime / PyTorch.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _images_per_s(run, x, iters: int, repeats: int) -> float:
    run(x)
    run(x)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iters):
            run(x)
        times.append(time.perf_counter() - t)
    return iters * x.shape[0] / statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--student", default="resnet18")
    ap.add_argument("--input-size", type=int, default=None, help="default: the student's own")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()

    import onnxruntime as ort

    from activekd.export import get_format
    from activekd.export._graph import MixedProbabilities, example_batch
    from activekd.students import create_student

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    student = create_student(a.student, 10, pretrained=False, input_size=a.input_size).eval()
    module = MixedProbabilities(student, 0.5, 1.0).eval()
    s = student.input_size
    x = torch.randint(0, 256, (a.batch, 3, s, s), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.onnx"
        get_format("onnx").save(module, example_batch(s), {}, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = a.threads
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def eager(t):
        with torch.inference_mode():
            return module(t)

    xn = x.numpy()
    diff = np.abs(sess.run(None, {"images": xn})[0] - eager(x).numpy()).max()
    pt = _images_per_s(eager, x, a.iters, a.repeats)
    ox = _images_per_s(lambda v: sess.run(None, {"images": v}), xn, a.iters, a.repeats)
    print(f"{a.student} {s}px batch {a.batch}, {a.threads} threads, {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}; max |p_onnx - p_torch| = {diff:.1e}")
    print(f"PyTorch eager : {pt:8.1f} images/s")
    print(f"onnxruntime   : {ox:8.1f} images/s")
    print(f"ratio onnxruntime / PyTorch = {ox / pt:.2f}")


if __name__ == "__main__":
    main()
