"""Prompt templates and class-name renames for zero-shot teachers.

A template is a sentence with ``{}`` where the class name goes ("a photo of a {}."). The zero-shot
classifier embeds every class name in every template and averages (see ``_zeroshot``).

``TeacherConfig.templates`` picks them:

- ``None``: the dataset's own templates (``Dataset.templates``), else ``"a photo of a {}."``;
- ``"dataset"``: the dataset's own templates (an error when it has none);
- ``"imagenet"``: the 80 ImageNet templates of CLIP (Radford et al. 2021, the prompt-engineering
  notebook), ``"imagenet-select"``: the 7 of them CoOp and Tip-Adapter ensemble, ``"simple"``:
  ``"a photo of a {}."``;
- ``"coop:NAME"``: the CoOp template of one of its 11 datasets (``coop:eurosat`` ->
  "a centered satellite photo of {}.");
- anything else: a text file with one template per line (blank lines and ``#`` comments skipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from activekd._parsers import parse_json, read_text
from activekd.data import Dataset
from activekd.data import coop_info, list_coop_datasets
from activekd.errors import TeacherError

SIMPLE_TEMPLATE = "a photo of a {}."

IMAGENET_TEMPLATES: tuple[str, ...] = (
    "a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.", "a photo of the hard to see {}.",
    "a low resolution photo of the {}.", "a rendering of a {}.", "graffiti of a {}.", "a bad photo of the {}.",
    "a cropped photo of the {}.", "a tattoo of a {}.", "the embroidered {}.", "a photo of a hard to see {}.",
    "a bright photo of a {}.", "a photo of a clean {}.", "a photo of a dirty {}.", "a dark photo of the {}.",
    "a drawing of a {}.", "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.",
    "a close-up photo of a {}.", "a black and white photo of the {}.", "a painting of the {}.", "a painting of a {}.",
    "a pixelated photo of the {}.", "a sculpture of the {}.", "a bright photo of the {}.", "a cropped photo of a {}.",
    "a plastic {}.", "a photo of the dirty {}.", "a jpeg corrupted photo of a {}.", "a blurry photo of the {}.",
    "a photo of the {}.", "a good photo of the {}.", "a rendering of the {}.", "a {} in a video game.",
    "a photo of one {}.", "a doodle of a {}.", "a close-up photo of the {}.", "a photo of a {}.",
    "the origami {}.", "the {} in a video game.", "a sketch of a {}.", "a doodle of the {}.",
    "a origami {}.", "a low resolution photo of a {}.", "the toy {}.", "a rendition of the {}.",
    "a photo of the clean {}.", "a photo of a large {}.", "a rendition of a {}.", "a photo of a nice {}.",
    "a photo of a weird {}.", "a blurry photo of a {}.", "a cartoon {}.", "art of a {}.",
    "a sketch of the {}.", "a embroidered {}.", "a pixelated photo of a {}.", "itap of the {}.",
    "a jpeg corrupted photo of the {}.", "a good photo of a {}.", "a plushie {}.", "a photo of the nice {}.",
    "a photo of the small {}.", "a photo of the weird {}.", "the cartoon {}.", "art of the {}.",
    "a drawing of the {}.", "a photo of the large {}.", "a black and white photo of a {}.", "the plushie {}.",
    "a dark photo of a {}.", "itap of a {}.", "graffiti of the {}.", "a toy {}.",
    "itap of my {}.", "a photo of a cool {}.", "a photo of a small {}.", "a tattoo of the {}.",
)
"""The 80 ImageNet prompt templates of CLIP (as listed in CoOp's ``imagenet_templates.py``)."""

IMAGENET_TEMPLATES_SELECT: tuple[str, ...] = (
    "itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
    "a {} in a video game.", "art of the {}.", "a photo of the small {}.",
)
"""The 7-template subset CoOp and Tip-Adapter use for ImageNet."""

NAMED_TEMPLATES = {"imagenet": IMAGENET_TEMPLATES, "imagenet-select": IMAGENET_TEMPLATES_SELECT, "simple": (SIMPLE_TEMPLATE,)}


def _check(templates: Sequence[str], source: str) -> tuple[str, ...]:
    out = tuple(templates)
    if not out:
        raise TeacherError(f"templates from {source}: none given")
    bad = [t for t in out if "{}" not in t]
    if bad:
        raise TeacherError(f"templates from {source}: every template needs '{{}}' where the class name goes; not in {bad[0]!r}")
    return out


def resolve_templates(choice: str | None, dataset: Dataset) -> tuple[str, ...]:
    """The templates ``choice`` names for ``dataset`` (see the module docstring for the choices)."""
    if choice is None:
        return _check(dataset.templates or (SIMPLE_TEMPLATE,), f"dataset {dataset.name!r}")
    if choice == "dataset":
        if not dataset.templates:
            raise TeacherError(f"templates='dataset', but dataset {dataset.name!r} has no templates of its own; "
                             f"use 'imagenet', 'simple', 'coop:NAME' or a file")
        return _check(dataset.templates, f"dataset {dataset.name!r}")
    if choice in NAMED_TEMPLATES:
        return NAMED_TEMPLATES[choice]
    if choice.startswith("coop:"):
        return (coop_info(choice[len("coop:"):]).template,)
    path = Path(choice)
    if not path.is_file():
        raise TeacherError(
            f"templates {choice!r}: no such file, and not one of: dataset, {', '.join(NAMED_TEMPLATES)}, "
            f"coop:NAME (NAME in {', '.join(list_coop_datasets())})"
        )
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return _check([ln for ln in lines if ln and not ln.startswith("#")], str(path))


def load_class_renames(path: str | None, class_names: Sequence[str]) -> tuple[str, ...]:
    """Names used in prompts: ``class_names`` with the renames of a JSON file ``{"old": "new"}`` applied.

    Every key must be one of ``class_names`` (a typo is an error, not a silent no-op).
    """
    names = tuple(class_names)
    if path is None:
        return names
    p = Path(path)
    if not p.is_file():
        raise TeacherError(f"class renames file {path} not found")
    renames = parse_json(read_text(p, what="class renames file", error=TeacherError), f"class renames file {path}", TeacherError)
    if not isinstance(renames, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in renames.items()):
        raise TeacherError(f"class renames file {path}: must be a JSON object mapping class names to non-empty new names")
    unknown = sorted(set(renames) - set(names))
    if unknown:
        raise TeacherError(f"class renames file {path}: unknown class name(s) {unknown[:5]}; the dataset's classes are e.g. {list(names[:5])}")
    return tuple(renames.get(n, n) for n in names)


def prompts(class_names: Sequence[str], templates: Sequence[str]) -> list[list[str]]:
    """``[C][T]`` prompt strings: every class name in every template."""
    return [[t.replace("{}", name) for t in templates] for name in class_names]
