"""`activekd report`, `compare` and the advice in `status`, on a real tiny run."""

import pytest

from activekd.cli import main

pytestmark = pytest.mark.slow


def test_report_compare_and_status_advice_from_the_command_line(tmp_path, cache_dir, capsys):
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--rounds", "3", "--budget", "5", "--pool-limit", "300",
                 "--test-limit", "100", "--repeat", "3", "--device", "cpu", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    assert "advice: " in capsys.readouterr().out
    assert main(["compare", str(out)]) == 0
    assert "stopping advice" in capsys.readouterr().out
    html = tmp_path / "rep" / "report.html"
    assert main(["report", str(out), "--out", str(html)]) == 0
    text = html.read_text()
    assert "<img" in text and 'src="http' not in text and "<link" not in text and "<script" not in text
    assert main(["compare", str(tmp_path / "nowhere")]) == 2
    assert "no results.json" in capsys.readouterr().err
