"""The backend's HTTP face under hostile requests: size and nesting limits, JSON errors only, one log line each, fuzzed.

Whatever comes in, the answer is a 2xx or an error as JSON (4xx; 500 only for a bug, which no input here may
trigger), one log line, never a traceback or an HTML page, and a refused request reaches nothing.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import httpx
from hypothesis import event, given
from hypothesis import strategies as st
from payloads import CLASSES, KNOWN, PROJECT, created, served_app

import activekd.serve._app as app_module
from activekd.serve._server import http_server
from activekd.serve._body import MAX_BODY_BYTES, MAX_NESTING

ROUTES = ("/setup", "/predict", "/webhook", "/train", "/versions")
DEEP = b"[" * 100_000


def errors_logged(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("activekd.serve") and r.levelno >= logging.WARNING]


def assert_clean(records: list[logging.LogRecord]) -> None:
    """At most one line per request, none of them a traceback or an internal error."""
    assert all(r.exc_info is None and r.levelno < logging.ERROR and "\n" not in r.getMessage() for r in records), \
        [r.getMessage() for r in records]


def test_a_body_over_1_mib_is_413_as_json_with_one_log_line(client, caplog):
    inbox, http = client
    caplog.set_level(logging.WARNING, logger="activekd.serve")
    big = json.dumps({**created(), "padding": "x" * (2 * MAX_BODY_BYTES)})
    for path in ("/webhook", "/setup", "/predict"):
        caplog.clear()
        r = http.post(path, data=big, content_type="application/json")
        assert r.status_code == 413 and r.is_json and f"{MAX_BODY_BYTES} bytes" in r.json["error"], (path, r.data[:200])
        assert len(errors_logged(caplog)) == 1
        assert_clean(errors_logged(caplog))
    ok = json.dumps({**created(), "padding": "x" * (MAX_BODY_BYTES // 2)})
    assert http.post("/webhook", data=ok, content_type="application/json").status_code == 201  # under the limit: served
    assert inbox.status()["received"] == 1


def test_deep_nesting_is_a_400_at_once_with_one_log_line(client, caplog):
    inbox, http = client
    caplog.set_level(logging.WARNING, logger="activekd.serve")
    for path in ("/setup", "/webhook", "/predict", "/train"):
        caplog.clear()
        t = time.monotonic()
        r = http.post(path, data=DEEP, content_type="application/json")
        assert time.monotonic() - t < 2.0
        assert r.status_code == 400 and f"nested deeper than {MAX_NESTING} levels" in r.json["error"], (path, r.data[:200])
        assert len(errors_logged(caplog)) == 1
        assert_clean(errors_logged(caplog))
    nested = created()
    nested["task"]["data"]["meta"] = json.loads("[" * (MAX_NESTING - 4) + "]" * (MAX_NESTING - 4))  # deep, but within the limit
    assert http.post("/webhook", json=nested).status_code == 201
    assert inbox.status()["received"] == 1


def test_http_errors_are_json_too(client, caplog):
    _, http = client
    caplog.set_level(logging.WARNING, logger="activekd.serve")
    for method, path, code in [("get", "/webhook", 405), ("post", "/no-such-route", 404), ("delete", "/predict", 405)]:
        caplog.clear()
        r = getattr(http, method)(path)
        assert r.status_code == code and r.is_json and r.json["error"] and b"<html" not in r.data.lower()
        assert len(errors_logged(caplog)) == 1
    for body, ctype, words in [(b"\xff\xfe{}", "application/json", "is not UTF-8 text (byte 0xff at offset 0)"),
                               (b"{}", "text/plain", "not JSON (Content-Type text/plain)"),
                               (b"", "application/json", "not valid JSON"), (b"{nope", "application/json", "not valid JSON")]:
        r = http.post("/setup", data=body, content_type=ctype)
        assert r.status_code == 400 and r.json["error"].startswith("setup: ") and words in r.json["error"], r.json


def test_a_bug_is_a_500_as_json_with_one_log_line_and_the_traceback_only_at_debug(client, caplog, monkeypatch):
    _, http = client

    def broken(*a, **k):
        raise RuntimeError("a bug\nwith two lines")

    monkeypatch.setattr(app_module, "predictions", broken)
    caplog.set_level(logging.WARNING, logger="activekd.serve")
    r = http.post("/predict", json={"tasks": [{"data": {"activekd_id": "a"}}], "project": PROJECT})
    assert r.status_code == 500 and r.is_json and "internal error" in r.json["error"] and "Traceback" not in r.get_data(True)
    (line,) = errors_logged(caplog)
    assert line.exc_info is None and "RuntimeError: a bug with two lines" in line.getMessage()
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="activekd.serve")
    http.post("/predict", json={"tasks": [{"data": {"activekd_id": "a"}}], "project": PROJECT})
    assert any(r.exc_info for r in caplog.records if r.levelno == logging.DEBUG)


def test_the_limits_hold_on_a_real_socket_on_127_0_0_1(caplog):
    """The server `serve` runs, on 127.0.0.1: 413 for 2 MB (sent with a length or chunked), 400 for deep nesting and for a
    request that is not HTTP, all as JSON."""
    inbox, app = served_app()
    caplog.set_level(logging.WARNING, logger="activekd.serve")
    http = http_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    url, t = f"http://127.0.0.1:{http.server_port}", time.monotonic()
    try:
        big = b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        for content in (big, iter([big[i : i + 65536] for i in range(0, len(big), 65536)])):
            r = httpx.post(url + "/webhook", content=content, headers={"Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 413 and "limit" in r.json()["error"]
        r = httpx.post(url + "/setup", content=DEEP, headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 400 and "nested deeper" in r.json()["error"]
        with socket.create_connection(("127.0.0.1", http.server_port), timeout=10) as raw:  # not HTTP: a bad request line
            raw.sendall(b"GET /a b HTTP/1.1\r\n\r\n")
            head, _, body = raw.makefile("rb").read().partition(b"\r\n\r\n")
        assert b" 400 " in head.split(b"\r\n")[0] and json.loads(body)["error"].startswith("HTTP 400")
        assert httpx.post(url + "/webhook", json=created("a"), timeout=10).status_code == 201  # still serving
    finally:
        http.shutdown()
        thread.join(timeout=10)
    assert time.monotonic() - t < 30
    assert len(errors_logged(caplog)) == 3
    assert_clean(errors_logged(caplog))
    assert inbox.status()["received"] == 1


# --- fuzzing -----------------------------------------------------------------------------------
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20)
FIELDS = ("action", "project", "task", "annotation", "tasks", "data", "activekd_id", "result", "value", "choices", "id",
          "was_cancelled", "from_name")


def _mutate(body, path: list, value):
    """``body`` with the field reached by ``path`` (keys or indices, as far as they exist) replaced by ``value``."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(body, dict):
        k = key if isinstance(key, str) else next(iter(body), "x")
        return {**body, k: _mutate(body.get(k), rest, value)}
    if isinstance(body, list) and body:
        i = key % len(body) if isinstance(key, int) else 0
        return body[:i] + [_mutate(body[i], rest, value)] + body[i + 1 :]
    return value


