"""Issue 23, item 1: every option's type, range and finiteness checked from the config dataclasses' annotations.

Wherever a value comes from (``from_options``, a stored run's dict, a preset's defaults, a config file,
``dataclasses.replace``), a wrong one is one :class:`ConfigError` line naming the field, before
anything is created; a good one is stored with its annotated type. The fuzz test draws any value
for any option.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from activekd._fields import MAX_INT
from activekd.config import SECTIONS, TOP_FIELDS, RunConfig, from_options, option_names
from activekd.errors import ActiveKDError, ConfigError


@pytest.mark.parametrize("option,value,message", [
    ("budget", math.nan, "budget must be an integer >= 1, got nan"),
    ("budget", True, "budget must be an integer >= 1, got True"),
    ("budget", 10.0, "budget must be an integer >= 1, got 10.0"),
    ("budget", "10", "budget must be an integer >= 1, got '10'"),
    ("budget", 0, "budget must be >= 1, got 0"),
    ("budget", 2**40, f"budget must be in [1, {MAX_INT}], got {2**40}"),
    ("rounds", 1.5, "rounds must be an integer >= 0, got 1.5"),
    ("shots", -1, "shots must be >= 0, got -1"),
    ("seed", None, "seed must be an integer >= 0, got None"),
    ("dataset", 12, "dataset must be a string, got 12"),
    ("device", ["cpu"], "device must be a string, got ['cpu']"),
    ("progress", "yes", "progress must be true or false, got 'yes'"),
    ("checkpoints", 1, "checkpoints must be true or false, got 1"),
    ("alpha", math.inf, "alpha must be a number in [0, 1], got inf"),
    ("alpha", 1.5, "alpha must be in [0, 1], got 1.5"),
    ("beta", math.nan, "beta must be a finite number > 0, got nan"),
    ("lr", -math.inf, "lr must be a finite number > 0, got -inf"),
    ("lr", False, "lr must be a finite number > 0, got False"),
    ("warmup", 1, "warmup must be in [0, 1), got 1"),
    ("weight_decay", "0.1", "weight_decay must be a finite number >= 0, got '0.1'"),
    ("image_size", 4, "image_size must be >= 8, got 4"),
    ("pool_limit", 2.5, "pool_limit must be an integer >= 1, got 2.5"),
    ("eval_on", [1], "eval_on must be a list of strings, got [1]"),
    ("eval_on", {"a": 1}, "eval_on must be a list of strings, got {'a': 1}"),
    ("teacher_batch_size", 0, "teacher batch_size must be >= 1, got 0"),
    ("tip_alpha", math.nan, "teacher tip_alpha must be a finite number >= 0, got nan"),
    ("views", 1.0, "teacher views must be an integer >= 0, got 1.0"),
    ("student_input_size", "big", "student input_size must be an integer >= 8, got 'big'"),
    ("student_require_pretrained", "no", "student require_pretrained must be true or false, got 'no'"),
    ("ls_url", 8080, "labelstudio url must be a string, got 8080"),
])
def test_a_wrong_value_is_one_line_naming_the_option(option, value, message):
    with pytest.raises(ConfigError) as e:
        from_options(**{option: value})
    assert str(e.value) == message


def test_good_values_are_stored_with_their_annotated_types():
    c = from_options(alpha=1, beta=2, lr=1, eval_on=["csv:a.csv", "csv:b.csv"], budget=3)
    assert (type(c.loop.alpha), type(c.loop.beta), type(c.train.lr)) == (float, float, float)
    assert c.data.eval_on == ("csv:a.csv", "csv:b.csv") and c.loop.budget == 3
    assert from_options(eval_on="csv:a.csv,csv:b.csv").data.eval_on == ("csv:a.csv", "csv:b.csv")


def test_numpy_scalars_count_as_the_python_numbers_they_hold():
    c = from_options(budget=np.int64(4), alpha=np.float32(0.25), progress=np.bool_(False))
    assert (c.loop.budget, c.loop.alpha, c.progress) == (4, 0.25, False)
    assert (type(c.loop.budget), type(c.loop.alpha), type(c.progress)) == (int, float, bool)
    with pytest.raises(ConfigError, match="budget must be an integer >= 1"):
        from_options(budget=np.float64(4.0))


def test_a_stored_configuration_is_checked_too():
    d = RunConfig().to_dict()
    d["loop"]["rounds"] = 1.5
    with pytest.raises(ConfigError, match="rounds must be an integer >= 0, got 1.5"):
        RunConfig.from_dict(d)
    d = RunConfig().to_dict()
    d["data"] = 12
    with pytest.raises(TypeError):  # not a section at all: read_stored_config names the store for it
        RunConfig.from_dict(d)


def test_replace_is_checked_too():
    with pytest.raises(ConfigError, match="budget must be an integer >= 1, got nan"):
        dataclasses.replace(RunConfig().loop, budget=math.nan)


# --------------------------------------------------------------------------- fuzz: any value for any option

ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(max_size=20),
    st.lists(st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _hints() -> dict[str, object]:
    """``{option: annotation}`` of every run option."""
    classes = {s: cls for s, cls, _ in SECTIONS} | {"run": RunConfig}
    return {opt: typing.get_type_hints(classes[s])[f] for opt, (s, f) in option_names().items()}


HINTS = _hints()


def _base(tp) -> type:
    """``int`` for ``int | None``, ``tuple`` for ``tuple[str, ...]``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return _base(next(a for a in typing.get_args(tp) if a is not type(None)))
    return typing.get_origin(tp) or tp


def _field(config: RunConfig, option: str):
    section, name = option_names()[option]
    return getattr(config if section == "run" else getattr(config, section), name)


@given(st.dictionaries(st.sampled_from(sorted(option_names())), ANY_VALUE, min_size=1, max_size=3))
def test_any_value_is_accepted_with_its_type_or_refused_in_one_line(options):
    try:
        config = from_options(**options)
    except ActiveKDError as e:  # ConfigError, or TeacherError for a few-shot recipe that does not fit
        assert "\n" not in str(e) and str(e)
        return
    for option in options:
        value, base = _field(config, option), _base(HINTS[option])
        if value is None:
            continue
        assert type(value) is base, (option, value)
        if base is float:
            assert math.isfinite(value), (option, value)
        if base is int:
            assert abs(value) <= MAX_INT, (option, value)
        if base is tuple:
            assert all(isinstance(v, str) and v.strip() and "," not in v for v in value), (option, value)
    assert RunConfig.from_dict(config.to_dict()) == config  # what a run stores reads back equal


def test_every_option_has_a_type_the_check_knows():
    assert set(TOP_FIELDS) <= set(HINTS)
    assert {_base(tp) for tp in HINTS.values()} <= {int, float, str, bool, tuple}
