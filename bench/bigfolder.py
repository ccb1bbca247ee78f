"""A big image folder end to end: the first run's image check, then the commands that only open the run.

Builds OUT/folder/<class>/<i>.jpg from Fashion-MNIST (train + test, 70,000 images, resized to --side px; past 70,000
the images come again mirrored, so every file differs), plus --broken truncated JPEGs, and a ``file:`` teacher
(OUT/teacher.npz). A folder built before with the same figures is reused. Then, timed on this machine:

1. a plain PIL decode loop over the same files (``Image.open(p).convert("RGB")``): the reference decode rate;
2. the first ``activekd run`` (in this process, a fresh cache and run folder; human oracle, 1 shot per class, small-cnn):
   start to its first training step, the image check's rate (images/s, from the check's own clock; a first check
   squares each image into the pixel cache as it decodes it, so no second decode follows), and the whole command
   (round 0 trains, then picks 10 of the pool);
3. each as its own process, as a user types it: ``status``, ``resume`` with nothing to do (waiting for labels),
   ``label`` of the 10-row answer CSV, ``export`` (onnx); beside them ``activekd --version`` (interpreter and import).
   Target: each of these within 3 s plus its own work.

    OMP_NUM_THREADS=1 nice -n 5 python3 bench/bigfolder.py --out /tmp/bigfolder --images 3000
    python3 bench/bigfolder.py --out /tmp/bigfolder --images 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import activekd.data._files as files
import activekd.data._verdicts as verdicts
import activekd.train._trainer as trainer
from activekd.cli import main as activekd_main
from activekd.data._fashion_mnist import CLASS_NAMES, load_fashion_mnist

BUDGET = 10
FOLDERS = [c.replace("/", "-") for c in CLASS_NAMES]  # "T-shirt/top" is no folder name


def build(folder: Path, n: int, side: int, broken: int) -> tuple[list[str], list[int]]:
    """``(ids, labels)`` of the ``n`` readable JPEGs under ``folder`` (built, or reused when its stamp matches)."""
    stamp = folder / "built.json"
    want = {"images": n, "side": side, "broken": broken, "folders": FOLDERS}
    fm = load_fashion_mnist()
    pixels = fm.images.as_tensor().numpy()[:, 0]
    ids = [f"{FOLDERS[fm.labels[i % len(fm)]]}/{i:06d}.jpg" for i in range(n)]
    labels = [int(fm.labels[i % len(fm)]) for i in range(n)]
    if stamp.is_file() and json.loads(stamp.read_text()) == want:
        return ids, labels
    shutil.rmtree(folder, ignore_errors=True)
    for c in FOLDERS:
        (folder / c).mkdir(parents=True)
    for i, sid in enumerate(ids):
        im = Image.fromarray(pixels[i % len(fm)]).resize((side, side), Image.BILINEAR)
        (im.transpose(Image.FLIP_LEFT_RIGHT) if i >= len(fm) else im).convert("RGB").save(folder / sid, quality=90)
    for k in range(broken):
        data = (folder / ids[k]).read_bytes()
        (folder / FOLDERS[k % 10] / f"broken_{k:03d}.jpg").write_bytes(data[: len(data) // 2])
    stamp.write_text(json.dumps(want))
    time.sleep(verdicts.RACY_S)  # files written just now keep no verdict (see _verdicts); the user's folder is older
    return ids, labels


def pil_loop(paths: list[Path]) -> float:
    """Images/s of a plain full decode of ``paths``."""
    t = time.perf_counter()
    for p in paths:
        with Image.open(p) as im:
            im.convert("RGB")
    return len(paths) / (time.perf_counter() - t)


def first_run(args, folder: Path, teacher: Path) -> dict:
    """The first ``run``, in this process: seconds to the first training step, the check's images/s, the whole command."""
    seen: dict = {}
    readable, draw = files.readable, trainer._Sampler.next

    def timed_readable(paths, *rest):
        t = time.perf_counter()
        out = readable(paths, *rest)
        seen.setdefault("check_s", time.perf_counter() - t)
        seen.setdefault("checked", len(paths))
        return out

    def first_draw(self, bank):
        seen.setdefault("first_step_s", time.perf_counter() - start)
        return draw(self, bank)

    files.readable, trainer._Sampler.next = timed_readable, first_draw
    start = time.perf_counter()
    try:
        rc = activekd_main(["run", "--out", str(args.out / "run"), "--dataset", f"imagefolder:{folder}", "--teacher", f"file:{teacher}",
                            "--cache-dir", str(args.out / "cache"), "--student", "small-cnn", "--image-size", str(args.side),
                            "--shots", "1", "--budget", str(BUDGET), "--rounds", "1", "--oracle", "human", "--repeat", "1",
                            "--device", "cpu", "--no-progress"])
    finally:
        files.readable, trainer._Sampler.next = readable, draw
    if rc != 3:
        raise SystemExit(f"the first run exited {rc}, not 3 (waiting for labels)")
    return dict(seen, run_s=time.perf_counter() - start, check_rate=seen["checked"] / seen["check_s"])


