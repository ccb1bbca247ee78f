"""One image's label history (`activekd history RUN ID`): when, for which batch, how, from where, old → new; undo shown."""

import json
import time

from _tiny_session import CLASSES, tiny_session

from activekd.cli import main
from activekd.session import SessionStore, label_history, undo_last_import
from activekd.session._history import label_batch
from activekd.session._labeling import add_labels


def write(path, rows: dict[str, str]):
    path.write_text("id,label\n" + "".join(f"{i},{c}\n" for i, c in rows.items()))
    return path


def test_label_batch_names_rounds_as_status_does():
    assert [label_batch(r) for r in (0, 1, 4)] == ["the initial labels", "round 0's picks", "round 3's picks"]


def test_an_added_then_corrected_label_and_an_undone_correction(tmp_path):
    s = tiny_session(tmp_path / "run")
    t0 = time.time()
    add_labels(s, write(tmp_path / "answers.csv", {"id2": "cat"}), relabel=False, origin="test")
    fix = write(tmp_path / "fix.csv", {"id2": "fox", "id0": "dog"})
    add_labels(s, fix, relabel=True, origin="test")
    undo_last_import(s)
    h = label_history(s.store, s.out, "id2")
    assert (h.label, h.source, h.split, h.picked_by) == ("class 0", "human", "pool", (0,))  # no results.json: class indices
    assert [(x.batch, x.kind, x.origin, x.old, x.new) for x in h.steps] == [
        ("round 0's picks", "label", str(tmp_path / "answers.csv"), None, "class 0"),
        ("round 0's picks", "relabel", str(fix), "class 0", "class 2")]
    assert h.steps[0].undone_at is None and h.steps[1].undone_at is not None and all(x.when >= t0 - 1 for x in h.steps)
    initial = label_history(s.store, s.out, "id0")  # an initial label, corrected, the correction undone
    assert [(x.batch, x.kind, x.old, x.new) for x in initial.steps] == [
        ("the initial labels", "initial", None, "class 0"), ("the initial labels", "relabel", "class 0", "class 1")]
    assert initial.label == "class 0" and initial.source == "initial"
    fresh = label_history(s.store, s.out, "id3")
    assert (fresh.label, fresh.steps, fresh.picked_by) == (None, (), (0,)) and "no label yet" in fresh.lines()[-1]


def test_the_command_prints_class_names_and_refuses_an_unknown_id(tmp_path, capsys):
    s = tiny_session(tmp_path / "run")
    add_labels(s, write(tmp_path / "a.csv", {"id3": "dog"}), relabel=False, origin="test")
    add_labels(s, write(tmp_path / "b.csv", {"id3": "fox"}), relabel=True, origin="test")
    s.store.close()
    (s.out / "results.json").write_text(json.dumps({"dataset": {"class_names": list(CLASSES)}}))
    capsys.readouterr()
    assert main(["history", str(s.out), "id3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id3 (pool): label fox (human); picked by round 0"
    assert "round 0's picks" in lines[2] and "label" in lines[2] and "— → dog" in lines[2] and str(tmp_path / "a.csv") in lines[2]
    assert "relabel" in lines[3] and "dog → fox" in lines[3] and len(lines) == 4
    before = (s.out / SessionStore.FILENAME).read_bytes()
    assert main(["history", str(s.out), "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no image 'nope'" in err
    assert (s.out / SessionStore.FILENAME).read_bytes() == before
    assert main(["history", str(tmp_path / "missing"), "id3"]) == 2
    assert "holds no activekd session" in capsys.readouterr().err and not (tmp_path / "missing").exists()
