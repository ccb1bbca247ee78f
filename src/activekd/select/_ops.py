"""Numeric helpers shared by the selection strategies (chunking, exact distances, sampling).

Two ideas keep every strategy *exact* and *reproducible* without giving up speed:

* ``fixed_order_sum`` reduces each row by a fixed pairwise tree, so the float64 value of a
  row sum depends only on that row, never on the batch it is computed in, the chunk size or
  the device. Two identical points therefore always get bit-identical distances, and ties
  resolve by position exactly as a brute-force implementation would.
* Fast matrix-product distances (``|x|^2 + |c|^2 - 2 x.c``, float32 or float64) are only ever
  used as a *filter*: with the rigorous error bound of ``sq_dist_error_bound`` they decide which
  rows can possibly change, and those rows are then computed exactly.
"""

from __future__ import annotations

from typing import Iterator, Optional

import torch
from torch import Tensor

from activekd.errors import InputError

_UNIT_ROUNDOFF = 2.0**-53  # float64
_CPU_CHUNK_ELEMS = 1 << 20  # elements per chunk: 8 MB of float64
_GPU_CHUNK_ELEMS = 1 << 26  # ~512 MB of float64: few kernel launches per pass


def chunk_rows(width: int, device: torch.device | str, chunk_elems: Optional[int] = None) -> int:
    """Rows per chunk so that a ``[rows, width]`` block holds about ``chunk_elems`` elements.

    Chunks bound the temporaries of one-off passes over the pool (8 MB of float64 on CPU,
    512 MB on GPU), yet keep the number of ops per pass small.
    """
    if chunk_elems is None:
        chunk_elems = _GPU_CHUNK_ELEMS if torch.device(device).type != "cpu" else _CPU_CHUNK_ELEMS
    return max(1, chunk_elems // max(1, width))


_SERIAL_ELEMS = 32768  # at::internal::GRAIN_SIZE: CPU ops on fewer elements run on one thread


def serial_chunks(n: int, device: torch.device | str) -> list[tuple[int, int]]:
    """Ranges for the O(n) vector work done once per pick.

    On CPU, pieces of at most ``GRAIN_SIZE`` elements, which PyTorch runs on the calling
    thread: a greedy loop issues thousands of tiny vector ops, and a fork/join across threads for
    each of them costs more than the op itself (much more on a shared, oversubscribed machine).
    On other devices, one piece.
    """
    if torch.device(device).type != "cpu":
        return [(0, n)]
    return list(row_chunks(n, _SERIAL_ELEMS))


def argmax_first(x: Tensor, pieces: list[tuple[int, int]]) -> int:
    """Position of the first maximum of ``x`` ``[n]`` (the lowest position among ties), by pieces."""
    if len(pieces) == 1:
        return int(torch.argmax(x))
    best, where = None, 0
    for a, b in pieces:
        value, idx = torch.max(x[a:b], dim=0)  # first maximal value within the piece
        value = float(value)
        if best is None or value > best:
            best, where = value, a + int(idx)
    return where


def check_budget(budget: int, n: int) -> None:
    """Refuse a ``budget`` outside ``[0, n]`` (``n`` candidate points)."""
    if not 0 <= budget <= n:
        raise InputError(f"budget {budget} must be between 0 and the number of points ({n})")


def check_finite(x: Tensor, what: str, rows: Optional[int] = None) -> None:
    """Raise ``ValueError`` if ``x`` ``[n, ...]`` holds NaN or inf (checked in row chunks: O(chunk) memory)."""
    if x.numel() == 0:
        return
    if rows is None:
        rows = chunk_rows(max(1, x[0].numel()), x.device)
    for a, b in row_chunks(x.shape[0], rows):
        if not bool(torch.isfinite(x[a:b]).all()):
            raise InputError(f"{what} must be finite (found NaN or inf)")


def row_chunks(n: int, rows: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` pairs covering ``range(n)`` in blocks of ``rows``."""
    for start in range(0, n, rows):
        yield start, min(n, start + rows)


def fixed_order_sum(x: Tensor) -> Tensor:
    """Row sums of ``x`` ``[P, D]`` by a fixed pairwise tree (``[P]``, same dtype).

    The summation order depends only on ``D``: row ``i``'s result is a function of row ``i``
    alone (bit for bit, on any device, for any ``P``). ``torch.sum`` gives no such promise
    (its reduction order may depend on the shape and the thread count).
    """
    if x.dim() != 2:
        raise InputError(f"expected a [P, D] tensor, got shape {tuple(x.shape)}")
    width = x.shape[1]
    if width == 0:
        return x.new_zeros(x.shape[0])
    half = (1 << (width - 1).bit_length()) // 2  # fold to a power of two: as if zero-padded
    if 2 * half != width and half > 0:
        folded = x[:, :half].clone()
        folded[:, : width - half] += x[:, half:]
        x, width = folded, half
    while width > 1:
        width //= 2
        x = x[:, :width] + x[:, width : 2 * width]
    return x[:, 0]


def sq_dist_exact(x: Tensor, c: Tensor) -> Tensor:
    """Squared L2 distance ``sum_k (x_k - c_k)^2`` in float64, row by row.

    Args:
        x: ``[P, D]`` rows.
        c: ``[D]`` (one centre for every row) or ``[P, D]`` (one centre per row).

    Returns:
        ``[P]`` float64. Identical inputs give identical outputs (see ``fixed_order_sum``);
        a point and its duplicate are at distance exactly 0.
    """
    diff = x.double() - c.double()
    return fixed_order_sum(diff * diff)


def sq_dist_error_bound(width: int, dtype: torch.dtype = torch.float64) -> float:
    """``kappa`` with ``|approx - exact| <= kappa * (|x|^2 + |c|^2)``.

    ``exact = sq_dist_exact(x, c)`` on the float64 rows; ``approx = |x|^2 + |c|^2 - 2<x', c'>``
    where ``x', c'`` are the rows rounded to ``dtype`` (float32 or float64), the inner product is
    evaluated in ``dtype`` with any summation order (BLAS, cuBLAS, but IEEE arithmetic: see
    ``ieee_matmul``) and the rest in float64. Standard bounds (Higham, *Accuracy and Stability of
    Numerical Algorithms*, 2002, Sec. 3.1) give, to first order,
    ``|err| <= ((D + 4) u_dtype + (4 D + 7) u_64) (|x|^2 + |c|^2)``; we use eight times the first
    term and twice the second.
    """
    unit = {torch.float64: _UNIT_ROUNDOFF, torch.float32: 2.0**-24}[dtype]
    return 8.0 * (width + 4) * unit + 8.0 * (width + 2) * _UNIT_ROUNDOFF


def ieee_matmul(device: torch.device | str) -> bool:
    """Whether float32 matrix products on ``device`` are plain IEEE float32 (no TF32 / bf16 modes).

    Error bounds for float32 products are only valid then; callers fall back to float64 otherwise.
    """
    if torch.get_float32_matmul_precision() != "highest":
        return False
    backend = torch.backends.cuda.matmul if torch.device(device).type == "cuda" else torch.backends.mkldnn.matmul
    if torch.device(device).type == "cuda" and torch.backends.cuda.matmul.allow_tf32:
        return False
    return getattr(backend, "fp32_precision", "none") in ("none", "ieee")


def top_scores(scores: Tensor, budget: int) -> Tensor:
    """Positions of the ``budget`` highest scores, best first; ties break by the lowest position.

    Args:
        scores: ``[n]`` scores (any float dtype).
        budget: number of positions to return, ``<= n``.

    Returns:
        ``[budget]`` long, on the CPU.
    """
    order = torch.argsort(-scores.double(), stable=True)
    return order[:budget].cpu()


def sample_proportional(weights: Tensor, generator: torch.Generator) -> Optional[int]:
    """Draw one index with probability ``weights / weights.sum()`` (inverse-CDF sampling).

    Exactly one uniform number is drawn from ``generator`` per call, whatever the weights and
    on whatever device they live, so two implementations that feed the same weights draw the
    same index. An index with weight 0 is never returned.

    Args:
        weights: ``[n]`` non-negative float64 weights.
        generator: source of the single uniform draw.

    Returns:
        The drawn index, or ``None`` when every weight is 0.
    """
    u = float(torch.rand((), generator=generator, dtype=torch.float64, device=generator.device))
    cdf = torch.cumsum(weights.double(), 0)
    total = float(cdf[-1])
    if not total > 0.0:
        return None
    target = torch.tensor([u * total], dtype=torch.float64, device=cdf.device)
    idx = int(torch.searchsorted(cdf, target, right=True))
    if idx >= cdf.numel():  # u * total rounded up to the total: take the last positive weight
        idx = int(torch.nonzero(weights > 0).max())
    return idx