def command(*argv: str, expect: int) -> float:
    """Seconds ``activekd ARGV`` takes as its own process."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "activekd", *argv], capture_output=True, text=True)
    s = time.perf_counter() - t
    if done.returncode != expect:
        raise SystemExit(f"activekd {' '.join(argv)} exited {done.returncode}, not {expect}:\n{done.stdout}{done.stderr}")
    return s


def answers(run: Path, out: Path) -> Path:
    """The 10-row CSV answering round 0's picks with their folder (= class) names."""
    rows = list(csv.DictReader((run / "to_label" / "round_000.csv").open()))
    f = out / "answers.csv"
    f.write_text("id,label\n" + "".join(f"{r['id']},{r['id'].split('/')[0]}\n" for r in rows))
    return f


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("/tmp/bigfolder"))
    p.add_argument("--images", type=int, default=100_000)
    p.add_argument("--side", type=int, default=64)
    p.add_argument("--broken", type=int, default=10, help="truncated JPEGs added to the folder")
    args = p.parse_args()
    folder, teacher = args.out / "folder", args.out / "teacher.npz"
    t = time.perf_counter()
    ids, labels = build(folder, args.images, args.side, args.broken)
    built_s = time.perf_counter() - t
    column = np.argsort(np.argsort(FOLDERS))  # a file: teacher's columns follow the folder's class order (sorted names)
    logits = np.eye(10)[column[labels]] * 4.0 + np.random.default_rng(0).normal(size=(len(ids), 10))
    np.savez(teacher, ids=np.array(ids), logits=logits.astype(np.float32))
    for stale in ("run", "cache", "model.onnx"):
        shutil.rmtree(args.out / stale, ignore_errors=True) if stale != "model.onnx" else (args.out / stale).unlink(missing_ok=True)
    pil_rate = pil_loop([folder / i for i in ids])
    first = first_run(args, folder, teacher)
    run = args.out / "run"
    rows = [("activekd --version (start-up)", command("--version", expect=0)),
            ("status", command("status", str(run), expect=0)),
            ("resume, nothing to do (waiting)", command("resume", str(run), expect=3)),
            (f"label, a {BUDGET}-row CSV", command("label", str(run), str(answers(run, args.out)), expect=0)),
            ("export (onnx)", command("export", str(run), "--format", "onnx", "--out", str(args.out / "model.onnx"), expect=0))]
    print(f"{len(ids):,} JPEGs of {args.side} px (+{args.broken} truncated) in {folder} ({built_s:.0f} s to build or reuse)")
    print(f"plain PIL decode loop:         {pil_rate:10,.0f} images/s")
    print(f"first run's image check:       {first['check_rate']:10,.0f} images/s ({first['checked']:,} files in {first['check_s']:.1f} s)")
    print(f"first run, start to 1st step:  {first['first_step_s']:10.1f} s")
    print(f"first run, whole command:      {first['run_s']:10.1f} s (round 0 trained, {BUDGET} of the pool picked)")
    for name, s in rows:
        print(f"{name + ':':<31}{s:10.2f} s")
    result = dict(images=len(ids), side=args.side, broken=args.broken, pil_decode_rate=pil_rate, **first,
                  commands={name: s for name, s in rows})
    (args.out / "bigfolder.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
