"""Label Studio: config, import tasks, exports read back (unit), and a real server round trip (slow)."""

from __future__ import annotations

import itertools
import json
import urllib.request
from xml.etree import ElementTree

import pytest

from activekd.session._labelstudio import (
    BatchRow,
    LabelFileError,
    batch_tasks,
    choice_result,
    config_class_names,
    labeling_config,
    local_file_url,
    read_export,
)
from activekd.session._studio_link import LabelStudioLink

CLASSES = ["cat", "dog", "bird"]


# --------------------------------------------------------------------------- config and tasks


def test_labeling_config_has_one_image_and_single_choice_per_class():
    names = ["T-shirt/top", 'say "hi"', "a & b <c>", "pâté"]
    root = ElementTree.fromstring(labeling_config(names))
    (image,) = root.iter("Image")
    assert (image.get("name"), image.get("value")) == ("image", "$image")
    (choices,) = root.iter("Choices")
    assert (choices.get("name"), choices.get("toName"), choices.get("choice")) == ("label", "image", "single")
    assert [c.get("value") for c in choices.iter("Choice")] == names
    (text,) = root.iter("Text")
    assert (text.get("name"), text.get("value")) == ("suggestion", "$suggestion")
    assert config_class_names(labeling_config(names)) == names


def test_a_config_without_the_suggestion_text_is_still_accepted():
    old = '<View><Image name="image" value="$image"/><Choices name="label" toName="image" choice="single"><Choice value="a"/></Choices></View>'
    assert config_class_names(old) == ["a"]


def test_labeling_config_refuses_no_classes():
    with pytest.raises(ValueError):
        labeling_config([])


def test_config_class_names_refuses_a_foreign_config():
    foreign = '<View><Image name="img" value="$img"/><Choices name="kind" toName="img"><Choice value="a"/></Choices></View>'
    with pytest.raises(LabelFileError, match='Choices name="label"'):
        config_class_names(foreign)
    with pytest.raises(LabelFileError, match="not valid XML"):
        config_class_names("<View>")


def test_batch_tasks_carry_id_url_and_both_guesses():
    rows = [BatchRow("s1", "/r/a.png", teacher=("cat", 0.9), student=("dog", 0.4)), BatchRow("s2", None)]
    tasks = batch_tasks(rows, lambda r: f"/img/{r.id}", model_version="run-round-3")
    json.dumps(tasks)  # import JSON must be serialisable
    assert [t["data"] for t in tasks] == [
        {"image": "/img/s1", "activekd_id": "s1", "suggestion": "student: dog 40% · teacher: cat 90%"},
        {"image": "/img/s2", "activekd_id": "s2", "suggestion": "no suggestion yet"}]
    student, teacher = tasks[0]["predictions"]
    assert student["model_version"] == "run-round-3-student" and student["score"] == pytest.approx(0.4)
    assert teacher["model_version"] == "run-round-3-teacher" and teacher["score"] == pytest.approx(0.9)
    (r,) = teacher["result"]
    assert (r["from_name"], r["to_name"], r["type"], r["value"]) == ("label", "image", "choices", {"choices": ["cat"]})
    assert student["result"][0]["value"] == {"choices": ["dog"]}
    assert tasks[1]["predictions"] == []


def test_local_file_url_is_relative_to_the_document_root(tmp_path):
    assert local_file_url(tmp_path / "imgs" / "a b#1.png", tmp_path) == "/data/local-files/?d=imgs/a%20b%231.png"
    with pytest.raises(LabelFileError, match="not under the Label Studio document root"):
        local_file_url("/elsewhere/a.png", tmp_path)


# --------------------------------------------------------------------------- exports (unit)
# Task 1 (s1): dog, then updated to cat (latest wins). Task 2 (s2): a cancelled annotation, then bird.
# Task 3 (s3): no annotation. Expected answers: s1 -> cat, s2 -> bird.

EXPECTED = {("s1", "cat"), ("s2", "bird")}


def _ann(aid, label, updated, cancelled=False, control="label"):
    result = [] if label is None else [{**choice_result(label)[0], "from_name": control}]
    return {"id": aid, "result": result, "was_cancelled": cancelled, "created_at": updated, "updated_at": updated}


def _json_export(control="label"):
    return [
        {"id": 1, "data": {"image": "/d/1.png", "activekd_id": "s1"}, "annotations": [
            _ann(2, "cat", "2026-01-01T10:05:00.000001Z", control=control), _ann(1, "dog", "2026-01-01T10:00:00Z", control=control)]},
        {"id": 2, "data": {"image": "/d/2.png", "activekd_id": "s2"}, "annotations": [
            _ann(3, "cat", "2026-01-01T10:09:00Z", cancelled=True), _ann(4, "bird", "2026-01-01T10:01:00Z", control=control)]},
        {"id": 3, "data": {"image": "/d/3.png", "activekd_id": "s3"}, "annotations": [], "predictions": [1]},
    ]


