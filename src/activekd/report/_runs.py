"""Reading a run's ``results.json`` into a :class:`Run` (older files without the newer fields included).

A run is given as its folder (holding ``results.json``) or as the file itself. Each round is read as a
:class:`~activekd.round_result.RoundResult`; only rounds that were trained and evaluated (they carry a label
count) are kept, in round order. Figures that do not exist (no test split, older runs) stay ``None``. The label
count is the store's (``session.sqlite``, opened read-only: a person may have labeled since ``results.json`` was
written); only a run folder with a store imports the session package (and torch).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from activekd.errors import ActiveKDError
from activekd.layout import RunLayout
from activekd.round_result import RoundResult

log = logging.getLogger(__name__)


class ReportError(ActiveKDError):
    """A run folder or results file the report cannot read."""


Figure = Callable[[RoundResult], "float | None"]
"""One figure of a round, e.g. :func:`student_accuracy`; None where the round has none."""


def student_accuracy(r: RoundResult) -> float | None:
    """The student's test accuracy (its mixed prediction): the curve the report compares runs by."""
    return r.test.student


def teacher_accuracy(r: RoundResult) -> float | None:
    return r.test.teacher


@dataclass(frozen=True)
class Run:
    """One run's results: its trained rounds in round order."""

    name: str
    path: Path
    config: dict[str, Any]
    dataset: dict[str, Any]
    teacher: str | None
    rounds: tuple[RoundResult, ...]
    complete: bool
    num_labels: int | None = None  # labels the run holds now (:func:`stored_label_count`); None when unknown

    @property
    def seed(self) -> int | None:
        return self.config.get("loop", {}).get("seed")

    @property
    def class_names(self) -> list[str]:
        names = self.dataset.get("class_names") or []
        return [str(n) for n in names]

    @property
    def last(self) -> RoundResult | None:
        """The last trained round (the student a person would deploy now), or ``None``."""
        return self.rounds[-1] if self.rounds else None

    def curve(self, figure: Figure = student_accuracy) -> list[tuple[int, float]]:
        """``(labels, value)`` per round where ``figure`` exists, e.g. the accuracy-against-labels curve."""
        return [(r.num_labeled, float(figure(r))) for r in self.rounds if figure(r) is not None]


def results_path(run: str | Path) -> Path:
    """``RUN/results.json`` for a run folder, ``run`` itself for a file."""
    p = Path(run)
    return RunLayout(p).results if p.is_dir() else p


def load_run(run: str | Path) -> Run:
    """Read one run; a missing or malformed file is a one-line error (FileNotFoundError / ValueError)."""
    path = results_path(run)
    if not path.is_file():
        raise ReportError(f"{run}: no {RunLayout.RESULTS} (is it a run folder? `activekd resume` rebuilds a missing one)")
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rounds"), list) or not isinstance(doc.get("config"), dict):
        raise ReportError(f"{path}: not an activekd results file (needs 'config' and 'rounds')")  # noqa: TRY004 -- bad input, not a bad call
    rounds = sorted((r for r in _rounds(path, doc["rounds"]) if r.num_labeled is not None), key=lambda r: r.round)
    name = path.parent.name if path.name == RunLayout.RESULTS else path.stem
    return Run(name=name, path=path, config=doc["config"], dataset=doc.get("dataset") or {}, teacher=doc.get("teacher"),
               rounds=tuple(rounds), complete=bool(doc.get("complete")), num_labels=stored_label_count(path, doc))


def _rounds(path: Path, rounds: list) -> list[RoundResult]:
    """The file's rounds (entries that are not objects are skipped); a figure of the wrong kind is a one-line error."""
    try:
        return [RoundResult.from_dict(r) for r in rounds if isinstance(r, dict)]
    except (TypeError, ValueError) as e:
        raise ReportError(f"{path}: a round is not readable ({e})") from None


def stored_label_count(path: Path, doc: dict[str, Any]) -> int | None:
    """The labels a run holds now: counted in the ``session.sqlite`` beside its ``results.json`` (labels a person added or
    `serve` took in since the file was written count too), else the file's ``num_labels``; None when neither says."""
    if path.name == RunLayout.RESULTS and RunLayout(path.parent).store.is_file():  # looked for before importing the session (torch)
        from activekd.session import SessionStore, StoreError

        try:
            with SessionStore.open(path.parent, readonly=True) as store:
                return len(store.labels())
        except StoreError as e:
            log.warning("%s: the label count is %s's, not the store's (%s)", path.parent, RunLayout.RESULTS, e)
    n = doc.get("num_labels")
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def load_runs(runs) -> list[Run]:
    """Every run of ``runs`` (folders or files), in the order given; at least one is needed. Runs on different data are
    read, with a warning (:func:`mixed_data_warning`)."""
    out = [load_run(r) for r in runs]
    if not out:
        raise ReportError("no runs given")
    names = [r.name for r in out]
    if len(set(names)) < len(names):  # runs/a/demo and runs/b/demo: name them by their parent too
        out = [dataclasses.replace(r, name=f"{r.path.parent.parent.name}/{r.name}") for r in out]
    mixed = mixed_data_warning(out)
    if mixed:
        log.warning("%s", mixed)
    return out


def mixed_data_warning(runs: Sequence[Run]) -> str | None:
    """One line naming the datasets when ``runs`` were not all made on the same data, else ``None``.

    Runs differ by dataset name or, when every run records one, by the data's fingerprint (other
    ``--pool-limit``/``--test-limit``, or changed files).
    """
    names = {str(r.dataset.get("name", "?")) for r in runs}
    by_fingerprint = len(names) == 1 and all(r.dataset.get("fingerprint") for r in runs)
    groups: dict[str, list[str]] = {}
    for r in runs:
        key = str(r.dataset.get("name", "?")) + (f" (data {r.dataset['fingerprint']})" if by_fingerprint else "")
        groups.setdefault(key, []).append(r.name)
    if len(groups) < 2:
        return None
    what = "different datasets" if len(names) > 1 else "different data (another --pool-limit/--test-limit, or changed files)"
    runs_of = "; ".join(f"{key}: {', '.join(names_)}" for key, names_ in groups.items())
    return f"these runs are on {what}, so their accuracies are not comparable: {runs_of}"
