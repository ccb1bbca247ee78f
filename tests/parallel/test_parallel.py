"""activekd.parallel: shares, the one-process group, and 2 real processes (torchrun, gloo on CPU)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from activekd.parallel import SOLO, ParallelError, ProcessGroup, peers_alive, without_option


@pytest.mark.parametrize("n, world", [(10, 2), (11, 2), (7, 3), (2, 4), (0, 2)])
def test_shards_cover_every_item_once_in_order(n, world):
    parts = [ProcessGroup(r, world).shard(n) for r in range(world)]
    assert [i for s in parts for i in range(n)[s]] == list(range(n))
    sizes = [s.stop - s.start for s in parts]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("n, world, unit", [(31, 2, 4), (32, 2, 4), (9, 3, 4), (3, 2, 4), (0, 2, 4), (7, 3, 1)])
def test_shards_in_units_keep_whole_batches(n, world, unit):
    parts = [ProcessGroup(r, world).shard(n, unit) for r in range(world)]
    assert [i for s in parts for i in range(n)[s]] == list(range(n))
    assert all(s.start % unit == 0 for s in parts if s.stop > s.start)  # each share starts a batch: one process's batches
    batches = [-(-(s.stop - s.start) // unit) for s in parts]
    assert max(batches) - min(batches) <= 1


def test_an_uneven_batch_is_refused_with_the_numbers():
    assert ProcessGroup(1, 2).even_share(64, "--batch-labeled") == slice(32, 64)
    with pytest.raises(ParallelError, match="--batch-labeled 63 does not split evenly over 2 processes"):
        ProcessGroup(0, 2).even_share(63, "--batch-labeled")


def test_the_one_process_group_changes_nothing():
    t = torch.arange(6.0).reshape(3, 2)
    assert SOLO.is_main and not SOLO.distributed
    assert SOLO.broadcast({"a": 1}) == {"a": 1}
    assert SOLO.gather_rows(t, 3) is t and SOLO.mean(t) is t
    assert SOLO.shard(5) == slice(0, 5) and SOLO.device(torch.device("cpu")) == torch.device("cpu")


def test_a_dead_peer_becomes_one_clear_error_and_other_errors_pass():
    group = ProcessGroup(0, 2, "gloo")
    with pytest.raises(ParallelError, match=r"another process of this run stopped \(Read error .*Connection reset by peer\); "):
        with peers_alive(group):
            raise RuntimeError("[../gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:7083: Connection reset by peer. Check the logs")
    with pytest.raises(RuntimeError, match="shape mismatch"):
        with peers_alive(group):
            raise RuntimeError("shape mismatch")


def test_nproc_is_taken_out_of_the_command_torchrun_runs():
    argv = ["run", "--nproc", "2", "--out", "x", "--nproc=3", "--rounds", "2"]
    assert without_option(argv, "--nproc") == ["run", "--out", "x", "--rounds", "2"]


@pytest.mark.slow
def test_two_processes_draw_share_and_gather_exactly_what_one_process_does(tmp_path):
    """The global batch of every step (indices, crops, labels, teacher targets) and inference outputs are the one-process
    ones; PCoreSet picks the same images from gathered outputs."""
    out = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           str(Path(__file__).with_name("parallel_main.py")), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)  # a hang guard: seconds idle, minutes loaded
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["world_size"] == 2 and report["rank_share"] == [0, 31]
    assert report["draws_match"] and report["draws_match_ce_only"]
    assert report["max_output_diff"] < 1e-5  # the same images in other batch compositions: float rounding only
    assert report["same_picks"]


def test_a_bad_process_count_is_one_line_and_creates_nothing(tmp_path, capsys):
    from activekd.cli import main

    out = tmp_path / "run"
    assert main(["run", "--nproc", "0", "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "activekd: error: --nproc must be >= 1, got 0"
    assert not out.exists()


def test_a_bad_draw_digest_setting_is_one_line_and_creates_nothing(tmp_path, capsys, monkeypatch):
    from activekd.cli import main

    monkeypatch.setenv("ACTIVEKD_DRAW_DIGEST", "ten")
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "activekd: error: ACTIVEKD_DRAW_DIGEST must be a number of steps, got 'ten'"
    assert not out.exists()
