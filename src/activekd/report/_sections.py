"""The sections of the HTML report, each a function of the :class:`Comparison` returning HTML.

Sections that draw figures add their PNG bytes to ``figs`` (file name → bytes); the page inlines the same bytes.
"""

from __future__ import annotations

import json
import re

from activekd.round_result import Agreement, key_of

from . import _format as fmt
from . import _html as h
from ._figures import accuracy_figure, heatmap_figure, time_figure
from ._groups import Group, flatten
from ._runs import Figure
from ._summary import Comparison
from ._table import catchup_lines, headtohead_rows, rank_rows, summary_rows


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "group"


def _add(figs: dict[str, bytes], name: str, png: bytes, alt: str, caption: str = "") -> str:
    figs[name] = png
    return h.image(png, alt, caption)


def summary_section(c: Comparison) -> str:
    header, rows = summary_rows(c)
    best_final = max((s.final[0] for s in c.rows if s.final), default=None)
    best_aubc = max((s.aubc[0] for s in c.rows if s.aubc), default=None)
    classes = [["", "", "", "best" if s.final and s.final[0] == best_final and len(c.rows) > 1 else "",
                "best" if s.aubc and s.aubc[0] == best_aubc and len(c.rows) > 1 else "", "", "",
                "stop" if "stop" in r[-1] else "continue" if r[-1].startswith("continue") else ""] for s, r in zip(c.rows, rows)]
    note = ("Runs that differ only in their seed form a group; ± is the sample std over seeds. Labels: what the runs hold now "
            "(their store's count), in brackets what the last trained round trained on when fewer. Final accuracy is the last "
            "trained round's student on the test split. AUBC = area under accuracy against labels divided by the label range, "
            f"over the range every run covers ({fmt.label_range(c.aubc_range) or 'none'} labels). Mean rank: over the label "
            "counts every group was measured at.")
    return h.section("Summary", h.table(header, rows, classes), h.para(note))


def accuracy_section(c: Comparison, figs: dict[str, bytes]) -> str:
    if not any(g.curve() for g in c.groups):
        return h.section("Accuracy against labels", h.para("No run has test accuracy (no labeled test split)."))
    png = accuracy_figure(c.groups)
    cap = "Mean over seeds (line) ± one std (band); dashed: the teacher's test accuracy."
    return h.section("Accuracy against labels", _add(figs, "accuracy.png", png, "test accuracy against labels", cap))


def ranks_section(c: Comparison) -> str:
    if not c.ranks.labels:
        return ""
    header, rows = rank_rows(c)
    classes = [[""] + ["best" if c.ranks.ranks[name].get(n) == 1 else "" for n in c.ranks.labels] for name in c.ranks.accuracy]
    return h.section("Rank per round", h.table(header, rows, classes),
                     h.para("Mean test accuracy % over seeds at each label count; in brackets the group's rank (1 = best, ties share)."))


def headtohead_section(c: Comparison) -> str:
    """Seed-by-seed wins, and the labels plain labeling needs to match the groups with a teacher."""
    parts = []
    if len(c.groups) > 1 and any(w.cells for w in c.wins.values()):
        header, rows = headtohead_rows(c)
        most = max(w.first for w in c.wins.values())
        classes = [["", "best" if c.wins[r[0]].first == most else "", ""] for r in rows]
        parts += [h.table(header, rows, classes),
                  h.para("A cell is one seed at one round: the groups' runs with that seed are compared there, and every group "
                         "with the best accuracy is first (ties count for each). Rounds 0-2 are left out: round 0 trains on the "
                         "same seeded initial labels everywhere. Only cells every group has are counted.")]
    if c.catchups:
        parts += [h.para(line) for line in catchup_lines(c)]
        parts.append(h.para("Plain labeling: a group trained without a teacher (kd none). Labels are read off its mean curve, "
                            "linearly interpolated between rounds."))
    return h.section("Head to head", "".join(parts)) if parts else ""


def _last(g: Group, figure: Figure) -> list:
    return [figure(r.last) for r in g.runs if r.last is not None and figure(r.last) is not None]


def _per_class(r):
    return r.per_class.accuracy


def _confusion(r):
    return r.per_class.confusion


