"""``--eval-on``: each round's student (and the teacher, where it can score the images) on extra labeled test sets.

An extra set is any dataset spec (``csv:FILE``, ``imagefolder:DIR``, ...) whose class names are among the
run's: labels are mapped by class NAME into the run's class order (the set may order its classes otherwise
and cover only some of them). Its ``test`` split is used when it has labeled images there, otherwise every
labeled image it has. Its images go through their own :class:`~activekd.train.ImageBank` at the run's
``--image-size``; the student adapts the channel count and resizes, as for the run's own images.

The teacher: a vision-language teacher (``openclip:``, ``hf:``, zero-shot or few-shot) embeds the set's
images with its own model (cached like the run's embeddings) and applies its current head. Fixed teachers
give no figure (the teacher's accuracy null): ``file:`` and ``standin`` hold logits only for the run's sample ids
(the stand-in keeps its logits, not the softmax regression's weights).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from activekd.config import DataConfig, RunConfig
from activekd.data import UNLABELED, Dataset, create_dataset
from activekd.errors import ActiveKDError
from activekd.round_result import ExtraSetResult
from activekd.teachers import ImageEmbedder, VLMTeacher
from activekd.train import ImageBank, LabeledSplit, evaluate_extra_set

from ._errors import SessionError

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ExtraSet:
    """One ``--eval-on`` set: its dataset and the evaluated rows, with labels in the run's class order."""

    spec: str
    dataset: Dataset
    positions: np.ndarray  # [n] dataset rows evaluated
    labels: np.ndarray  # [n] run class indices
    banks: dict[str, ImageBank] = field(default_factory=dict, repr=False)  # by device, built on first use

    def split(self) -> LabeledSplit:
        return LabeledSplit(torch.from_numpy(self.positions), torch.from_numpy(self.labels))

    def bank(self, device: torch.device) -> ImageBank:
        if str(device) not in self.banks:
            self.banks[str(device)] = ImageBank(self.dataset.images, device)
        return self.banks[str(device)]


def extra_set(spec: str, data: DataConfig, cache_dir: str, class_names: tuple[str, ...]) -> ExtraSet:
    """Load ``spec`` and map its labels onto ``class_names``; a class the run lacks or no labeled image is one error."""
    try:
        ds = create_dataset(spec, data_root=data.data_root, image_size=data.image_size, cache_dir=cache_dir)
    except (ActiveKDError, OSError) as e:
        raise SessionError(f"--eval-on {spec}: {e}") from None
    unknown = [c for c in ds.class_names if c not in class_names]
    if unknown:
        raise SessionError(f"--eval-on {spec}: class(es) {', '.join(map(repr, unknown))} are not classes of this run "
                           f"(its classes: {', '.join(map(repr, class_names))}); class names must match")
    pos = ds.labeled_indices("test")
    if not len(pos):
        pos = np.flatnonzero(ds.labels != UNLABELED)
    if not len(pos):
        raise SessionError(f"--eval-on {spec}: it has no labeled image to evaluate on")
    to_run = np.array([class_names.index(c) for c in ds.class_names], dtype=np.int64)
    return ExtraSet(spec, ds, pos, to_run[ds.labels[pos]])


@functools.lru_cache(maxsize=2)
def extra_sets(data: DataConfig, cache_dir: str, class_names: tuple[str, ...]) -> tuple[ExtraSet, ...]:
    """Every ``data.eval_on`` set, loaded once per process (the start's check and the rounds share them; a set's files
    changed meanwhile are seen by the next process)."""
    return tuple(extra_set(spec, data, cache_dir, class_names) for spec in data.eval_on)


def check_extra_sets(config: RunConfig, ds: Dataset) -> tuple[ExtraSet, ...]:
    """Load and check the run's ``--eval-on`` sets (before anything is written); ``()`` without any."""
    if not config.data.eval_on:
        return ()
    return extra_sets(config.data, str(config.cache_path), tuple(ds.class_names))


def teacher_logits_on(teacher, es: ExtraSet, cache_dir) -> Tensor | None:
    """``[n, C]`` logits of ``teacher`` (in its current fit) on ``es``'s evaluated rows, run class order; None when
    the teacher only knows the run's ids (``file:``, ``standin``)."""
    if not isinstance(teacher, VLMTeacher):
        return None
    e = teacher.embedder
    embedder = ImageEmbedder(e.model, es.dataset, cache_dir, batch_size=e.batch_size, workers=e.workers, device=e.device)
    on_set = VLMTeacher(teacher.name, embedder, teacher.classifier, teacher.head, device=teacher.device, seed=teacher.seed)
    return on_set.logits([es.dataset.ids[i] for i in es.positions])


def evaluate_extra_sets(session, student, alpha: float, beta: float) -> dict[str, ExtraSetResult]:
    """``{spec: ExtraSetResult}`` for the round's ``student`` (with the round's α, β)."""
    cfg = session.config
    sets = check_extra_sets(cfg, session.dataset)
    teacher = session.teacher.teacher if session.teacher is not None else None
    if teacher is not None and not isinstance(teacher, VLMTeacher):
        log.debug("teacher %s knows only the run's sample ids: no teacher accuracy on --eval-on sets", teacher.name)
    out = {}
    for es in sets:
        t = teacher_logits_on(teacher, es, cfg.cache_path)
        out[es.spec] = evaluate_extra_set(student, es.bank(session.device), cfg.train, es.split(), teacher=t, alpha=alpha, beta=beta,
                                          device=session.device, progress=cfg.progress, desc=f"eval-on {es.spec}")
    return out
