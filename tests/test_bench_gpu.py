"""bench/gpu.py at its small sizes on the CPU: the whole table, every row measured, in one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "gpu.py"


@pytest.mark.slow
def test_the_gpu_table_runs_at_small_sizes_on_a_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(BENCH), "--device", "cpu", "--json", str(out)], capture_output=True, text=True,
                          timeout=1800, env=env)  # a hang guard: about a minute on 2 idle cores
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads(out.read_text())
    assert table["small"] and table["device"] == "cpu"  # no CUDA: the small sizes without being asked
    rows = {r["what"].strip().split(",")[0].split(" (")[0]: r for r in table["rows"]}
    assert len(table["rows"]) == 8
    assert [r["unit"] for r in table["rows"]] == ["s", "s", "s", "images/s", "images/s", "images/s", "images/s", "yes/no"]
    assert all(r["value"] > 0 for r in table["rows"])
    assert rows["selection under bf16 training: pool outputs fp32"]["met"] is True
    printed = done.stdout.splitlines()
    assert printed[0].startswith("bench/gpu.py on cpu") and "small sizes" in printed[0]
    assert sum(line.startswith("| ") for line in printed) == 1 + 8  # the header and one line per row