def _min_export(control="label"):
    def row(tid, sid, aid, label, updated):
        return {"image": f"/d/{tid}.png", "activekd_id": sid, "id": tid, control: label, "annotator": 1,
                "annotation_id": aid, "created_at": updated, "updated_at": updated, "lead_time": 1.5}
    return [row(1, "s1", 1, "dog", "2026-01-01T10:00:00Z"), row(1, "s1", 2, "cat", "2026-01-01T10:05:00.000001Z"),
            row(2, "s2", 4, "bird", "2026-01-01T10:01:00Z")]


def _csv_export(control="label"):
    cols = sorted(["activekd_id", "annotation_id", "annotator", "created_at", "id", "image", control, "lead_time", "updated_at"])
    lines = [",".join(f'"{c}"' for c in cols)]
    for r in _min_export(control):
        lines.append(",".join(str(r[c]) if isinstance(r[c], (int, float)) else f'"{r[c]}"' for c in cols))
    return "\r\n".join(lines) + "\r\n"


def _write(tmp_path, text, name="export.json", bom=False, crlf=False):
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


EXPORTS = {
    "json": lambda: json.dumps(_json_export(), indent=2),
    "json_min": lambda: json.dumps(_min_export(), indent=2),
    "csv": _csv_export,
}


@pytest.mark.parametrize("bom,crlf", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_read_export_takes_the_latest_answer_of_each_task(tmp_path, fmt, bom, crlf):
    path = _write(tmp_path, EXPORTS[fmt](), name="export.txt", bom=bom, crlf=crlf)  # told by content, not name
    assert set(read_export(path, CLASSES)) == EXPECTED


def test_read_export_reads_multiple_choice_cells_and_agreeing_duplicates(tmp_path):
    rows = _min_export()
    rows[2]["label"] = {"choices": ["bird"]}
    rows.append({**rows[2], "id": 7, "annotation_id": 9})  # the same sample pushed twice, same answer
    assert set(read_export(_write(tmp_path, json.dumps(rows)), CLASSES)) == EXPECTED


def _one_line_error(path, match, classes=CLASSES):
    with pytest.raises(LabelFileError, match=match) as info:
        read_export(path, classes)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_read_export_refuses_empty_binary_and_foreign_files(tmp_path):
    _one_line_error(_write(tmp_path, "", name="empty.json"), "empty")
    _one_line_error(_write(tmp_path, "  \r\n", name="blank.csv", bom=True), "empty")
    _one_line_error(_write(tmp_path, "[]", name="none.json"), "no tasks")
    binary = tmp_path / "img.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _one_line_error(binary, "binary")
    _one_line_error(_write(tmp_path, "id,path,label\ns1,/a.png,cat\n", name="batch.csv"), "not a Label Studio export")
    _one_line_error(_write(tmp_path, '{"tasks": []}', name="obj.json"), "not a Label Studio export")
    _one_line_error(_write(tmp_path, '[{"a": 1}]', name="list.json"), "not a Label Studio export")
    _one_line_error(_write(tmp_path, '[{"id": 1,', name="broken.json"), "not valid JSON")
    _one_line_error(tmp_path / "missing.json", "no such file")


@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_read_export_refuses_tasks_of_another_project(tmp_path, fmt):
    text = EXPORTS[fmt]().replace("activekd_id", "sample")
    _one_line_error(_write(tmp_path, text), "no 'activekd_id' in its data")


@pytest.mark.parametrize("make", [lambda: json.dumps(_json_export("category")),
                                  lambda: json.dumps(_min_export("category")), lambda: _csv_export("category")])
def test_read_export_refuses_another_labeling_config(tmp_path, make):
    _one_line_error(_write(tmp_path, make()), "'category'.*different labeling config")


@pytest.mark.parametrize("fmt", sorted(EXPORTS))
def test_read_export_refuses_an_unknown_class_naming_the_valid_ones(tmp_path, fmt):
    _one_line_error(_write(tmp_path, EXPORTS[fmt]()), "unknown class 'bird'; valid: cat, dog, fish", classes=["cat", "dog", "fish"])


def test_read_export_refuses_two_answers_for_one_id(tmp_path):
    tasks = _json_export()
    tasks[2]["data"]["activekd_id"] = "s1"
    tasks[2]["annotations"] = [_ann(5, "dog", "2026-01-01T11:00:00Z")]
    _one_line_error(_write(tmp_path, json.dumps(tasks)), "two different answers for 's1'")
    rows = _min_export() + [{**_min_export()[0], "id": 9, "annotation_id": 9}]
    _one_line_error(_write(tmp_path, json.dumps(rows), name="min.json"), "two different answers for 's1'")


def test_read_export_a_later_blank_annotation_leaves_the_task_unanswered(tmp_path):
    tasks = _json_export()
    tasks[0]["annotations"].append(_ann(9, None, "2026-01-02T00:00:00Z"))
    assert read_export(_write(tmp_path, json.dumps(tasks)), CLASSES) == [("s2", "bird")]


def test_read_export_refuses_several_choices(tmp_path):
    rows = _min_export()
    rows[0]["label"] = {"choices": ["cat", "dog"]}
    _one_line_error(_write(tmp_path, json.dumps(rows)), "several classes")


# --------------------------------------------------------------------------- live server (slow)


@pytest.fixture
def link(label_studio):
    return LabelStudioLink(label_studio.url, label_studio.token)


@pytest.fixture
def sdk(label_studio):
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=label_studio.url, api_key=label_studio.token)


