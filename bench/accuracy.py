"""Accuracy benchmark of the demo setting: DHO student vs CE-only (plain AL), several seeds.

Fashion-MNIST, stand-in teacher, small-cnn, 1 shot + ROUNDS × BUDGET labels. Runs `activekd run`
for each (seed, kd) into OUT/STRATEGY-KD-seedSEED (resuming finished runs), then prints final test accuracies.
The folders are named as `activekd benchmark offline` names its cells, so `--out runs/grid` reuses the grid's
finished DHO cells (same configuration) instead of training them again.

    python bench/accuracy.py --seeds 1 2 3 --kd dho none --out runs/bench-accuracy
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from activekd.cli import main as cli_main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--kd", nargs="+", default=["dho", "none"])
    p.add_argument("--strategy", default="random")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--budget", type=int, default=10)
    p.add_argument("--out", default="runs/bench-accuracy")
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    table: dict[str, dict[int, float]] = {}
    for kd in args.kd:
        for seed in args.seeds:
            out = Path(args.out) / f"{args.strategy}-{kd}-seed{seed}"
            t = time.time()
            if (out / "results.json").is_file() and json.loads((out / "results.json").read_text())["complete"]:
                print(f"[{kd} seed {seed}] finished run reused: {out}", flush=True)
            else:
                rc = cli_main(["run", "--out", str(out), "--kd", kd, "--seed", str(seed), "--strategy", args.strategy,
                               "--rounds", str(args.rounds), "--budget", str(args.budget), "--device", args.device, "--no-progress"])
                if rc:
                    raise SystemExit(rc)
            res = json.loads((out / "results.json").read_text())
            table.setdefault(kd, {})[seed] = res["final"]["student_acc"]
            print(f"[{kd} seed {seed}] final {100 * res['final']['student_acc']:.2f}% with {res['num_labels']} labels ({time.time() - t:.0f} s)", flush=True)
    print("\nkd        " + "  ".join(f"seed {s:<3}" for s in args.seeds) + "   mean")
    for kd, accs in table.items():
        vals = [accs[s] for s in args.seeds]
        print(f"{kd:<9} " + "  ".join(f"{100 * v:7.2f}" for v in vals) + f"  {100 * statistics.mean(vals):6.2f}")
    if "dho" in table and "none" in table:
        gap = statistics.mean(table["dho"].values()) - statistics.mean(table["none"].values())
        print(f"DHO − CE-only: {100 * gap:+.2f} points")


if __name__ == "__main__":
    main()
