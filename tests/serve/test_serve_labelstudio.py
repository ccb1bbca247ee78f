"""activekd as the ML backend of a real Label Studio, both on 127.0.0.1, with a scripted annotator.

The annotator takes the task Label Studio serves next, 30 times, and answers it with the ground
truth. The backend retrains every 5 labels in the background; after each retrain the tasks served
first are exactly the strategy's picks recomputed here from the round's checkpoint. ``serve`` is
SIGKILLed three times (right after an answer, while training, and with answers made while it is
down); in the end the store holds exactly the annotations, each applied once, no image has two
tasks and only the current round's predictions remain. A pool of 12 is then served as a big one is
(in small import calls, the queue's head only) over three rounds and a restart.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
import torch

from activekd.cli import main
from activekd.data import ArraySource, Dataset
from activekd.serve import _studio, snapshot
from activekd.session import SessionStore, read_stored_config, round_seed
from activekd.session._labelstudio import choice_result
from activekd.session._studio_link import LabelStudioLink, ProjectPredictions

pytestmark = pytest.mark.slow
SMALL = ["--pool-limit", "300", "--test-limit", "100", "--repeat", "3", "--device", "cpu", "--no-progress", "--seed", "5",
         "--student", "small-cnn", "--teacher", "standin", "--strategy", "pcoreset"]
EVERY, TOTAL = 5, 30
MAIN = Path(__file__).with_name("serve_main.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """A ``serve`` subprocess of one run: start, status, SIGKILL, restart."""

    def __init__(self, out: Path, port: int, log: Path, env: dict) -> None:
        self.out, self.port, self.log, self.env, self.proc = out, port, log, env, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen([sys.executable, str(MAIN), str(self.out), str(self.port), str(EVERY)], env=self.env,
                                         stdout=f, stderr=subprocess.STDOUT)
        self.wait(lambda s: not s["starting"] and not s["training"] and not s["queued"], 240, "started")

    def status(self) -> dict | None:
        try:
            return httpx.get(f"{self.url}/status", timeout=5).json()
        except httpx.HTTPError:
            return None

    def wait(self, ok, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited ({self.proc.returncode}) waiting until {what}:\n{self.log.read_text()[-3000:]}"
            s = self.status()
            if s is not None and ok(s):
                return s
            time.sleep(0.2)
        pytest.fail(f"serve not {what} after {timeout} s: {self.status()}\n{self.log.read_text()[-3000:]}")

    def idle(self, labels: int | None = None) -> dict:
        return self.wait(lambda s: not s["starting"] and not s["training"] and not s["queued"]
                         and (labels is None or s["labels"] == labels), 240, f"idle with {labels} labels")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def served(label_studio_ml, cache_dir, tmp_path_factory):
    ls = label_studio_ml
    env = dict(os.environ, LABEL_STUDIO_API_KEY=ls.token, ACTIVEKD_SERVE_TRAIN_DELAY="2", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    env.pop("ACTIVEKD_KILL_AT", None)
    out = ls.document_root / "served"
    os.environ["LABEL_STUDIO_API_KEY"] = ls.token
    try:
        assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "labelstudio", "--ls-url", ls.url,
                     "--ls-document-root", str(ls.document_root), "--rounds", "1", "--budget", str(EVERY)]) == 3  # waits
    finally:
        os.environ.pop("LABEL_STUDIO_API_KEY", None)
    server = Served(out, free_port(), tmp_path_factory.mktemp("serve") / "serve.log", env)
    server.start()
    yield server
    server.stop()


class Annotator:
    """A person in Label Studio: asks for the next task, answers it with the ground truth."""

    def __init__(self, ls, fmnist, project: int) -> None:
        from label_studio_sdk import LabelStudio

        self.sdk = LabelStudio(base_url=ls.url, api_key=ls.token)
        self.http = httpx.Client(base_url=ls.url, headers={"Authorization": f"Token {ls.token}"}, timeout=60)
        self.ds, self.project, self.answers = fmnist, project, {}

    def next(self) -> dict:
        r = self.http.get(f"/api/projects/{self.project}/next")
        assert r.status_code == 200, r.text
        return r.json()

    def answer(self, task: dict) -> float:
        sid = task["data"]["activekd_id"]
        label = self.ds.class_names[self.ds.labels[self.ds.index_of([sid])[0]]]
        t = time.monotonic()
        self.sdk.annotations.create(id=task["id"], result=choice_result(label))
        self.answers[sid] = self.ds.class_names.index(label)
        return time.monotonic() - t


def offline_picks(out: Path, r: int) -> list[str]:
    """Round ``r``'s picks recomputed from its checkpoint and the store, outside the server."""
    from activekd.select import SelectionInputs, select
    from activekd.session import load_dataset
    from activekd.students.io import load_student
    from activekd.train import ImageBank, predict

    config = read_stored_config(out)
    ds = load_dataset(config)
    with SessionStore.open(out, readonly=True) as store:
        labeled, rec = store.labels(up_to_round=r), store.round(r)
    student, _ = load_student(out / rec.checkpoint)
    lab = ds.index_of([i for i, _ in labeled])
    unl = np.setdiff1d(ds.split_indices("pool"), lab)
    bank = ImageBank(ds.images, torch.device("cpu"))

    def outputs(pos):
        return predict(student, bank, torch.from_numpy(pos), device="cpu", batch_size=config.train.eval_batch_size,
                       bf16=config.train.bf16, progress=False)

    po, lo = outputs(unl), outputs(lab)
    inputs = SelectionInputs(pool_ids=[ds.ids[i] for i in unl.tolist()], pool_ce=po.ce, pool_kd=po.kd, pool_features=po.features,
                             labeled_ids=[i for i, _ in labeled], labeled_ce=lo.ce, labeled_kd=lo.kd, labeled_features=lo.features,
                             labeled_labels=torch.tensor([y for _, y in labeled]),
                             alpha=rec.metrics["select_alpha"], beta=rec.metrics["select_beta"])  # selection's fixed mix
    return select(config.loop.strategy, inputs, len(rec.picks), generator=torch.Generator().manual_seed(round_seed(config.loop.seed, r, 2)))