def _rows(n, start=0):
    return [BatchRow(f"s{i}", None, teacher=("cat", 0.8), student=("dog", 0.6)) for i in range(start, start + n)]


@pytest.mark.slow
def test_ensure_project_creates_then_reuses(link):
    pid = link.ensure_project("activekd ensure", CLASSES)
    assert link.ensure_project("activekd ensure", list(reversed(CLASSES))) == pid
    assert link.ensure_project("activekd ensure other", CLASSES) != pid
    with pytest.raises(LabelFileError, match="has classes cat, dog, bird"):
        link.ensure_project("activekd ensure", ["cat", "dog"])


@pytest.mark.slow
def test_push_is_idempotent_and_imports_in_order_in_bounded_calls(link, sdk, monkeypatch):
    pid = link.ensure_project("activekd push", CLASSES)
    calls, imports = [], link.sdk.projects.import_tasks

    def counted(**kw):
        calls.append([t["data"]["activekd_id"] for t in kw["request"]])
        return imports(**kw)

    monkeypatch.setattr(link.sdk.projects, "import_tasks", counted)
    tasks = batch_tasks(_rows(3), lambda r: f"/img/{r.id}.png", "t")
    assert link.push(pid, tasks) == 3
    assert link.push(pid, tasks) == 0
    order = [f"s{i}" for i in (7, 3, 5, 4, 6)]  # a queue's order, not the ids' order
    more = batch_tasks([BatchRow(sid, None) for sid in order], lambda r: f"/img/{r.id}.png", "t")
    assert link.push(pid, tasks + more + more[:1], chunk=2) == 5
    assert calls == [["s0", "s1", "s2"], order[:2], order[2:4], order[4:]]  # the head first, at most 2 per call
    ids = link.task_ids(pid)
    assert sorted(ids) == [f"s{i}" for i in range(8)] and len(list(sdk.tasks.list(project=pid, page_size=100))) == 8  # once each
    assert sorted(order, key=ids.get) == order  # made in the order given


@pytest.mark.slow
def test_label_studio_takes_the_suggestion_text_with_the_new_config_and_with_an_older_one(link, sdk):
    """A project made now shows ``data.suggestion`` beside the image; one made before (no ``Text``) still takes the tasks."""
    pid = link.ensure_project("activekd suggestion", CLASSES)
    config = sdk.projects.get(id=pid).label_config
    assert '<Text name="suggestion" value="$suggestion"/>' in config
    assert link.push(pid, batch_tasks(_rows(2), lambda r: f"/img/{r.id}.png", "run-round-1")) == 2
    (task, _) = sorted(sdk.tasks.list(project=pid, page_size=10), key=lambda t: t.data["activekd_id"])
    assert task.data["suggestion"] == "student: dog 60% · teacher: cat 80%"
    predictions = {p.model_version: p.score for p in sdk.predictions.list(project=pid) if p.task == task.id}
    assert predictions == {"run-round-1-student": pytest.approx(0.6), "run-round-1-teacher": pytest.approx(0.8)}  # named apart
    old = sdk.projects.create(title="activekd suggestion old", label_config=config.replace('<Text name="suggestion" value="$suggestion"/>', ""))
    assert link.find_project("activekd suggestion old", CLASSES) == old.id  # the config check accepts it
    assert link.push(old.id, batch_tasks(_rows(2), lambda r: f"/img/{r.id}.png", "t")) == 2
    assert all(t.data["suggestion"] for t in sdk.tasks.list(project=old.id, page_size=10))  # a data manager column there


_PROJECTS = itertools.count()


def _annotate(sdk, task_id, label, cancelled=False):
    return sdk.annotations.create(id=task_id, result=[] if cancelled else choice_result(label), was_cancelled=cancelled)


