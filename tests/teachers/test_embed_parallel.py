"""The teacher's embedding pass on every rank of a ``torchrun`` launch: 2 gloo processes write the cache files one
process writes, byte for byte, and each embedded its share."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("embed_main.py")
LAUNCH_TIMEOUT = 1800  # a hang guard only: the run takes seconds, a loaded machine may stretch it many times


def _run(tmp: Path, name: str, launcher: list[str]) -> tuple[Path, dict]:
    cache, out = tmp / name / "cache", tmp / name / "out"
    out.mkdir(parents=True)
    done = subprocess.run([sys.executable, *launcher, str(SCRIPT), str(cache), str(out)], capture_output=True, text=True,
                          timeout=LAUNCH_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    return cache, {p.stem: json.loads(p.read_text())["encoded"] for p in out.glob("rank-*.json")}


def _files(cache: Path) -> dict[str, list[bytes]]:
    """Each cache folder's files' bytes, shards in the order they were written (their names carry time and pid)."""
    out: dict[str, list[bytes]] = {}
    for p in sorted(cache.rglob("*")):
        if p.is_file():
            key = p.parent.relative_to(cache).as_posix() + ("/part-*" if p.name.startswith("part-") else f"/{p.name}")
            out.setdefault(key, []).append(p.read_bytes())
    return out


@pytest.mark.slow
def test_two_processes_write_the_cache_files_one_process_writes(tmp_path):
    one, counts_one = _run(tmp_path, "one", [])
    two, counts_two = _run(tmp_path, "two", ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"])
    files = _files(one)
    # the whole images and 2 views, each a folder with meta.json and its shards, plus the text classifier
    assert len([k for k in files if k.endswith("/meta.json")]) == 3 and sum(k.endswith("/part-*") for k in files) == 3
    assert sorted(len(v) for k, v in files.items() if k.endswith("/part-*")) == [1, 1, 2]  # whole images: 2 passes
    assert _files(two) == files
    # 31 images in 8 batches of 4, three passes (image, view 0, view 1): 4 batches per rank; then 3 images on rank 0
    assert counts_one == {"rank-0": 3 * 31 + 3}
    assert counts_two == {"rank-0": 3 * 16 + 3, "rank-1": 3 * 15}
