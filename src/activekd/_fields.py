"""Typed config fields: every field of a frozen config dataclass checked against its own annotation.

Each config dataclass (``RunConfig`` and the sections it holds) calls :func:`check_fields` first in
``__post_init__``, so a configuration is checked wherever its values come from (flags, a TOML or YAML
file, a preset, a stored run, ``from_options``, ``dataclasses.replace``) and before anything is
created. The check is pydantic's strict mode (``TypeAdapter`` per field, built once per class):

- ``bool`` is not an ``int``; a count refuses ``1.5``, ``2.0``, ``nan`` and strings;
- a ``float`` takes an int or a float, never NaN or ±inf, never a bool or a string;
- a ``str`` is a string, a ``bool`` is ``true``/``false``;
- a ``tuple[str, ...]`` takes a list or tuple of strings (or one string, as ``--eval-on a,b`` does);
- a NumPy scalar counts as the Python number it holds (``np.int64(3)`` is an integer, ``np.bool_`` a bool);
- ranges live in the annotation as ``annotated_types`` bounds: ``Annotated[int, Ge(1)]`` (the aliases
  below), and every integer is at most :data:`MAX_INT`.

A bad value is one :class:`~activekd.errors.ConfigError` line naming the field and what it must be:
``budget must be an integer >= 1, got nan`` (a wrong type), ``budget must be >= 1, got 0`` (out of range).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Annotated, Any, Union

from annotated_types import Ge, Gt, Interval, Le, Lt
from pydantic import ConfigDict, Strict, TypeAdapter, ValidationError

from activekd.errors import ConfigError

MAX_INT = 2**31 - 1
"""The largest integer any option takes (a count, a seed, a size): larger ones overflow the tensors they size."""

Count = Annotated[int, Ge(0), Le(MAX_INT)]
"""An integer >= 0."""
PositiveCount = Annotated[int, Ge(1), Le(MAX_INT)]
"""An integer >= 1."""
Side = Annotated[int, Ge(8), Le(MAX_INT)]
"""An image side in pixels, >= 8."""
Fraction = Annotated[float, Interval(ge=0, le=1)]
"""A finite number in [0, 1]."""
NonNegative = Annotated[float, Ge(0)]
"""A finite number >= 0."""
Positive = Annotated[float, Gt(0)]
"""A finite number > 0."""

_STRICT = ConfigDict(strict=True, allow_inf_nan=False)
_RANGE_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


@dataclasses.dataclass(frozen=True)
class _Check:
    """One field's check: its name, pydantic's validator (``None`` for a nested config section) and its type."""

    name: str
    tp: Any
    adapter: TypeAdapter | None


def check_fields(obj: Any, prefix: str = "") -> None:
    """Check every field of the dataclass ``obj`` against its annotation; store the normalised value (a list as a tuple,
    an int as a float where a float belongs). Raises :class:`ConfigError` naming ``prefix + field`` on the first bad one."""
    for check in _checks(type(obj)):
        value = stored = getattr(obj, check.name)
        if check.adapter is None:
            if not isinstance(value, check.tp):
                raise ConfigError(f"{prefix}{check.name} must be a [{check.name}] section, got {_shown(value)}")
            continue
        if isinstance(value, str) and typing.get_origin(_bare(check.tp)) is tuple:
            value = (value,)
        if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
            value = value.item()  # a NumPy scalar (np.int64 from arithmetic) is checked as the Python number it holds
        try:
            checked = check.adapter.validate_python(value)
        except ValidationError as e:
            raise ConfigError(f"{prefix}{check.name} must be {_expected(check.tp, e)}, got {_shown(value)}") from None
        if checked is not stored:
            object.__setattr__(obj, check.name, checked)


@functools.cache
def _checks(cls: type) -> tuple[_Check, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.append(_Check(f.name, tp, None))
        else:
            out.append(_Check(f.name, tp, TypeAdapter(_lax_lists(tp), config=_STRICT)))
    return tuple(out)


def _lax_lists(tp: Any) -> Any:
    """``tp`` with its tuples taking any list or tuple (TOML, YAML and JSON have lists only); their items stay strict."""
    if typing.get_origin(tp) is tuple:
        return Annotated[tp, Strict(False)]
    if _is_union(tp):
        return Union[tuple(_lax_lists(a) for a in typing.get_args(tp))]
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _bare(tp: Any) -> Any:
    """``tp`` without ``Annotated`` and ``| None``."""
    if typing.get_origin(tp) is Annotated:
        return _bare(typing.get_args(tp)[0])
    if _is_union(tp):
        return _bare(next(a for a in typing.get_args(tp) if a is not type(None)))
    return tp


def _bounds(tp: Any) -> dict[str, Any]:
    """``{"ge": 1, "le": MAX_INT, ...}`` from the ``annotated_types`` metadata of ``tp`` (through ``| None``)."""
    if _is_union(tp):
        return _bounds(next(a for a in typing.get_args(tp) if a is not type(None)))
    out: dict[str, Any] = {}
    if typing.get_origin(tp) is Annotated:
        for m in typing.get_args(tp)[1:]:
            if isinstance(m, (Ge, Gt, Le, Lt, Interval)):
                out.update({k: getattr(m, k) for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None})
    return out


def _range(bounds: dict[str, Any], *, with_cap: bool) -> str:
    """``>= 1``, ``> 0``, ``in [0, 1)``; an integer's :data:`MAX_INT` cap only when ``with_cap``."""
    low = ("[", bounds["ge"]) if "ge" in bounds else ("(", bounds["gt"]) if "gt" in bounds else None
    high = ("]", bounds["le"]) if "le" in bounds else (")", bounds["lt"]) if "lt" in bounds else None
    if high is not None and high[1] == MAX_INT and not with_cap:
        high = None
    if low and high:
        return f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {low[1]}"
    return f"{'<=' if high[0] == ']' else '<'} {high[1]}" if high else ""


_NAMES = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


def _expected(tp: Any, error: ValidationError) -> str:
    """What a value of ``tp`` must be, for the message of ``error``: its range alone when only the range was wrong."""
    kind = error.errors()[0]["type"]
    bounds = _bounds(tp)
    if kind in _RANGE_ERRORS:
        return _range(bounds, with_cap=kind == "less_than_equal" and bounds.get("le") == MAX_INT)
    base = _bare(tp)
    if typing.get_origin(base) is tuple:
        return "a list of strings"
    name = _NAMES.get(base, getattr(base, "__name__", str(base)))
    rng = _range(bounds, with_cap=False)
    if base is float and rng.startswith("in "):
        name = "a number"
    return f"{name} {rng}".strip()


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
