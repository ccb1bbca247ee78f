"""More than one process: the ``torch.distributed`` group a ``torchrun`` launch gives, in one small object.

``torchrun --nproc-per-node N -m activekd run ...`` starts N copies of the command with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in the environment. :func:`join` turns that into a
:class:`ProcessGroup` (``gloo`` on CPU, ``nccl`` on GPUs, one GPU per process); without it every helper
works on :data:`SOLO`, the one-process group, so library code never asks "am I distributed?".
"""

from __future__ import annotations

import datetime
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from activekd.errors import ActiveKDError

TIMEOUT = datetime.timedelta(hours=6)
"""How long a collective waits for a peer before it fails. A dead peer's closed socket fails it at once; the long wait is
for the other ranks idling while rank 0 works alone (a VLM teacher embedding a large pool for the first time)."""


class ParallelError(ActiveKDError):
    """Another process of a multi-process run stopped, or the launch is inconsistent."""


@dataclass(frozen=True)
class ProcessGroup:
    """``rank`` of ``world_size`` processes; rank 0 is the one that reads and writes the run folder."""

    rank: int = 0
    world_size: int = 1
    backend: str = "none"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, n: int, unit: int = 1) -> slice:
        """This rank's contiguous share of ``n`` items, in whole units of ``unit`` items (the last unit may be short):
        counts of units differ by at most one, earlier ranks larger. ``unit`` = a batch size keeps every batch the
        batch one process forms (so a batched forward pass gives the same bytes)."""
        units = -(-n // unit)
        base, extra = divmod(units, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        stop = start + base + (self.rank < extra)
        return slice(min(start * unit, n), min(stop * unit, n))

    def even_share(self, n: int, what: str) -> slice:
        """This rank's share of a batch of ``n`` that must split evenly (so averaged gradients equal the global mean)."""
        if n % self.world_size:
            raise ParallelError(f"{what} {n} does not split evenly over {self.world_size} processes; choose a multiple of {self.world_size}")
        k = n // self.world_size
        return slice(self.rank * k, (self.rank + 1) * k)

    def broadcast(self, obj: Any = None) -> Any:
        """Rank 0's ``obj`` on every rank (pickled); the object itself with one process."""
        if not self.distributed:
            return obj
        box = [obj]
        _collective(self, dist.broadcast_object_list, box, src=0)
        return box[0]

    def gather_rows(self, part: Tensor, n: int, unit: int = 1) -> Tensor:
        """Every rank's :meth:`shard` of ``n`` rows (``unit`` as there), concatenated in rank order (on every rank, on
        ``part``'s device). Every rank's ``part`` has the same trailing shape."""
        if not self.distributed:
            return part
        sizes = [ProcessGroup(r, self.world_size).shard(n, unit) for r in range(self.world_size)]
        width = max(s.stop - s.start for s in sizes)
        padded = part.new_zeros((width, *part.shape[1:]))
        padded[: part.shape[0]] = part
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        _collective(self, dist.all_gather, parts, padded)
        return torch.cat([p[: s.stop - s.start] for p, s in zip(parts, sizes)])

    def gather_objects(self, obj: Any) -> list:
        """Every rank's ``obj`` (pickled), in rank order, on every rank; ``[obj]`` with one process."""
        if not self.distributed:
            return [obj]
        out: list = [None] * self.world_size
        _collective(self, dist.all_gather_object, out, obj)
        return out

    def mean(self, values: Tensor) -> Tensor:
        """The element-wise mean of ``values`` over ranks."""
        if not self.distributed:
            return values
        out = values.clone()
        _collective(self, dist.all_reduce, out)
        return out / self.world_size

    def device(self, device: torch.device) -> torch.device:
        """This rank's device: ``cuda:LOCAL_RANK`` on GPUs, the given device otherwise."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", self.rank)))
        return device


SOLO = ProcessGroup()


@contextmanager
def peers_alive(group: ProcessGroup):
    """Inside: collective work (DDP's broadcasts and all-reduces included); a peer's death becomes one clear
    :class:`ParallelError` instead of a backend traceback. Other errors pass through."""
    try:
        yield
    except RuntimeError as e:
        if not group.distributed or not (isinstance(e, dist.DistBackendError) or any(w in str(e) for w in _PEER_WORDS)):
            raise
        raise ParallelError(f"another process of this run stopped ({_first_line(e)}); the run is resumable: "
                            "run the same command again, or `activekd resume RUN`") from None


_PEER_WORDS = ("gloo", "NCCL", "Connection reset", "Connection closed")


def _collective(group: ProcessGroup, fn, *args, **kwargs) -> None:
    with peers_alive(group):
        fn(*args, **kwargs)


def _first_line(e: BaseException) -> str:
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return line.split("] ", 1)[-1].split(". ")[0][:160]  # gloo prefixes its source location and appends advice


def launched() -> bool:
    """True inside a ``torchrun`` launch of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join(device: torch.device) -> ProcessGroup:
    """Join the ``torchrun`` group (once per process); :data:`SOLO` when not launched by torchrun with N > 1."""
    if not launched():
        return SOLO
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=TIMEOUT)
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), dist.get_backend())


