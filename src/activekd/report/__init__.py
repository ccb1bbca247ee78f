"""Reports on finished (or running) runs: the HTML page, the terminal comparison, stopping advice, the offline benchmark.

Reads only ``results.json`` files; matplotlib is imported when a figure is drawn, the session when the benchmark runs.
"""

from ._advice import (
    ADVICE_WINDOW,
    AGREEMENT_STOP,
    SLOPE_STOP,
    TEACHER_DRIFT,
    stopping_advice,
)
from ._aubc import aubc, common_range
from ._benchmark import BASELINE_LABELS, KD_MODES, SEEDS, default_strategies, run_offline_benchmark
from ._groups import Group, group_runs, mean_curve, mean_std, seed_free_config
from ._ranks import average_ranks, rank_table
from ._report import build_report, figures_dir
from ._runs import Run, load_run, load_runs
from ._summary import compare
from ._table import compare_table

__all__ = [
    "ADVICE_WINDOW",
    "AGREEMENT_STOP",
    "BASELINE_LABELS",
    "KD_MODES",
    "SEEDS",
    "SLOPE_STOP",
    "TEACHER_DRIFT",
    "Group",
    "Run",
    "aubc",
    "average_ranks",
    "build_report",
    "common_range",
    "compare",
    "compare_table",
    "default_strategies",
    "figures_dir",
    "group_runs",
    "load_run",
    "load_runs",
    "mean_curve",
    "mean_std",
    "rank_table",
    "run_offline_benchmark",
    "seed_free_config",
    "stopping_advice",
]
