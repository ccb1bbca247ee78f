"""Label Studio failures are a user's mistakes, against a real server: one line, exit 2, nothing made or stored.

Before a run folder is made (``run --oracle labelstudio``): a bogus token, an unreachable URL, a document root
the server does not serve. Afterwards (``sync``): the same failures, and a wrong ``--ls-url`` is not stored. A
task skipped in Label Studio closes the round like a labeled one; ``sync --close`` closes it with what it has.
"""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest

from activekd.cli import main
from activekd.session._labelstudio import choice_result
from store_view import store_labels

pytestmark = pytest.mark.slow
SMALL = ["--pool-limit", "200", "--test-limit", "100", "--repeat", "2", "--device", "cpu", "--no-progress", "--seed", "3",
         "--strategy", "random", "--rounds", "2", "--budget", "3"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ls_env(label_studio, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    monkeypatch.delenv("LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT", raising=False)
    return ["--ls-url", label_studio.url, "--ls-document-root", str(label_studio.document_root)]


def one_line_refusal(capsys, *words: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("activekd: error: ") and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


def stored_ls(out) -> dict:
    con = sqlite3.connect(out / "session.sqlite")
    try:
        return json.loads(con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])["labelstudio"]
    finally:
        con.close()


def tasks_of(sdk, title: str) -> dict:
    project = next(p for p in sdk.projects.list() if p.title == title)
    return {t.data["activekd_id"]: t for t in sdk.tasks.list(project=project.id, page_size=500)}


def test_a_bogus_token_unreachable_url_and_wrong_document_root_refuse_the_run_before_it_starts(
        label_studio, ls_env, cache_dir, monkeypatch, capsys, tmp_path):
    out = label_studio.document_root / "refused-run"
    args = ["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio"]
    root = ["--ls-document-root", str(label_studio.document_root)]
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "bogus")
    assert main([*args, "--ls-url", label_studio.url, *root]) == 2
    one_line_refusal(capsys, "refused the API token", "LABEL_STUDIO_API_KEY")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    assert main([*args, "--ls-url", f"http://127.0.0.1:{closed_port()}", *root]) == 2
    one_line_refusal(capsys, "not reachable", "--ls-url")
    elsewhere = tmp_path / "not-the-root"
    elsewhere.mkdir()
    assert main([*args, "--ls-url", label_studio.url, "--ls-document-root", str(elsewhere)]) == 2  # --out not below it
    one_line_refusal(capsys, "not inside --ls-document-root")
    assert main([*args, "--ls-url", label_studio.url, "--ls-document-root", str(tmp_path)]) == 2  # the server serves another root
    one_line_refusal(capsys, "not inside --ls-document-root")
    out2 = tmp_path / "under-tmp"
    assert main(["run", "--out", str(out2), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", "--ls-url",
                 label_studio.url, "--ls-document-root", str(tmp_path)]) == 2  # holds the images, but is not the server's root
    one_line_refusal(capsys, "does not serve files from --ls-document-root", "LOCAL_FILES_DOCUMENT_ROOT")
    assert main([*args, "--ls-url", label_studio.url]) == 2  # no document root at all
    one_line_refusal(capsys, "--ls-document-root")
    assert not out.exists() and not out2.exists()


def test_after_the_start_the_same_failures_are_one_line_and_store_no_option(label_studio, ls_env, cache_dir, monkeypatch, capsys):
    out = label_studio.document_root / "after-run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", *ls_env]) == 3
    before, labels = stored_ls(out), store_labels(out)
    capsys.readouterr()
    assert main(["sync", str(out), "--ls-url", f"http://127.0.0.1:{closed_port()}"]) == 2
    one_line_refusal(capsys, "not reachable")
    assert stored_ls(out) == before  # the wrong URL is not stored: a plain sync still works
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "bogus")
    assert main(["sync", str(out)]) == 2
    one_line_refusal(capsys, "refused the API token")
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    assert main(["sync", str(out), "--ls-document-root", "/nonexistent-root"]) == 2
    one_line_refusal(capsys, "--ls-document-root")
    assert stored_ls(out) == before and store_labels(out) == labels
    assert main(["sync", str(out)]) == 3


def test_a_deleted_local_files_storage_is_made_again(label_studio, ls_env, cache_dir, capsys):
    from label_studio_sdk import LabelStudio

    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    out = label_studio.document_root / "storage-run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", *ls_env]) == 3
    project = next(p for p in sdk.projects.list() if p.title == "activekd storage-run")
    (storage,) = sdk.import_storage.local.list(project=project.id)
    assert storage.path == str(out / "images")
    sdk.import_storage.local.delete(id=storage.id)
    assert main(["sync", str(out)]) == 3
    assert [s.path for s in sdk.import_storage.local.list(project=project.id)] == [str(out / "images")]


