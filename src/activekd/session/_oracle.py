"""Oracles: who labels the picked images. One class per kind, one registry, one protocol.

``answers_now(batch)`` returns the labels at once (a simulated oracle) or ``None`` when a person will
answer later (``activekd label`` for files, ``activekd sync`` for Label Studio). ``request(batch)``,
called once the round is committed, gives a person what they need (files, pushed tasks); it is
idempotent and keeps a filled-in file, so ``resume`` calls it again to rebuild whatever is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol

from activekd._faults import kill_point
from activekd.config import LabelStudioConfig
from activekd.data import UNLABELED, Dataset
from activekd.layout import RunLayout
from activekd.registry import Registry

from ._answers import Answer
from ._batch import Batch, image_paths, write_batch_files
from ._errors import SessionError
from ._studio_check import image_folder, project_title
from ._studio_link import ProjectAnswers


class Oracle(Protocol):
    kind: str
    source: str  # the label source the store records
    next_step: str  # what a person does while a round waits ({run}, {batch}: the run folder, the batch CSV); "" if never

    def answers_now(self, batch: Batch) -> list[tuple[str, int]] | None: ...

    def request(self, batch: Batch) -> None: ...

    def describe(self, batch: Batch) -> str: ...


OracleFactory = Callable[[Path, Dataset, LabelStudioConfig], Oracle]
ORACLES: Registry[OracleFactory] = Registry("oracle")


def create_oracle(kind: str, out: Path, dataset: Dataset, ls: LabelStudioConfig) -> Oracle:
    return ORACLES.get(kind)(out, dataset, ls)


@ORACLES.register("simulated")
class SimulatedOracle:
    """Answers with the dataset's ground-truth labels (benchmarks, demos)."""

    kind, source, next_step = "simulated", "oracle", ""

    def __init__(self, out: Path | None, dataset: Dataset, ls: LabelStudioConfig | None = None) -> None:
        self.dataset = dataset

    def answers_now(self, batch: Batch) -> list[tuple[str, int]]:
        y = self.dataset.labels[self.dataset.index_of(batch.ids)]
        if (y == UNLABELED).any():
            raise SessionError("the simulated oracle needs ground-truth labels; this dataset has unlabeled pool images: use --oracle human")
        return [(i, int(v)) for i, v in zip(batch.ids, y)]

    def request(self, batch: Batch) -> None:
        pass

    def describe(self, batch: Batch) -> str:
        return "answered from the ground truth"


@ORACLES.register("human")
class FileOracle:
    """Writes each batch as a CSV and a Label Studio import file; a person answers with ``activekd label``."""

    kind, source = "human", "human"
    next_step = "fill in the label column of {batch}, then `activekd label {run} {batch}` and `activekd resume {run}`"

    def __init__(self, out: Path, dataset: Dataset, ls: LabelStudioConfig) -> None:
        self.out, self.dataset, self.ls = out, dataset, ls

    def answers_now(self, batch: Batch) -> None:
        return None

    def request(self, batch: Batch) -> list[dict]:
        """Write the batch's files (the CSV only when missing: a person may be filling it in); returns its Label Studio tasks."""
        kill_point("batch-file")
        return write_batch_files(self.out, self.dataset, batch, self.ls.document_root)

    def describe(self, batch: Batch) -> str:
        csv = RunLayout(self.out).batch(batch.round)
        return (f"fill in the label column of {csv} (or import the .labelstudio.json beside it into Label Studio: "
                f"`pip install label-studio`, see docs/labelstudio.md), then run `activekd label {self.out} {csv}`")


@ORACLES.register("labelstudio")
class LabelStudioOracle(FileOracle):
    """Also pushes each batch, with suggestions, to a Label Studio project; ``activekd sync`` pulls the answers.

    The API token comes from ``LABEL_STUDIO_API_KEY`` (never stored in the run).
    """

    kind = "labelstudio"
    next_step = "label the tasks in Label Studio, then `activekd sync {run} --continue` (or keep `activekd serve {run}` running)"

    def request(self, batch: Batch) -> list[dict]:
        tasks = super().request(batch)
        link, project = self._project()
        image_paths(self.out, self.dataset, batch.ids)  # written first: Label Studio takes a storage only of a folder that exists
        link.ensure_local_storage(project, image_folder(self.out, self.dataset))
        kill_point("push")
        link.push(project, tasks)
        return tasks

    def describe(self, batch: Batch) -> str:
        return f"pushed to Label Studio at {self.ls.url}; label them there, then run `activekd sync {self.out}`"

    def pull(self) -> ProjectAnswers:
        """Every answered task of the project (latest annotation per task) and the tasks only skipped."""
        link, project = self._project()
        kill_point("sync")
        got = link.answers(project)
        rows = [Answer(sid, label, f"Label Studio project {project} (task for {sid!r})") for sid, label in got.labels]
        return ProjectAnswers(rows, got.skipped)

    def _project(self):
        from ._studio_link import link_from_env

        link = link_from_env(self.ls.url)
        return link, link.ensure_project(project_title(self.ls, self.out), list(self.dataset.class_names))
