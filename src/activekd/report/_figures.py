"""The report's figures as PNG bytes, drawn with matplotlib's Agg canvas (imported only when a figure is drawn).

Figures are built from ``matplotlib.figure.Figure`` directly, never through ``pyplot``: no global state, no
interactive backend, nothing left open.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from ._groups import Group, mean_curve
from ._runs import Figure, student_accuracy, teacher_accuracy

DPI = 100


def _figure(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=DPI, layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


TEACHER_SAME = 0.005
"""Groups whose mean teacher accuracies differ by less than this (half a point) at every label count share one line."""


def teacher_lines(groups: Sequence[Group]) -> list[tuple[str, int | None, list[tuple[int, float]]]]:
    """``(label, group index or None, (labels, mean teacher accuracy) points)`` per teacher line to draw.

    One line per teacher when every group taught by it sees the same accuracy (a fixed teacher; seeds averaged),
    else one line per group (a few-shot teacher refitted on each run's own labels).
    """
    by_teacher: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        if g.curve(teacher_accuracy):
            by_teacher.setdefault(_teacher_name(g), []).append(i)
    lines = []
    for name, idx in by_teacher.items():
        curves = {i: {p.labels: p.mean for p in groups[i].curve(teacher_accuracy)} for i in idx}
        shared = set.intersection(*(set(c) for c in curves.values()))
        if all(max(c[x] for c in curves.values()) - min(c[x] for c in curves.values()) < TEACHER_SAME for x in shared):
            pooled = [p for p in mean_curve([r.curve(teacher_accuracy) for i in idx for r in groups[i].runs])]
            lines.append((f"teacher ({name})", None, [(p.labels, p.mean) for p in pooled]))
        else:
            lines += [(f"teacher ({name}) · {groups[i].name}", i, sorted(curves[i].items())) for i in idx]
    return lines


def _teacher_name(g: Group) -> str:
    r = g.runs[0]
    few = (r.config.get("teacher") or {}).get("few_shot")
    return (r.teacher or (r.config.get("teacher") or {}).get("spec") or "?") + (f" + {few}" if few and few != "none" else "")


def accuracy_figure(groups: Sequence[Group], figure: Figure = student_accuracy, ylabel: str = "test accuracy (%)",
                    teachers: bool = True, size: tuple[float, float] = (9, 5.2)) -> bytes:
    """``figure`` against labels per group: the mean line with a ± std band over seeds; teacher accuracy dashed."""
    fig = _figure(*size)
    ax = fig.add_subplot()
    starts, ends, colors = [], [], _colors(len(groups))
    for g, color in zip(groups, colors):
        pts = g.curve(figure)
        if not pts:
            continue
        x, m, s = [p.labels for p in pts], [100 * p.mean for p in pts], [100 * p.std for p in pts]
        ax.plot(x, m, marker="o", ms=3, color=color, label=f"{g.name} (n={len(g.runs)})")
        if len(g.runs) > 1:
            ax.fill_between(x, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)], color=color, alpha=0.18, lw=0)
        starts.append(x[0])
        ends.append(x[-1])
    for label, i, c in teacher_lines(groups) if teachers else []:
        ys = [100 * y for _, y in c]
        if i is None and max(ys) - min(ys) < 100 * TEACHER_SAME:  # a fixed teacher: one level across the whole plot
            ax.axhline(sum(ys) / len(ys), ls="--", color="0.25", lw=1.2, label=label)
        else:
            ax.plot([x for x, _ in c], ys, ls="--", color="0.25" if i is None else colors[i], lw=1.2, label=label)
    if ends and max(ends) > 3 * min(ends) and max(ends) >= 50 * max(1, min(starts)):
        from matplotlib.ticker import ScalarFormatter

        ax.set_xscale("log")  # runs end at very different budgets (e.g. the 1,000-label baseline beside 110-label runs)
        ax.xaxis.set_major_formatter(ScalarFormatter())
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.set_xlabel("labels")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def heatmap_figure(matrix: list[list[float | None]], rows: list[str], cols: list[str], title: str, *,
                   xlabel: str = "", ylabel: str = "", fmt: str = "{:.0f}", cell: float = 0.55) -> bytes:
    """A ``[len(rows), len(cols)]`` matrix of percentages (``None`` blank) as a heatmap, annotated up to 20 columns;
    ``cell`` is a column's width in inches."""
    import numpy as np

    a = np.array([[np.nan if v is None else 100 * v for v in r] for r in matrix], dtype=float)
    fig = _figure(min(11.0, max(4.5, cell * len(cols) + 2.6)), min(11.0, max(2.2, 0.8 * cell * len(rows) + 1.9)))
    ax = fig.add_subplot()
    im = ax.imshow(a, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    if len(cols) <= 20:
        for (i, j), v in np.ndenumerate(a):
            if not np.isnan(v):
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9 if len(cols) <= 10 else 7,
                        color="white" if v < 60 else "black")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.colorbar(im, ax=ax, shrink=0.8, label="%")
    return _png(fig)


def time_figure(names: list[str], seconds: list[dict[str, float]]) -> bytes:
    """Mean seconds per run, stacked by phase, one horizontal bar per group."""
    phases = list(dict.fromkeys(k for s in seconds for k in s))
    fig = _figure(9, max(2.0, 0.4 * len(names) + 1.4))
    ax = fig.add_subplot()
    left = [0.0] * len(names)
    for phase, color in zip(phases, _colors(len(phases))):
        w = [s.get(phase, 0.0) for s in seconds]
        ax.barh(range(len(names)), w, left=left, color=color, label=phase)
        left = [a + b for a, b in zip(left, w)]
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per run (mean over seeds), all rounds")
    if phases:
        ax.legend(fontsize=8, ncols=min(len(phases), 8), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _png(fig)
