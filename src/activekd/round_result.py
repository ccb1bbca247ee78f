"""What a round found, as one frozen type: :class:`RoundResult` and its parts.

A round ends in the session (``_runner``, or ``_zero_start`` for a round without labels), which builds one
``RoundResult``; the store keeps it as a flat JSON object and ``results.json`` lists them (:meth:`RoundResult.to_dict`).
The report, ``activekd status``, the run log and ``serve`` read rounds back through :meth:`RoundResult.from_dict`,
which takes any older record too: a figure it lacks is ``None``.

Every figure's name in that JSON (``student_acc``, ``alpha``, ``pool_agreement``, ...) is written once, beside its field
below (``_figure("student_acc")``); a part's figures sit flat among the round's. A figure that does not exist (no
labeled test split, no KD head, no teacher) is ``None``, never NaN.
Imports nothing of activekd and no torch: the report reads rounds without the session.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable


def _figure(key: str, read: Callable[[Any], Any] | None = None, default: Any = None):
    """A field stored under ``key`` in a round's JSON; ``read`` converts a stored value (``None`` stays ``None``)."""
    return field(default=default, metadata={"key": key, "read": read})


def _part(kind: type):
    """A field that is a :class:`Part` of kind ``kind``: its figures sit flat among the round's."""
    return field(default=None, metadata={"part": kind})


def _float(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _floats(xs) -> tuple[float | None, ...]:
    return tuple(_float(x) for x in xs)


def _ints(rows) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(v) for v in row) for row in rows)


def _frozen(x):
    """Lists as tuples, all the way down (dicts kept): a stored value held by a frozen type."""
    if isinstance(x, (list, tuple)):
        return tuple(_frozen(v) for v in x)
    if isinstance(x, dict):
        return {k: _frozen(v) for k, v in x.items()}
    return x


def _plain(x):
    """A field's value as JSON takes it: parts and flags as dicts, tuples as lists."""
    if isinstance(x, LikelyMistake):
        return x.to_dict()
    if dataclasses.is_dataclass(x):
        return to_flat(x)
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def to_flat(obj) -> dict[str, Any]:
    """``obj`` (a round or a part of one) as its flat JSON object: each figure under its key, parts' figures inline."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.metadata.get("part"):
            out.update(to_flat(value) if value is not None else dict.fromkeys(keys(f.metadata["part"])))
        elif "key" in f.metadata:
            out[f.metadata["key"]] = _plain(value)
    return out


def from_flat(cls, d: Mapping[str, Any]):
    """A ``cls`` (a round or a part) from a flat JSON object; a missing figure is ``None``."""
    kw = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get("part"):
            kw[f.name] = f.metadata["part"].read(d)
        elif "key" in f.metadata:
            v, read = d.get(f.metadata["key"]), f.metadata["read"]
            kw[f.name] = v if v is None or read is None else read(v)
    return cls(**kw)


def keys(cls) -> list[str]:
    """Every key a ``cls`` (a round or a part) writes, parts' keys inline."""
    out = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("part"):
            out += keys(f.metadata["part"])
        elif "key" in f.metadata:
            out.append(f.metadata["key"])
    return out


def key_of(cls, name: str) -> str:
    """The JSON key of field ``name`` of ``cls``."""
    return next(f.metadata["key"] for f in dataclasses.fields(cls) if f.name == name)


class Part:
    """A part of a round (its mix, test accuracy, agreement, ...), stored flat among the round's figures."""

    @classmethod
    def read(cls, d: Mapping[str, Any]):
        """The part a round's flat JSON object holds (a figure it lacks is None)."""
        return from_flat(cls, d)


@dataclass(frozen=True)
class MixChoice(Part):
    """The head mix ``p = (1 − α)·softmax(ce) + α·softmax(kd/β)`` a round predicts with, and why.

    ``source``: ``val`` (DHO's grid searched on the labeled validation split), ``picks`` (chosen on ``evidence``
    out-of-sample labeled picks: pure KD unless another mix gained beyond the noise), ``prior`` (pure KD: too
    few such labels yet), ``fixed`` (``--alpha``/``--beta`` as given; α = 0 without a KD head); ``None`` in rounds
    recorded before it was. ``accuracy``: of the chosen mix on the evidence; ``gain``/``se``: the best mix's paired
    gain over pure KD and its standard error (``picks``/``prior`` with evidence only).
    """

    alpha: float = _figure("alpha", float)
    beta: float = _figure("beta", float)
    source: str | None = _figure("mix_source", str)
    evidence: int | None = _figure("mix_evidence", int, default=0)
    accuracy: float | None = _figure("mix_accuracy", _float)
    gain: float | None = _figure("mix_gain", _float)
    se: float | None = _figure("mix_se", _float)

    @classmethod
    def read(cls, d: Mapping[str, Any]) -> "MixChoice | None":
        """The mix a stored round records; None for a record without one."""
        return from_flat(cls, d) if d.get(key_of(cls, "alpha")) is not None else None

    def counted(self) -> int | None:
        """The labels the mix was chosen on (``picks``/``val``), else None."""
        return self.evidence if self.source in ("picks", "val") and self.evidence is not None else None


