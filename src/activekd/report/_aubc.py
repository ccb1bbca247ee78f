"""Area under the budget curve (AUBC): one number for a whole accuracy-against-labels curve.

AUBC = (1 / (b − a)) · ∫ₐᵇ acc(n) dn, the trapezoidal area under accuracy against the number of
labels n, divided by the label range so that it reads as an average accuracy (in [0, 1] for
accuracies in [0, 1]). Zhan et al., "A Comparative Survey of Deep Active Learning" (2022,
arXiv 2203.13450) rank strategies by it. Curves are compared over a common range [a, b]; the curve is
linearly interpolated at a and b when they fall between measured label counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise


def interpolate(curve: Sequence[tuple[float, float]], x: float) -> float:
    """The piecewise-linear curve's value at ``x`` (``x`` within the curve's label range)."""
    pts = sorted(curve)
    if not pts or not pts[0][0] <= x <= pts[-1][0]:
        raise ValueError(f"{x} is outside the curve's label range")
    for (x0, y0), (x1, y1) in pairwise(pts):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[0][1]


def aubc(curve: Sequence[tuple[float, float]], lo: float | None = None, hi: float | None = None) -> float:
    """Normalised area under ``curve`` (``(labels, accuracy)`` points) between ``lo`` and ``hi`` (default: its own range).

    A single point (or ``lo == hi``) gives the accuracy there. Raises ``ValueError`` for an empty curve or a
    range outside the curve.
    """
    pts = sorted((float(x), float(y)) for x, y in curve)
    if not pts:
        raise ValueError("aubc of an empty curve")
    lo = pts[0][0] if lo is None else float(lo)
    hi = pts[-1][0] if hi is None else float(hi)
    if hi < lo:
        raise ValueError(f"empty label range [{lo}, {hi}]")
    if hi == lo:
        return interpolate(pts, lo)
    inside = [(lo, interpolate(pts, lo))] + [p for p in pts if lo < p[0] < hi] + [(hi, interpolate(pts, hi))]
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in pairwise(inside))
    return area / (hi - lo)


def common_range(curves: Sequence[Sequence[tuple[float, float]]]) -> tuple[float, float] | None:
    """The label range every non-empty curve covers, ``(max of starts, min of ends)``; ``None`` when they do not overlap."""
    spans = [(min(x for x, _ in c), max(x for x, _ in c)) for c in curves if c]
    if not spans:
        return None
    lo, hi = max(s for s, _ in spans), min(e for _, e in spans)
    return (lo, hi) if lo <= hi else None
