"""The one interface every selection strategy shares.

A strategy is a pure function ``fn(inputs, budget, *, generator, device) -> LongTensor`` that
returns ``budget`` distinct *positions* into the pool (``inputs.pool_ids``), in pick order.
It never runs a model, prints, does I/O or touches the global RNG. ``select`` maps positions to
ids and checks the contract. What a strategy reads is declared where it is registered
(:class:`StrategyNeeds`) and read through :func:`strategy_info`, by ``select`` and by the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor

from activekd.errors import InputError
from activekd.heads import mix_heads
from activekd.registry import Registry

from ._ops import chunk_rows, row_chunks


@dataclass(frozen=True)
class SelectionInputs:
    """Outputs of the current student on the pool and on the labeled set.

    Shapes: ``n`` pool points, ``m`` labeled points, ``C`` classes, ``d`` feature dims.
    All tensors may live on any device; strategies move what they need to ``device``.
    """

    pool_ids: Sequence[str]
    pool_ce: Tensor  # [n, C]
    pool_kd: Tensor  # [n, C]
    pool_features: Tensor  # [n, d]
    labeled_ids: Sequence[str]
    labeled_ce: Tensor  # [m, C]
    labeled_kd: Tensor  # [m, C]
    labeled_features: Tensor  # [m, d]
    labeled_labels: Tensor  # [m] long
    alpha: float = 0.5
    beta: float = 1.0
    pool_teacher: Optional[Tensor] = None  # [n, C] teacher logits, for teacher-aware strategies
    given_probs: bool = False  # the *_ce fields hold probabilities already (``from_arrays``); the head mix is skipped

    def __post_init__(self) -> None:
        """NumPy arrays (or lists) are accepted anywhere a tensor is: converted once, without a copy where possible."""
        for name in ("pool_ce", "pool_kd", "pool_features", "labeled_ce", "labeled_kd", "labeled_features", "labeled_labels",
                     "pool_teacher"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Tensor):
                object.__setattr__(self, name, torch.as_tensor(np.asarray(v)))

    @classmethod
    def from_arrays(cls, *, probs, labeled_probs=None, features=None, labeled_features=None, labels=None, teacher_logits=None,
                    pool_ids: Optional[Sequence] = None, labeled_ids: Optional[Sequence] = None) -> "SelectionInputs":
        """Inputs from plain arrays (NumPy or torch): the pool's class probabilities ``probs`` ``[n, C]`` instead of two heads.

        Only what a strategy reads is needed: ``features`` ``[n, d]`` for coreset, BADGE and TypiClust, ``labels`` ``[m]``
        for class-balanced, ``teacher_logits`` ``[n, C]`` for disagreement. Ids default to positions ``0..n-1``
        (labeled: ``-1..-m``).
        """
        p = torch.as_tensor(np.asarray(probs))
        n, c = p.shape if p.dim() == 2 else (len(p), -1)
        lp = torch.as_tensor(np.asarray(labeled_probs)) if labeled_probs is not None else torch.empty(0, max(c, 0))
        m = int(lp.shape[0])
        f = torch.as_tensor(np.asarray(features)) if features is not None else torch.empty(n, 0)
        lf = torch.as_tensor(np.asarray(labeled_features)) if labeled_features is not None else torch.empty(m, f.shape[1])
        y = torch.as_tensor(np.asarray(labels)).long() if labels is not None else torch.full((m,), -1, dtype=torch.long)
        return cls(list(range(n)) if pool_ids is None else list(pool_ids), p, p, f,
                   [-(i + 1) for i in range(m)] if labeled_ids is None else list(labeled_ids), lp, lp, lf, y,
                   pool_teacher=None if teacher_logits is None else torch.as_tensor(np.asarray(teacher_logits)), given_probs=True)

    def validate(self) -> None:
        """Raise ``ValueError`` for inconsistent shapes or ids shared by the pool and labeled set."""
        n, m = len(self.pool_ids), len(self.labeled_ids)

        def check(name: str, t: Tensor, rows: int, cols: Optional[int] = None) -> None:
            if rows == 0 and t.numel() == 0:  # an empty labeled set may come as any empty tensor
                return
            if t.dim() != 2 or t.shape[0] != rows or (cols is not None and t.shape[1] != cols):
                want = f"[{rows}, {cols if cols is not None else 'd'}]"
                raise InputError(f"SelectionInputs.{name} has shape {tuple(t.shape)}, expected {want}")

        c = int(self.pool_ce.shape[1]) if self.pool_ce.dim() == 2 else -1
        check("pool_ce", self.pool_ce, n)
        check("pool_kd", self.pool_kd, n, c)
        check("pool_features", self.pool_features, n)
        d = int(self.pool_features.shape[1])
        check("labeled_ce", self.labeled_ce, m, c)
        check("labeled_kd", self.labeled_kd, m, c)
        check("labeled_features", self.labeled_features, m, d)
        if self.labeled_labels.shape != (m,) and not (m == 0 and self.labeled_labels.numel() == 0):
            raise InputError(f"SelectionInputs.labeled_labels has shape {tuple(self.labeled_labels.shape)}, expected [{m}]")
        if self.pool_teacher is not None:
            check("pool_teacher", self.pool_teacher, n, c)
        pool = set(self.pool_ids)
        if len(pool) != n:
            raise InputError("SelectionInputs.pool_ids contains duplicate ids")
        shared = pool.intersection(self.labeled_ids)
        if shared:
            raise InputError(f"{len(shared)} ids are both in the pool and labeled, e.g. {sorted(shared)[0]!r}")

    @property
    def num_pool(self) -> int:
        return len(self.pool_ids)

    @property
    def num_classes(self) -> int:
        return int(self.pool_ce.shape[1])

    def iter_pool_probs(
        self, device: torch.device | str = "cpu", rows: Optional[int] = None
    ) -> Iterator[tuple[int, int, Tensor]]:
        """Yield ``(start, stop, p)`` with ``p`` the ``[stop - start, C]`` mixed probabilities.

        Lets score-based strategies work in O(rows * C) extra memory instead of O(n * C).
        """
        n = self.num_pool
        if rows is None:
            rows = chunk_rows(self.num_classes, device)
        for start, stop in row_chunks(n, rows):
            ce = self.pool_ce[start:stop].to(device)
            if self.given_probs:
                yield start, stop, ce.float()
                continue
            kd = self.pool_kd[start:stop].to(device)
            yield start, stop, mix_heads(ce, kd, self.alpha, self.beta)

    def pool_probs(self, device: torch.device | str = "cpu") -> Tensor:
        """``[n, C]`` float32 mixed probabilities of the pool (the DHO prediction rule).

        Computed in row chunks, so the peak extra memory is the result plus one chunk.
        """
        out = torch.empty(self.num_pool, self.num_classes, dtype=torch.float32, device=device)
        for start, stop, p in self.iter_pool_probs(device):
            out[start:stop] = p
        return out

    def labeled_probs(self, device: torch.device | str = "cpu") -> Tensor:
        """``[m, C]`` mixed probabilities of the labeled set."""
        m, c = len(self.labeled_ids), self.num_classes
        ce, kd = self.labeled_ce.reshape(m, c).to(device), self.labeled_kd.reshape(m, c).to(device)
        return ce.float() if self.given_probs else mix_heads(ce, kd, self.alpha, self.beta)

    def labeled_feature_matrix(self, device: torch.device | str = "cpu") -> Tensor:
        """``[m, d]`` labeled features on ``device`` (also for an empty labeled set of any shape)."""
        return self.labeled_features.reshape(len(self.labeled_ids), self.pool_features.shape[1]).to(device)


class StrategyFn(Protocol):
    def __call__(
        self, inputs: SelectionInputs, budget: int, *, generator: torch.Generator, device: torch.device
    ) -> Tensor: ...


@dataclass(frozen=True)
class StrategyNeeds:
    """What a strategy reads, declared where it is registered; ``select`` and the session act on it.

    Attributes:
        outputs: reads the student's outputs. ``False`` (``random``): the session skips the pool pass and hands zeros.
        features: reads ``pool_features`` ``[n, d]``; ``select`` refuses inputs without them (``d == 0``).
        teacher: reads ``pool_teacher`` ``[n, C]``; ``select`` refuses inputs without it, and a run without a
            teacher (``--kd none``) is refused before anything is trained.
        uncertain_picks: picks where the student is least sure, a sample biased towards its errors; the head-mix
            choice on its picks is stricter (:func:`activekd.train.choose_mix`).
    """

    outputs: bool = True
    features: bool = False
    teacher: bool = False
    uncertain_picks: bool = False


@dataclass(frozen=True)
class StrategyInfo:
    """A registered strategy: its ``name``, its function ``fn``, what it ``needs``, and ``benchmark``, its place in
    the offline benchmark's default grid (1 = first; ``None``: not in the grid; see :func:`benchmark_strategies`)."""

    name: str
    fn: StrategyFn
    needs: StrategyNeeds = StrategyNeeds()
    benchmark: int | None = None


