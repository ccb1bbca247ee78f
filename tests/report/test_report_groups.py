"""Grouping runs that differ only in their seed, and the mean ± std curves, against hand-computed values."""

import json
import math

import pytest

from activekd.config import RunConfig
from activekd.report import (
    average_ranks,
    group_runs,
    load_runs,
    mean_curve,
    mean_std,
    rank_table,
    seed_free_config,
)
from activekd.report._groups import LATER_FIELDS, RESUMABLE


def test_mean_std_is_the_sample_std():
    m, s = mean_std([0.5, 0.7, 0.6])
    assert m == pytest.approx(0.6)
    assert s == pytest.approx(0.1)  # sqrt((0.01 + 0.01 + 0) / (3 - 1))
    assert mean_std([0.3]) == (0.3, 0.0)
    with pytest.raises(ValueError):
        mean_std([])


def test_mean_curve_aligns_by_label_count():
    pts = mean_curve([[(10, 0.2), (20, 0.4)], [(10, 0.4), (20, 0.6), (30, 0.9)]])
    assert [(p.labels, p.n) for p in pts] == [(10, 2), (20, 2), (30, 1)]
    assert pts[0].mean == pytest.approx(0.3) and pts[0].std == pytest.approx(math.sqrt(0.02))
    assert pts[2].mean == pytest.approx(0.9) and pts[2].std == 0.0


def test_runs_differing_only_in_seed_form_one_group(make_run):
    folders = [make_run("random-dho-seed1", [0.2, 0.4], seed=1), make_run("random-dho-seed2", [0.4, 0.6], seed=2, device="cpu"),
               make_run("entropy-dho-seed1", [0.3, 0.5], strategy="entropy", seed=1),
               make_run("random-dho-seed3", [0.3, 0.8], seed=3)]
    groups = group_runs(load_runs(folders))
    assert [g.name for g in groups] == ["random-dho", "entropy-dho"]
    assert groups[0].seeds == [1, 2, 3]
    pts = groups[0].curve()
    assert [p.labels for p in pts] == [10, 20]
    assert pts[0].mean == pytest.approx(0.3) and pts[0].std == pytest.approx(0.1)  # 0.2, 0.4, 0.3
    assert pts[1].mean == pytest.approx(0.6) and pts[1].std == pytest.approx(0.2)  # 0.4, 0.6, 0.8
    assert "seed" not in groups[0].config["loop"] and "device" not in groups[0].config


def test_groups_are_named_by_their_differences_when_folder_names_do_not_tell(make_run):
    folders = [make_run("a", [0.2], strategy="entropy", kd="none"), make_run("b", [0.3], strategy="entropy", kd="none", seed=2),
               make_run("c", [0.4], strategy="margin", kd="none")]
    assert [g.name for g in group_runs(load_runs(folders))] == ["strategy=entropy", "strategy=margin"]


def test_runs_written_before_a_config_field_existed_group_with_later_ones():
    new = json.loads(json.dumps(RunConfig().to_dict()))  # as results.json holds it
    for section, fields in LATER_FIELDS.items():
        assert {k: new[section][k] for k in fields} == fields  # the defaults of today's RunConfig
    old = json.loads(json.dumps(RunConfig().to_dict()))
    for section, fields in LATER_FIELDS.items():
        for k in fields:
            del old[section][k]
    assert seed_free_config(old) == seed_free_config(new)
    changed = json.loads(json.dumps(new))
    changed["student"]["tune"] = "linear"
    assert seed_free_config(changed) != seed_free_config(old)


def test_seed_free_config_leaves_the_input_alone_and_matches_the_run_config():
    assert set(RESUMABLE) == set(RunConfig.RESUMABLE)
    c = RunConfig().to_dict()
    free = seed_free_config(c)
    assert "seed" in c["loop"] and "seed" not in free["loop"] and "device" in c and "device" not in free


def test_ranks_per_round_share_ties(make_run):
    assert average_ranks({"a": 0.5, "b": 0.7, "c": 0.5, "d": 0.1}) == {"b": 1, "a": 2.5, "c": 2.5, "d": 4}
    folders = [make_run("x-seed1", [0.2, 0.5, 0.9], seed=1), make_run("y-seed1", [0.3, 0.5], strategy="entropy")]
    t = rank_table(group_runs(load_runs(folders)))
    assert t.labels == [10, 20, 30] and t.shared == [10, 20]
    assert t.ranks["x"] == {10: 2, 20: 1.5, 30: 1} and t.ranks["y"] == {10: 1, 20: 1.5}
    assert t.mean_rank("x") == pytest.approx(1.75) and t.mean_rank("y") == pytest.approx(1.25)


def test_importing_the_report_package_stays_light():
    import subprocess
    import sys

    code = "import sys, activekd.report; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["False", "False"]