def _webhook_like():
    """A webhook of our project or another, for an id and class of the run or not; as is, or with one field somewhere
    replaced by any JSON value."""
    valid = st.builds(created, sid=st.sampled_from(sorted(KNOWN) + ["zzz"]), choice=st.sampled_from(CLASSES + ["wolf"]),
                      project=st.sampled_from([PROJECT, PROJECT + 1]),
                      action=st.sampled_from(["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING", "PROJECT_UPDATED", "X"]))
    path = st.lists(st.sampled_from(FIELDS) | st.integers(0, 3), min_size=1, max_size=5)
    return valid | st.builds(_mutate, valid, path, JSON)


BODIES = (st.binary(max_size=300)
          | JSON.map(lambda x: json.dumps(x).encode())
          | _webhook_like().map(lambda x: json.dumps(x).encode())
          | st.builds(lambda p, t: json.dumps({"project": p, "tasks": t}).encode(), JSON, JSON))


def _check_any_answer(route: str, body: bytes, ctype: str = "application/json") -> None:
    """Post ``body``: a 2xx or a 4xx JSON answer with at most one clean log line; a refusal reaches nothing."""
    inbox, app = served_app()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("activekd.serve")
    logger.addHandler(handler)
    try:
        r = app.test_client().post(route, data=body, content_type=ctype)
    finally:
        logger.removeHandler(handler)
    event(f"{route} HTTP {r.status_code}")  # --hypothesis-show-statistics: what the generated requests got
    assert r.is_json and (200 <= r.status_code < 300 or 400 <= r.status_code < 500), (r.status_code, r.data[:300])
    assert_clean(records)
    if r.status_code >= 400:
        assert "error" in r.json and len(records) == 1
        assert inbox.status()["received"] == 0 and inbox.take(0) == []


@given(route=st.sampled_from(ROUTES), body=BODIES, ctype=st.sampled_from(["application/json", "text/plain"]))
def test_any_request_is_a_2xx_or_a_4xx_json_answer_with_no_traceback_and_refusals_reach_nothing(route, body, ctype):
    _check_any_answer(route, body, ctype)


@given(body=_webhook_like())
def test_any_webhook_near_a_valid_one_is_understood_or_refused_in_one_line(body):
    _check_any_answer("/webhook", json.dumps(body).encode())
