"""Predicting with a deployed student: :func:`load_predictor` and :func:`predict_images`.

An ONNX file runs with ``onnxruntime`` alone: nothing on this path imports torch. TorchScript,
``.pt2`` files, run folders and checkpoints need PyTorch.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ._formats import Backend, format_of
from ._images import ImageLike, UnreadableImageError, as_image_list, square, to_pil
from ._inputs import ImageItem, expand_images
from ._meta import ExportError, ExportMetadata

log = logging.getLogger(__name__)


class Predictor:
    """Class probabilities from a deployed student.

    ``predict(images)`` returns float32 ``[N, C]``: ``p = (1 - alpha) * softmax(ce) + alpha *
    softmax(kd / beta)`` with the run's ``alpha``, ``beta``; column ``j`` is ``class_names[j]``.
    """

    def __init__(self, backend: Backend, metadata: ExportMetadata) -> None:
        self.backend = backend
        self.metadata = metadata

    @property
    def class_names(self) -> list[str]:
        return list(self.metadata.class_names)

    @property
    def input_size(self) -> int:
        return self.metadata.input_size

    def prepare(self, image: ImageLike) -> np.ndarray:
        """One path, PIL image or uint8 array -> uint8 ``[3, S, S]`` (RGB, resized, centre square)."""
        return square(to_pil(image), self.input_size)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """uint8 ``[B, 3, H, W]`` -> float32 ``[B, C]`` through the model's graph as it is."""
        return self.backend(batch)

    def predict(self, images, *, batch_size: int = 64) -> np.ndarray:
        """Probabilities for one image or many.

        Args:
            images: a path, PIL image or uint8 array (``[H, W]``, ``[H, W, C]`` or ``[C, H, W]``,
                gray or RGB), a list of those, or a uint8 ``[N, ...]`` array of ``N`` images.
            batch_size: images per model call.

        Returns:
            float32 ``[N, C]`` (``N = 1`` for a single image); rows sum to 1.
        """
        items = as_image_list(images)
        out = [np.empty((0, len(self.class_names)), np.float32)]
        for s in range(0, len(items), batch_size):
            out.append(self.run(np.stack([self.prepare(x) for x in items[s : s + batch_size]])))
        return np.concatenate(out)


def load_predictor(path: str | Path, *, round: int | None = None) -> Predictor:
    """Open an exported file (ONNX, TorchScript, ``.pt2``), a run folder or a student checkpoint.

    ``round`` picks a run folder's ``checkpoints/round_NNN`` (run folders and checkpoints run the
    PyTorch student itself; exported files run their own graph).
    """
    p = Path(path)
    if p.is_dir() or p.suffix == ".safetensors":
        from ._source import load_eager

        backend = load_eager(p, round)
    elif not p.is_file():
        raise ExportError(f"{p}: no such model file or run folder")
    else:
        if round is not None:
            raise ExportError(f"round only applies to run folders, but {p} is a file; drop it")
        backend = format_of(p).load(p)
    return Predictor(backend, ExportMetadata.from_strings(backend.metadata, str(p)))


@dataclass(frozen=True)
class Prediction:
    """Top-``k`` classes of one image, most probable first."""

    id: str
    path: str
    classes: tuple[str, ...]
    probs: tuple[float, ...]


@dataclass
class PredictReport:
    """What :func:`predict_images` did: the predictions, the images it could not read, the CSV."""

    model: str
    predictions: list[Prediction] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    out: Path | None = None

    @property
    def num_images(self) -> int:
        return len(self.predictions) + len(self.unreadable)


def top_k_of(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``probs [N, C]`` -> (indices ``[N, k]``, probabilities ``[N, k]``), most probable first (stable)."""
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(probs, idx, axis=1)


def _read_batch(predictor: Predictor, items: list[ImageItem], unreadable: list[str]):
    """Prepare the readable images of ``items``; the paths of the others go to ``unreadable``."""
    ok, arrays = [], []
    for it in items:
        try:
            arrays.append(predictor.prepare(it.path))
            ok.append(it)
        except UnreadableImageError as e:
            log.warning("%s", e)
            unreadable.append(it.path)
    return ok, arrays


def write_predictions(out: Path, predictions: list[Prediction], k: int) -> Path:
    """CSV ``id,path,class_1,prob_1,...,class_k,prob_k`` (written atomically)."""
    from activekd._atomic import atomic_path

    header = ["id", "path"] + [c for j in range(1, k + 1) for c in (f"class_{j}", f"prob_{j}")]
    with atomic_path(out) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for p in predictions:
            w.writerow([p.id, p.path] + [v for c, q in zip(p.classes, p.probs) for v in (c, f"{q:.6f}")])
    return out


def predict_images(model: str | Path, images: Sequence[str], *, out: str | Path | None = None, top_k: int = 5,
                   batch_size: int = 64, progress: bool = True) -> PredictReport:
    """Predict the top-``k`` classes of many images; unreadable images are reported and skipped.

    Args:
        model: an exported file (ONNX runs without torch), a run folder or a student checkpoint.
        images: files, folders (searched recursively), glob patterns or CSVs with a ``path`` column.
        out: write ``id,path,class_1,prob_1,...`` here (``None``: do not write).
        top_k: classes per image (at most ``C``).
        batch_size: images per model call.
        progress: show a progress bar.
    """
    if top_k < 1 or batch_size < 1:
        raise ValueError(f"top_k and batch_size must be >= 1, got top_k={top_k}, batch_size={batch_size}")
    predictor = load_predictor(model)
    items = expand_images(images)
    names = predictor.class_names
    k = min(top_k, len(names))
    report = PredictReport(model=str(model), out=Path(out) if out is not None else None)
    bar = tqdm(total=len(items), desc="predict", unit="img", disable=not progress)
    for s in range(0, len(items), batch_size):
        ok, arrays = _read_batch(predictor, items[s : s + batch_size], report.unreadable)
        if ok:
            idx, pr = top_k_of(predictor.run(np.stack(arrays)), k)
            report.predictions += [Prediction(it.id, it.path, tuple(names[j] for j in i), tuple(map(float, q)))
                                   for it, i, q in zip(ok, idx, pr)]
        bar.update(len(items[s : s + batch_size]))
    bar.close()
    if report.unreadable:
        log.warning("skipped %d unreadable image(s) of %d", len(report.unreadable), len(items))
    if report.out is not None:
        write_predictions(report.out, report.predictions, k)
    return report
