"""A run folder's layout: every file and folder a run keeps, named here and nowhere else.

::

    RUN/session.sqlite                   the store, the single source of truth (``session``)
    RUN/session.lock                     the run lock: one writer at a time
    RUN/results.json                     rounds and final figures, rebuilt from the store at any time
    RUN/student.safetensors              the final student: a copy of the last round's checkpoint
    RUN/activekd.log                     every command's messages on this run, with times
    RUN/unreadable.txt                   the images the dataset left out as unreadable
    RUN/checkpoints/round_NNN.safetensors  each round's student
    RUN/predictions/round_NNN.npz        each round's pool predictions (the agreement signals)
    RUN/to_label/round_NNN.csv           each round's batch for a person (+ ``.labelstudio.json``), ``classes.txt``,
                                         ``review.csv`` (the likely label mistakes to re-check)
    RUN/images/                          PNGs of a dataset without files, for a person or Label Studio
    RUN/thumbnails/                      small PNGs the report inlines

Imports nothing of activekd: the report and the export read a run folder without the session (or torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class RunLayout:
    """The paths of the run folder ``root``; names relative to it (as a round's record stores them) from the ``*_name``
    methods."""

    root: Path

    STORE: ClassVar[str] = "session.sqlite"
    LOCK: ClassVar[str] = "session.lock"
    RESULTS: ClassVar[str] = "results.json"
    STUDENT: ClassVar[str] = "student.safetensors"
    LOG: ClassVar[str] = "activekd.log"
    UNREADABLE: ClassVar[str] = "unreadable.txt"
    CHECKPOINTS: ClassVar[str] = "checkpoints"
    PREDICTIONS: ClassVar[str] = "predictions"
    TO_LABEL: ClassVar[str] = "to_label"
    IMAGES: ClassVar[str] = "images"
    THUMBNAILS: ClassVar[str] = "thumbnails"
    CHECKPOINT_SUFFIX: ClassVar[str] = ".safetensors"

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @staticmethod
    def round_stem(r: int) -> str:
        """``round_003``: the stem of round ``r``'s checkpoint, predictions and batch files."""
        return f"round_{int(r):03d}"

    @staticmethod
    def round_of(path: str | Path) -> int | None:
        """The round of a ``round_NNN.<suffix>`` file (``checkpoints/round_003.safetensors`` → 3), else None."""
        stem = Path(path).stem
        digits = stem.removeprefix("round_")
        return int(digits) if digits != stem and digits.isdigit() else None

    @property
    def store(self) -> Path:
        return self.root / self.STORE

    @property
    def lock(self) -> Path:
        return self.root / self.LOCK

    @property
    def results(self) -> Path:
        return self.root / self.RESULTS

    @property
    def student(self) -> Path:
        return self.root / self.STUDENT

    @property
    def log(self) -> Path:
        return self.root / self.LOG

    @property
    def unreadable(self) -> Path:
        return self.root / self.UNREADABLE

    @property
    def checkpoints(self) -> Path:
        return self.root / self.CHECKPOINTS

    @property
    def images(self) -> Path:
        return self.root / self.IMAGES

    @property
    def to_label(self) -> Path:
        return self.root / self.TO_LABEL

    @property
    def classes(self) -> Path:
        """``to_label/classes.txt``: the valid labels of the batch files, one per line."""
        return self.to_label / "classes.txt"

    @property
    def review(self) -> Path:
        """``to_label/review.csv``: the likely label mistakes standing, to re-check (``activekd label RUN --review``)."""
        return self.to_label / "review.csv"

    @classmethod
    def checkpoint_name(cls, r: int) -> str:
        """``checkpoints/round_NNN.safetensors``: round ``r``'s checkpoint relative to the run folder (as the store records it)."""
        return f"{cls.CHECKPOINTS}/{cls.round_stem(r)}{cls.CHECKPOINT_SUFFIX}"

    def checkpoint(self, r: int) -> Path:
        return self.root / self.checkpoint_name(r)

    def checkpoint_rounds(self) -> list[int]:
        """The rounds with a checkpoint file, ascending."""
        found = (self.round_of(p) for p in self.checkpoints.glob(f"round_*{self.CHECKPOINT_SUFFIX}"))
        return sorted(r for r in found if r is not None)

    def predictions(self, r: int) -> Path:
        return self.root / self.PREDICTIONS / f"{self.round_stem(r)}.npz"

    def batch(self, r: int) -> Path:
        """``to_label/round_NNN.csv``: round ``r``'s picks for a person (its Label Studio tasks beside it)."""
        return self.to_label / f"{self.round_stem(r)}.csv"

    @classmethod
    def thumbnail_name(cls, stem: str) -> str:
        """``thumbnails/<stem>.png`` relative to the run folder (as a round's record names it)."""
        return f"{cls.THUMBNAILS}/{stem}.png"

    @classmethod
    def of_checkpoint(cls, ckpt: str | Path) -> "RunLayout":
        """The run folder of a checkpoint file: the parent of ``checkpoints/``, else the file's folder."""
        p = Path(ckpt)
        return cls(p.parent.parent if p.parent.name == cls.CHECKPOINTS else p.parent)

    @classmethod
    def checkpoint_round(cls, ckpt: str | Path) -> int | None:
        """The round of a run folder's ``checkpoints/round_NNN`` file, else None."""
        p = Path(ckpt)
        return cls.round_of(p) if p.parent.name == cls.CHECKPOINTS else None