@dataclass(frozen=True)
class SelectionMix(Part):
    """The fixed ``(α, β)`` of ``--alpha``/``--beta`` that selection scores the pool with (α = 0 without a KD head)."""

    alpha: float | None = _figure("select_alpha", float)
    beta: float | None = _figure("select_beta", float)


@dataclass(frozen=True)
class Accuracy(Part):
    """Test accuracy (fractions) of each head and of the teacher; None where there is no labeled test split or no such
    head. ``student``: the mixed prediction (the round's mix); ``select``: the selection's fixed mix; ``grid``: every mix
    of ``train.MIX_GRID`` (DHO only, for the record: never chosen on); ``val``: the chosen mix on the validation split
    (DHO's search only)."""

    student: float | None = _figure("student_acc", _float)
    ce: float | None = _figure("ce_acc", _float)
    kd: float | None = _figure("kd_acc", _float)
    select: float | None = _figure("select_acc", _float)
    teacher: float | None = _figure("teacher_acc", _float)
    grid: tuple[float | None, ...] | None = _figure("grid_acc", _floats)
    val: float | None = _figure("val_acc", _float)


@dataclass(frozen=True)
class PerClass(Part):
    """The mixed prediction on the test split by class: ``accuracy`` ``[C]`` (recall; None for a class without test
    images) and ``confusion`` ``[C, C]`` counts (row = true class, column = predicted)."""

    accuracy: tuple[float | None, ...] | None = _figure("per_class_acc", _floats)
    confusion: tuple[tuple[int, ...], ...] | None = _figure("confusion", _ints)


@dataclass(frozen=True)
class Agreement(Part):
    """Signals that need no test labels: the fraction of the unlabeled pool on which the student predicts the same class
    as the previous round's student (``pool``) and as the teacher (``teacher``); None where undefined."""

    pool: float | None = _figure("pool_agreement", _float)
    teacher: float | None = _figure("teacher_agreement", _float)


@dataclass(frozen=True)
class Training(Part):
    """How the round's student trained: the mean loss of its last 20 steps, its steps, the loss curve (at most 20 chunk
    means), the processes it ran on, each rank's digest of its draws (when asked); ``trained`` false for a round without
    labels (``--shots 0``), which trains nothing."""

    loss: float | None = _figure("train_loss", _float)
    steps: int | None = _figure("train_steps", int)
    curve: tuple[float, ...] | None = _figure("loss_curve", _floats)
    processes: int | None = _figure("processes", int)
    draw_digests: tuple[str, ...] | None = _figure("draw_digests", tuple)
    trained: bool | None = _figure("student_trained", bool, default=True)

    @classmethod
    def read(cls, d: Mapping[str, Any]) -> "Training":
        t = from_flat(cls, d)
        return t if t.trained is not None else dataclasses.replace(t, trained=True)  # rounds before the flag: trained


@dataclass(frozen=True)
class Closing(Part):
    """A round closed before every pick was labeled: its picks skipped in Label Studio, and those that went back to the
    pool unlabeled (the skipped ones among them); None for a round not closed so."""

    skipped: int | None = _figure("skipped", int)
    returned: int | None = _figure("returned_to_pool", int)


@dataclass(frozen=True)
class ExtraSetResult:
    """The round's student (with the round's mix) and the teacher on one ``--eval-on`` set (teacher None: it cannot score
    that set's images)."""

    student: float | None = _figure(key_of(Accuracy, "student"), _float)
    teacher: float | None = _figure(key_of(Accuracy, "teacher"), _float)
    num_images: int | None = _figure("num_images", int)


def _extra_sets(d) -> dict[str, ExtraSetResult]:
    return {str(spec): from_flat(ExtraSetResult, e or {}) for spec, e in d.items()}


