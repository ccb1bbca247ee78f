"""Presets: every run option set to a paper's reference values (``activekd run --preset NAME``).

A preset maps option names (as :func:`activekd.config.from_options` and ``build_config``'s
``defaults`` take them: ``"shots"``, ``"few_shot_recipe"``) to values. It is the lowest layer: the
config file and explicit flags override it. A value the dataset decides (``budget`` = the number of
classes) is a :class:`FromRun`, resolved once the rest of the configuration is known. docs/presets.md
tabulates every preset with the reference's sources (a test checks that the table and ``PRESETS`` agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from activekd.config import RunConfig, option_names
from activekd.errors import ConfigError
from activekd.registry import Registry


@dataclass(frozen=True)
class FromRun:
    """A preset value computed from the configuration built without it, e.g. budget = #classes."""

    label: str
    resolve: Callable[[RunConfig], Any]

    def __call__(self, config: RunConfig) -> Any:
        return self.resolve(config)

    def __str__(self) -> str:
        return self.label


def _num_classes(config: RunConfig) -> int:
    from activekd.session import load_dataset  # the dataset is opened where the session opens it

    return load_dataset(config).num_classes


NUM_CLASSES = FromRun("#classes", _num_classes)

_DHO_SCHEDULE = dict(kd="dho", temperature=2.0, lr=1e-3, weight_decay=1e-2, warmup=0.1, repeat=200, batch_labeled=64,
                     batch_unlabeled=64, augment=True, views=10, bf16=False)
"""The DHO student schedule both papers share (erjui/DHO train_others.py, erjui/PCoreSet train_active_others.py)."""

PRESETS: Registry[Mapping[str, Any]] = Registry("preset")
PRESETS.register("pcoreset-paper")(MappingProxyType(dict(
    teacher="openclip:RN50:openai", student="resnet18", student_pretrained=True, student_require_pretrained=True, strategy="pcoreset",
    initial="shots", shots=1, rounds=15, budget=NUM_CLASSES, alpha=0.5, beta=1.0, search_alpha_beta=False,
    few_shot_recipe="reference", **_DHO_SCHEDULE)))
PRESETS.register("dho-paper")(MappingProxyType(dict(
    teacher="openclip:RN50:openai", student="resnet18", student_pretrained=True, student_require_pretrained=True,
    initial="shots", shots=1, rounds=0, search_alpha_beta=True, few_shot_recipe="published", **_DHO_SCHEDULE)))


def preset_values(name: str) -> dict[str, Any]:
    """The options preset ``name`` sets; an unknown name (or a preset naming an unknown option) raises, listing the valid ones."""
    values = dict(PRESETS.get(name))
    unknown = sorted(set(values) - set(option_names()))
    if unknown:
        raise ConfigError(f"preset {name!r} sets unknown option(s) {', '.join(unknown)}")
    return values
