"""What :func:`~activekd.export.predict_images` hands back: per-image top-k predictions, the images
it could not read (named in one line), accuracy against CSV labels, and the CSV it writes."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NAMED_IN_A_LINE = 20  # unreadable images named in the one-line summary; the report keeps them all


@dataclass(frozen=True)
class Prediction:
    """Top-``k`` classes of one image, most probable first; ``label`` from a CSV, when given."""

    id: str
    path: str
    classes: tuple[str, ...]
    probs: tuple[float, ...]
    label: str | None = None


@dataclass
class PredictReport:
    """What :func:`predict_images` did: the predictions, the images it could not read, the CSV.

    Attributes:
        model: the model file or run folder.
        predictions: one per readable image, in the order the images were named.
        unreadable: paths that would not decode (missing, empty, truncated, not an image).
        reasons: ``path -> reason`` for each of ``unreadable``.
        out: the CSV written, or ``None``.
    """

    model: str
    predictions: list[Prediction] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    out: Path | None = None

    @property
    def num_images(self) -> int:
        return len(self.predictions) + len(self.unreadable)

    @property
    def accuracy(self) -> float | None:
        """Top-1 accuracy over the predictions that have a label; ``None`` when none has."""
        labelled = [p for p in self.predictions if p.label is not None]
        return sum(p.classes[0] == p.label for p in labelled) / len(labelled) if labelled else None

    def named_unreadable(self) -> str:
        """``path (reason), ...`` for the first 20 unreadable images, then ``and N more``."""
        named = ", ".join(f"{p} ({self.reasons.get(p, 'unreadable')})" for p in self.unreadable[:NAMED_IN_A_LINE])
        more = len(self.unreadable) - NAMED_IN_A_LINE
        return named + (f" and {more} more" if more > 0 else "")

    def unreadable_summary(self) -> str:
        """The one line that names the unreadable images: ``skipped N unreadable image(s) of M: ...``."""
        return f"skipped {len(self.unreadable)} unreadable image(s) of {self.num_images}: {self.named_unreadable()}"


def top_k_of(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``probs [N, C]`` -> (indices ``[N, k]``, probabilities ``[N, k]``), most probable first (stable)."""
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(probs, idx, axis=1)


def write_predictions(out: Path, predictions: list[Prediction], k: int) -> Path:
    """CSV ``id,path[,label],class_1,prob_1,...,class_k,prob_k`` (written atomically).

    The ``label`` column is there when some image came with a label.
    """
    from activekd._atomic import atomic_path

    labels = any(p.label is not None for p in predictions)
    header = ["id", "path"] + ["label"] * labels + [c for j in range(1, k + 1) for c in (f"class_{j}", f"prob_{j}")]
    with atomic_path(out, sweep=True) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for p in predictions:
            scores = [v for c, q in zip(p.classes, p.probs) for v in (c, f"{q:.6f}")]
            w.writerow([p.id, p.path] + [p.label or ""] * labels + scores)
    return out
