"""Presets: the documented table is what each preset sets; the config file and flags override it; mistakes are one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from activekd import cli
from activekd.cli import main
from activekd.config import RunConfig, option_names
from activekd.presets import NUM_CLASSES, PRESETS, FromRun, preset_values

DOC = Path(__file__).resolve().parents[1] / "docs" / "presets.md"


def _cell(value) -> str:
    if isinstance(value, FromRun):
        return f"`{value}`"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _doc_table() -> dict[str, dict[str, str]]:
    """``{option: {column: cell}}`` from the options table of docs/presets.md."""
    lines = DOC.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| option |"))
    head = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        option = re.fullmatch(r"`--([a-z0-9-]+)`", cells[0]).group(1).replace("-", "_")
        rows[option] = dict(zip(head, cells))
    return rows


def _default(option: str):
    section, field_ = option_names()[option]
    return getattr(RunConfig() if section == "run" else getattr(RunConfig(), section), field_)


def test_every_preset_sets_known_options_only():
    assert PRESETS.names() == ["dho-paper", "pcoreset-paper"]
    for name in PRESETS.names():
        assert set(preset_values(name)) <= set(option_names())


@pytest.mark.parametrize("name", ["pcoreset-paper", "dho-paper"])
def test_presets_expand_to_the_documented_values(name):
    table, values = _doc_table(), preset_values(name)
    assert set(values) <= set(table), f"options {set(values) - set(table)} of {name} are missing from docs/presets.md"
    for option, row in table.items():
        assert row["activekd default"] == _cell(_default(option)), option
        assert row[name] == (_cell(values[option]) if option in values else "(default)"), option


def test_the_reference_values_of_the_issue():
    p = preset_values("pcoreset-paper")
    assert (p["alpha"], p["beta"], p["search_alpha_beta"]) == (0.5, 1.0, False)
    assert (p["bf16"], p["rounds"], p["shots"], p["budget"], p["few_shot_recipe"]) == (False, 15, 1, NUM_CLASSES, "reference")
    assert p["augment"] and p["views"] > 0
    d = preset_values("dho-paper")
    assert (d["rounds"], d["search_alpha_beta"], d["bf16"]) == (0, True, False)


def _printed(capsys, *args) -> str:
    assert main(["run", *args, "--print-config"]) == 0
    return capsys.readouterr().out


def test_a_preset_is_the_lowest_layer_file_and_flags_override_it(tmp_path, capsys):
    plain = _printed(capsys, "--preset", "dho-paper")
    assert 'spec = "openclip:RN50:openai"' in plain and "rounds = 0" in plain and "bf16 = false" in plain
    assert "augment = true" in plain and 'name = "resnet18"' in plain
    flagged = _printed(capsys, "--preset", "dho-paper", "--rounds", "3", "--bf16", "--teacher", "standin")
    assert "rounds = 3" in flagged and "bf16 = true" in flagged and 'spec = "standin"' in flagged and "augment = true" in flagged
    toml = tmp_path / "run.toml"
    toml.write_text("[loop]\nrounds = 4\nshots = 2\n")
    filed = _printed(capsys, "--preset", "dho-paper", "--config", str(toml), "--shots", "5")
    assert "rounds = 4" in filed and "shots = 5" in filed and "lr = 0.001" in filed


def _folder_dataset(root: Path, classes: int) -> Path:
    for c in range(classes):
        for i in range(2):
            path = root / f"class{c}" / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (40 * c, 10 * i, 0)).save(path)
    return root


def test_budget_is_the_number_of_classes_unless_given(tmp_path, capsys):
    data = _folder_dataset(tmp_path / "data", classes=3)
    common = ["--preset", "pcoreset-paper", "--dataset", f"imagefolder:{data}", "--cache-dir", str(tmp_path / "cache")]
    assert "budget = 3" in _printed(capsys, *common)
    assert "budget = 7" in _printed(capsys, *common, "--budget", "7")


def test_an_unknown_preset_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--preset", "pcoreset", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown preset 'pcoreset'" in err and "dho-paper, pcoreset-paper" in err
    assert not out.exists()


def test_help_and_list_name_the_presets(capsys):
    run = "".join(cli.make_parser()._subparsers._group_actions[0].choices["run"].format_help().split())  # help wraps at hyphens
    assert "--presetNAME" in run and "pcoreset-paper" in run and "dho-paper" in run
    assert main(["list"]) == 0 and re.search(r"presets:\s+dho-paper, pcoreset-paper", capsys.readouterr().out)


def test_a_preset_whose_student_weights_cannot_load_stops_in_one_line(tmp_path, capsys, monkeypatch):
    """Under a preset the student must start from its pretrained weights: weights that cannot be had are one line,
    exit 2, before the run folder exists (not a silent random init)."""
    import torchvision

    real = torchvision.models.resnet18

    def offline(*a, **k):
        if k.get("weights") is not None:
            raise RuntimeError("no network")
        return real(*a, **k)

    monkeypatch.setattr(torchvision.models, "resnet18", offline)
    data = tmp_path / "data"
    for c in range(3):
        for i in range(2):
            (data / f"class{c}").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (40 * c, 10 * i, 0)).save(data / f"class{c}" / f"{i}.png")
    out = tmp_path / "run"
    rc = main(["run", "--preset", "pcoreset-paper", "--dataset", f"imagefolder:{data}", "--cache-dir", str(tmp_path / "cache"),
               "--out", str(out), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "student resnet18" in err and "hub/checkpoints" in err, err
    assert not out.exists()
