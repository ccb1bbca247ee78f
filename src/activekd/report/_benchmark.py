"""The offline benchmark: a grid of runs on Fashion-MNIST with the stand-in teacher, then the report over all of them.

Every cell is an ordinary, resumable run folder ``OUT/<strategy>-<kd>-seed<s>/`` made through
:class:`activekd.session.ActiveSession`: running the benchmark again resumes unfinished cells and leaves
finished ones as they are. Besides the grid, ``OUT/baseline-random-none-seed<s>/`` answers "what does plain
labeling need?": CE only (no teacher), random picks, the grid's own schedule (``shots`` per class +
``rounds`` × ``budget``), then the same run extended by ``baseline_rounds`` rounds of an equal budget up to
``baseline_labels`` labels (1,000 by default: 10 + 10 × 10 + 5 × 178 on Fashion-MNIST).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

from activekd.round_result import RoundResult

from ._report import build_report

log = logging.getLogger(__name__)

KD_MODES = ("dho",)  # CE-only comes from the baseline: random picks without a teacher, 110 labels and on to 1,000
SEEDS = (1, 2, 3)
BASELINE_LABELS = 1000
BASELINE_ROUNDS = 5


def default_strategies() -> list[str]:
    """The grid's strategies unless told otherwise: those registered with a benchmark place, in its order
    (:func:`activekd.select.benchmark_strategies`; the selection code is imported only when asked)."""
    from activekd.select import benchmark_strategies

    return benchmark_strategies()


def cell_config(strategy: str, kd: str, seed: int, *, rounds: int, budget: int, shots: int, progress: bool = False,
                device: str = "auto", cache_dir: str | None = None, pool_limit: int | None = None,
                test_limit: int | None = None, repeat: int | None = None):
    """The RunConfig of one cell: Fashion-MNIST, stand-in teacher, small-cnn, the demo's training schedule."""
    from activekd.config import (
        DataConfig,
        LoopConfig,
        RunConfig,
        StudentConfig,
        TeacherConfig,
        TrainConfig,
    )

    train = TrainConfig(kd=kd) if repeat is None else TrainConfig(kd=kd, repeat=repeat)
    top = {"cache_dir": cache_dir} if cache_dir is not None else {}
    return RunConfig(data=DataConfig(dataset="fashion-mnist", pool_limit=pool_limit, test_limit=test_limit),
                     teacher=TeacherConfig(spec="standin"), student=StudentConfig(name="small-cnn"), train=train,
                     loop=LoopConfig(strategy=strategy, shots=shots, rounds=rounds, budget=budget, seed=seed),
                     device=device, progress=progress, **top)


def _run_cell(config, folder: Path) -> dict:
    from activekd.session import ActiveSession

    with ActiveSession.open(config, folder) as session:
        return session.run()


def extension_budget(have: int, target: int, rounds: int) -> int:
    """Labels per round for ``rounds`` more rounds to grow ``have`` labels to at least ``target`` (0: nothing to add)."""
    return max(0, math.ceil((target - have) / rounds)) if rounds > 0 else 0


def _run_baseline(config, folder: Path, labels: int, extra_rounds: int) -> dict:
    """The grid's schedule, then extended by ``extra_rounds`` equal rounds up to ``labels`` labels (resumable at any point)."""
    from activekd.session import ActiveSession, SessionStore, read_stored_config

    first = config.loop.rounds
    if not SessionStore.exists_in(folder) or read_stored_config(folder).loop.rounds <= first:
        res = _run_cell(config, folder)
        budget = extension_budget(res["num_labels"], labels, extra_rounds)
        if budget < 1:
            return res
        changes = {"rounds": first + extra_rounds, "budget": budget}
    else:
        changes = {}
    with ActiveSession.resume(folder, device=config.device, progress=config.progress, cache_dir=config.cache_dir, **changes) as s:
        return s.run()


def grid_folders(out: Path, strategies: Sequence[str], seeds: Sequence[int], kd_modes: Sequence[str], *,
                 baseline: bool = True) -> list[Path]:
    """The benchmark's run folders, grid cells first (strategy, then KD mode, then seed), then the baselines."""
    cells = [Path(out) / f"{s}-{kd}-seed{seed}" for s in strategies for kd in kd_modes for seed in seeds]
    return cells + ([Path(out) / f"baseline-random-none-seed{seed}" for seed in seeds] if baseline else [])


def run_offline_benchmark(out: Path, *, strategies: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS,
                          kd_modes: Sequence[str] = KD_MODES, rounds: int = 10, budget: int = 10, shots: int = 1,
                          progress: bool = False, baseline_labels: int | None = BASELINE_LABELS,
                          baseline_rounds: int = BASELINE_ROUNDS, device: str = "auto", cache_dir: str | None = None,
                          pool_limit: int | None = None, test_limit: int | None = None, repeat: int | None = None) -> Path:
    """Run (or resume) the grid ``strategies × kd_modes × seeds`` and the plain-labeling baseline, then write
    ``OUT/report.html`` over all of them; returns its path. ``strategies`` default: :func:`default_strategies`.
    ``baseline_labels=None`` leaves the baseline out; ``pool_limit``, ``test_limit`` and ``repeat`` shrink every run
    (quick trials and tests)."""
    strategies = default_strategies() if strategies is None else strategies
    out = Path(out)
    kw = {"rounds": rounds, "budget": budget, "shots": shots, "progress": progress, "device": device, "cache_dir": cache_dir,
          "pool_limit": pool_limit, "test_limit": test_limit, "repeat": repeat}
    folders = grid_folders(out, strategies, seeds, kd_modes, baseline=baseline_labels is not None)
    cells = [(s, kd, seed) for s in strategies for kd in kd_modes for seed in seeds]
    for (strategy, kd, seed), folder in zip(cells, folders):
        res = _run_cell(cell_config(strategy, kd, seed, **kw), folder)
        log.info("%s: %d labels, final accuracy %s", folder.name, res["num_labels"], _acc(res))
    for seed, folder in zip(seeds, folders[len(cells):]):
        res = _run_baseline(cell_config("random", "none", seed, **kw), folder, baseline_labels, baseline_rounds)
        log.info("%s: %d labels, final accuracy %s", folder.name, res["num_labels"], _acc(res))
    return build_report(folders, out / "report.html")


def _acc(res: dict) -> str:
    acc = RoundResult.from_dict(res.get("final") or {}).test.student
    return "—" if acc is None else f"{100 * acc:.2f}%"
