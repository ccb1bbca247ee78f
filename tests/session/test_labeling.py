"""Applying answers: the same answers twice (relabel on) add no second import and no second label event."""

from _tiny_session import history, tiny_session

from activekd.session._labeling import add_labels


def write(path, rows: dict[str, str]):
    path.write_text("id,label\n" + "".join(f"{i},{c}\n" for i, c in rows.items()))
    return path


def test_the_same_answer_file_twice_with_relabel_is_one_import(tmp_path):
    s = tiny_session(tmp_path / "run")
    first = write(tmp_path / "first.csv", {"id2": "cat", "id3": "dog"})
    fixed = write(tmp_path / "fixed.csv", {"id2": "fox", "id3": "dog"})  # id2 corrected, id3 the same
    assert add_labels(s, first, relabel=True, origin="test").added == 2
    assert add_labels(s, first, relabel=True, origin="test").unchanged == 2
    assert history(s.out) == (1, [("id2", 0, None), ("id3", 1, None)])
    report = add_labels(s, fixed, relabel=True, origin="test")
    assert (report.added, report.corrected, report.unchanged) == (0, 1, 1)
    for _ in range(2):  # applied again: nothing new, whatever the order of the answers
        again = add_labels(s, write(tmp_path / "again.csv", {"id3": "dog", "id2": "fox"}), relabel=True, origin="test")
        assert (again.added, again.corrected, again.unchanged, again.missing) == (0, 0, 2, 1)
    assert history(s.out) == (2, [("id2", 0, None), ("id3", 1, None), ("id2", 2, 0)])
    assert dict(s.store.labels())["id2"] == 2


def test_a_correction_names_the_round_its_label_came_from_not_the_round_awaiting_labels(tmp_path):
    """Round 1 awaits labels; relabeling round 0's picks and an initial label says so, never "round 1: ... corrected"."""
    s = tiny_session(tmp_path / "run")
    report = add_labels(s, write(tmp_path / "fix0.csv", {"id0": "fox"}), relabel=True, origin="test")
    assert report.describe() == "0 label(s) added, 1 corrected (1 of the initial labels), 0 unchanged; round 0: 3 still missing"
    done = add_labels(s, write(tmp_path / "a.csv", {"id2": "cat", "id3": "dog", "id4": "fox"}), relabel=False, origin="test")
    assert done.describe() == "round 0: 3 label(s) added, 0 corrected, 0 unchanged; the batch is complete"
    s.store.finish_round(1, metrics={"round": 1}, picks=["id5", "id6"], new_labels=[], source="human", status="awaiting-labels")
    fixes = write(tmp_path / "fix.csv", {"id2": "dog", "id3": "fox", "id1": "cat"})
    text = add_labels(s, fixes, relabel=True, origin="test").describe()
    assert text == "0 label(s) added, 3 corrected (1 of the initial labels, 2 of round 0's picks), 0 unchanged; round 1: 2 still missing"
    mixed = add_labels(s, write(tmp_path / "m.csv", {"id5": "cat", "id4": "cat"}), relabel=True, origin="test").describe()
    assert mixed == "round 1: 1 label(s) added, 1 corrected (1 of round 0's picks), 0 unchanged; 1 still missing"
