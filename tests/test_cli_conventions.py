"""The command line a practitioner expects: one line for mistakes, tracebacks for bugs, quiet output off a terminal."""

import os
import subprocess
import sys
import time

import pytest

from activekd import cli
from activekd.cli import main


def run_cli(*args, env=None, timeout=120):
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "activekd", *args], capture_output=True, text=True, timeout=timeout, env=full)


def test_python_dash_m_activekd_and_version():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip().startswith("activekd ")


def test_bare_activekd_prints_an_overview_and_starts_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "activekd demo" in out and "activekd run" in out and not (tmp_path / "runs").exists()
    commands = cli.make_parser()._subparsers._group_actions[0].choices
    assert {"sync", "serve", "report", "history"} <= set(commands)
    missing = [name for name in commands if f"  activekd {name} " not in out]
    assert not missing, f"bare activekd omits {missing}"


def test_verbose_and_quiet_work_after_the_subcommand_too(capsys):
    assert main(["list", "-v"]) == 0 and main(["-q", "list"]) == 0 and main(["list", "--quiet"]) == 0
    assert "strategies:" in capsys.readouterr().out


def test_each_subcommand_shows_only_its_own_options():
    embed = cli.make_parser()._subparsers._group_actions[0].choices["embed"].format_help()
    assert "--teacher" in embed and "--dataset" in embed and "--lr" not in embed and "--strategy" not in embed
    resume = cli.make_parser()._subparsers._group_actions[0].choices["resume"].format_help()
    assert "RUN__" not in resume and "--rounds" in resume
    run = cli.make_parser()._subparsers._group_actions[0].choices["run"].format_help()
    assert "coop:NAME" in run and "imagenet" in run and "--config" in run and "--print-config" in run


def test_positionals_and_options_come_in_any_order():
    parse = cli.make_parser().parse_args
    for argv in (["label", "RUN", "--relabel", "F.csv"], ["label", "RUN", "F.csv", "--relabel"], ["label", "--relabel", "RUN", "F.csv"],
                 ["-q", "label", "RUN", "-v", "--relabel", "F.csv"]):
        ns = parse(argv)
        assert (ns.out, ns.file, ns.relabel) == ("RUN", "F.csv", True), argv
    assert parse(["label", "RUN", "--undo"]).file is None
    assert parse(["report", "a", "--out", "r.html", "b"]).runs == ["a", "b"]
    assert parse(["predict", "m.onnx", "--top-k", "3", "x.png", "y.png"]).images == ["x.png", "y.png"]
    with pytest.raises(cli.UsageError, match="unrecognized arguments: extra"):
        parse(["label", "RUN", "F.csv", "--relabel", "extra"])