STRATEGIES: Registry[StrategyInfo] = Registry("strategy")


def register_strategy(name: str, *, needs: StrategyNeeds = StrategyNeeds(),
                      benchmark: int | None = None) -> Callable[[StrategyFn], StrategyFn]:
    """Decorator: register a strategy function under ``name`` with what it ``needs`` (default: the student's
    outputs only) and its place in the benchmark's default grid (``benchmark``, default: not in it)."""

    def deco(fn: StrategyFn) -> StrategyFn:
        taken = [i.name for i in _infos() if benchmark is not None and i.benchmark == benchmark and i.name != name]
        if taken:
            raise ValueError(f"strategy {name!r}: benchmark place {benchmark} is already {taken[0]!r}'s")
        STRATEGIES.register(name)(StrategyInfo(name, fn, needs, benchmark))
        return fn

    return deco


def strategy_info(name: str) -> StrategyInfo:
    """The registration of strategy ``name``; an unknown name raises listing the valid ones."""
    return STRATEGIES.get(name)


def get_strategy(name: str) -> StrategyFn:
    """The strategy function registered as ``name``; an unknown name raises listing the valid ones."""
    return strategy_info(name).fn


def list_strategies() -> list[str]:
    """Every registered strategy's name, sorted."""
    return STRATEGIES.names()


