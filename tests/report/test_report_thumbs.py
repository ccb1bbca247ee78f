"""The report's image sections on a real run: thumbnails of each round's picks and the likely label mistakes, rendered by
headless chromium (the screenshots are left in the test's folder to look at).

A Fashion-MNIST run labeled by a "person" (``--oracle human``) who gives two of round 0's picks a wrong class: the class
both the picking student and the teacher found least likely, so round 1's label check flags them.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from activekd.cli import main
from activekd.report import build_report
from activekd.report import _html as h
from activekd.report._runs import load_runs
from activekd.report._thumbs import mistakes_section, picks_section
from activekd.session import SessionStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.slow


def _least_likely(evidence: dict, num_classes: int) -> int:
    """The class whose larger probability under the student and the teacher is smallest."""
    return min(range(num_classes), key=lambda c: max(evidence.get(m, {}).get(str(c), 0.0) for m in ("student", "teacher")))


@pytest.fixture(scope="module")
def run(tmp_path_factory, cache_dir, fmnist) -> dict:
    root = tmp_path_factory.mktemp("thumbs")
    out = root / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--oracle", "human", "--shots", "1", "--budget", "8",
                 "--rounds", "1", "--pool-limit", "300", "--test-limit", "100", "--repeat", "20", "--device", "cpu", "--no-progress"]) == 3
    with SessionStore.open(out, readonly=True) as store:
        rec = store.round(0)
    rows = list(csv.DictReader((out / "to_label" / "round_000.csv").open()))
    flipped = [r["id"] for r in rows[:2]]
    lines = []
    for r in rows:
        truth = int(fmnist.labels[fmnist.index_of([r["id"]])[0]])
        y = _least_likely(rec.suggestions[r["id"]]["label_check"], 10) if r["id"] in flipped else truth
        lines.append(f"{r['id']},{fmnist.class_names[y]}")
    (root / "answers.csv").write_text("id,label\n" + "\n".join(lines) + "\n")
    assert main(["label", str(out), str(root / "answers.csv")]) == 0
    assert main(["resume", str(out)]) == 0
    return {"out": out, "flipped": flipped, "root": root}


def _screenshot(html: Path, shot: Path, height: int) -> Image.Image:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}", f"--window-size=1200,{height}",
           "--user-data-dir=" + str(shot.parent / "chromium-profile"), html.resolve().as_uri()]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    return Image.open(shot).convert("RGB")


def test_the_report_carries_pick_thumbnails_and_the_flagged_labels(run):
    out = run["out"]
    rounds = json.loads((out / "results.json").read_text())["rounds"]
    assert len(rounds[0]["pick_thumbnails"]) == 6 and sorted(f["id"] for f in rounds[1]["likely_mistakes"]) == sorted(run["flipped"])
    page = build_report([out], run["root"] / "report.html").read_text()
    assert "What each round picked" in page and "Likely label mistakes" in page
    assert page.count('<img class="thumb"') == 6 + 2 and "no image" not in page
    assert all(f"{sid}: labeled" in page for sid in run["flipped"])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs Debian's chromium)")
def test_the_image_sections_render_in_headless_chromium(run):
    runs = load_runs([run["out"]])
    page = run["root"] / "sections.html"
    page.write_text(h.page("activekd report: picks and likely label mistakes", picks_section(runs) + mistakes_section(runs)))
    img = _screenshot(page, run["root"] / "sections.png", 700)
    assert img.size == (1200, 700)
    thumbs = [c for n, c in (img.getcolors(maxcolors=1 << 20) or []) if n > 0 and c[0] == c[1] == c[2] and 20 < c[0] < 235]
    assert len(thumbs) > 40  # many grey levels: the Fashion-MNIST thumbnails are drawn, not blank boxes
