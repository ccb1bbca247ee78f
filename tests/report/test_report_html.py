"""``build_report``: one self-contained HTML page plus PNG files, rendered by headless chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest
from PIL import Image

from activekd.cli import main
from activekd.report import build_report, figures_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def grid(make_run):
    """Two strategies × three seeds with every new field, one older run, one run without test accuracy."""
    runs = []
    for strategy, base in (("random", 0.40), ("pcoreset", 0.45)):
        for s in (1, 2, 3):
            accs = [base + 0.05 * i + 0.01 * s for i in range(11)]
            runs.append(make_run(f"{strategy}-dho-seed{s}", accs, strategy=strategy, seed=s,
                                 agreements=[None] + [0.9 + 0.01 * i for i in range(10)]))
    runs.append(make_run("old-run", [0.3, 0.35, 0.4], strategy="entropy", kd="none", rich=False, teacher=None))
    runs.append(make_run("no-test-labels", [None] * 4, strategy="margin", agreements=[None, 0.95, 0.99, 0.995]))
    return runs


def test_report_is_self_contained_with_png_files(make_run, tmp_path):
    out = build_report(grid(make_run), tmp_path / "rep" / "report.html")
    assert out == tmp_path / "rep" / "report.html"
    text = out.read_text()
    assert 'src="http' not in text and "<link" not in text and "<script" not in text and "url(" not in text
    assert not re.search(r'(src|href)="(?!data:)', text)  # every src/href is inline data
    pngs = sorted(p.name for p in figures_dir(out).glob("*.png"))
    assert {"accuracy.png", "time.png", "per_class.png", "pool_agreement.png"} <= set(pngs)
    assert sum(n.startswith("confusion_") for n in pngs) == 2  # random, pcoreset (the old run and the test-less run have none)
    inlined = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(inlined) == len(pngs)
    for name in pngs:  # the page holds exactly the bytes of the files beside it
        assert base64.b64encode((figures_dir(out) / name).read_bytes()).decode() in inlined
    for name in ("random-dho", "pcoreset-dho", "old-run", "no-test-labels", "Stopping advice", "Rank per round", "AUBC 10–30"):
        assert name in text


def test_rebuilding_removes_stale_figures(make_run, tmp_path):
    runs = grid(make_run)
    out = build_report(runs, tmp_path / "report.html")
    assert sum(p.name.startswith("confusion_") for p in figures_dir(out).glob("*.png")) == 2
    build_report(runs[-2:-1], out)
    assert sorted(p.name for p in figures_dir(out).glob("*.png")) == ["accuracy.png", "time.png"]


def test_report_without_any_test_accuracy(make_run, tmp_path):
    run = make_run("blind", [None, None, None], agreements=[None, 0.99, 0.995])
    text = build_report([run], tmp_path / "r.html").read_text()
    assert "No run has test accuracy" in text and "pool-agreement" in text


def non_blank(png) -> bool:
    """More than a page of one colour: many distinct colours and some dark pixels."""
    img = Image.open(png).convert("RGB")
    colors = img.getcolors(maxcolors=1 << 20) or []
    dark = sum(n for n, (r, g, b) in colors if r + g + b < 300)
    return len(colors) > 50 and dark > 0.001 * img.width * img.height


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup.sh installs Debian's chromium)")
def test_report_renders_in_headless_chromium(make_run, tmp_path):
    out = build_report(grid(make_run), tmp_path / "report.html")
    shot = tmp_path / "screenshot.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}", "--window-size=1200,3000",
           "--user-data-dir=" + str(tmp_path / "chromium-profile"), out.resolve().as_uri()]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    assert Image.open(shot).size == (1200, 3000)
    assert non_blank(shot)


def test_a_report_written_to_a_folder_fails_naming_it_and_leaves_nothing(make_run, tmp_path, capsys):
    run = make_run("a", [0.4, 0.5])
    (tmp_path / "out").mkdir()
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.endswith(f"({tmp_path / 'out'})") and ".tmp" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "out"] and not any((tmp_path / "out").iterdir())


def test_a_report_that_fails_midway_leaves_the_old_one_whole(make_run, tmp_path, monkeypatch):
    import activekd.report._report as report

    runs = grid(make_run)
    out = build_report(runs, tmp_path / "rep" / "report.html")
    before = {p.name: p.read_bytes() for p in [out, *figures_dir(out).iterdir()]}
    monkeypatch.setattr(report.sec, "advice_section", lambda c: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build_report(runs[:1], out)
    assert {p.name: p.read_bytes() for p in [out, *figures_dir(out).iterdir()]} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html", "report_files"]
