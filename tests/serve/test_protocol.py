"""The backend's pure half and its HTTP face, offline: webhook meaning, refusals, predictions, the queue."""

import logging

import pytest
import torch
from payloads import CLASSES, KNOWN, created

from activekd.serve import (
    Event,
    Guess,
    PayloadError,
    parse_webhook,
    predictions,
    queue_order,
    serve_version,
    snapshot,
)


def parse(body):
    return parse_webhook(body, project=7, class_names=CLASSES, known=KNOWN)


def test_an_annotation_becomes_one_answer_and_other_events_none():
    e = parse(created())
    assert [(a.sample_id, a.label) for a in e.answers] == [("a", "dog")] and not e.train
    assert parse(created(action="ANNOTATION_UPDATED", choice="fox")).answers[0].label == "fox"
    assert parse(created(was_cancelled=True)).answers == []  # a skipped task answers nothing
    assert parse({"action": "PROJECT_UPDATED", "project": {"id": 7}}) == Event("PROJECT_UPDATED")
    assert parse({"action": "START_TRAINING", "project": {"id": 7}}).train


def test_bulk_annotations_pair_each_with_its_task():
    one, two = created("a", "dog"), created("b", "cat")
    body = dict(one, action="ANNOTATIONS_CREATED", annotation=[one["annotation"], two["annotation"]], task=[one["task"], two["task"]])
    assert [(a.sample_id, a.label) for a in parse(body).answers] == [("a", "dog"), ("b", "cat")]


@pytest.mark.parametrize("body,status,words", [
    ([1, 2], 400, "no 'action'"),
    ({"action": "ANNOTATION_CREATED"}, 400, "names no project"),
    (created(project=8), 404, "unknown project 8"),
    (created(choice="wolf"), 422, "unknown class 'wolf'"),
    (created(sid="zzz"), 422, "unknown sample id 'zzz'"),
    ({**created(), "task": {"id": 3, "data": {"image": "/x.png"}}}, 422, "no 'activekd_id'"),
    ({**created(), "task": "3"}, 400, "not an object"),
    ({**created(), "annotation": {"id": 1, "result": [{"from_name": "other", "value": {"choices": ["dog"]}}]}}, 422, "control 'other'"),
    ({"action": "EXPLODE", "project": {"id": 7}}, 400, "unknown action 'EXPLODE'"),
])
def test_bad_webhooks_are_refused_with_a_status_and_one_line(body, status, words):
    with pytest.raises(PayloadError) as e:
        parse(body)
    assert e.value.status == status and words in str(e.value) and "\n" not in str(e.value)


def test_the_queue_serves_unlabeled_picks_first_then_the_least_confident():
    ids, top = ["a", "b", "c", "d", "e"], [0.9, 0.3, 0.5, 0.3, 0.8]
    assert queue_order(ids, top, picks=["e", "c", "a"], labeled={"a"}) == ["e", "c", "b", "d"]
    snap = snapshot(2, "run-round-2", ["a", "b"], torch.tensor([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]),
                    torch.tensor([[0.1, 0.1, 0.8], [0.5, 0.4, 0.1]]), picks=["b"], labeled=set(), class_names=CLASSES)
    assert snap.order == ("b", "a") and snap.guesses["b"] == Guess(("cat", 0.6), ("cat", 0.5), 0.0)
    assert snap.guesses["a"].score == 0.5 and snap.guesses["a"].teacher == ("fox", 0.8)
    student, teacher = predictions(snap.guesses["a"], snap.version)
    assert student["model_version"] == teacher["model_version"] == "run-round-2" and student["score"] == teacher["score"] == 0.5
    assert student["result"][0]["value"] == {"choices": ["dog"]} and student["result"][0]["score"] == 0.7
    assert snap.guesses["a"].text == "student: dog 70% · teacher: fox 80%"  # what the annotator reads beside the image
    assert Guess(("dog", 0.7), None, 0.0).text == "student: dog 70%"


def test_the_model_version_says_its_score_is_a_queue_place():
    assert serve_version("pets", 3) == "pets round 3 (score = queue place, 0 = next; not a probability)"


def test_the_backend_speaks_label_studios_protocol(client):
    inbox, http = client
    assert http.get("/health").json["status"] == "UP"
    assert http.post("/setup", json={"project": "7.1700000000", "schema": "<View/>"}).json == {"model_version": "run-round-1"}
    tasks = [{"id": 1, "data": {"activekd_id": "c"}}, {"id": 2, "data": {"text": "foreign"}}]
    res = http.post("/predict", json={"tasks": tasks, "project": "7.1700000000"}).json
    assert [len(r) for r in res["results"]] == [1, 0] and res["results"][0][0]["score"] == 0.0  # the pick is served first
    assert http.post("/webhook", json=created("c")).status_code == 201 and inbox.status()["queued"] == 1
    assert http.post("/train", json={"project": "7.1700000000"}).status_code == 201
    assert [e.train for e in inbox.take(0)] == [False, True]


def test_refusals_are_4xx_one_logged_line_and_reach_nothing(client, caplog):
    inbox, http = client
    caplog.set_level(logging.WARNING, logger="activekd.serve")
    for path, body, code in [("/webhook", created(choice="wolf"), 422), ("/webhook", created(project=9), 404),
                             ("/predict", {"tasks": [], "project": "9.1"}, 404), ("/setup", {"schema": ""}, 400)]:
        caplog.clear()
        r = http.post(path, json=body)
        assert r.status_code == code and len(caplog.records) == 1 and "refused" in caplog.records[0].getMessage()
    assert http.post("/webhook", data="{nope", content_type="application/json").status_code == 400
    assert inbox.status()["received"] == 0 and inbox.take(0) == []
