"""Parsers with limits: config files (TOML, YAML), JSON documents and CSV text, each refused in one line past a limit.

The limits (docs/limits.md states them for users):

- :data:`MAX_CONFIG_BYTES`: a ``--config`` file is at most 256 KiB;
- :data:`MAX_NESTING`: a TOML, YAML or JSON document nests tables/lists at most 64 deep (a config
  needs 3; a Label Studio export about 8), so no parser recurses past Python's stack;
- YAML anchors and aliases (``&a`` / ``*a``, and the ``<<`` merge keys built on them) are refused: an
  alias bomb expands nothing, it is one line;
- :data:`MAX_CSV_CELL`: a CSV cell (answer files, Label Studio CSV exports, teacher and dataset CSVs)
  is at most 131,072 characters (the ``csv`` module's own field limit, now a stated one);
- text must be UTF-8 (a BOM is fine); anything else is one line naming the byte and its offset.

Every refusal is raised as the caller's own error class (``error=``), a subclass of
:class:`~activekd.errors.ActiveKDError`, so each reader keeps its message prefix and type.
"""

from __future__ import annotations

import csv
import functools
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from activekd.errors import ActiveKDError

MAX_CONFIG_BYTES = 256 * 1024
"""The largest config file read (a full ``--print-config`` is about 2 KiB)."""
MAX_NESTING = 64
"""The deepest nesting of tables/lists in a TOML, YAML or JSON document."""
MAX_CSV_CELL = 131_072
"""The most characters in one CSV cell (``csv.field_size_limit()``'s default)."""

Error = type[ActiveKDError]


def read_text(path: str | Path, *, what: str, error: Error, limit: int | None = None) -> str:
    """The UTF-8 text of ``path`` (a BOM dropped); a missing/unreadable file, one over ``limit`` bytes or one that is not
    UTF-8 is one line naming ``what`` and ``path``."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read() if limit is None else f.read(limit + 1)
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from None
    if limit is not None and len(data) > limit:
        raise error(f"{what} {path} is larger than {limit // 1024} KiB, the limit for {what}s")
    return decode_utf8(data, f"{what} {path}", error)


def decode_utf8(data: bytes, source: str, error: Error) -> str:
    """``data`` as UTF-8 text (a BOM dropped); else one line naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"{source} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); save it as UTF-8") from None


def parse_toml(text: str, source: str, error: Error) -> Any:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(f"{source} is not valid TOML ({e}); YAML files need a .yaml suffix") from None
    except RecursionError:
        raise error(_too_deep(source)) from None
    check_nesting(data, source, error)
    return data


def parse_yaml(text: str, source: str, error: Error) -> Any:
    """One YAML document, safely (no Python tags), without anchors or aliases and at most :data:`MAX_NESTING` deep."""
    import yaml

    try:
        return yaml.load(text, Loader=_limited_loader())
    except _Refused as e:
        raise error(f"{source}: {e}") from None
    except yaml.YAMLError as e:
        raise error(f"{source} is not valid YAML: {str(e).splitlines()[0]}") from None


def parse_json(text: str, source: str, error: Error) -> Any:
    """A JSON document at most :data:`MAX_NESTING` deep."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{source}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise error(_too_deep(source)) from None
    check_nesting(data, source, error)
    return data


def check_nesting(data: Any, source: str, error: Error) -> None:
    """Refuse ``data`` (parsed lists and dicts) nested deeper than :data:`MAX_NESTING`; iterative, so any depth is safe."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_NESTING:
                raise error(_too_deep(source))
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


def _too_deep(source: str) -> str:
    return f"{source} is nested deeper than {MAX_NESTING} levels (the limit)"


@contextmanager
def csv_errors(reader: Any, source: str, error: Error) -> Iterator[None]:
    """Inside the block, a ``csv.Error`` of ``reader`` (a cell over :data:`MAX_CSV_CELL`, a NUL) is one line with its line."""
    try:
        yield
    except csv.Error as e:
        where = f"{source} line {getattr(reader, 'reader', reader).line_num}"  # a DictReader's own count lags a failed row
        if "field larger than field limit" in str(e):
            raise error(f"{where}: a cell is larger than {MAX_CSV_CELL:,} characters (the limit for CSV cells)") from None
        raise error(f"{where}: not readable as CSV ({e})") from None


class _Refused(Exception):
    """A YAML document refused for its shape (an alias, an anchor, too deep), not its syntax."""


@functools.cache
def _limited_loader() -> type:
    import yaml

    class LimitedLoader(yaml.SafeLoader):
        """PyYAML's safe loader, refusing anchors/aliases and nesting deeper than :data:`MAX_NESTING`."""

        depth = 0

        def compose_node(self, parent, index):
            event = self.peek_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise _Refused(f"line {line}: YAML anchors and aliases (&name, *name, <<) are not allowed in activekd files")
            self.depth += 1
            try:
                if self.depth > MAX_NESTING:
                    raise _Refused(f"line {line}: nested deeper than {MAX_NESTING} levels (the limit)")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return LimitedLoader
