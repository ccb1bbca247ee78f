"""The head-mix table: the ``(α, β)`` each group's last students predicted with, where it came from, and what pure KD
and the selection's fixed mix would have scored.

Read from the last trained round of each run: ``student_acc`` (the chosen mix), ``kd_acc`` (the KD head alone),
``select_acc`` (the fixed mix selection used), ``alpha``, ``beta``, ``mix_source``, ``mix_evidence``. Runs written
before the mix was recorded show ``—``.
"""

from __future__ import annotations

from . import _format as fmt
from . import _html as h
from ._groups import Group, mean_std

NOTE = ("α weights the KD head: p = (1-α)·softmax(CE) + α·softmax(KD/β) (erjui/DHO's α weights the CE head). From: prior = "
        "pure KD until 2 out-of-sample labels per class; picks N = chosen on N labeled picks, each scored by the student "
        "that picked it (another mix only on a gain beyond one standard error); val N = DHO's search on N validation "
        "labels; fixed = --alpha/--beta. Selection always uses --alpha/--beta.")


def _mix(m: dict) -> str:
    src = m.get("mix_source")
    if src is None:
        return fmt.DASH
    n = f" {m['mix_evidence']}" if src in ("picks", "val") and m.get("mix_evidence") is not None else ""
    return f"{m['alpha']:.2f}/{m['beta']:.2f} ({src}{n})"


def _pm(g: Group, key: str) -> str:
    vals = [float(r.last[key]) for r in g.runs if r.last and r.last.get(key) is not None]
    return fmt.pct_pm(mean_std(vals) if vals else None, len(vals))


def mix_rows(groups: list[Group]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per group; no rows when no run recorded its mix."""
    rows = []
    for g in groups:
        if not any(r.last and r.last.get("mix_source") for r in g.runs):
            continue
        fixed = sorted({f"{r.last['select_alpha']:.2f}/{r.last['select_beta']:.2f}" for r in g.runs if r.last and "select_alpha" in r.last})
        rows.append([g.name, "; ".join(_mix(r.last) for r in g.runs if r.last), _pm(g, "student_acc"), _pm(g, "kd_acc"),
                     ", ".join(fixed) or fmt.DASH, _pm(g, "select_acc")])
    return ["group", "last round's mix per seed", "chosen mix %", "KD head %", "selection's mix", "selection's mix %"], rows


def mix_section(groups: list[Group]) -> str:
    """The report's section, or ``""`` when no run recorded its mix."""
    header, rows = mix_rows(groups)
    return h.section("Head mix", h.table(header, rows), h.para(NOTE)) if rows else ""
