"""A second labeled image set with a file teacher: scikit-learn's handwritten digits (offline, no download).

    pip install scikit-learn          # ships the 1,797 8x8 digit images (UCI ML hand-written digits)
    python bench/digits.py --out runs/digits --seeds 1 2 3 --strategy pcoreset

Writes the images as 28 px PNGs in ``OUT/data/{train,test}/<digit>/`` (pool 1,100, test 500, the rest held
out), fits a weak teacher on ``--teacher-shots`` held-out images per class (a softmax regression on the raw
pixels: about 75-80% test accuracy, far from perfect, as a zero-shot VLM often is) and stores its logits for
every pool and test image in ``OUT/data/teacher.npz`` (``--teacher file:``). Then runs ``activekd run`` per
seed (1 shot + ``--rounds`` × ``--budget`` labels, small-cnn, the reference's schedule) into
``OUT/<strategy>-seed<S>`` (finished runs are resumed as they are) and prints, per seed and as the mean, the
final test accuracy of the mix the run chose, of the KD head alone and of the fixed 0.5/1 mix
(``python bench/headmix.py OUT/*-seed*`` prints the same for every round).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
from PIL import Image

from activekd.cli import main as cli_main

POOL, TEST = 1100, 500


def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("bench/digits.py needs scikit-learn: pip install scikit-learn") from None
    d = load_digits()
    return d.images.astype(np.float64) / 16.0, d.target.astype(np.int64)


def _softmax_regression(x: np.ndarray, y: np.ndarray, classes: int, steps: int = 500, lr: float = 0.5, l2: float = 1e-3) -> np.ndarray:
    """Weights ``[d + 1, C]`` of a multinomial logistic regression fitted by gradient descent (deterministic)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros((xb.shape[1], classes))
    onehot = np.eye(classes)[y]
    for _ in range(steps):
        z = xb @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= lr * (xb.T @ (p - onehot) / len(x) + l2 * w)
    return w


def prepare(root: Path, teacher_shots: int, seed: int = 0) -> float:
    """Write the image folder and the teacher file under ``root`` (once); returns the teacher's test accuracy."""
    images, labels = _digits()
    order = np.random.default_rng(seed).permutation(len(labels))
    pool, test, held = order[:POOL], order[POOL:POOL + TEST], order[POOL + TEST:]
    fit = np.concatenate([held[labels[held] == c][:teacher_shots] for c in range(10)])
    w = _softmax_regression(images[fit].reshape(len(fit), -1), labels[fit], 10)
    ids, rows = [], []
    for split, idx in (("train", pool), ("test", test)):
        for i in idx:
            rel = f"{split}/{labels[i]}/{i:04d}.png"
            path = root / rel
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray((images[i] * 255).astype(np.uint8)).resize((28, 28), Image.BILINEAR).save(path)
            ids.append(rel)
            rows.append(i)
    x = np.hstack([images[rows].reshape(len(rows), -1), np.ones((len(rows), 1))])
    logits = x @ w
    np.savez(root / "teacher.npz", ids=np.array(ids), logits=logits)
    test_rows = slice(len(pool), None)
    return float((logits[test_rows].argmax(1) == labels[rows][test_rows]).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/digits")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--strategy", default="pcoreset")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--budget", type=int, default=10)
    p.add_argument("--teacher-shots", type=int, default=3, help="held-out images per class the teacher is fitted on")
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    root = Path(args.out) / "data"
    teacher_acc = prepare(root, args.teacher_shots)
    print(f"digits: pool {POOL}, test {TEST}; teacher fitted on {args.teacher_shots} per class: {100 * teacher_acc:.2f}% test accuracy")
    rows = []
    for seed in args.seeds:
        out = Path(args.out) / f"{args.strategy}-seed{seed}"
        rc = cli_main(["run", "--out", str(out), "--dataset", f"imagefolder:{root}", "--image-size", "28",
                       "--teacher", f"file:{root / 'teacher.npz'}", "--student", "small-cnn", "--strategy", args.strategy,
                       "--seed", str(seed), "--rounds", str(args.rounds), "--budget", str(args.budget), "--device", args.device,
                       "--no-progress"])
        if rc:
            raise SystemExit(rc)
        f = json.loads((out / "results.json").read_text())["final"]
        rows.append((seed, f["student_acc"], f["kd_acc"], f.get("select_acc"), f["alpha"], f["beta"], f.get("mix_source")))
    print(f"{'seed':>4}  {'chosen %':>8}  {'KD head %':>9}  {'0.5/1 %':>7}  mix")
    for seed, chosen, kd, fixed, a, b, src in rows:
        print(f"{seed:>4}  {100 * chosen:8.2f}  {100 * kd:9.2f}  {100 * fixed:7.2f}  {a:.2f}/{b:.2f} ({src})")
    means = [100 * statistics.mean(r[i] for r in rows) for i in (1, 2, 3)]
    print(f"{'mean':>4}  {means[0]:8.2f}  {means[1]:9.2f}  {means[2]:7.2f}")


if __name__ == "__main__":
    main()
