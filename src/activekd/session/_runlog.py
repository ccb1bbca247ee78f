"""The run's own log file: ``RUN/activekd.log``, every activekd message of every command on that run, with times.

What only the run log needs (a command's start, round summaries, which the command line prints as a
table) goes to the logger ``activekd.runlog``, which the command line leaves out of the terminal.
"""

from __future__ import annotations

import logging
from pathlib import Path

from activekd.layout import RunLayout
from activekd.round_result import RoundResult

RUNLOG = "activekd.runlog"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def attach_run_log(out: Path) -> logging.Handler:
    """Append activekd's INFO-and-up messages to ``out/activekd.log`` until :func:`detach_run_log`."""
    handler = logging.FileHandler(RunLayout(out).log, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger = logging.getLogger("activekd")
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def detach_run_log(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger("activekd").removeHandler(handler)
        handler.close()


def log_round(result: RoundResult) -> None:
    """One line per finished round in the run log."""
    def pct(x):
        return "—" if x is None else f"{100 * x:.2f}%"

    logging.getLogger(RUNLOG).info(
        "round %d: %d labels, student %s, teacher %s, alpha %.2f, beta %.2f, %d picked, seconds %s", result.round,
        result.num_labeled, pct(result.test.student), pct(result.test.teacher), result.mix.alpha, result.mix.beta,
        result.num_picked or 0, result.seconds)


def log_opened(out: Path, version: str, teacher: str, device) -> None:
    logging.getLogger(RUNLOG).info("opened %s (activekd %s): teacher %s, device %s", out, version, teacher, device)
