"""How many deliberate label mistakes the label check finds, and how many correct labels it flags.

    OMP_NUM_THREADS=1 python bench/mislabels.py --out runs/mislabels --seeds 1 --flip 0.05

Per seed: a Fashion-MNIST run with the stand-in teacher and small-cnn labeled by a simulated person
(``--oracle human``, answered through ``ActiveSession.add_labels``) who gives each pick its true class,
except a seeded ``--flip`` share of picks, which get a uniformly drawn other class. The ``--shots`` initial
labels stay correct (the dataset's own). When the run has trained its last round, the rule
(``activekd.mislabels``) is applied to every label of that round at each ``--thresholds`` value, on the
evidence the run stored (the picking student's and the teacher's probabilities from before each label;
the initial labels on the teacher alone), and the figures are printed: flips found (recall), correct
labels flagged (false alarms), and the share of flags that are flips (precision). A finished run folder
is reused as it is.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from activekd.config import from_options
from activekd.session import ActiveSession
from activekd.session._mislabels import round_flags


def _answer_all(session: ActiveSession, rng: np.random.Generator, flip: float, flipped: set[str]) -> None:
    """Answer the round awaiting labels: the truth, or (with probability ``flip``) another class."""
    pending = session.store.pending_round()
    ds = session.dataset
    answers = []
    for sid in pending.picks:
        y = int(ds.labels[ds.index_of([sid])[0]])
        if rng.random() < flip:
            y = int((y + rng.integers(1, ds.num_classes)) % ds.num_classes)
            flipped.add(sid)
        answers.append((sid, y))
    session.add_labels(answers)


def run_seed(args, seed: int) -> dict:
    out = Path(args.out) / f"seed{seed}"
    config = from_options(dataset="fashion-mnist", teacher="standin", student="small-cnn", strategy=args.strategy, shots=args.shots,
                          budget=args.budget, rounds=args.rounds, seed=seed, oracle="human", pool_limit=args.pool_limit,
                          test_limit=args.test_limit, repeat=args.repeat, device="cpu", progress=False)
    record = out / "flipped.json"
    flipped = set(json.loads(record.read_text())) if record.is_file() else set()
    rng = np.random.default_rng([seed, 20])
    while True:
        with ActiveSession.open(config, out) as session:
            session.run()
            if session.store.pending_round() is None:
                return _score(session, flipped, args.thresholds)
            _answer_all(session, rng, args.flip, flipped)
            record.write_text(json.dumps(sorted(flipped)))


def _score(session: ActiveSession, flipped: set[str], thresholds: list[float]) -> dict:
    last = session.store.rounds()[-1].round
    data = session.round_data(last)
    teacher = None if data.teacher is None else data.teacher[data.labeled_pos]
    out = {"labels": len(data.labeled), "flips": len(flipped), "by_threshold": {}}
    for t in thresholds:
        flagged = {f.id for f in round_flags(session.store, data.labeled, teacher, session.dataset.class_names, threshold=t)}
        found, false = len(flagged & flipped), len(flagged - flipped)
        out["by_threshold"][t] = {"flagged": len(flagged), "found": found, "false_alarms": false}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder of the runs (one per seed, resumed when there)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--flip", type=float, default=0.05, help="share of a person's answers given a wrong class")
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    p.add_argument("--strategy", default="pcoreset")
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--budget", type=int, default=50)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--pool-limit", type=int, default=3000)
    p.add_argument("--test-limit", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=30, help="labeled-set repeats per round (the reference: 200)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = {seed: run_seed(args, seed) for seed in args.seeds}
    print(json.dumps(results, indent=1))
    labels, flips = sum(r["labels"] for r in results.values()), sum(r["flips"] for r in results.values())
    for t in args.thresholds:
        found = sum(r["by_threshold"][t]["found"] for r in results.values())
        false = sum(r["by_threshold"][t]["false_alarms"] for r in results.values())
        print(f"threshold {t}: {found} of {flips} flips found ({found / max(flips, 1):.0%}); {false} of {labels - flips} correct labels "
              f"flagged ({false / max(labels - flips, 1):.1%}); {found / max(found + false, 1):.0%} of flags are flips")


if __name__ == "__main__":
    main()
