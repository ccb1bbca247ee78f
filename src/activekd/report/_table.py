"""``activekd compare``: the report's comparison as plain-text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import _format as fmt
from ._eval_on import eval_on_lines
from ._headtohead import FROM_ROUND
from ._runs import load_runs
from ._summary import Comparison, compare


def summary_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-group summary (shared with the HTML page)."""
    header = ["group", "seeds", "labels", "final acc %", f"AUBC {fmt.label_range(c.aubc_range)} %".replace("  ", " "),
              "mean rank", "teacher %", "advice"]
    rows = [[s.name, fmt.seeds(s.seeds), _labels(s), fmt.pct_pm(s.final, len(s.seeds)),
             fmt.pct_pm(s.aubc, len(s.seeds)), fmt.rank(s.mean_rank), fmt.pct(s.teacher), s.advice_counts()] for s in c.rows]
    return header, rows


def _labels(s) -> str:
    """The labels the group's runs hold (the store's count), and how many the last trained round used when fewer."""
    if s.labels is None:
        return fmt.DASH
    return str(s.labels) if s.trained is None or s.trained == s.labels else f"{s.labels} ({s.trained} trained)"


def rank_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header (label counts) and rows: each group's mean accuracy and, in brackets, its rank at that count."""
    t = c.ranks
    rows = [[name] + [f"{100 * t.accuracy[name][n]:.1f} ({fmt.rank(t.ranks[name][n])})" if n in t.accuracy[name] else fmt.DASH
                      for n in t.labels] for name in t.accuracy]
    return ["labels →"] + [str(n) for n in t.labels], rows


def headtohead_rows(c: Comparison) -> tuple[list[str], list[list[str]]]:
    """Per group: the (seed, round) cells in which it was first or tied (shared with the HTML page)."""
    rows = [[name, f"{w.first}/{w.cells}", fmt.pct(w.fraction, 0)] for name, w in c.wins.items()]
    return ["group", f"first or tied (seed, round ≥ {FROM_ROUND})", "%"], rows


def catchup_lines(c: Comparison) -> list[str]:
    """One sentence per (plain labeling, group with a teacher) pair."""
    out = []
    for k in c.catchups:
        reach = (f"at {k.needs:.0f} labels ({k.needs / k.at_labels:.1f}× as many)" if k.needs is not None
                 else f"not within its {k.plain_max} labels")
        out.append(f"{k.plain} reaches {k.group}'s {fmt.pct(k.target)}% (at {k.at_labels} labels) {reach}")
    return out


def advice_lines(c: Comparison) -> list[str]:
    return [f"{r.name}: {a['decision']} — {a['reason']}" for g, s in zip(c.groups, c.rows) for r, a in zip(g.runs, s.advice)]


def compare_table(runs: Sequence[Path]) -> str:
    """The comparison of ``runs`` (run folders or results.json files) as text: summary, accuracy and rank by labels, advice."""
    c = compare(load_runs(runs))
    parts = [("runs grouped by configuration without the seed; ± is the std over seeds; AUBC is the area under accuracy "
              "against labels over the range every run covers, divided by that range"), "", fmt.text_table(*summary_rows(c))]
    if c.ranks.labels:
        parts += ["", "accuracy % by labels (mean over seeds), rank in brackets (1 = best)", fmt.text_table(*rank_rows(c))]
    if len(c.groups) > 1 and any(w.cells for w in c.wins.values()):
        parts += ["", "head to head: seed by seed, the groups' runs compared at each round", fmt.text_table(*headtohead_rows(c))]
    if c.catchups:
        parts += ["", "labels plain labeling (no teacher) needs to match each group's final accuracy"] + catchup_lines(c)
    parts += eval_on_lines(c.groups)
    parts += ["", "stopping advice"] + advice_lines(c)
    return "\n".join(parts)
