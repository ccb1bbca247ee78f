"""Offline benchmark: strategies × KD modes × seeds on Fashion-MNIST with the stand-in teacher, then one report.

Each cell is a resumable run folder OUT/<strategy>-<kd>-seed<s>/ (1 label per class + ROUNDS × BUDGET labels,
small-cnn); OUT/baseline-random-none-seed<s>/ is plain labeling (CE only, random picks) on the same schedule,
then extended by --baseline-rounds equal rounds up to --baseline-labels labels (default 1,000). Re-running the
command resumes unfinished cells. Writes OUT/report.html (+ OUT/report_files/*.png) and prints the comparison.

    python3 bench/offline.py --out runs/bench-offline --strategies random entropy pcoreset --seeds 1 2 3 --kd dho none
    python3 bench/offline.py --out /tmp/quick --strategies random pcoreset --seeds 1 2 --pool-limit 2000 --repeat 20 --baseline-labels 300
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from activekd.report import compare_table, run_offline_benchmark
from activekd.report._benchmark import (
    BASELINE_LABELS,
    BASELINE_ROUNDS,
    KD_MODES,
    SEEDS,
    STRATEGIES,
    grid_folders,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bench-offline")
    p.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--kd", nargs="+", default=list(KD_MODES))
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--budget", type=int, default=10)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--baseline-labels", type=int, default=BASELINE_LABELS, help="0 leaves the baseline out")
    p.add_argument("--baseline-rounds", type=int, default=BASELINE_ROUNDS)
    p.add_argument("--pool-limit", type=int, default=None)
    p.add_argument("--test-limit", type=int, default=None)
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t = time.time()
    report = run_offline_benchmark(Path(args.out), strategies=args.strategies, seeds=args.seeds, kd_modes=args.kd, rounds=args.rounds,
                                   budget=args.budget, shots=args.shots, progress=args.progress,
                                   baseline_labels=args.baseline_labels or None, baseline_rounds=args.baseline_rounds,
                                   device=args.device, pool_limit=args.pool_limit, test_limit=args.test_limit, repeat=args.repeat)
    print(compare_table(grid_folders(Path(args.out), args.strategies, args.seeds, args.kd, baseline=bool(args.baseline_labels))))
    print(f"\nreport: {report}  ({time.time() - t:.0f} s)")


if __name__ == "__main__":
    main()