def test_a_skipped_task_closes_the_round_and_close_closes_a_partial_one(label_studio, ls_env, cache_dir, fmnist, capsys):
    from label_studio_sdk import LabelStudio

    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    truth = lambda sid: fmnist.class_names[fmnist.labels[fmnist.index_of([sid])[0]]]  # noqa: E731
    out = label_studio.document_root / "skip-run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", *ls_env]) == 3
    tasks = tasks_of(sdk, "activekd skip-run")
    first = sorted(tasks)
    for sid in first[:2]:
        sdk.annotations.create(id=tasks[sid].id, result=choice_result(truth(sid)))
    sdk.annotations.create(id=tasks[first[2]].id, result=[], was_cancelled=True)  # skipped
    capsys.readouterr()
    assert main(["sync", str(out), "--continue"]) == 3  # the batch is answered: round 1 trains, round 2's picks wait
    text = capsys.readouterr().out
    assert "round closed: 1 unlabeled pick(s) back in the pool (1 skipped)" in text, text
    with sqlite3.connect(out / "session.sqlite") as con:
        rounds = {r: (s, json.loads(m)) for r, s, m in con.execute("SELECT round, status, metrics FROM rounds")}
    assert rounds[0][0] == "done" and rounds[0][1]["skipped"] == 1 and rounds[0][1]["returned_to_pool"] == 1
    assert set(rounds) == {0, 1} and rounds[1][0] == "awaiting-labels"
    assert first[2] not in store_labels(out)

    new = {sid: t for sid, t in tasks_of(sdk, "activekd skip-run").items() if sid not in tasks}
    sid = sorted(new)[0]
    sdk.annotations.create(id=new[sid].id, result=choice_result(truth(sid)))
    assert main(["sync", str(out)]) == 3  # 1 of 3: still waiting
    assert main(["sync", str(out), "--close", "--continue"]) == 0  # closed with what it has; the last round trains
    text = capsys.readouterr().out
    assert "round closed: 2 unlabeled pick(s) back in the pool (0 skipped)" in text, text
    assert json.loads((out / "results.json").read_text())["complete"]


def stored_config(out) -> dict:
    con = sqlite3.connect(out / "session.sqlite")
    try:
        return json.loads(con.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    finally:
        con.close()


def test_serve_stores_no_changed_option_before_label_studio_is_checked(label_studio, ls_env, cache_dir, monkeypatch, capsys):
    out = label_studio.document_root / "serve-options-run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", *ls_env]) == 3
    before = stored_config(out)
    capsys.readouterr()
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "bogus")
    assert main(["serve", str(out), "--device", "auto", "--retrain-every", "7", "--port", str(closed_port())]) == 2
    one_line_refusal(capsys, "refused the API token")
    after = stored_config(out)
    assert after == before and after["device"] == "cpu" and after["loop"]["budget"] == 3  # nothing stored


def test_status_counts_the_picks_skipped_and_returned_to_the_pool(label_studio, ls_env, cache_dir, fmnist, capsys):
    from label_studio_sdk import LabelStudio

    sdk = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    out = label_studio.document_root / "status-skip-run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", *ls_env]) == 3
    tasks = tasks_of(sdk, "activekd status-skip-run")
    first = sorted(tasks)
    truth = fmnist.class_names[fmnist.labels[fmnist.index_of([first[0]])[0]]]
    sdk.annotations.create(id=tasks[first[0]].id, result=choice_result(truth))
    sdk.annotations.create(id=tasks[first[1]].id, result=[], was_cancelled=True)  # skipped; first[2] left alone
    assert main(["sync", str(out), "--close"]) == 0  # closed: no round awaits labels, round 1 is ready to train
    capsys.readouterr()
    assert main(["status", str(out), "--json"]) == 0
    rounds = {r["round"]: r for r in json.loads(capsys.readouterr().out)["rounds"]}
    assert (rounds[0]["skipped"], rounds[0]["returned_to_pool"], rounds[0]["picks"]) == (1, 2, 3), rounds[0]
    assert main(["status", str(out)]) == 0
    assert "round 0 closed with 2 of 3 pick(s) back in the pool (1 skipped)" in capsys.readouterr().out
