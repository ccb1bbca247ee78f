"""The head mix on finished runs: the mix each round chose, against pure KD and the fixed 0.5/1 mix, on the test set.

    python bench/headmix.py runs/grid/*-dho-seed* runs/digits/*-seed*
    python bench/headmix.py runs/digits/*-seed* --guards 0 1 2      # replay the choice with other guards

Reads each run's store and ``results.json`` only (nothing is retrained): every round records the test accuracy
of each mix of :data:`activekd.train.MIX_GRID` (``grid_acc``), and the store keeps, for every picked image,
the votes of the student that picked it. The choice is replayed with
:func:`activekd.train.choose_from_picks` on exactly the evidence the round had, for each ``--guards`` value,
and scored by the test accuracy of the mix it picks. Prints, per group of runs (the folder name without
``-seedN``), the 3-seed means at the final round and over all rounds (area under the curve, as AUBC), and the
worst round of any run. ``recorded`` is what the run predicted with when it ran (the rule of its time); ``rule`` is
today's rule replayed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import defaultdict
from pathlib import Path

from activekd.session import SessionStore, pick_evidence
from activekd.session._mix import uncertain_picks
from activekd.train import MIX_GRID, choose_from_picks, choose_mix

KD, FIXED = MIX_GRID.index((1.0, 1.0)), MIX_GRID.index((0.5, 1.0))


def replay(run: Path, guards: list[float]) -> dict[str, list[float]]:
    """Per round: test accuracy of pure KD, of the fixed 0.5/1 mix, of the recorded choice, of today's rule
    (:func:`activekd.train.choose_mix`: stricter for a strategy that picks where the student is unsure) and of each
    guard's replay on the whole small grid. Selection uses the fixed mix, so the students and their picks do not
    depend on the rule: each replay is exactly what that rule would have predicted with."""
    res = json.loads((run / "results.json").read_text())
    classes = res["dataset"]["num_classes"]
    unsure = uncertain_picks(res["config"]["loop"]["strategy"])
    rows: dict[str, list[float]] = defaultdict(list)
    with SessionStore.open(run, readonly=True) as store:
        for m in res["rounds"]:
            acc = m.get("grid_acc")
            if not acc:
                continue
            rows["KD head"].append(acc[KD])
            rows["fixed 0.5/1"].append(acc[FIXED])
            rows["recorded"].append(m["student_acc"])
            votes, labels = pick_evidence(store, m["round"])
            c = choose_mix(votes, labels, classes, uncertain_picks=unsure)
            rows["rule"].append(acc[MIX_GRID.index((c.alpha, c.beta))])
            for g in guards:
                c = choose_from_picks(votes, labels, classes, guard=g)
                rows[f"guard {g:g}"].append(acc[MIX_GRID.index((c.alpha, c.beta))])
            rows["best on test"].append(max(acc))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--guards", type=float, nargs="+", default=[0.0, 1.0, 2.0])
    args = p.parse_args()
    groups: dict[str, list[dict]] = defaultdict(list)
    for run in args.runs:
        if (run / "results.json").is_file():
            groups[re.sub(r"-seed\d+$", "", run.name)].append(replay(run, args.guards))
    for name, runs in groups.items():
        print(f"\n{name} ({len(runs)} runs): test accuracy %, mean over runs")
        print(f"{'':>14}  {'final':>6}  {'all rounds':>10}  {'worst round':>11}")
        for key in runs[0]:
            final = statistics.mean(r[key][-1] for r in runs)
            area = statistics.mean(statistics.mean(r[key]) for r in runs)
            worst = min(min(r[key]) for r in runs)
            print(f"{key:>14}  {100 * final:6.2f}  {100 * area:10.2f}  {100 * worst:11.2f}")


if __name__ == "__main__":
    main()
