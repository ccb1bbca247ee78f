"""Issue 23, items 1 and 2: a ``--config`` file is read with limits and its values checked by type before anything exists.

Every case runs ``activekd run --config FILE --out RUN`` and expects exit 2, one stderr line naming
the problem, no traceback and no ``RUN`` folder. The YAML alias bomb is refused within 2 s and
200 MB; a file nested 5,000 deep, one that is not UTF-8 and one over the size limit are one line.
The fuzz test writes any TOML/YAML document of the config's shape and any value.
"""

from __future__ import annotations

import dataclasses
import json
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from activekd._parsers import MAX_CONFIG_BYTES, MAX_NESTING
from activekd.cli import main
from activekd.config import SECTIONS, TOP_FIELDS


def run_with(capsys, tmp_path: Path, name: str, body: str | bytes, *more: str) -> tuple[int, str, Path]:
    f = tmp_path / name
    f.write_bytes(body if isinstance(body, bytes) else body.encode())
    out = tmp_path / "run"
    capsys.readouterr()
    rc = main(["run", "--config", str(f), "--out", str(out), *more])
    return rc, capsys.readouterr().err, out


def assert_one_line(rc: int, err: str, out: Path, *words: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("activekd: error: "), lines
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"
    assert not out.exists(), "a refused start created its run folder"
    return lines[0]


NOWHERE = ("--dataset", "imagefolder:/nonexistent/activekd-test")  # should a check slip, nothing heavy runs

WRONG_TYPES = {
    "budget-nan.toml": ("[loop]\nbudget = nan\n", NOWHERE, "budget must be an integer >= 1, got nan"),
    "rounds-fraction.toml": ("[loop]\nrounds = 1.5\n", NOWHERE, "rounds must be an integer >= 0, got 1.5"),
    "dataset-number.yaml": ("data:\n  dataset: 12\n", (), "dataset must be a string, got 12"),
    "device-list.toml": ('device = ["cpu"]\n', NOWHERE, "device must be a string, got ['cpu']"),
    "budget-bool.toml": ("[loop]\nbudget = true\n", NOWHERE, "budget must be an integer >= 1, got True"),
    "alpha-inf.yaml": ("loop:\n  alpha: .inf\n", NOWHERE, "alpha must be a number in [0, 1], got inf"),
    "eval-on-number.toml": ("[data]\neval_on = 3\n", NOWHERE, "eval_on must be a list of strings, got 3"),
    "eval-on-nested.yaml": ("data:\n  eval_on: [[a]]\n", NOWHERE, "eval_on must be a list of strings, got [['a']]"),
    "progress-string.yaml": ("progress: 'no'\n", NOWHERE, "progress must be true or false, got 'no'"),
    "lr-date.yaml": ("train:\n  lr: 2024-01-01\n", NOWHERE, "lr must be a finite number > 0, got datetime.date(2024, 1, 1)"),
}


@pytest.mark.parametrize("name", list(WRONG_TYPES))
def test_a_wrong_type_in_a_config_file_is_one_line_and_creates_nothing(capsys, tmp_path, name):
    body, more, message = WRONG_TYPES[name]
    rc, err, out = run_with(capsys, tmp_path, name, body, *more)
    assert assert_one_line(rc, err, out) == f"activekd: error: {message}"


def test_a_preset_value_of_the_wrong_type_is_refused(capsys, tmp_path):
    from activekd._cli_options import build_config
    from activekd.cli import make_parser
    from activekd.errors import ConfigError

    ns = make_parser().parse_args(["run", "--out", str(tmp_path / "run")])
    with pytest.raises(ConfigError, match="rounds must be an integer >= 0, got 1.5"):
        build_config(ns, {"rounds": 1.5})


def _alias_bomb() -> str:
    """Nine levels of nine aliases each under ``data.eval_on``: 9⁹ (387 million) strings if expanded."""
    levels = ['&a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "data:\n  eval_on: [" + ", ".join(levels) + "]\n"


def test_the_yaml_alias_bomb_is_refused_within_2_s_and_200_mb(capsys, tmp_path):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        rc, err, out = run_with(capsys, tmp_path, "bomb.yaml", _alias_bomb(), "--print-config")
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_one_line(rc, err, out, "bomb.yaml", "line 2", "anchors and aliases")
    assert seconds < 2 and peak < 200 * 2**20, (seconds, peak)


LIMITS = [
    ("merge-key.yaml", "base: &b {budget: 3}\nloop:\n  <<: *b\n", ["line 1", "anchors and aliases"]),
    ("anchor-only.yaml", "loop: &x\n  budget: 3\n", ["line 1", "anchors and aliases"]),
    ("deep.toml", "[data]\neval_on = " + "[" * 5000 + "]" * 5000 + "\n", [f"nested deeper than {MAX_NESTING} levels"]),
    ("deep.yaml", "data:\n  eval_on: " + "[" * 5000 + "]" * 5000 + "\n", ["line 2", f"nested deeper than {MAX_NESTING} levels"]),
    ("deep-tables.toml", "[data]\nx = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", ["nested deeper than"]),
    ("deep-block.yaml", "".join(" " * i + "a:\n" for i in range(300)), ["nested deeper than"]),
    ("latin1.toml", "[data]\ndataset = \"caf\xe9\"\n".encode("latin-1"), ["latin1.toml", "not UTF-8 text", "byte 0xe9 at offset 21"]),
    ("utf16.yaml", "loop:\n  budget: 3\n".encode("utf-16"), ["utf16.yaml", "not UTF-8 text", "byte 0xff at offset 0"]),
    ("large.toml", "# " + "x" * MAX_CONFIG_BYTES + "\n", ["large.toml", "larger than 256 KiB"]),
    ("mixed-keys.yaml", "loop:\n  1: 2\n  x: 3\n", ["unknown option(s) 1, x in [loop]"]),
    ("a-list.yaml", "- 1\n- 2\n", ["expected sections", "got list"]),
    ("two-documents.yaml", "loop: {}\n---\nloop: {}\n", ["not valid YAML"]),
    ("python-tag.yaml", "loop: !!python/object:os.system {}\n", ["not valid YAML"]),
]


@pytest.mark.parametrize("name,body,words", LIMITS, ids=[case[0] for case in LIMITS])
def test_a_config_file_past_a_limit_is_one_line(capsys, tmp_path, name, body, words):
    t0 = time.perf_counter()
    rc, err, out = run_with(capsys, tmp_path, name, body, "--print-config")
    assert_one_line(rc, err, out, *words)
    assert time.perf_counter() - t0 < 10


def test_a_good_yaml_file_still_reads(capsys, tmp_path):
    f = tmp_path / "run.yaml"
    f.write_text("loop:\n  budget: 7\n  alpha: 1\ndata:\n  eval_on: [csv:a.csv, csv:b.csv]\nprogress: false\n")
    assert main(["run", "--config", str(f), "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "budget = 7" in printed and "alpha = 1.0" in printed and 'eval_on = ["csv:a.csv", "csv:b.csv"]' in printed


# --------------------------------------------------------------------------- fuzz: any document of the config's shape

FIELDS = {s: sorted(f.name for f in dataclasses.fields(cls)) for s, cls, _ in SECTIONS}
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**40), max_value=2**40),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(st.text(max_size=4), SCALAR, max_size=2))
SECTION = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda s: st.tuples(st.just(s), st.dictionaries(st.sampled_from(FIELDS[s] + ["bogus"]), VALUE, max_size=3)))
DOCUMENT = st.tuples(st.lists(SECTION, max_size=3), st.dictionaries(st.sampled_from([*TOP_FIELDS, "extra"]), VALUE, max_size=2))


