"""``activekd report``: one self-contained HTML page comparing runs, plus its figures as PNG files beside it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from activekd._atomic import atomic_file_and_folder

from . import _html as h
from . import _sections as sec
from ._eval_on import eval_on_section
from ._mix import mix_section
from ._runs import load_runs, mixed_data_warning
from ._summary import compare
from ._thumbs import mistakes_section, picks_section


def figures_dir(out: Path) -> Path:
    """Where the PNG files of the report ``out`` go: ``report.html`` → ``report_files/``."""
    return out.parent / f"{out.stem}_files"


def build_report(runs: Sequence[Path], out: Path) -> Path:
    """Write the report on ``runs`` (run folders or results.json files) to ``out`` and its PNGs to :func:`figures_dir`.

    The page and the folder are written together or not at all (the folder is the report's own: rebuilt whole,
    stale figures go); an ``out`` that is a folder is refused first. The page needs nothing but itself: the figures
    are inlined as base64 PNGs, no script, stylesheet or font is linked. Returns the HTML path.
    """
    out = Path(out)
    with atomic_file_and_folder(out, figures_dir(out)) as (page, folder):
        html, figs = _page(runs, out)
        for name, png in figs.items():
            (folder / name).write_bytes(png)
        page.write_text(html, encoding="utf-8")
    return out


def _page(runs: Sequence[Path], out: Path) -> tuple[str, dict[str, bytes]]:
    """The page's HTML and its figures ``{file name: PNG bytes}``."""
    loaded = load_runs(runs)
    c = compare(loaded)
    figs: dict[str, bytes] = {}
    datasets = sorted({str(r.dataset.get("name", "?")) for r in loaded})
    mixed = mixed_data_warning(loaded)
    intro = h.para(f"{len(loaded)} run(s) in {len(c.groups)} group(s); dataset: {', '.join(datasets)}. "
                   f"Figures are also saved as PNG files in {figures_dir(out).name}/." + (f" Warning: {mixed}." if mixed else ""))
    body = [intro, sec.summary_section(c), sec.accuracy_section(c, figs), sec.ranks_section(c), sec.headtohead_section(c), sec.classes_section(c, figs),
            eval_on_section(c.groups), mix_section(c.groups),
            sec.agreement_section(c, figs), sec.time_section(c, figs), sec.advice_section(c), picks_section(loaded),
            mistakes_section(loaded), sec.config_section(c)]
    return h.page("activekd report", "".join(body)), figs
