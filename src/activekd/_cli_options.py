"""Run options for the command line: flags generated from the config dataclasses, config files, printing.

Every ``RunConfig`` field becomes a flag whose help is the field's help. A config file (TOML or
YAML) holds the same sections and field names that ``--print-config`` writes; flags override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, Callable

from activekd._parsers import MAX_CONFIG_BYTES, parse_toml, parse_yaml, read_text
from activekd.config import SECTIONS, TOP_FIELDS, RunConfig
from activekd.errors import ConfigError

RUN_SECTIONS = tuple(s for s, _, _ in SECTIONS)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def dest(section: str, name: str) -> str:
    return f"{section}__{name}"


def _add_field(group, f: dataclasses.Field, flag_: str, dest_: str, hints: dict[str, Any]) -> None:
    tp = hints[f.name]
    args = typing.get_args(tp)
    base = next((a for a in args if a is not type(None)), tp) if args else tp
    help_ = f"{f.metadata.get('help', '')} (default: {f.default})"
    if base is bool:
        group.add_argument(flag_, dest=dest_, action=argparse.BooleanOptionalAction, default=None, help=help_)
    elif typing.get_origin(tp) is tuple:  # tuple[str, ...]: one or more values
        group.add_argument(flag_, dest=dest_, type=args[0], nargs="+", default=None, metavar=f.name.upper(), help=help_)
    else:
        group.add_argument(flag_, dest=dest_, type=base, default=None, metavar=f.name.upper(), help=help_)


def add_config_args(parser: argparse.ArgumentParser, sections: tuple[str, ...] = RUN_SECTIONS) -> None:
    """One flag per field of ``sections`` and the run-level fields; ``dest`` is ``SECTION__FIELD`` (``run__FIELD``)."""
    for section, cls, renames in SECTIONS:
        if section in sections:
            group = parser.add_argument_group(section)
            hints = typing.get_type_hints(cls)
            for f in dataclasses.fields(cls):
                _add_field(group, f, flag(renames.get(f.name, f.name)), dest(section, f.name), hints)
    group = parser.add_argument_group("run")
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        if f.name in TOP_FIELDS:
            _add_field(group, f, flag(f.name), dest("run", f.name), hints)
    group.add_argument("--config", dest="config_file", default=None, metavar="FILE",
                       help="read options from a TOML or YAML file (sections as --print-config writes them); flags override it")
    group.add_argument("--print-config", action="store_true", help="print the effective configuration as TOML and exit")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """``{section: {field: value}}`` (and run-level fields at the top) from a TOML or YAML file; unknown keys refused.

    The file is read through the parsers with limits (:mod:`activekd._parsers`: size, nesting, no YAML aliases, UTF-8);
    the values' types and ranges are checked when the configuration is built from them."""
    path = Path(path)
    text = read_text(path, what="config file", error=ConfigError, limit=MAX_CONFIG_BYTES)
    source = f"config file {path}"
    if path.suffix.lower() in (".yaml", ".yml"):
        data = parse_yaml(text, source, ConfigError) or {}
    else:
        data = parse_toml(text, source, ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected sections such as [loop], got {type(data).__name__}")
    fields = {s: {f.name for f in dataclasses.fields(cls)} for s, cls, _ in SECTIONS}
    for key, value in data.items():
        if key in fields:
            unknown = set(value or {}) - fields[key] if isinstance(value, dict) else {"(not a table)"}
            if unknown:
                raise ConfigError(f"config file {path}: unknown option(s) {', '.join(sorted(map(str, unknown)))} in [{key}]; "
                                  f"valid: {', '.join(sorted(fields[key]))}")
        elif key not in TOP_FIELDS:
            raise ConfigError(f"config file {path}: unknown section or option {key!r}; valid: {', '.join([*fields, *TOP_FIELDS])}")
    return data


def build_config(ns: argparse.Namespace, defaults: dict[str, Any] | None = None) -> RunConfig:
    """The one place a RunConfig is built from parsed arguments: flags, else the config file, else ``defaults``.

    ``defaults`` maps flag names (``"teacher"``, ``"shots"``, with ``_`` for ``-``) to values. A callable
    default (a preset's ``budget = #classes``) is called, when neither flag nor file sets its option,
    with the configuration built without it, and its result replaces the option's default.
    """
    given, defaults = vars(ns), defaults or {}
    file = read_config_file(ns.config_file) if getattr(ns, "config_file", None) else {}
    derived: dict[tuple[str, str], Callable[[RunConfig], Any]] = {}

    def pick(section: str, name: str, flag_: str, from_file: dict, kw: dict) -> None:
        v = given.get(dest(section, name))
        if v is None:
            v = from_file.get(name, defaults.get(flag_.replace("-", "_")))
        if callable(v):
            derived[section, name] = v
        elif v is not None:
            kw[name] = v

    parts: dict[str, Any] = {}
    for section, cls, renames in SECTIONS:
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            pick(section, f.name, renames.get(f.name, f.name), file.get(section) or {}, kw)
        try:
            parts[section] = cls(**kw)
        except TypeError as e:
            raise ConfigError(f"[{section}]: {e}") from None
    top: dict[str, Any] = {}
    for name in TOP_FIELDS:
        pick("run", name, name, file, top)
    return _resolve(RunConfig(**parts, **top), derived)


def _resolve(config: RunConfig, derived: dict[tuple[str, str], Callable[[RunConfig], Any]]) -> RunConfig:
    """``config`` with each ``(section, field)`` of ``derived`` set to its function of ``config``."""
    values = {key: fn(config) for key, fn in derived.items()}
    top = {name: v for (section, name), v in values.items() if section == "run"}
    parts: dict[str, dict[str, Any]] = {}
    for (section, name), v in values.items():
        if section != "run":
            parts.setdefault(section, {})[name] = v
    return dataclasses.replace(config, **top, **{s: dataclasses.replace(getattr(config, s), **kw) for s, kw in parts.items()})


def config_toml(config: RunConfig) -> str:
    """The configuration as TOML (``None`` values left out), readable back with ``--config``."""
    lines = []
    d = config.to_dict()
    for name in TOP_FIELDS:
        lines.append(f"{name} = {json.dumps(d[name])}")
    for section in RUN_SECTIONS:
        lines.append(f"\n[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in d[section].items() if v is not None]
    return "\n".join(lines) + "\n"