def _toml_value(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if x is not None) + "]"
    return "true" if v is True else "false" if v is False else json.dumps(v)


def _toml(top: dict, sections: dict) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in top.items() if v is not None]
    for s, kv in sections.items():
        lines += [f"[{s}]"] + [f"{k} = {_toml_value(v)}" for k, v in kv.items() if v is not None]
    return "\n".join(lines) + "\n"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(DOCUMENT, st.sampled_from(["toml", "yaml"]), st.binary(max_size=8))
def test_any_config_file_is_accepted_or_one_line(capsys, tmp_path_factory, doc, fmt, junk):
    """Any TOML/YAML document of sections and values (and the same with junk bytes inserted): ``--print-config`` prints
    it or refuses it in one line, in bounded time, never a traceback."""
    pairs, top = doc
    sections = dict(pairs)
    body = (_toml(top, sections) if fmt == "toml" else yaml.safe_dump({**top, **sections})).encode()
    cut = len(body) // 2
    folder = tmp_path_factory.mktemp("fuzz")
    for data in (body, body[:cut] + junk + body[cut:]):
        f = folder / f"run.{fmt}"
        f.write_bytes(data)
        capsys.readouterr()
        t0 = time.perf_counter()
        rc = main(["run", "--config", str(f), "--print-config"])
        err = capsys.readouterr().err
        assert time.perf_counter() - t0 < 5
        assert rc in (0, 2) and "Traceback" not in err, err
        event(f"exit {rc}")
        if rc == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("activekd: error: "), err
