"""What the reference's training choices change: augmentation on/off per student, zero-label start vs 1 shot.

Fashion-MNIST, stand-in teacher, DHO, one strategy, ``ROUNDS × BUDGET`` labels after the start
(1 shot per class, or ``--shots 0``: round 0 picks ``BUDGET`` images from the teacher's probabilities and trains
nothing, so that arm runs one more round and both starts end at the same number of labels). Each arm × seed is one resumable run folder
``OUT/ARM-seedS``; the script prints the final test accuracy (mean ± std over seeds) per arm.

    python bench/fidelity.py --seeds 1 2 3 --out runs/fidelity
    python bench/fidelity.py --arms small-cnn small-cnn+aug --pool-limit 3000 --repeat 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from activekd.cli import main as cli_main

ARMS = {
    "small-cnn": ["--student", "small-cnn", "--no-augment"],
    "small-cnn+aug": ["--student", "small-cnn", "--augment"],
    "resnet18": ["--student", "resnet18", "--no-student-pretrained", "--no-augment"],
    "resnet18+aug": ["--student", "resnet18", "--no-student-pretrained", "--augment"],
    "small-cnn, 0 shots": ["--student", "small-cnn", "--no-augment", "--shots", "0"],
}


def run_arm(arm: str, seed: int, args: argparse.Namespace) -> dict:
    out = Path(args.out) / f"{arm.replace(', ', '-').replace(' ', '')}-seed{seed}"
    zero_start = ARMS[arm][-2:] == ["--shots", "0"]  # its first labels arrive after round 0: one more round
    cmd = ["run", "--out", str(out), *ARMS[arm], "--seed", str(seed), "--strategy", args.strategy,
           "--rounds", str(args.rounds + zero_start), "--budget", str(args.budget), "--repeat", str(args.repeat),
           "--device", args.device, "--no-progress", "-q"]
    if "resnet18" in arm:
        cmd += ["--student-input-size", str(args.resnet_input)]
    for flag, value in (("--pool-limit", args.pool_limit), ("--test-limit", args.test_limit)):
        if value:
            cmd += [flag, str(value)]
    if (out / "session.sqlite").exists():  # an existing run: resume it under its own stored options (extended if need be)
        cmd = ["resume", str(out), "--rounds", str(args.rounds + zero_start), "--device", args.device, "--no-progress", "-q"]
    rc = cli_main(cmd)
    if rc:
        raise SystemExit(rc)
    return json.loads((out / "results.json").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--strategy", default="pcoreset")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--budget", type=int, default=10)
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--pool-limit", type=int, default=None)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--resnet-input", type=int, default=64, help="resnet18's input side (the 28 px images are resized to it)")
    p.add_argument("--out", default="runs/fidelity")
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    table: dict[str, list[float]] = {}
    for arm in args.arms:
        for seed in args.seeds:
            t = time.time()
            res = run_arm(arm, seed, args)
            table.setdefault(arm, []).append(res["final"]["student_acc"])
            print(f"[{arm} seed {seed}] final {100 * res['final']['student_acc']:.2f}% with {res['num_labels']} labels "
                  f"({time.time() - t:.0f} s)", flush=True)
    print("\n| arm | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean ± std |")
    print("|---|" + "---|" * len(args.seeds) + "---|")
    for arm, accs in table.items():
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"| {arm} | " + " | ".join(f"{100 * a:.2f}" for a in accs) + f" | {100 * statistics.mean(accs):.2f} ± {100 * sd:.2f} |")


if __name__ == "__main__":
    main()
