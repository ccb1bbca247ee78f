"""Where a run stands: `activekd status` (text and --json) and the exit status of `run`/`resume`, on stores built here."""

import json
from contextlib import contextmanager

import pytest

import activekd.session as session_pkg
from activekd.cli import main
from activekd.config import LoopConfig, RunConfig
from activekd.session import SessionStore, standing
from activekd.session._ledger import LabelChange

IDS = [f"id{i}" for i in range(8)]


def make_run(tmp_path, *, rounds: int = 2, oracle: str = "simulated"):
    """A run folder whose store holds 2 initial labels of 8 pool images and the configuration (``rounds``, ``oracle``)."""
    out = tmp_path / "run"
    out.mkdir()
    store = SessionStore.create(out)
    config = RunConfig(loop=LoopConfig(rounds=rounds, oracle=oracle, budget=2))
    store.initialise({"config": config.to_json()}, [(i, n, "pool", None) for n, i in enumerate(IDS)], [("id0", 1), ("id1", 0)])
    return out, store


def metrics(r: int, n: int) -> dict:
    return dict(round=r, num_labeled=n, student_acc=0.5 + r / 10, ce_acc=0.5, kd_acc=0.4, teacher_acc=0.8, alpha=0.5, beta=1.0)


def status(capsys, out, *flags) -> str:
    capsys.readouterr()
    assert main(["status", str(out), *flags]) == 0
    return capsys.readouterr().out


def test_a_run_killed_after_storing_its_picks_reads_picked_not_trained(tmp_path, capsys):
    out, store = make_run(tmp_path)
    store.finish_round(0, metrics=metrics(0, 2), picks=["id2", "id3"], new_labels=[("id2", 1), ("id3", 0)], source="oracle")
    where = standing(store, out)
    assert (where.state, where.next_round, where.summary) == ("ready", 1, "round 1 picked, not trained")
    assert where.labels == 4 and where.rounds_trained == 1 and where.pending_round is None and "activekd resume" in where.next
    store.close()
    text = status(capsys, out)
    assert text.splitlines()[0] == f"{out}: 4 labels, 1 of 3 round(s) trained; round 1 picked, not trained"
    assert f"next: `activekd resume {out}` trains round 1" in text


def test_a_run_waiting_for_labels_says_how_many_and_who_answers(tmp_path, capsys):
    out, store = make_run(tmp_path, rounds=1, oracle="human")
    store.finish_round(0, metrics=metrics(0, 2), picks=["id2", "id3"], new_labels=[], source="human", status="awaiting-labels")
    store.apply_labels(0, [LabelChange("id2", 1)], kind="label", origin="test")
    where = standing(store, out)
    assert (where.state, where.pending_round, where.picks, where.missing) == ("waiting-for-labels", 0, 2, 1)
    assert where.summary == "waiting for labels: 1 of round 0's 2 pick(s) unlabeled"
    batch = out / "to_label" / "round_000.csv"  # the next step names the file to fill in and the commands, with that file
    assert where.next == f"fill in the label column of {batch}, then `activekd label {out} {batch}` and `activekd resume {out}`"
    assert where.next_file == str(batch)
    store.close()
    text = status(capsys, out)
    assert "round 0 awaits labels for 1 of 2 image(s)" in text and "1 of 2 round(s) trained; waiting for labels" in text
    assert f"next: {where.next}" in text
    doc = json.loads(status(capsys, out, "--json"))
    assert (doc["next"], doc["next_file"], doc["rounds_trained"], doc["last_round"]) == (where.next, str(batch), 1, 0)


