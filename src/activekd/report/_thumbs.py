"""Report sections with images: a few thumbnails of each round's picks, and the likely label mistakes.

The session writes the thumbnails (``RUN/thumbnails/``) and names them in each round's record
(``pick_thumbnails``, and ``thumbnail`` on every flag of ``likely_mistakes``); the page inlines them as base64
PNGs. A run recorded before thumbnails existed, or whose files are gone, is shown without them.
"""

from __future__ import annotations

from collections.abc import Sequence

from activekd.round_result import LikelyMistake

from . import _html as h
from ._runs import Run

RUNS_SHOWN = 4
"""Runs whose picks are shown (a report over a grid of runs would otherwise carry thousands of images)."""


def _png(run: Run, rel: str | None) -> bytes | None:
    if not rel:
        return None
    path = run.path.parent / rel
    try:
        return path.read_bytes() if path.is_file() and path.resolve().is_relative_to(run.path.parent.resolve()) else None
    except OSError:
        return None


def _tile(run: Run, rel: str | None, caption: str) -> str:
    png = _png(run, rel)
    img = h.thumb(png, caption) if png is not None else '<span class="nothumb">no image</span>'
    return f'<figure class="thumb">{img}<figcaption>{h.esc(caption)}</figcaption></figure>'


def picks_section(runs: Sequence[Run]) -> str:
    """Per run (the first :data:`RUNS_SHOWN`), per round, the first picks' thumbnails in the strategy's order."""
    shown = [r for r in runs if any(x.pick_thumbnails for x in r.rounds)][:RUNS_SHOWN]
    if not shown:
        return ""
    parts = []
    for run in shown:
        rows = []
        for x in run.rounds:
            tiles = "".join(_tile(run, rel, sid) for sid, rel in (x.pick_thumbnails or {}).items())
            if tiles:
                rows.append(f'<div class="thumbrow"><span class="thumblabel">round {h.esc(x.round)}: '
                            f'{h.esc("" if x.num_picked is None else x.num_picked)} picked</span>{tiles}</div>')
        parts.append(h.collapsed(f"{run.name}: the first picks of each round", "".join(rows), open_=len(shown) == 1))
    more = len([r for r in runs if any(x.pick_thumbnails for x in r.rounds)]) - len(shown)
    note = "The first picks of each round, in the order the strategy ranked them (the images a person was asked to label)."
    return h.section("What each round picked", *parts, h.para(note + (f" {more} more run(s) not shown." if more > 0 else "")))


def mistakes_section(runs: Sequence[Run]) -> str:
    """Per run, the last trained round's likely label mistakes: thumbnail, given label, the teacher's and the student's view."""
    parts = []
    for run in runs:
        flags = run.last.likely_mistakes if run.last is not None else None
        if not flags:
            continue
        tiles = "".join(_tile(run, f.thumbnail, _caption(f)) for f in flags)
        parts.append(h.para(f"{run.name}: {len(flags)} likely mistake(s) among the {run.last.num_labeled} labels "
                            f"round {run.last.round} trained on", cls="runname") + f'<div class="thumbrow">{tiles}</div>')
    if not parts:
        return ""
    note = ("A label is flagged when every model with evidence gives it a probability below 0.05: the student that picked "
            "the image (its prediction stored before the label came) and the teacher; labels without a picking student "
            "(initial labels, round-0 picks of --shots 0) on the teacher alone. Labels corrected since are still shown here; "
            "`activekd status` lists those that stand, `activekd label RUN --review` writes them to re-check. See docs/mislabels.md.")
    return h.section("Likely label mistakes", *parts, h.para(note))


def _caption(f: LikelyMistake) -> str:
    def view(who: str, top, p) -> str:
        return f"{who} {top[0]} {top[1]:.2f}" if top and p is not None else f"{who} —"

    return f"{f.id}: labeled {f.label}; {view('teacher', f.teacher, f.p_teacher)}; {view('student', f.student, f.p_student)}"
