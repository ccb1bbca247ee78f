"""Frozen, typed run configuration. Built once (by the CLI), validated, saved with the run.

Field docstrings live in ``metadata["help"]`` and become ``--help`` text.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from activekd._fields import Count, Fraction, Positive, PositiveCount, Side, check_fields
from activekd.errors import ConfigError
from activekd.students import TUNES
from activekd.teachers import TeacherConfig
from activekd.train import TrainConfig

ORACLES = ("simulated", "human", "labelstudio")
INITIAL = ("shots", "all")
DEVICES = ("auto", "cpu", "cuda")
IMAGE_SIZE, AUGMENTED_IMAGE_SIZE = 224, 256


@dataclass(frozen=True)
class DataConfig:
    """Which images."""

    dataset: str = field(default="fashion-mnist", metadata={"help": "fashion-mnist | imagefolder:DIR | csv:FILE (path,label[,split]) | coop:NAME[:DIR] (the 11 CoOp datasets)"})
    data_root: str | None = field(default=None, metadata={"help": "folder with the dataset's files (fashion-mnist: the IDX files)"})
    classes: str | None = field(default=None, metadata={
        "help": "class names when the data's labels do not give them all (e.g. no label at all, with --shots 0): a file with "
                "one name per line, or a,b,c; the order is the class order. Default: classes.txt beside a csv: file or in an "
                "imagefolder: folder, else the labels"})
    image_size: Side | None = field(default=None, metadata={
        "help": "side of the decoded-image cache for file datasets (shorter side resized, centre square); default: "
                f"{AUGMENTED_IMAGE_SIZE} with --augment (crops come from more of the image than the 224 input), else {IMAGE_SIZE}"})
    pool_limit: PositiveCount | None = field(default=None, metadata={"help": "use a seeded random subset of this many pool images (quick trials)"})
    test_limit: PositiveCount | None = field(default=None, metadata={"help": "evaluate on a seeded random subset of this many test images"})
    eval_on: tuple[str, ...] = field(default=(), metadata={
        "help": "extra test sets, one or more dataset specs (e.g. csv:shifted.csv imagefolder:DIR): each round's student "
                "(and a VLM teacher) is also scored on each one's test split, else its labeled images; classes matched by name"})

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "eval_on", tuple(p.strip() for s in self.eval_on for p in s.split(",") if p.strip()))
        if len(set(self.eval_on)) != len(self.eval_on):
            raise ConfigError(f"eval_on names a dataset twice: {', '.join(self.eval_on)}")


@dataclass(frozen=True)
class StudentConfig:
    """Which student to train."""

    name: str = field(default="small-cnn", metadata={"help": "small-cnn | resnet18 | mobilenet_v2 | timm:NAME | "
                                                             "openclip:ARCH[:PRETRAINED] | hf:MODEL_ID_OR_DIR (a VLM's image tower)"})
    pretrained: bool = field(default=True, metadata={"help": "start from pretrained weights: ImageNet when they can be had; "
                                                             "a VLM tower's named weights, an error when they cannot be had"})
    input_size: Side | None = field(default=None, metadata={"help": "override the student's input side"})
    tune: str = field(default="full", metadata={"help": "full (train the whole student) | linear (linear probe: the backbone "
                                                        "frozen, only the CE and KD heads train)"})
    require_pretrained: bool = field(default=False, metadata={
        "help": "with --student-pretrained, weights that cannot be loaded stop the run with one line (the model and where a "
                "local copy goes) instead of a random initialisation with a warning; the papers' presets set it"})

    def __post_init__(self) -> None:
        check_fields(self, "student ")
        if self.tune not in TUNES:
            raise ConfigError(f"unknown student tune {self.tune!r}; valid: {', '.join(TUNES)}")


@dataclass(frozen=True)
class LoopConfig:
    """The active-learning loop."""

    strategy: str = field(default="random", metadata={"help": "selection strategy (see `activekd list`)"})
    shots: Count = field(default=1, metadata={"help": "initial labeled images per class (0: no labels; round 0 trains nothing and the teacher picks)"})
    rounds: Count = field(default=10, metadata={"help": "selection rounds after the initial set"})
    budget: PositiveCount = field(default=10, metadata={"help": "images labeled per round"})
    seed: Count = field(default=1, metadata={"help": "seed of the initial set, every student and every strategy"})
    alpha: Fraction = field(default=0.5, metadata={"help": "KD-head weight α of the prediction p = (1-α)·softmax(ce) + α·softmax(kd/β) "
                                                        "(erjui/DHO's α weights the CE head: α_DHO = 1 - α); selection's mix"})
    beta: Positive = field(default=1.0, metadata={"help": "KD-head temperature β of the prediction"})
    search_alpha_beta: bool = field(default=True, metadata={"help": "choose the mix predicted with from data: DHO's search on the "
                                                                    "labeled validation split when there is one, else on the labeled picks "
                                                                    "(out-of-sample for the student that picked them; pure KD until 2 per "
                                                                    "class); false: --alpha/--beta. Selection always uses --alpha/--beta"})
    initial: str = field(default="shots", metadata={"help": "initial labeled set: shots (--shots per class) | all (every label the dataset carries)"})
    oracle: str = field(default="simulated", metadata={"help": "simulated (ground-truth labels) | human (CSV + Label Studio files, then `activekd label`) "
                                                                 "| labelstudio (pushed to a Label Studio server, then `activekd sync`)"})
    checkpoints: bool = field(default=True, metadata={"help": "keep every round's student weights"})

    def __post_init__(self) -> None:
        check_fields(self)
        if self.initial not in INITIAL:
            raise ConfigError(f"unknown initial set {self.initial!r}; valid: {', '.join(INITIAL)}")
        if self.oracle not in ORACLES:
            raise ConfigError(f"unknown oracle {self.oracle!r}; valid: {', '.join(ORACLES)}")


@dataclass(frozen=True)
class LabelStudioConfig:
    """Where the ``labelstudio`` oracle sends batches (may change on resume; the token comes from the environment)."""

    url: str = field(default="http://127.0.0.1:8080", metadata={"help": "Label Studio server URL"})
    project: str | None = field(default=None, metadata={"help": "project title (default: activekd <run folder name>)"})
    document_root: str | None = field(default=None, metadata={
        "help": "the server's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT; images and the run folder must lie under it"})

    def __post_init__(self) -> None:
        check_fields(self, "labelstudio ")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. ``device``, ``cache_dir``, ``progress`` and ``labelstudio`` may change on
    resume; ``loop.rounds`` may grow and ``loop.budget`` change for later rounds (:meth:`extension_of`)."""

    data: DataConfig = DataConfig()
    teacher: TeacherConfig = TeacherConfig()
    student: StudentConfig = StudentConfig()
    train: TrainConfig = TrainConfig()
    loop: LoopConfig = LoopConfig()
    labelstudio: LabelStudioConfig = LabelStudioConfig()
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N"})
    cache_dir: str = field(default="~/.cache/activekd", metadata={"help": "teacher logits, embeddings and decoded images"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    RESUMABLE = ("device", "cache_dir", "progress", "labelstudio")
    EXTENDABLE = ("rounds", "budget")

    def __post_init__(self) -> None:
        check_fields(self)
        if self.data.image_size is None:  # resolved once, so a saved run records the side its images were stored at
            side = AUGMENTED_IMAGE_SIZE if self.train.augment else IMAGE_SIZE
            object.__setattr__(self, "data", dataclasses.replace(self.data, image_size=side))
        if not (self.device in DEVICES or self.device.startswith("cuda:")):
            raise ConfigError(f"unknown device {self.device!r}; valid: auto, cpu, cuda, cuda:N")

    @property
    def cache_path(self) -> Path:
        """``cache_dir`` with ``~`` expanded."""
        return Path(self.cache_dir).expanduser()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self, *, extendable: bool = False) -> dict[str, Any]:
        """The fields that must match for a resume (without ``EXTENDABLE`` loop fields when ``extendable``).

        ``student.require_pretrained`` is left out: it decides whether a start may fall back to random weights, not
        what a run computes (and runs saved before it existed resume under a preset that sets it)."""
        d = self.to_dict()
        for k in self.RESUMABLE:
            d.pop(k)
        d["student"].pop("require_pretrained")
        if extendable:
            for k in self.EXTENDABLE:
                d["loop"].pop(k)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        parts = {"data": DataConfig, "teacher": TeacherConfig, "student": StudentConfig, "train": TrainConfig, "loop": LoopConfig,
                 "labelstudio": LabelStudioConfig}
        kw = {k: (parts[k](**v) if k in parts else v) for k, v in d.items()}
        return cls(**kw)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


# (section, dataclass, {field: option name} where the option is not the field's name): the flat option names
# of the command line (``--teacher``, ``--shots``) and of :meth:`RunConfig.from_options`.
SECTIONS: list[tuple[str, type, dict[str, str]]] = [
    ("data", DataConfig, {}),
    ("teacher", TeacherConfig, {"spec": "teacher", "batch_size": "teacher-batch-size"}),
    ("student", StudentConfig, {"name": "student", "pretrained": "student-pretrained", "input_size": "student-input-size",
                                "tune": "student-tune", "require_pretrained": "student-require-pretrained"}),
    ("train", TrainConfig, {}),
    ("loop", LoopConfig, {}),
    ("labelstudio", LabelStudioConfig, {"url": "ls-url", "project": "ls-project", "document_root": "ls-document-root"}),
]
TOP_FIELDS = ("device", "cache_dir", "progress")


def option_names() -> dict[str, tuple[str, str]]:
    """``{option: (section, field)}`` for every run option (``-`` written as ``_``); top-level fields map to ``("run", name)``."""
    out = {renames.get(f.name, f.name).replace("-", "_"): (section, f.name)
           for section, cls, renames in SECTIONS for f in dataclasses.fields(cls)}
    out.update({name: ("run", name) for name in TOP_FIELDS})
    return out


def from_options(**options: Any) -> RunConfig:
    """A RunConfig from flat option names, as on the command line: ``from_options(dataset="fashion-mnist", strategy="pcoreset")``."""
    names = option_names()
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
    parts: dict[str, dict] = {}
    for opt, value in options.items():
        section, field_ = names[opt]
        parts.setdefault(section, {})[field_] = value
    top = parts.pop("run", {})
    return RunConfig(**{s: cls(**parts.get(s, {})) for s, cls, _ in SECTIONS}, **top)