@dataclass(frozen=True)
class LikelyMistake:
    """One flagged label: the given class, each model's top class with its probability and its probability of the
    given class (None: no evidence from that model), and which evidence there was."""

    id: str
    label: str
    label_index: int
    teacher: tuple[str, float] | None
    student: tuple[str, float] | None
    p_teacher: float | None
    p_student: float | None
    evidence: str  # "student+teacher" (a pick), "teacher" (an initial label, or a round-0 pick of --shots 0), "student"
    thumbnail: str | None = None  # relative to the run folder

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "LikelyMistake":
        pair = lambda v: None if not v else (str(v[0]), float(v[1]))  # noqa: E731
        return cls(str(d["id"]), str(d["label"]), int(d["label_index"]), pair(d.get("teacher")), pair(d.get("student")),
                   d.get("p_teacher"), d.get("p_student"), str(d.get("evidence", "")), d.get("thumbnail"))

    def describe(self) -> str:
        """``labeled 'tshirt'; teacher: trouser 1.00 (tshirt 0.00); student: trouser 0.97 (tshirt 0.01)``."""
        said = [f"{who}: {top[0]} {top[1]:.2f} ({self.label} {p:.2f})"
                for who, top, p in (("teacher", self.teacher, self.p_teacher), ("student", self.student, self.p_student))
                if top is not None and p is not None]
        return f"labeled {self.label!r}; " + "; ".join(said)


def _flags(d) -> tuple[LikelyMistake, ...]:
    return tuple(LikelyMistake.from_dict(x) for x in d)


@dataclass(frozen=True)
class RoundResult:
    """Everything round ``round`` recorded: the labels it trained on, its mix, each head's test accuracy, per class,
    the agreement signals, training, seconds per phase, the ``--eval-on`` sets, the label check and the picks' thumbnails.

    ``num_labeled`` is None only in a partial record (a round never trained); ``seconds``: per phase (``teacher``,
    ``train``, ``evaluate``, ``checkpoint``, ``inference``, ``select``); ``selection``: how a round without a student
    picked (``teacher-coverage``), None when the run's strategy did; ``likely_mistakes``: None in rounds recorded
    before the label check. ``extra``: figures this version does not know (a newer activekd's), kept as they are.
    """

    round: int | None = _figure("round", int)
    num_labeled: int | None = _figure("num_labeled", int)
    mix: MixChoice | None = _part(MixChoice)
    selection_mix: SelectionMix = _part(SelectionMix)
    test: Accuracy = _part(Accuracy)
    per_class: PerClass = _part(PerClass)
    agreement: Agreement = _part(Agreement)
    training: Training = _part(Training)
    closing: Closing = _part(Closing)
    eval_on: dict[str, ExtraSetResult] | None = _figure("eval_on", _extra_sets)
    num_picked: int | None = _figure("num_picked", int)
    seconds: dict[str, float] | None = _figure("seconds", dict)
    labels_sha256: str | None = _figure("labels_sha256", str)
    selection: str | None = _figure("selection", str)
    likely_mistakes: tuple[LikelyMistake, ...] | None = _figure("likely_mistakes", _flags)
    pick_thumbnails: dict[str, str] | None = _figure("pick_thumbnails", dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:  # a part not given is empty (None figures); the mix stays None: a record without one
        for f in dataclasses.fields(self):
            if f.metadata.get("part") not in (None, MixChoice) and getattr(self, f.name) is None:
                object.__setattr__(self, f.name, f.metadata["part"]())

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON object the store and ``results.json`` keep: every figure under its key (None where none)."""
        return {**to_flat(self), **_plain(self.extra)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RoundResult":
        """A round from its flat JSON object, of this version or an older one (a figure it lacks is None)."""
        known = set(keys(cls))
        return dataclasses.replace(from_flat(cls, d), extra={k: _frozen(v) for k, v in d.items() if k not in known})

    def headline(self) -> dict[str, Any]:
        """The figures ``activekd status`` lists per round: labels, student and teacher accuracy, α, β and the closing
        counts (0 for a round closed whole)."""
        flat = to_flat(self)
        shown = [key_of(RoundResult, "num_labeled"), key_of(Accuracy, "student"), key_of(Accuracy, "teacher"),
                 key_of(MixChoice, "alpha"), key_of(MixChoice, "beta")]
        return {**{k: flat[k] for k in shown}, **{k: int(v or 0) for k, v in to_flat(self.closing).items()}}


def as_round(r: RoundResult | Mapping[str, Any]) -> RoundResult:
    """``r`` as a :class:`RoundResult` (a ``results.json`` round read with :meth:`RoundResult.from_dict`)."""
    return r if isinstance(r, RoundResult) else RoundResult.from_dict(r)