def test_a_mistake_is_one_line_and_exit_2_a_bug_is_a_traceback_and_exit_1(capsys, monkeypatch):
    assert main(["run", "--out", "x", "--lr", "abc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("activekd: error: argument --lr")

    def broken(ns):
        raise KeyError("an internal slip")

    monkeypatch.setattr(cli, "cmd_list", broken)
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError" in err and "this is a bug in activekd" in err


def test_config_file_and_print_config_round_trip(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text('[loop]\nstrategy = "pcoreset"\nbudget = 7\n\n[train]\nlr = 0.002\n')
    assert main(["run", "--config", str(toml), "--budget", "9", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert 'strategy = "pcoreset"' in printed and "budget = 9" in printed and "lr = 0.002" in printed
    again = tmp_path / "again.toml"
    again.write_text(printed)
    assert main(["run", "--config", str(again), "--print-config"]) == 0 and capsys.readouterr().out == printed
    yaml = tmp_path / "run.yaml"
    yaml.write_text("loop:\n  strategy: entropy\n")
    assert main(["run", "--config", str(yaml), "--print-config"]) == 0 and 'strategy = "entropy"' in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("[loop]\nstrategi = 'x'\n")
    assert main(["run", "--config", str(bad), "--print-config"]) == 2
    assert "unknown option(s) strategi in [loop]" in capsys.readouterr().err


@pytest.mark.slow
def test_output_off_a_terminal_has_no_progress_redraws_no_library_warnings_and_a_run_log(tmp_path, cache_dir):
    r = run_cli("run", "--out", str(tmp_path / "run"), "--cache-dir", str(cache_dir), "--rounds", "1", "--budget", "5",
                "--pool-limit", "300", "--test-limit", "100", "--repeat", "3", "--device", "cpu", timeout=600,
                env={"TQDM_DISABLE": ""})  # bars are allowed; none may be drawn off a terminal
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stdout + r.stderr and "Warning" not in r.stderr
    log = (tmp_path / "run" / "activekd.log").read_text()
    assert "round 0:" in log and "round 1:" in log and log[:4].isdigit()  # timestamped lines


@pytest.mark.slow
def test_an_offline_vlm_teacher_fails_fast_in_one_line(tmp_path, cache_dir):
    """The hub is a closed port on 127.0.0.1 (no other traffic): no minute of retries, the model and the local-weights advice named."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HOME=str(tmp_path / "hf"), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    t = time.monotonic()  # the imports alone, measured in the same test: a loaded machine slows both alike
    subprocess.run([sys.executable, "-c", "import activekd.cli, open_clip"], check=True, timeout=120, env=env)
    imports = time.monotonic() - t
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "activekd", "run", "--out", str(tmp_path / "run"), "--cache-dir", str(cache_dir),
                        "--teacher", "openclip:ViT-B-32:laion2b_s34b_b79k", "--pool-limit", "200", "--rounds", "1", "--device", "cpu"],
                       capture_output=True, text=True, timeout=120, env=env)
    elapsed = time.monotonic() - t
    assert r.returncode == 2 and elapsed < imports + 4, (elapsed, imports, r.stderr)
    assert r.stderr.count("\n") == 1 and "ViT-B-32" in r.stderr and "openclip:ViT-B-32:/path/to" in r.stderr
    assert not (tmp_path / "run").exists()


def test_progress_bars_are_off_with_the_switch_and_off_a_terminal(capsys):
    from activekd import progress

    progress.set_enabled(True)
    assert progress.bar(range(3), desc="x").disable  # stderr is captured here, not a terminal
    progress.set_enabled(False)
    try:
        assert progress.bar(range(3), desc="x").disable
    finally:
        progress.set_enabled(True)


@pytest.mark.slow
def test_the_demo_banner_says_what_the_options_say(tmp_path, cache_dir, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--cache-dir", str(cache_dir), "--rounds", "1", "--budget", "3",
                 "--pool-limit", "300", "--test-limit", "100", "--repeat", "2", "--device", "cpu", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 label(s) per class + 1 rounds × 3 labels" in out and "done: 13 labels" in out


@pytest.mark.slow
def test_a_folder_dataset_run_shows_no_numpy_writability_warning(tmp_path, cache_dir, fmnist):
    """The decoded-image cache is a read-only memory map; PyTorch's warning about it is not for users."""
    rows = ["path,label,split"]
    for i in range(40):
        path = tmp_path / "img" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        fmnist.images.pil(i).save(path)
        label = fmnist.class_names[fmnist.labels[i]] if i < 10 or i >= 30 else ""  # 20 pool images unlabeled
        rows.append(f"{path},{label},{'test' if i >= 30 else 'pool'}")
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    r = run_cli("run", "--out", str(tmp_path / "run"), "--cache-dir", str(cache_dir), "--dataset", f"csv:{tmp_path / 'data.csv'}",
                "--image-size", "28", "--kd", "none", "--oracle", "human", "--initial", "all", "--rounds", "1", "--budget", "3", "--repeat", "2",
                "--device", "cpu", timeout=300)
    assert r.returncode == 3, r.stderr  # 3: the run waits for labels
    assert "not writable" not in r.stderr and "Warning" not in r.stderr
