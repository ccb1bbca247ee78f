"""The ``--eval-on`` table: each group's last student (and teacher) on the extra test sets its runs were scored on.

Read from the ``--eval-on`` results of the last trained round of each run (``{spec: ExtraSetResult}``);
figures are the mean (± sample std) over the group's seeds; a teacher that cannot score a set's images is ``—``.
"""

from __future__ import annotations

from . import _format as fmt
from . import _html as h
from ._groups import Group, mean_std

NOTE = ("Last trained round of each run on its --eval-on sets (class names mapped onto the run's classes), mean over "
        "seeds. Teacher: a vision-language teacher scores the set's images; file: and standin teachers know only the run's "
        "own images (—).")


def _sets(r) -> dict:
    return (r.last.eval_on if r.last is not None else None) or {}


def _values(g: Group, spec: str, figure) -> list[float]:
    return [float(figure(x[spec])) for x in map(_sets, g.runs) if spec in x and figure(x[spec]) is not None]


def eval_on_rows(groups: list[Group]) -> tuple[list[str], list[list[str]]]:
    """Header and one row per (group, extra set); no rows when no run was scored on an extra set."""
    rows = []
    for g in groups:
        specs = dict.fromkeys(s for r in g.runs for s in _sets(r))
        for spec in specs:
            student, teacher = _values(g, spec, lambda e: e.student), _values(g, spec, lambda e: e.teacher)
            images = sorted({int(n) for n in _values(g, spec, lambda e: e.num_images)})
            rows.append([g.name, spec, ",".join(map(str, images)) or fmt.DASH,
                         fmt.pct_pm(mean_std(student) if student else None, len(student)),
                         fmt.pct_pm(mean_std(teacher) if teacher else None, len(teacher))])
    return ["group", "extra test set", "images", "student %", "teacher %"], rows


def eval_on_lines(groups: list[Group]) -> list[str]:
    """The table for ``activekd compare`` (a title line and the table), or nothing."""
    header, rows = eval_on_rows(groups)
    return ["", "extra test sets (--eval-on): the last student of each group, mean over seeds", fmt.text_table(header, rows)] if rows else []


def eval_on_section(groups: list[Group]) -> str:
    """The report's section, or ``""`` when no run has an extra test set."""
    header, rows = eval_on_rows(groups)
    return h.section("Extra test sets (--eval-on)", h.table(header, rows), h.para(NOTE)) if rows else ""
