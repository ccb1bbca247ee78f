"""Number formatting shared by the terminal table and the HTML page (accuracies are fractions, shown as %)."""

from __future__ import annotations

DASH = "—"


def pct(x: float | None, digits: int = 2) -> str:
    return DASH if x is None else f"{100 * x:.{digits}f}"


def pct_pm(pair: tuple[float, float] | None, n: int, digits: int = 2) -> str:
    """``"82.41 ± 0.57"`` (the ± only when there are several seeds)."""
    if pair is None:
        return DASH
    return f"{100 * pair[0]:.{digits}f} ± {100 * pair[1]:.{digits}f}" if n > 1 else pct(pair[0], digits)


def rank(x: float | None) -> str:
    return DASH if x is None else f"{x:.2f}".rstrip("0").rstrip(".")


def seconds(x: float | None) -> str:
    return DASH if x is None else f"{x:.1f}"


def seeds(values) -> str:
    return ",".join("?" if s is None else str(s) for s in values)


def label_range(rng: tuple[float, float] | None) -> str:
    return "" if rng is None else f"{rng[0]:.0f}–{rng[1]:.0f}"


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned, two spaces apart."""
    cols = [header] + rows
    widths = [max(len(r[i]) for r in cols) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])
