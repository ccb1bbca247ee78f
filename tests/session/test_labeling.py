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
