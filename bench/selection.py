"""Time every selection strategy on seeded synthetic pools (a benchmark, not a test).

    python bench/selection.py --device cpu --sizes cifar100
    python bench/selection.py --device cuda --sizes cifar100 imagenet --json runs/bench_selection.json
    python bench/selection.py --sizes 20000:100:512:100:500 --strategies pcoreset coreset

For each size it prints, per strategy, the wall time (seconds) and the peak extra memory of the
call (MiB; CPU: bytes in use by malloc, glibc ``mallinfo2``, sampled every millisecond, above
the level before the call, or the resident set size where ``mallinfo2`` is missing; GPU:
``torch.cuda.max_memory_allocated`` above the level before the call). In the same run it times
a naive baseline, the research-style PCoreSet that recomputes the distance from every remaining
pool point to every centre at each pick (``torch.cdist`` in float32, batches of 1,000, as in the
authors' code but with tensor indexing instead of Python lists, which only makes it faster), and
reports the speed-up of ``pcoreset`` over it. The baseline stops at ``--naive-cap`` seconds; the
full time is then extrapolated from the picks done, with the per-pick cost proportional to
(remaining points) x (centres), and both the measured lower bound and the estimate are shown.
The baseline's picks are compared with ``pcoreset``'s (float32 vs exact float64 distances may
legitimately part ways on a near-tie; the count of identical leading picks is printed).

Synthetic pools: class means ``mu`` ``[C, d]``; each point has a class ``y``, features
``mu_y + noise``, CE logits ``4 features @ mu.T / d`` plus noise (top-class probability
around 0.4 with 100 classes) and KD logits the CE logits
plus noise, so the mixed probabilities are neither one-hot nor uniform. The teacher logits are
the CE logits (timing only). Seeds are fixed (``--seed``).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

try:
    from activekd.select import SelectionInputs, list_strategies, select
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    from activekd.select import SelectionInputs, list_strategies, select


@dataclass(frozen=True)
class Size:
    name: str
    pool: int
    classes: int
    dim: int
    labeled: int
    picks: int

    def describe(self) -> str:
        return (
            f"{self.name}: pool {self.pool:,} x {self.classes:,} classes, {self.dim}-d features, "
            f"{self.labeled:,} labeled, {self.picks:,} picks"
        )


PRESETS = {
    "smoke": Size("smoke", 2_000, 10, 64, 20, 50),
    "small": Size("small", 10_000, 100, 512, 100, 200),
    "cifar100": Size("cifar100", 50_000, 100, 512, 100, 1_000),
    "imagenet": Size("imagenet", 1_281_167, 1_000, 512, 1_000, 1_000),
}


def parse_size(text: str) -> Size:
    if text in PRESETS:
        return PRESETS[text]
    try:
        n, c, d, m, b = (int(v.replace(",", "").replace("_", "")) for v in text.split(":"))
    except ValueError:
        raise SystemExit(f"unknown size {text!r}: use one of {', '.join(PRESETS)} or POOL:CLASSES:DIM:LABELED:PICKS")
    return Size(text, n, c, d, m, b)


def make_inputs(size: Size, seed: int, dtype: torch.dtype, device: str) -> SelectionInputs:
    """Seeded synthetic pool + labeled set, generated in chunks (O(chunk) temporaries)."""
    g = torch.Generator().manual_seed(seed)
    total = size.pool + size.labeled
    mu = torch.randn(size.classes, size.dim, generator=g)
    ce = torch.empty(total, size.classes, dtype=dtype, device=device)
    kd = torch.empty(total, size.classes, dtype=dtype, device=device)
    feats = torch.empty(total, size.dim, dtype=dtype, device=device)
    labels = torch.empty(total, dtype=torch.long)
    step = max(1, (1 << 22) // max(size.classes, size.dim))
    for a in range(0, total, step):
        b = min(total, a + step)
        y = torch.randint(0, size.classes, (b - a,), generator=g)
        h = mu[y] + 1.5 * torch.randn(b - a, size.dim, generator=g)
        logit = 4.0 * (h @ mu.T) / size.dim + 0.5 * torch.randn(b - a, size.classes, generator=g)
        feats[a:b] = h.to(device, dtype)
        ce[a:b] = logit.to(device, dtype)
        kd[a:b] = (logit + 0.5 * torch.randn(b - a, size.classes, generator=g)).to(device, dtype)
        labels[a:b] = y
    n = size.pool
    return SelectionInputs(
        pool_ids=[f"p{i}" for i in range(n)],
        pool_ce=ce[:n],
        pool_kd=kd[:n],
        pool_features=feats[:n],
        labeled_ids=[f"l{j}" for j in range(size.labeled)],
        labeled_ce=ce[n:],
        labeled_kd=kd[n:],
        labeled_features=feats[n:],
        labeled_labels=labels[n:],
        pool_teacher=ce[:n],
    )


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


def _malloc_in_use() -> Optional[Callable[[], int]]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None

    def used() -> int:
        info = libc.mallinfo2()
        return info.uordblks + info.hblkhd  # heap blocks in use + mmapped blocks

    return used


class PeakMemory:
    """Peak extra memory (bytes) of a block: CUDA allocator stats, or sampled CPU malloc use."""

    _in_use = _malloc_in_use()

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak = 0

    @classmethod
    def _rss(cls) -> int:
        if cls._in_use is not None:
            return cls._in_use()
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            self._base = self._rss()
            self._max = self._base
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._rss())
            time.sleep(0.001)

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self._base
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self._max, self._rss()) - self._base


def timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float, int]:
    with PeakMemory(device) as mem:
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
    return out, seconds, mem.peak


def naive_pcoreset(
    inputs: SelectionInputs, budget: int, device: torch.device, cap_s: float
) -> tuple[list[int], float]:
    """Research-style PCoreSet: every pick recomputes distances to *all* centres. Stops at ``cap_s``."""
    t0 = time.perf_counter()
    probs = inputs.pool_probs(device)
    centres = inputs.labeled_probs(device)
    remaining = torch.ones(inputs.num_pool, dtype=torch.bool, device=device)
    picks: list[int] = []
    for _ in range(budget):
        rem = torch.nonzero(remaining).squeeze(1)
        mins = torch.cat([torch.cdist(probs[rem[i : i + 1000]], centres).amin(1) for i in range(0, rem.numel(), 1000)])
        j = int(rem[torch.argmax(mins)])
        picks.append(j)
        centres = torch.cat([centres, probs[j : j + 1]])
        remaining[j] = False
        if time.perf_counter() - t0 > cap_s:
            break
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return picks, time.perf_counter() - t0


def extrapolate(elapsed: float, done: int, size: Size) -> float:
    """Full-run time from ``done`` picks, per-pick cost ~ remaining points x centres."""
    def work(k: int) -> float:
        return sum((size.pool - t) * (size.labeled + t) for t in range(k))

    return elapsed * work(size.picks) / max(work(done), 1e-12)


def run_size(size: Size, args: argparse.Namespace, device: torch.device) -> dict:
    print(f"\n== {size.describe()} on {device}", flush=True)
    t0 = time.perf_counter()
    dtype = getattr(torch, args.dtype)
    inputs = make_inputs(size, args.seed, dtype, str(device))
    print(f"   inputs generated in {time.perf_counter() - t0:.1f} s", flush=True)
    budget = min(size.picks, size.pool)
    rows = []
    picks_by_name: dict[str, list[str]] = {}
    print(f"   {'strategy':<18}{'seconds':>10}{'peak MiB':>12}", flush=True)
    for name in args.strategies:
        gen = torch.Generator().manual_seed(args.seed)
        ids, seconds, peak = timed(lambda: select(name, inputs, budget, generator=gen, device=device), device)
        picks_by_name[name] = ids
        rows.append({"strategy": name, "seconds": seconds, "peak_mib": peak / 2**20})
        print(f"   {name:<18}{seconds:>10.3f}{peak / 2**20:>12.1f}", flush=True)

    result = {"size": size.__dict__, "device": str(device), "strategies": rows}
    if args.naive_cap > 0:
        (picks, seconds), _, peak = timed(lambda: naive_pcoreset(inputs, budget, device, args.naive_cap), device)
        done = len(picks)
        naive = {"picks_done": done, "seconds": seconds, "peak_mib": peak / 2**20, "complete": done == budget}
        estimate = seconds if done == budget else extrapolate(seconds, done, size)
        naive["estimated_full_seconds"] = estimate
        fast = next((r["seconds"] for r in rows if r["strategy"] == "pcoreset"), None)
        label = "naive pcoreset"
        if done == budget:
            print(f"   {label:<18}{seconds:>10.3f}{peak / 2**20:>12.1f}", flush=True)
        else:
            print(
                f"   {label:<18}{seconds:>10.3f}{peak / 2**20:>12.1f}   (capped: {done}/{budget} picks; "
                f"full run estimated {estimate:,.0f} s)",
                flush=True,
            )
        if fast:
            naive["speedup_estimated"] = estimate / fast
            naive["speedup_lower_bound"] = seconds / fast
            bound = "" if done == budget else f" (>= {seconds / fast:,.0f}x measured)"
            print(f"   pcoreset speed-up over the naive baseline: {estimate / fast:,.0f}x{bound}", flush=True)
            fast_ids = picks_by_name["pcoreset"]
            same = 0
            for a, b in zip((inputs.pool_ids[i] for i in picks), fast_ids):
                if a != b:
                    break
                same += 1
            naive["identical_leading_picks"] = same
            print(f"   identical leading picks (naive vs pcoreset): {same}/{done}", flush=True)
        result["naive_pcoreset"] = naive
    return result


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--sizes", nargs="+", default=["cifar100"], help=f"presets {list(PRESETS)} or N:C:D:M:B")
    parser.add_argument("--strategies", nargs="+", default=None, help="default: all registered")
    parser.add_argument("--picks", type=int, default=None, help="override the number of picks of every size")
    parser.add_argument("--naive-cap", type=float, default=60.0, help="seconds for the naive baseline (0: skip)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"], help="input dtype")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.strategies = args.strategies or list_strategies()
    unknown = sorted(set(args.strategies) - set(list_strategies()))
    if unknown:
        raise SystemExit(f"unknown strategies {unknown}; valid: {', '.join(list_strategies())}")
    if args.naive_cap > 0 and "pcoreset" not in args.strategies:
        args.strategies.append("pcoreset")
    device = torch.device(args.device)
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} CPU threads"
        + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""),
        flush=True,
    )
    results = []
    for text in args.sizes:
        size = parse_size(text)
        if args.picks is not None:
            size = Size(size.name, size.pool, size.classes, size.dim, size.labeled, args.picks)
        results.append(run_size(size, args, device))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