def test_status_json_is_one_strict_document_for_scripts(tmp_path, capsys):
    out, store = make_run(tmp_path, rounds=1, oracle="labelstudio")
    store.finish_round(0, metrics=dict(metrics(0, 2), student_acc=float("nan")), picks=["id2", "id3"], new_labels=[],
                       source="human", status="awaiting-labels")
    store.close()
    doc = json.loads(status(capsys, out, "--json"), parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON"))
    assert doc["state"] == "waiting-for-labels" and doc["labels"] == 2 and doc["pending_round"] == 0 and doc["missing"] == 2
    assert doc["rounds_trained"] == 1 and doc["rounds_planned"] == 1 and doc["next_round"] is None
    assert doc["rounds"] == [{"round": 0, "status": "awaiting-labels", "picks": 2, "num_labeled": 2, "student_acc": None,
                              "teacher_acc": 0.8, "alpha": 0.5, "beta": 1.0, "skipped": 0, "returned_to_pool": 0}]
    assert f"activekd sync {out} --continue" in doc["next"] and doc["advice"]["decision"]
    assert doc["next_file"] is None  # Label Studio: no file to act on


def test_finished_and_not_started(tmp_path):
    out, store = make_run(tmp_path, rounds=1)
    assert (standing(store, out).state, standing(store, out).summary) == ("ready", "no round trained yet")
    store.finish_round(0, metrics=metrics(0, 2), picks=["id2", "id3"], new_labels=[("id2", 1), ("id3", 0)], source="oracle")
    store.finish_round(1, metrics=metrics(1, 4), picks=[], new_labels=[], source="oracle")
    where = standing(store, out)
    assert (where.state, where.summary, where.next_round, where.rounds_trained) == ("finished", "finished", None, 2)


class FakeSession:
    """What `run`/`resume` use of a session, over a real store: run() trains nothing."""

    def __init__(self, out, store):
        self.out, self.store = out, store
        self.oracle = type("Oracle", (), {"describe": lambda self, batch: "label them"})()

    def run(self, on_round=None):
        return {"complete": self.store.pending_round() is None, "final": metrics(1, 4), "num_labels": len(self.store.labels())}

    def batch(self, r):
        return None


@pytest.mark.parametrize("waiting,code", [(True, 3), (False, 0)])
def test_run_and_resume_exit_3_while_waiting_for_labels_0_when_finished(tmp_path, monkeypatch, waiting, code):
    out, store = make_run(tmp_path, rounds=1, oracle="human")
    store.finish_round(0, metrics=metrics(0, 2), picks=["id2"], new_labels=[] if waiting else [("id2", 1)], source="human",
                       status="awaiting-labels" if waiting else "done")
    if not waiting:
        store.finish_round(1, metrics=metrics(1, 3), picks=[], new_labels=[], source="human")

    @contextmanager
    def opened(*a, **k):
        yield FakeSession(out, store)

    monkeypatch.setattr(session_pkg.ActiveSession, "resume", opened)
    monkeypatch.setattr(session_pkg.ActiveSession, "open", opened)
    assert main(["resume", str(out), "--device", "cpu"]) == code
    assert main(["run", "--out", str(out), "--device", "cpu", "--oracle", "human"]) == code
    store.close()


@pytest.mark.parametrize("answered,go_on,code", [(1, False, 3), (2, False, 0), (2, True, 0)])
def test_sync_exits_3_while_the_batch_misses_labels(tmp_path, monkeypatch, answered, go_on, code):
    from activekd.session import LabelReport

    out, store = make_run(tmp_path, rounds=1, oracle="labelstudio")
    store.finish_round(0, metrics=metrics(0, 2), picks=["id2", "id3"], new_labels=[], source="human", status="awaiting-labels")
    session = FakeSession(out, store)

    def pulled(s, relabel, close=False):
        changes = [LabelChange(i, 1) for i in ["id2", "id3"][:answered]]
        missing = s.store.apply_labels(0, changes, kind="sync", origin="test")
        return LabelReport(0, answered, 0, 0, missing)

    def trained(on_round=None):  # --continue: the last round trains
        store.finish_round(1, metrics=metrics(1, 4), picks=[], new_labels=[], source="human")
        return {"complete": True, "final": metrics(1, 4), "num_labels": 4}

    @contextmanager
    def opened(*a, **k):
        yield session

    monkeypatch.setattr(session_pkg.ActiveSession, "resume", opened)
    monkeypatch.setattr(session_pkg, "sync", pulled)
    monkeypatch.setattr(session, "run", trained)
    assert main(["sync", str(out), *(["--continue"] if go_on else [])]) == code
    store.close()
