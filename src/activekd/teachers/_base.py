"""The Teacher protocol, its config, and the ``create_teacher`` factory.

A teacher gives logits for sample ids. Fixed teachers (precomputed file, stand-in, VLM zero-shot)
ignore ``fit``; few-shot teachers (CLAP, Tip-Adapter-F) refit on the labeled set after each round.
A teacher kind declares at registration whether it takes a few-shot head (:class:`TeacherInfo`,
read through :func:`teacher_info`). The session computes a teacher's logits once per fit and caches
them, never per training step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor

from activekd._fields import Count, NonNegative, Positive, PositiveCount, check_fields
from activekd.data import Dataset
from activekd.errors import TeacherError, UnknownIdError
from activekd.registry import Registry, parse_spec

from ._fewshot import check_few_shot_method, check_recipe

log = logging.getLogger(__name__)


@runtime_checkable
class Teacher(Protocol):
    """What the training loop needs from a teacher.

    Attributes:
        name: a human-readable description (the spec it was built from).
        num_classes: ``C``, equal to the dataset's class count.
        adaptive: ``True`` when ``fit`` changes the logits (few-shot teachers).
    """

    name: str
    num_classes: int
    adaptive: bool

    def logits(self, ids: Sequence[str]) -> Tensor:
        """``[len(ids), C]`` float32 CPU logits, rows in the order of ``ids``."""
        ...

    def fit(self, ids: Sequence[str], labels: Tensor) -> None:
        """Refit on the labeled set (``labels``: ``[len(ids)]`` long). A no-op for fixed teachers."""
        ...


@runtime_checkable
class ViewTeacher(Protocol):
    """A teacher that also scores ``num_views`` fixed augmented views of each image (VLM teachers with ``views > 0``).

    ``view_params(ids)``: ``[len(ids), K, 2, 3]`` the views' crop + flip maps on the dataset's uint8 images
    (``activekd.train.view_params``); ``view_logits(ids, k)``: ``[len(ids), C]`` the logits of view ``k``.
    """

    num_views: int

    def view_params(self, ids: Sequence[str]) -> Tensor: ...

    def view_logits(self, ids: Sequence[str], k: int) -> Tensor: ...


@dataclass(frozen=True)
class TeacherConfig:
    """How to build the teacher."""

    spec: str = field(default="standin", metadata={"help": "teacher: standin | file:PATH | openclip:ARCH[:PRETRAINED] | hf:MODEL_ID_OR_DIR"})
    few_shot: str = field(default="none", metadata={"help": "few-shot head refitted each round on the labels: none | clap | tip-adapter-f"})
    templates: str | None = field(default=None, metadata={"help": "prompt templates: dataset (the dataset's own) | imagenet (the 80 CLIP ones) | imagenet-select (a 7-template subset) | simple ('a photo of a {}.') | coop:NAME (a CoOp dataset's) | a file with one template per line ('{}' = class name); default: the dataset's own, else simple"})
    class_renames: str | None = field(default=None, metadata={"help": "JSON file mapping class names to the names used in prompts"})
    batch_size: PositiveCount = field(default=256, metadata={"help": "images per teacher forward pass"})
    embed_workers: Count = field(default=4, metadata={"help": "DataLoader worker processes that decode and preprocess images for the VLM embedding pass (0 = in the main process)"})
    few_shot_epochs: PositiveCount | None = field(default=None, metadata={"help": "epochs of each few-shot refit; default: the paper's (clap 300, tip-adapter-f 20)"})
    few_shot_recipe: str = field(default="published", metadata={"help": "how the few-shot head is trained: published (each method's paper defaults) | reference (CLAP as in the PCoreSet authors' code: SGD lr 0.01, batch 64, --few-shot-epochs (default 300) × |labeled| samples, warm-up + linear decay); see docs/presets.md"})
    tip_alpha: NonNegative = field(default=1.0, metadata={"help": "Tip-Adapter-F residual ratio alpha (weight of the cache logits)"})
    tip_beta: Positive = field(default=5.5, metadata={"help": "Tip-Adapter-F sharpness beta of the affinity exp(-beta (1 - cos))"})
    views: Count = field(default=0, metadata={"help": "augmented views per image embedded once for VLM teachers (with --augment), so the student's crop and the teacher's target are the same view; 0 = live crops with the whole-image target"})

    def __post_init__(self) -> None:
        check_fields(self, "teacher ")
        check_recipe(self.few_shot_recipe, self.few_shot)


@dataclass(frozen=True)
class TeacherContext:
    """What a teacher factory may use besides its config; ``encoder``: how image embedding passes run (None: in this
    process; the session gives one that spreads them over the ranks of a ``torchrun`` launch, ``_embed.Encoder``)."""

    dataset: Dataset
    cache_dir: Path
    device: torch.device
    seed: int = 0
    encoder: Callable[..., Tensor] | None = None


TeacherFactory = Callable[[str | None, TeacherConfig, TeacherContext], Teacher]


@dataclass(frozen=True)
class TeacherInfo:
    """A registered teacher kind: the spec's ``kind`` (``openclip`` in ``openclip:ViT-B-32``), the ``factory`` that
    builds it from ``(ARG, TeacherConfig, TeacherContext)``, and ``few_shot``: whether it takes a few-shot head
    (``--few-shot``) refitted on the labels, its teachers then ``adaptive``; ``False``: fixed logits (file, stand-in)."""

    kind: str
    factory: TeacherFactory
    few_shot: bool = False


TEACHERS: Registry[TeacherInfo] = Registry("teacher")


def register_teacher(kind: str, *, few_shot: bool = False) -> Callable[[TeacherFactory], TeacherFactory]:
    """Register a factory for specs ``KIND`` or ``KIND:ARG``; it receives ``ARG`` (or None). ``few_shot``: the kind
    takes a few-shot head (default: it gives fixed logits, and ``--few-shot`` is refused)."""

    def deco(factory: TeacherFactory) -> TeacherFactory:
        TEACHERS.register(kind)(TeacherInfo(kind, factory, few_shot))
        return factory

    return deco


def teacher_info(spec: str) -> TeacherInfo:
    """The registration of the kind named by ``spec`` (``KIND`` or ``KIND:ARG``); an unknown kind raises listing the
    valid ones."""
    return TEACHERS.get(parse_spec(spec)[0])


def check_few_shot(config: TeacherConfig) -> None:
    """Refuse an unknown ``config.few_shot``, or one for a teacher kind that gives fixed logits, before anything is built
    or loaded."""
    check_few_shot_method(config.few_shot)
    if config.few_shot != "none" and not teacher_info(config.spec).few_shot:
        raise TeacherError(f"--few-shot {config.few_shot} needs a vision-language teacher (openclip:..., hf:...); "
                           f"{config.spec!r} gives fixed logits")


def create_teacher(config: TeacherConfig, ctx: TeacherContext) -> Teacher:
    """Build the teacher named by ``config.spec``; an unknown kind raises listing the valid ones, ``--few-shot`` on a
    fixed kind is refused (:func:`check_few_shot`)."""
    check_few_shot(config)
    teacher = teacher_info(config.spec).factory(parse_spec(config.spec)[1], config, ctx)
    if config.views and not isinstance(teacher, ViewTeacher):
        log.warning("teacher %s has no augmented views (--views %d ignored): its per-image logits serve every crop",
                    config.spec, config.views)
    return teacher


def list_teachers() -> list[str]:
    return TEACHERS.names()


class TableTeacher:
    """A fixed teacher that looks logits up in an in-memory table keyed by sample id."""

    adaptive = False

    def __init__(self, name: str, ids: Sequence[str], logits: Tensor) -> None:
        if logits.ndim != 2 or logits.shape[0] != len(ids):
            raise TeacherError(f"teacher table: {len(ids)} ids but logits of shape {tuple(logits.shape)}")
        self.name = name
        self.num_classes = int(logits.shape[1])
        self._table = logits.float().contiguous()
        self._row = {sid: i for i, sid in enumerate(ids)}

    def logits(self, ids: Sequence[str]) -> Tensor:
        try:
            rows = torch.tensor([self._row[i] for i in ids], dtype=torch.long)
        except KeyError as e:
            raise UnknownIdError(f"teacher {self.name!r} has no logits for sample id {e.args[0]!r}") from None
        return self._table[rows]

    def fit(self, ids: Sequence[str], labels: Tensor) -> None:
        return None
