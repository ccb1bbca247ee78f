"""Predicting with a deployed student: :func:`load_predictor` and :func:`predict_images`.

An ONNX file runs with ``onnxruntime`` alone: nothing on this path imports torch. TorchScript,
``.pt2`` files, run folders and checkpoints need PyTorch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from activekd.progress import bar as progress_bar

from ._formats import Backend, format_of
from ._images import ImageLike, UnreadableImageError, as_image_list, square, to_pil
from ._inputs import ImageItem, ImageSpecError, expand_images
from ._meta import ExportError, ExportMetadata
from ._report import Prediction, PredictReport, top_k_of, write_predictions

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
        """One path, PIL image or uint8 array -> uint8 ``[3, s, s]`` (RGB, resized, centre square) at the side the run
        stored its images (``metadata.host_size``), as evaluation sees them; the graph then resizes to ``input_size``."""
        return square(to_pil(image), self.metadata.host_size)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """uint8 ``[B, 3, H, W]`` -> float32 ``[B, C]`` through the model's graph as it is."""
        return self.backend(batch)

    def predict(self, images, *, batch_size: int = 64) -> np.ndarray:
        """Probabilities for one image or many.

        Args:
            images: a path, PIL image or uint8 array (``[H, W]``, ``[H, W, C]`` or ``[C, H, W]``,
                gray or RGB), a list of those, or a uint8 ``[N, ...]`` array of ``N`` images (``[N, H, W]``
                gray images when neither ``N`` nor ``W`` is 1, 3 or 4; otherwise pass a list or ``[N, 1, H, W]``).
            batch_size: images per model call.

        Returns:
            float32 ``[N, C]`` (``N = 1`` for a single image); rows sum to 1.
        """
        items = as_image_list(images)
        out = [np.empty((0, len(self.class_names)), np.float32)]
        for s in range(0, len(items), batch_size):
            out.append(self.run(np.stack([self.prepare(x) for x in items[s : s + batch_size]])))
        return np.concatenate(out)


def _one_line(e: Exception) -> str:
    """The first sentence of an exception's message (runtimes' messages run to several lines)."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0].split(". ")[0][:200]


def _open_file(p: Path) -> Backend:
    """Open an exported file with its format's runtime; a damaged file is an :class:`ExportError`."""
    fmt = format_of(p)
    try:
        return fmt.load(p)
    except (ExportError, ImportError):
        raise
    except Exception as e:  # noqa: BLE001 (each runtime raises its own types; onnxruntime's derive from Exception only)
        raise ExportError(f"{p} could not be read as a {fmt.name} model: damaged or incomplete ({_one_line(e)})") from None


def load_predictor(path: str | Path, *, round: int | None = None) -> Predictor:
    """Open an exported file (ONNX, TorchScript, ``.pt2``), a run folder or a student checkpoint.

    ``round`` picks a run folder's ``checkpoints/round_NNN`` (run folders and checkpoints run the
    PyTorch student itself; exported files run their own graph). A missing, damaged or foreign file
    raises :class:`ExportError` (one line).
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
        backend = _open_file(p)
    try:
        return Predictor(backend, ExportMetadata.from_strings(backend.metadata, str(p)))
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ExportError):
            raise
        raise ExportError(f"{p} has damaged activekd metadata ({type(e).__name__}: {_one_line(e)}); export it again") from None


class ClassMismatchError(ExportError):
    """Images labelled (in a CSV's ``label`` column) with classes the model does not have."""


def _some(names, n: int = 8) -> str:
    names = list(names)
    return ", ".join(map(repr, names[:n])) + (f" and {len(names) - n} more" if len(names) > n else "")


def check_labels(items: Sequence[ImageItem], class_names: Sequence[str], model: str) -> None:
    """Refuse a model that lacks a class the images are labelled with (a CSV for another class set).

    Raises :class:`ClassMismatchError` naming the missing classes and the model's; unlabelled
    items (``label`` ``None``) are not checked.
    """
    wanted = sorted({it.label for it in items if it.label is not None})
    missing = [c for c in wanted if c not in set(class_names)]
    if missing:
        raise ClassMismatchError(
            f"the images are labelled with {len(wanted)} classes, {len(missing)} of which model {model} does not have "
            f"({_some(missing)}); it has {len(class_names)}: {_some(class_names)}"
        )


def _read_batch(predictor: Predictor, items: list[ImageItem], report: PredictReport) -> tuple[list[ImageItem], list]:
    """Prepare the readable images of ``items``; the others go to ``report.unreadable`` with their reason."""
    ok, arrays = [], []
    for it in items:
        try:
            arrays.append(predictor.prepare(it.path))
            ok.append(it)
        except UnreadableImageError as e:
            log.debug("%s", e)
            report.unreadable.append(it.path)
            report.reasons[it.path] = e.reason
    return ok, arrays


def _predict_all(predictor: Predictor, items: list[ImageItem], report: PredictReport, k: int, batch_size: int,
                 progress: bool) -> None:
    """Fill ``report`` with the top-``k`` predictions of ``items``, ``batch_size`` images per model call."""
    names = predictor.class_names
    with progress_bar(total=len(items), desc="predict", unit="img", enabled=progress) as bar:  # silent off a terminal
        for s in range(0, len(items), batch_size):
            ok, arrays = _read_batch(predictor, items[s : s + batch_size], report)
            if ok:
                idx, pr = top_k_of(predictor.run(np.stack(arrays)), k)
                report.predictions += [Prediction(it.id, it.path, tuple(names[j] for j in i), tuple(map(float, q)), it.label)
                                       for it, i, q in zip(ok, idx, pr)]
            bar.update(len(items[s : s + batch_size]))


def predict_images(model: str | Path, images: Sequence[str], *, out: str | Path | None = None, top_k: int = 5,
                   batch_size: int = 64, progress: bool = True) -> PredictReport:
    """Predict the top-``k`` classes of many images; unreadable images are skipped and named in one warning.

    Args:
        model: an exported file (ONNX runs without torch), a run folder or a student checkpoint.
        images: files, folders (searched recursively), glob patterns or CSVs with a ``path`` column
            (and optionally ``id`` and ``label``).
        out: write ``id,path[,label],class_1,prob_1,...`` here (``None``: do not write).
        top_k: classes per image (at most ``C``).
        batch_size: images per model call.
        progress: show a progress bar (on a terminal only; off one, nothing is drawn).

    Returns:
        A :class:`PredictReport`; ``report.unreadable_summary()`` is the line logged as a warning
        (an ``activekd.export`` logger) when some images could not be read.

    Raises:
        ExportError: a missing or damaged model; :class:`ClassMismatchError` when CSV labels name
            classes the model does not have (checked before any image is read).
        ImageSpecError: an argument that names no image, or no image could be read at all.
    """
    if top_k < 1 or batch_size < 1:
        raise ExportError(f"top_k and batch_size must be >= 1, got top_k={top_k}, batch_size={batch_size}")
    predictor = load_predictor(model)
    items = expand_images(images)
    check_labels(items, predictor.class_names, str(model))
    k = min(top_k, len(predictor.class_names))
    report = PredictReport(model=str(model), out=Path(out) if out is not None else None)
    _predict_all(predictor, items, report, k, batch_size, progress)
    if not report.predictions:
        raise ImageSpecError(f"none of the {len(items)} image(s) could be read: {report.named_unreadable()}")
    if report.unreadable:
        log.warning("%s", report.unreadable_summary())
    if report.out is not None:
        write_predictions(report.out, report.predictions, k)
    return report