def benchmark_strategies() -> list[str]:
    """The offline benchmark's default grid: the strategies registered with a ``benchmark`` place, in that order."""
    grid = [i for i in _infos() if i.benchmark is not None]
    return [i.name for i in sorted(grid, key=lambda i: i.benchmark)]


def _infos() -> list[StrategyInfo]:
    return [STRATEGIES.get(n) for n in STRATEGIES.names()]


def check_budget(inputs: SelectionInputs, budget: int) -> None:
    """Raise a clear error for a budget the pool cannot satisfy."""
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise InputError(f"budget must be a positive integer, got {budget!r}")
    if budget > inputs.num_pool:
        raise InputError(f"budget {budget} is larger than the unlabeled pool ({inputs.num_pool} images)")


def select(name: str, inputs: SelectionInputs | None = None, budget: int | None = None, *, generator: torch.Generator | None = None,
           seed: int | None = None, device: torch.device | str = "cpu", **arrays) -> list:
    """Run strategy ``name`` and return ``budget`` distinct pool ids in pick order.

    Give ``inputs``, or plain arrays by keyword (``probs=``, ``labeled_probs=``, ``features=``, ...: see
    :meth:`SelectionInputs.from_arrays`; ids are then pool positions). Randomness comes only from
    ``generator`` (or a fresh one seeded with ``seed``, default 0), so the same inputs and seed give the
    same ids. Raises ``UnknownNameError`` for an unknown name (listing the valid ones) and
    ``InputError`` for a budget the pool cannot satisfy, inconsistent inputs, or inputs without what the strategy
    needs (:class:`StrategyNeeds`: features, the teacher's logits).
    """
    info = strategy_info(name)
    if inputs is None:
        inputs = SelectionInputs.from_arrays(**arrays)
    elif arrays:
        raise InputError(f"give SelectionInputs or arrays, not both (got {', '.join(sorted(arrays))})")
    check_budget(inputs, budget)
    inputs.validate()
    _check_needs(info, inputs)
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else seed)
    pos = info.fn(inputs, budget, generator=generator, device=torch.device(device))
    pos = pos.detach().to("cpu", torch.long)
    if pos.numel() != budget or torch.unique(pos).numel() != budget:
        raise RuntimeError(f"strategy {name!r} returned {pos.numel()} positions, not {budget} distinct ones")
    return [inputs.pool_ids[i] for i in pos.tolist()]


def _check_needs(info: StrategyInfo, inputs: SelectionInputs) -> None:
    """Refuse ``inputs`` that lack what ``info`` declares it reads."""
    if info.needs.features and inputs.pool_features.shape[-1] == 0:
        raise InputError(f"strategy {info.name!r} needs the pool's features (features=[n, d])")
    if info.needs.teacher and inputs.pool_teacher is None:
        raise InputError(f"strategy {info.name!r} needs the teacher's logits on the pool (SelectionInputs.pool_teacher, "
                         "teacher_logits=[n, C]); it is None. Pass the teacher logits, or choose a strategy that does not "
                         "use the teacher.")
