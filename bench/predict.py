"""Prediction throughput on the CPU: ONNX Runtime vs PyTorch eager, end to end from image files.

    python bench/predict.py                                # resnet18 at 224 px, 256 images, batch 32
    python bench/predict.py --student small-cnn --images 1024 --batch-size 128

Writes ``--images`` synthetic photos (smooth random colour images, sides 160-640 px, half PNG and
half JPEG) to a temporary folder and a randomly initialised student checkpoint (speed does not
depend on the weights, so nothing is downloaded), exports the checkpoint to ONNX, then predicts
every image with :func:`activekd.export.predict_images` two ways, alternately, in the same process:

- ONNX Runtime: the exported ``.onnx`` file (CPU execution provider, default graph optimisations);
- PyTorch eager: the checkpoint itself (``predict_images`` runs the student in ``inference_mode``).

End to end is what ``activekd predict`` does: open the model, read, square, batch, run, rank.

Both read and decode the same files and square them the same way (PIL, on the host), then run the
same graph: the student's own resize and normalisation, its two heads and their mix. Each figure is
the median of ``--repeats`` timed passes after a warm-up. Also printed: the share of the
host work (decode + square, no model) and each engine's images/s on the already-squared batch, and
the largest difference between the two engines' probabilities.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def write_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` smooth random RGB images of mixed sizes; even ones PNG, odd ones JPEG (quality 90)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        w, h = (int(v) for v in rng.integers(160, 641, 2))
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        im = Image.fromarray(small).resize((w, h), Image.BICUBIC)
        path = folder / f"{i:05d}.{'jpg' if i % 2 else 'png'}"
        im.save(path, quality=90) if i % 2 else im.save(path)
        paths.append(path)
    return paths


def write_checkpoint(folder: Path, student_name: str, input_size: int | None) -> Path:
    """A random-init student checkpoint with 10 classes, as a run leaves it."""
    from activekd.students import create_student
    from activekd.students.io import save_student, student_metadata

    torch.manual_seed(0)
    student = create_student(student_name, 10, pretrained=False, input_size=input_size).eval()
    path = folder / "student.safetensors"
    save_student(path, student, student_metadata(student_name, [f"c{i}" for i in range(10)], 0.5, 1.0, student.input_size))
    return path


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(models: dict[str, Path], images: list[str], batch_size: int, repeats: int) -> dict[str, dict[str, float]]:
    """Images/s end to end (``predict_images``) and model only (squared batches) per model, alternately."""
    from activekd.export import load_predictor, predict_images

    predictors = {k: load_predictor(m) for k, m in models.items()}
    first = next(iter(predictors.values()))
    squares = np.stack([first.prepare(p) for p in images])  # also warms the file cache
    batches = [squares[s : s + batch_size] for s in range(0, len(squares), batch_size)]
    runs = {k: {"e2e": lambda m=m: predict_images(m, images, batch_size=batch_size, progress=False),
                "model": lambda p=p: [p.run(b) for b in batches]} for (k, m), p in zip(models.items(), predictors.values())}
    for fns in runs.values():  # warm-up: sessions, allocator
        fns["model"]()
    times = {k: {"e2e": [], "model": []} for k in runs}
    host = []
    for _ in range(repeats):  # alternate, so that drifting load hits both engines alike
        host.append(_seconds(lambda: [first.prepare(p) for p in images]))
        for k, fns in runs.items():
            for what, fn in fns.items():
                times[k][what].append(_seconds(fn))
    n = len(images)
    result = {k: {what: n / statistics.median(t) for what, t in v.items()} for k, v in times.items()}
    probs = {k: np.concatenate([p.run(b) for b in batches]) for k, p in predictors.items()}
    result["_"] = {"host": n / statistics.median(host), "max_diff": float(np.abs(probs["onnxruntime"] - probs["pytorch"]).max())}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--student", default="resnet18")
    ap.add_argument("--input-size", type=int, default=None, help="default: the student's own")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import onnxruntime as ort

    from activekd.export import export_student

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "img").mkdir()
        images = [str(p) for p in write_images(d / "img", a.images)]
        ckpt = write_checkpoint(d, a.student, a.input_size)
        onnx = export_student(ckpt, "onnx", d / "student.onnx")
        r = measure({"onnxruntime": onnx, "pytorch": ckpt}, images, a.batch_size, a.repeats)
    print(f"{a.student}, {a.images} images (PNG + JPEG, 160-640 px), batch {a.batch_size}, median of {a.repeats}; "
          f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}")
    print(f"host decode + square alone : {r['_']['host']:8.1f} images/s")
    print(f"{'':27s}   end to end    model only")
    for k in ("onnxruntime", "pytorch"):
        print(f"{k:27s}: {r[k]['e2e']:8.1f}      {r[k]['model']:8.1f}   images/s")
    print(f"ratio onnxruntime / pytorch: {r['onnxruntime']['e2e'] / r['pytorch']['e2e']:8.2f}      "
          f"{r['onnxruntime']['model'] / r['pytorch']['model']:8.2f}")
    print(f"max |p_onnxruntime - p_pytorch| = {r['_']['max_diff']:.1e}")


if __name__ == "__main__":
    main()