@pytest.fixture
def annotated(link, sdk):
    """A fresh project with 5 tasks annotated by a scripted person: mistakes, corrections, a skip."""
    pid = link.ensure_project(f"activekd annotated {next(_PROJECTS)}", CLASSES)
    link.push(pid, batch_tasks(_rows(5), lambda r: f"/img/{r.id}.png", "t"))
    ids = link.task_ids(pid)
    first = _annotate(sdk, ids["s0"], "dog")                    # wrong, then corrected in place
    sdk.annotations.update(id=first.id, result=choice_result("cat"))
    _annotate(sdk, ids["s1"], "cat")                             # wrong, then a second, later annotation
    _annotate(sdk, ids["s1"], "bird")
    _annotate(sdk, ids["s2"], "dog")
    _annotate(sdk, ids["s3"], "", cancelled=True)                 # skipped: no answer
    return pid, {("s0", "cat"), ("s1", "bird"), ("s2", "dog")}  # s4 never annotated


@pytest.mark.slow
def test_annotations_are_the_latest_answers(link, annotated):
    pid, expected = annotated
    assert set(link.annotations(pid)) == expected
    assert len(link.annotations(pid)) == len(expected)


@pytest.mark.slow
@pytest.mark.parametrize("export_type", ["JSON", "JSON_MIN", "CSV"])
def test_api_exports_read_back_to_the_same_answers(link, sdk, annotated, tmp_path, export_type):
    pid, expected = annotated
    data = b"".join(sdk.projects.exports.download_sync(id=pid, export_type=export_type))
    path = tmp_path / f"export.{export_type.lower()}"
    path.write_bytes(data)
    assert set(read_export(path, CLASSES)) == expected


@pytest.mark.slow
def test_pushed_image_is_served_by_label_studio(link, sdk, label_studio):
    from PIL import Image

    folder = label_studio.document_root / "run" / "images"
    folder.mkdir(parents=True)
    png = folder / "s0 1.png"
    Image.new("RGB", (8, 8), (200, 30, 30)).save(png)
    pid = link.ensure_project("activekd images", CLASSES)
    sid = link.ensure_local_storage(pid, folder)
    assert link.ensure_local_storage(pid, folder) == sid
    with pytest.raises(LabelFileError, match="refused local storage"):
        link.ensure_local_storage(pid, label_studio.document_root / "missing")
    row = BatchRow("s0", str(png))
    link.push(pid, batch_tasks([row], lambda r: local_file_url(r.path, label_studio.document_root), "t"))
    (task,) = sdk.tasks.list(project=pid)
    request = urllib.request.Request(label_studio.url + task.data["image"], headers={"Authorization": f"Token {label_studio.token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as r:
        assert r.status == 200 and r.read() == png.read_bytes()


@pytest.mark.slow
def test_a_token_with_no_browser_from_the_cli_then_a_personal_access_token_from_the_api(label_studio):
    """docs/labelstudio.md §2: `label-studio user --username EMAIL` prints the legacy token; POST /api/token/ makes a PAT."""
    import ast
    import subprocess

    import httpx

    from _labelstudio_server import _server_env, label_studio_venv

    data_dir = label_studio.log_path.parent
    env = _server_env(data_dir, label_studio.document_root, label_studio.email, label_studio.password, "unused")
    env = {k: v for k, v in env.items() if k not in ("LABEL_STUDIO_USERNAME", "LABEL_STUDIO_PASSWORD", "LABEL_STUDIO_USER_TOKEN")}
    done = subprocess.run([str(label_studio_venv() / "bin" / "label-studio"), "user", "--username", label_studio.email,
                           "--data-dir", str(data_dir)], env=env, cwd=data_dir, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, check=False)
    line = next(x for x in done.stdout.splitlines() if "'token'" in x)
    legacy = ast.literal_eval(line[line.index("{"):])["token"]
    assert legacy == label_studio.token, done.stdout[-500:]
    r = httpx.post(f"{label_studio.url}/api/token/", headers={"Authorization": f"Token {legacy}"}, timeout=30, trust_env=False)
    assert r.status_code in (200, 201), r.text  # one personal access token per user: no other test makes one
    pat = r.json()["token"]  # what new organisations hand out (legacy tokens are off by default)
    assert pat != label_studio.token
    link = LabelStudioLink(label_studio.url, pat)  # the SDK tells the personal access token (a JWT) from a legacy one
    pid = link.ensure_project("activekd pat", CLASSES)
    assert link.push(pid, batch_tasks(_rows(1), lambda r: "/img/x.png", "t")) == 1


@pytest.mark.slow
def test_a_bogus_token_and_an_unreachable_server_are_one_line(label_studio):
    with pytest.raises(LabelFileError, match="refused the API token in LABEL_STUDIO_API_KEY") as info:
        LabelStudioLink(label_studio.url, "bogus")
    assert "\n" not in str(info.value)
    with pytest.raises(LabelFileError, match="not reachable at http://127.0.0.1:9"):
        LabelStudioLink("http://127.0.0.1:9", label_studio.token)
