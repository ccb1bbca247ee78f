"""A labeling team working in a real Label Studio server, end to end on Fashion-MNIST images.

run → push → annotate through the API (with mistakes) → sync → correct in Label Studio → sync --relabel
→ finish → extend rounds → annotate → sync → finish. The labels in SQLite equal the intended final
answers, and each round trained on the corrected labels. Kills inside push and sync lose and double nothing.
"""

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from activekd.cli import main
from store_view import digest, store_labels
from activekd.session._labelstudio import choice_result

pytestmark = pytest.mark.slow
SMALL = ["--pool-limit", "400", "--test-limit", "200", "--repeat", "5", "--device", "cpu", "--no-progress", "--seed", "7"]


@pytest.fixture
def team(label_studio, monkeypatch, cache_dir, fmnist):
    from label_studio_sdk import LabelStudio

    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    return sdk, ["--ls-url", label_studio.url, "--ls-document-root", str(label_studio.document_root)]


def tasks_of(sdk, title: str) -> dict[str, object]:
    project = next(p for p in sdk.projects.list() if p.title == title)
    return {t.data["activekd_id"]: t for t in sdk.tasks.list(project=project.id, page_size=500)}


def test_a_team_in_label_studio_labels_corrects_extends_and_finishes(team, label_studio, cache_dir, fmnist, capsys):
    sdk, ls_args = team
    names = fmnist.class_names
    truth = lambda sid: names[fmnist.labels[fmnist.index_of([sid])[0]]]  # noqa: E731
    out = label_studio.document_root / "team-run"
    title = "activekd team-run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", *ls_args,
                 "--strategy", "entropy", "--rounds", "1", "--budget", "4"]) == 3  # 3: waits for labels
    assert "pushed to Label Studio" in capsys.readouterr().out
    initial = store_labels(out)
    tasks = tasks_of(sdk, title)
    assert len(tasks) == 4 and all(len(t.predictions) == 2 for t in tasks.values())
    picks = sorted(tasks)
    intended = {p: truth(p) for p in picks}
    wrong = {picks[0]: next(n for n in names if n != intended[picks[0]])}
    anns = {p: sdk.annotations.create(id=tasks[p].id, result=choice_result(wrong.get(p, intended[p]))) for p in picks[:3]}

    assert main(["sync", str(out)]) == 3  # a partial batch: 3 of 4, still waiting
    assert "3 label(s) added" in capsys.readouterr().out
    sdk.annotations.update(id=anns[picks[0]].id, result=choice_result(intended[picks[0]]))  # the annotator fixes the mistake
    sdk.annotations.create(id=tasks[picks[3]].id, result=choice_result(intended[picks[3]]))
    assert main(["sync", str(out)]) == 2  # the correction conflicts with the stored label: refused, nothing applied
    assert "--relabel" in capsys.readouterr().err and len(store_labels(out)) == len(initial) + 3
    assert main(["sync", str(out), "--relabel", "--continue"]) == 0  # applies both, closes the batch, trains the last round
    corrected = dict(initial, **{p: names.index(c) for p, c in intended.items()})
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] and results["rounds"][1]["labels_sha256"] == digest(corrected)

    assert main(["resume", str(out), "--rounds", "2", *ls_args]) == 3  # more rounds: round 1 picks, pushes and waits
    new = {p: t for p, t in tasks_of(sdk, title).items() if p not in tasks}
    assert len(new) == 4 and not set(new) & set(corrected)
    for p, t in new.items():
        intended[p] = truth(p)
        sdk.annotations.create(id=t.id, result=choice_result(intended[p]))
    assert main(["sync", str(out), "--continue"]) == 0
    final = dict(initial, **{p: names.index(c) for p, c in intended.items()})
    assert store_labels(out) == final
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] and results["rounds"][2]["labels_sha256"] == digest(final)
    con = sqlite3.connect(out / "session.sqlite")
    hist = con.execute("SELECT sample_id, new_label, old_label FROM label_events").fetchall()
    con.close()
    assert (picks[0], names.index(intended[picks[0]]), names.index(wrong[picks[0]])) in hist


def cli(*args: str, kill_at: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ACTIVEKD_KILL_AT=kill_at)
    return subprocess.run([sys.executable, "-m", "activekd.cli", *args], env=env, capture_output=True, text=True, timeout=300)


def test_sigkill_inside_push_and_sync_loses_and_doubles_nothing(team, label_studio, cache_dir, fmnist):
    sdk, ls_args = team
    out = label_studio.document_root / "kill-run"
    args = ["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", *ls_args,
            "--strategy", "random", "--rounds", "1", "--budget", "3"]
    assert cli(*args, kill_at="push").returncode == -9  # the round is committed; nothing pushed yet
    assert main(["resume", str(out), *ls_args]) == 3  # pushes the batch
    assert main(["resume", str(out), *ls_args]) == 3  # pushing again creates nothing twice
    tasks = tasks_of(sdk, "activekd kill-run")
    assert len(tasks) == 3
    for sid, t in tasks.items():
        sdk.annotations.create(id=t.id, result=choice_result(fmnist.class_names[fmnist.labels[fmnist.index_of([sid])[0]]]))
    before = store_labels(out)
    assert cli("sync", str(out), kill_at="sync").returncode == -9
    assert store_labels(out) == before
    assert main(["sync", str(out)]) == 0 and main(["sync", str(out)]) == 0
    labels = store_labels(out)
    assert len(labels) == len(before) + 3 and set(tasks) <= set(labels)