def classes_section(c: Comparison, figs: dict[str, bytes]) -> str:
    """Per-class accuracy (groups × classes) and each group's confusion matrix, from the last trained students."""
    parts = []
    with_pc = [g for g in c.groups if _last(g, _per_class)]
    by_names: dict[tuple, list[Group]] = {}
    for g in with_pc:
        by_names.setdefault(tuple(_class_names(g)), []).append(g)
    for k, (names, gs) in enumerate(by_names.items()):
        matrix = [[sum(col) / len(col) for col in zip(*_last(g, _per_class))] for g in gs]
        png = heatmap_figure(matrix, [g.name for g in gs], list(names), "per-class test accuracy (%) of the last student",
                             xlabel="class")
        parts.append(_add(figs, f"per_class{'' if k == 0 else k}.png", png, "per-class accuracy", "Mean over seeds."))
    grid = []
    for i, g in enumerate(c.groups):
        mats = _last(g, _confusion)
        if mats:
            total = [[sum(v) for v in zip(*rows)] for rows in zip(*mats)]
            norm = [[v / s if (s := sum(row)) else None for v in row] for row in total]
            names = _class_names(g)
            png = heatmap_figure(norm, names, names, f"confusion, {g.name}", xlabel="predicted", ylabel="true", cell=0.36)
            grid.append(_add(figs, f"confusion_{i:02d}_{_slug(g.name)}.png", png, f"confusion matrix {g.name}",
                             f"{g.name}: rows = true class, % of the row (counts summed over {len(mats)} seed(s))."))
    if grid:
        parts.append(f'<div class="grid">{"".join(grid)}</div>')
    if not parts:
        parts.append(h.para("These runs recorded no per-class accuracy or confusion matrix (older runs, or no test split)."))
    return h.section("Per class: the last student", *parts)


def _class_names(g: Group) -> list[str]:
    names = g.runs[0].class_names
    c = len((_last(g, _per_class) or _last(g, _confusion) or [[]])[0])
    return names if len(names) == c else [str(i) for i in range(c)]


def agreement_section(c: Comparison, figs: dict[str, bytes]) -> str:
    parts = []
    for signal, ylabel, caption in (
            ("pool", "agreement with previous round (%)",
             "Fraction of the unlabeled pool on which the student predicts the same class as the previous round's student."),
            ("teacher", "student–teacher agreement (%)",
             "Fraction of the unlabeled pool on which the student predicts the teacher's class.")):
        def figure(r, signal=signal):
            return getattr(r.agreement, signal)

        if any(g.curve(figure) for g in c.groups):
            png = accuracy_figure(c.groups, figure, ylabel, teachers=False, size=(5.6, 3.8))
            parts.append(_add(figs, f"{key_of(Agreement, signal)}.png", png, ylabel, caption))
    if not parts:
        return ""
    return h.section("Agreement (stopping without test labels)", f'<div class="grid">{"".join(parts)}</div>')


def time_section(c: Comparison, figs: dict[str, bytes]) -> str:
    secs = [s.seconds for s in c.rows]
    phases = list(dict.fromkeys(k for s in secs for k in s))
    if not phases:
        return h.section("Time per phase", h.para("These runs recorded no timings."))
    rows = [[s.name] + [fmt.seconds(s.seconds.get(p)) for p in phases] + [fmt.seconds(sum(s.seconds.values()))] for s in c.rows]
    png = time_figure([s.name for s in c.rows], secs)
    return h.section("Time per phase", _add(figs, "time.png", png, "seconds per phase"),
                     h.table(["group"] + [f"{p} s" for p in phases] + ["total s"], rows),
                     h.para("Seconds per run summed over its rounds, mean over the group's seeds."))


def advice_section(c: Comparison) -> str:
    rows, classes = [], []
    for g, s in zip(c.groups, c.rows):
        for r, a in zip(g.runs, s.advice):
            rows.append([r.name, g.name, a["decision"], a["criterion"], a["reason"]])
            classes.append(["", "", a["decision"], "", "wrap"])
    return h.section("Stopping advice", h.table(["run", "group", "advice", "criterion", "reason"], rows, classes),
                     h.para("With test accuracy: the slope of the last rounds' accuracy against labels (Laws & Schütze 2008). "
                            "Without: stabilising predictions on the unlabeled pool (Bloodgood & Vijay-Shanker 2009). "
                            "Thresholds: activekd.report._advice."))


def config_section(c: Comparison) -> str:
    runs = [r for g in c.groups for r in g.runs]
    flat = [flatten(r.config) for r in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    same = [k for k in keys if len({json.dumps(f.get(k)) for f in flat}) == 1]
    differ = [k for k in keys if k not in same]
    gname = {id(r): g.name for g in c.groups for r in g.runs}
    rows = [[r.name, gname[id(r)], "yes" if r.complete else "no", str(len(r.rounds))] + [_v(f.get(k)) for k in differ]
            for r, f in zip(runs, flat)]
    parts = [h.table(["run", "group", "complete", "rounds"] + differ, rows),
             h.collapsed(f"settings shared by every run ({len(same)})",
                         h.table(["setting", "value"], [[k, _v(flat[0].get(k))] for k in same]))]
    parts += [h.details(f"{r.name}: full configuration ({r.path})", r.config) for r in runs]
    return h.section("Configuration", *parts)


def _v(x) -> str:
    return fmt.DASH if x is None else x if isinstance(x, str) else json.dumps(x)