def leave() -> None:
    """Leave the group (end of the command) without racing a peer's teardown; a no-op outside a group.

    Three steps: a barrier on the group (a dead peer fails it at once: nobody to wait for, go to 3); then a rendezvous
    through the launch's key-value store, which every rank reaches only once its last collective has returned, so
    when it opens no connection of the group carries a message anyone still reads (a rank that tears down while a
    peer is still inside the barrier can reset a connection that peer reads from: gloo then aborts it with SIGABRT);
    then the group is destroyed. The store belongs to torchrun's agent, which outlives the ranks, so waiting on it
    races nobody's teardown. The waits are long (:data:`LEAVE_TIMEOUT`): a loaded machine may be slow to bring a rank
    there, and a rank that dies instead is stopped by torchrun with its peers.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        dist.barrier()
        _all_arrived(dist.distributed_c10d._get_default_store(), dist.get_world_size())
    except RuntimeError:  # a dead peer (or its store gone): nobody to wait for
        pass
    dist.destroy_process_group()


LEAVE_TIMEOUT = datetime.timedelta(minutes=30)
"""How long a rank that reached the end of the command waits for the others to reach it too."""

_LEFT = "activekd/left"


def _all_arrived(store, world_size: int) -> None:
    """Return once all ``world_size`` ranks have called this (once per launch) on ``store``."""
    if store.add(_LEFT, 1) == world_size:
        store.set(_LEFT + "/all", "1")
    store.wait([_LEFT + "/all"], LEAVE_TIMEOUT)


def torchrun(nproc: int, argv: list[str]) -> int:
    """Run ``activekd ARGV`` as ``nproc`` processes under ``torchrun --standalone`` (one machine); returns its exit code
    (2 with one line naming the rank that failed first)."""
    import subprocess
    import sys

    if launched():
        raise ParallelError("--nproc launches torchrun; inside a torchrun launch leave it out")
    cmd = [sys.executable, "-m", "activekd.parallel", "--standalone", f"--nproc-per-node={nproc}", "-m", "activekd", *argv]
    return subprocess.call(cmd)


def _torchrun_main(args: list[str]) -> int:
    """``torchrun ARGS``, its failure told in one line instead of its launcher's traceback."""
    import signal
    import sys

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(args))
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        how = f"signal {signal.Signals(-failure.exitcode).name}" if failure.exitcode < 0 else f"exit {failure.exitcode}"
        print(f"activekd: error: process {rank} of the run stopped first ({how}); the run folder is consistent: "
              "run the same command again, or `activekd resume RUN`", file=sys.stderr)
        return 2
    return 0


def without_option(argv: list[str], name: str) -> list[str]:
    """``argv`` less ``name VALUE`` / ``name=VALUE``."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == name:
            skip = True
        elif not a.startswith(name + "="):
            out.append(a)
    return out


if __name__ == "__main__":
    import sys

    sys.exit(_torchrun_main(sys.argv[1:]))