def backend_guesses(served: Served, project: int, task: dict) -> list[tuple[str, float]]:
    """The backend's own answer for ``task`` (``/predict``): the student's, then the teacher's class and probability."""
    r = httpx.post(f"{served.url}/predict", json={"tasks": [task], "project": f"{project}.1700000000"}, timeout=30)
    assert r.status_code == 200, r.text
    return [(p["result"][0]["value"]["choices"][0], p["result"][0]["score"]) for p in r.json()["results"][0]]


def check_suggestions(served: Served, project: int, task: dict, version: str) -> None:
    """The task reads each model's own class and probability, by name; the score beside the version says it is a queue place."""
    student, teacher = backend_guesses(served, project, task)
    assert task["data"]["suggestion"] == (f"student: {student[0]} {student[1]:.0%} · teacher: {teacher[0]} {teacher[1]:.0%}"), task
    in_ls = sorted((p["result"][0]["value"]["choices"][0], p["result"][0]["score"]) for p in task["predictions"])
    assert in_ls == sorted([student, teacher]) and "score = queue place" in version and "not a probability" in version, (in_ls, version)


def store_rows(out: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Human labels ``{id: label}`` and, per id, how many label events the history holds."""
    con = sqlite3.connect(out / "session.sqlite")
    try:
        labels = dict(con.execute("SELECT sample_id, label FROM labels WHERE source = 'human'"))
        events = dict(con.execute("SELECT sample_id, COUNT(*) FROM label_events GROUP BY sample_id"))
    finally:
        con.close()
    return labels, events


def test_a_team_labels_30_tasks_while_the_backend_retrains_and_is_killed_three_times(served, label_studio_ml, fmnist):
    project = served.status()["project"]
    person = Annotator(label_studio_ml, fmnist, project)
    assert [b.url.rstrip("/") for b in person.sdk.ml.list(project=project)] == [served.url]  # connected by serve itself
    second = subprocess.run([sys.executable, str(MAIN), str(served.out), str(free_port()), str(EVERY)], check=False, env=served.env,
                            capture_output=True, text=True, timeout=180)
    assert second.returncode == 2 and "is in use by pid" in second.stderr, second.stderr[-500:]

    with SessionStore.open(served.out, readonly=True) as store:
        initial = len(store.labels())
    served_in: dict[int, list[str]] = {}  # round -> ids served while its queue was Label Studio's
    answered_before: dict[int, set[str]] = {}  # round -> ids answered before its queue served the first task
    kills, slow = [], []
    st = served.idle(initial)
    for _ in range(TOTAL):
        if len(person.answers) >= TOTAL:
            break
        task = person.next()
        assert len(task["predictions"]) == 2 and {p["model_version"] for p in task["predictions"]} == {st["model_version"]}
        check_suggestions(served, project, task, st["model_version"])
        answered_before.setdefault(st["round"], set(person.answers))
        served_in.setdefault(st["round"], []).append(task["data"]["activekd_id"])
        person.answer(task)
        if len(person.answers) == 4:  # kill 1: right after an answer, whether or not it reached the store
            served.kill(), kills.append("after an answer"), served.start()
        elif len(person.answers) == 20:  # kill 3: answers made while the backend is down are pulled on start
            served.kill(), kills.append("while down")
            for _ in range(2):
                person.answer(person.next())
            served.start()
        n = initial + len(person.answers)
        st = served.wait(lambda s, n=n: s["training"] or (s["labels"] == n and not s["queued"] and not s["starting"]), 120, "applied")
        if st["training"] and len(person.answers) >= 10 and len(kills) == 1:  # kill 2: inside a retrain, after an answer made during it
            slow.append(person.answer(person.next()))
            assert served.status()["training"], "the retrain ended before the kill; widen ACTIVEKD_SERVE_TRAIN_DELAY"
            served.kill(), kills.append("while training"), served.start()
        st = served.idle(initial + len(person.answers))

    assert len(person.answers) == TOTAL and len(kills) == 3 and slow and max(slow) < 3.0, (kills, slow)
    labels, events = store_rows(served.out)
    assert labels == person.answers  # nothing lost
    assert all(events[sid] == 1 for sid in person.answers)  # nothing applied twice
    in_ls = dict(LabelStudioLink(label_studio_ml.url, label_studio_ml.token).annotations(project))
    assert {sid: fmnist.class_names.index(c) for sid, c in in_ls.items()} == person.answers  # the store equals the annotations
    tasks = {t.id: t.data["activekd_id"] for t in person.sdk.tasks.list(project=project, page_size=1000)}
    assert len(set(tasks.values())) == len(tasks)  # three kills and restarts made no task twice
    predicted = Counter(p.task for p in person.sdk.predictions.list(project=project) if p.model_version == st["model_version"])
    assert person.sdk.projects.get(id=project).model_version == st["model_version"] and set(predicted.values()) == {2}
    unanswered = set(tasks.values()) - set(in_ls)  # a pool this small is served whole: each has the round's predictions
    assert unanswered <= {tasks[t] for t in predicted}  # (a task answered since the last push keeps them until the next)
    assert ProjectPredictions(LabelStudioLink(label_studio_ml.url, label_studio_ml.token), project).model_versions() == {
        st["model_version"]: 2 * len(predicted)}  # after 4+ rounds, only the current round's predictions remain
    assert len([r for r in served_in if r >= 1]) >= 4, served_in
    for r, ids in served_in.items():
        expected = [p for p in offline_picks(served.out, r) if p not in answered_before[r]]
        assert ids == expected[:len(ids)], (r, ids, expected)


def test_malformed_foreign_and_wrong_class_payloads_are_refused_with_one_line_each(served, fmnist):
    st = served.idle()
    project, before = st["project"], store_rows(served.out)
    con = sqlite3.connect(served.out / "session.sqlite")
    imports = con.execute("SELECT COUNT(*) FROM imports").fetchone()[0]
    con.close()
    with SessionStore.open(served.out, readonly=True) as store:
        unlabeled = next(i for i in store.round(st["round"]).picks if i not in dict(store.labels()))

    def created(pid, data, choice):
        return {"action": "ANNOTATION_CREATED", "project": {"id": pid}, "task": {"id": 1, "data": data},
                "annotation": {"id": 9, "result": choice_result(choice)}}

    ours = {"image": "/x.png", "activekd_id": unlabeled}
    bad = [("/webhook", b"{not json", 400, "not valid JSON"),
           ("/webhook", {"hello": "world"}, 400, "no 'action'"),
           ("/webhook", created(project + 50, ours, fmnist.class_names[0]), 404, f"unknown project {project + 50}"),
           ("/webhook", created(project, {"image": "/x.png"}, fmnist.class_names[0]), 422, "no 'activekd_id'"),
           ("/webhook", created(project, {"image": "/x.png", "activekd_id": "no-such-image"}, fmnist.class_names[0]), 422,
            "unknown sample id 'no-such-image'"),
           ("/webhook", created(project, ours, "banana"), 422, "unknown class 'banana'"),
           ("/webhook", {"action": "SOMETHING_ELSE", "project": {"id": project}}, 400, "unknown action"),
           ("/predict", {"tasks": [], "project": f"{project + 50}.1700000000"}, 404, "unknown project"),
           ("/setup", {"project": "nope"}, 400, "names no project"),
           ("/webhook", b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413, "larger than the backend's limit"),
           ("/setup", b"[" * 100_000, 400, "nested deeper than")]
    start, t = served.log.read_text().count("\n"), time.monotonic()
    for path, body, code, words in bad:
        lines = served.log.read_text().count("\n")
        kw = {"content": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, bytes) else {"json": body}
        r = httpx.post(served.url + path, timeout=10, **kw)
        assert r.status_code == code and words in r.json()["error"], (path, body, r.status_code, r.text)
        time.sleep(0.3)
        new = served.log.read_text().splitlines()[lines:]
        refused = [x for x in new if "refused" in x]  # start-up lines ("connected ...", "ready ...") may land here too
        assert len(refused) == 1 and words in refused[0], (words, new)
    assert time.monotonic() - t < 60 and "Traceback" not in "\n".join(served.log.read_text().splitlines()[start:])
    assert served.idle()["received"] == st["received"]  # nothing reached the worker
    con = sqlite3.connect(served.out / "session.sqlite")
    assert con.execute("SELECT COUNT(*) FROM imports").fetchone()[0] == imports
    con.close()
    assert store_rows(served.out) == before


def test_only_the_current_rounds_predictions_remain_and_the_training_switch_does_not_add_rounds(served, label_studio_ml, fmnist):
    """LS's "Start training on annotation submission" on: serve turns it off (and logs it), so EVERY labels make one round."""
    st = served.idle()
    project = st["project"]
    person = Annotator(label_studio_ml, fmnist, project)
    versions = {p.model_version for p in person.sdk.predictions.list(project=project)}
    assert versions == {st["model_version"]}, versions  # older rounds' predictions were deleted
    person.sdk.projects.update(id=project, min_annotations_to_start_training=1)  # what the switch in Settings → Model sets
    assert person.sdk.projects.get(id=project).start_training_on_annotation_update
    served.kill()
    served.start()
    assert not person.sdk.projects.get(id=project).start_training_on_annotation_update
    assert "turned off 'Start training on annotation submission'" in served.log.read_text()
    st = served.idle()
    rounds_before, untrained = st["round"], st["new_labels"]  # labels made since the last round (0..EVERY-1)
    assert untrained < EVERY
    with SessionStore.open(served.out, readonly=True) as store:
        initial = len(store.labels())
    for k in range(EVERY):
        person.answer(person.next())
        served.wait(lambda s, n=initial + k + 1: s["labels"] == n and not s["queued"] and not s["starting"], 120, "applied")
        st = served.idle(initial + k + 1)
        assert st["round"] == rounds_before + (untrained + k + 1 >= EVERY), (k, untrained, st)  # a round per EVERY labels only
    assert st["round"] == rounds_before + 1
    versions = {p.model_version for p in person.sdk.predictions.list(project=project)}
    assert versions == {st["model_version"]}, versions
    head = person.next()  # the next round's first task reads the new round's suggestions
    assert head["predictions"] and {p["model_version"] for p in head["predictions"]} == {st["model_version"]}
    check_suggestions(served, project, head, st["model_version"])


def test_the_queue_head_is_made_first_in_bounded_calls_once_and_only_the_current_rounds_predictions_remain(label_studio_ml, monkeypatch):
    """A pool of 12 served as a big one is (shrunk): 3 tasks per import call, 3 predictions per call, the first 5 queued
    tasks in Label Studio with the round's predictions; three rounds whose heads differ, and a restart in between."""
    ls, classes, ids = label_studio_ml, ("cat", "dog", "fox"), [f"im{i:02d}" for i in range(12)]
    ds = Dataset("scale", classes, ids, np.arange(12) % 3, np.array(["pool"] * 12, dtype=object),
                 ArraySource(np.zeros((12, 4, 4), np.uint8)))
    session = SimpleNamespace(out=ls.document_root / "scale", dataset=ds,
                              config=SimpleNamespace(labelstudio=SimpleNamespace(document_root=str(ls.document_root))))
    link = LabelStudioLink(ls.url, ls.token)
    pid = link.ensure_project("activekd at pool scale", list(classes))
    monkeypatch.setattr(_studio, "PREDICTION_WINDOW", 5)
    calls = {"import_tasks": [], "import_predictions": []}
    for name, sent in calls.items():
        real = getattr(link.sdk.projects, name)
        monkeypatch.setattr(link.sdk.projects, name, lambda real=real, sent=sent, **kw: sent.append(kw["request"]) or real(**kw))
    predictions = ProjectPredictions(link, pid)
    probs = torch.full((12, 3), 1 / 3)
    rounds = [ids[7:] + ids[:7], ids[3:] + ids[:3], ids[:4] + ids[:3:-1]]  # each round's queue (as its picks): the heads differ
    studio, made = _studio.StudioProject(link, pid, task_chunk=3, prediction_chunk=3), []
    for r, order in enumerate(rounds, start=1):
        snap = snapshot(r, f"scale round {r}", ids, probs, probs, order, set(), classes)
        calls["import_tasks"].clear()
        studio.push_queue(session, snap, head=2)
        new = [sid for sid in order[:5] if sid not in made]
        assert [[t["data"]["activekd_id"] for t in c] for c in calls["import_tasks"]] == [new[i:i + 3] for i in range(0, len(new), 3)]
        assert all(t["data"]["suggestion"] == snap.guesses[t["data"]["activekd_id"]].text and len(t["predictions"]) == 2
                   for c in calls["import_tasks"] for t in c)  # made with the round's text and predictions
        made += new
        assert predictions.model_versions() == {snap.version: 10}  # only this round's: 2 for each of the head's 5 tasks
        assert predictions.predicted_tasks(snap.version) == {studio.tasks()[sid][0] for sid in order[:5]}
        if r == 2:  # a restart: the project is listed again; nothing is made or imported twice
            studio, before = _studio.StudioProject(link, pid, task_chunk=3, prediction_chunk=3), {k: len(v) for k, v in calls.items()}
            studio.push_queue(session, snap, head=2)
            assert {k: len(v) for k, v in calls.items()} == before
    assert [len(c) for c in calls["import_predictions"]] == [2, 3, 1]  # r2: im07's; r3: im03's and im11's, 3 per call
    listed = [t.data["activekd_id"] for t in link.sdk.tasks.list(project=pid, page_size=100)]
    assert sorted(listed) == sorted(made) and len(made) == len(set(made))  # each image made once
    by_id = link.task_ids(pid)
    assert sorted(made, key=by_id.get) == made  # in the order they were made: each round's head first
