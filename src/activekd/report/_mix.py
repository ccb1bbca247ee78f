"""The head-mix table: the ``(α, β)`` each group's last students predicted with, where it came from, and what pure KD
and the selection's fixed mix would have scored.

Read from the last trained round of each run: the test accuracy of the chosen mix, of the KD head alone and of the
fixed mix selection used, and the mix itself (α, β, where it came from, on how many labels). Runs written before the
mix was recorded show ``—``.
"""

from __future__ import annotations

from activekd.round_result import RoundResult

from . import _format as fmt
from . import _html as h
from ._groups import Group, mean_std
from ._runs import Figure, student_accuracy

NOTE = ("α weights the KD head: p = (1-α)·softmax(CE) + α·softmax(KD/β) (erjui/DHO's α weights the CE head). From: prior = "
        "pure KD until 2 out-of-sample labels per class; picks N = chosen on N labeled picks, each scored by the student "
        "that picked it (another mix only on a gain beyond one standard error); val N = DHO's search on N validation "
        "labels; fixed = --alpha/--beta. Selection always uses --alpha/--beta.")


def _mix(r: RoundResult) -> str:
    m = r.mix
    if m is None or m.source is None:
        return fmt.DASH
    n = m.counted()
    return f"{m.alpha:.2f}/{m.beta:.2f} ({m.source}{'' if n is None else f' {n}'})"


def _pm(g: Group, figure: Figure) -> str:
    vals = [float(figure(r.last)) for r in g.runs if r.last and figure(r.last) is not None]
    return fmt.pct_pm(mean_std(vals) if vals else None, len(vals))


def mix_rows(groups: list[Group]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per group; no rows when no run recorded its mix."""
    rows = []
    for g in groups:
        if not any(r.last and r.last.mix and r.last.mix.source for r in g.runs):
            continue
        sel = [r.last.selection_mix for r in g.runs if r.last and r.last.selection_mix.alpha is not None]
        fixed = sorted({f"{s.alpha:.2f}/{s.beta:.2f}" for s in sel})
        rows.append([g.name, "; ".join(_mix(r.last) for r in g.runs if r.last), _pm(g, student_accuracy), _pm(g, lambda r: r.test.kd),
                     ", ".join(fixed) or fmt.DASH, _pm(g, lambda r: r.test.select)])
    return ["group", "last round's mix per seed", "chosen mix %", "KD head %", "selection's mix", "selection's mix %"], rows


def mix_section(groups: list[Group]) -> str:
    """The report's section, or ``""`` when no run recorded its mix."""
    header, rows = mix_rows(groups)
    return h.section("Head mix", h.table(header, rows), h.para(NOTE)) if rows else ""
