import sqlite3

import pytest

from activekd.session import SessionStore, StoreError
from activekd.session._ledger import LabelChange
from activekd.session._store import APPLICATION_ID, SCHEMA_VERSION


def make(tmp_path):
    s = SessionStore.create(tmp_path)
    s.initialise({"config": "{}"}, [(f"id{i}", i, "pool", None) for i in range(6)], [("id0", 1), ("id1", 0)])
    return s


def dump(path, tables=("labels", "rounds")) -> list:
    con = sqlite3.connect(path)
    try:
        return [r for t in tables for r in con.execute(f"SELECT * FROM {t} ORDER BY 1")]
    finally:
        con.close()


def test_labels_and_rounds(tmp_path):
    s = make(tmp_path)
    assert s.labels() == [("id0", 1), ("id1", 0)]
    assert s.next_round() == 0
    s.finish_round(0, metrics={"a": 1}, picks=["id3", "id2"], new_labels=[("id3", 1), ("id2", 0)], source="oracle")
    assert s.next_round() == 1
    assert s.labels(up_to_round=0) == [("id0", 1), ("id1", 0)]
    assert [i for i, _ in s.labels(up_to_round=1)] == ["id0", "id1", "id3", "id2"]
    rec = s.round(0)
    assert rec.picks == ["id3", "id2"] and rec.num_labeled == 2 and rec.metrics == {"a": 1}
    assert {r["source"] for r in s.label_rows()} == {"initial", "oracle"}


def test_the_store_marks_itself(tmp_path):
    make(tmp_path).close()
    con = sqlite3.connect(tmp_path / "session.sqlite")
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_a_round_is_recorded_once_a_second_record_is_refused(tmp_path):
    s = make(tmp_path)
    s.finish_round(0, metrics={}, picks=["id2"], new_labels=[], source="human", status="awaiting-labels")
    with pytest.raises(StoreError, match="recorded by another command"):
        s.finish_round(0, metrics={}, picks=["id3"], new_labels=[], source="human", status="awaiting-labels")
    assert s.round(0).picks == ["id2"] and s.round(0).status == "awaiting-labels"


def test_a_second_label_for_a_sample_is_refused_and_nothing_is_written(tmp_path):
    s = make(tmp_path)
    with pytest.raises(StoreError, match="only once"):
        s.finish_round(0, metrics={}, picks=["id2", "id0"], new_labels=[("id2", 1), ("id0", 1)], source="oracle")
    assert s.rounds() == [] and len(s.labels()) == 2  # the whole round rolled back


def test_unknown_sample_is_refused(tmp_path):
    s = make(tmp_path)
    with pytest.raises(StoreError):
        s.finish_round(0, metrics={}, picks=["nope"], new_labels=[("nope", 1)], source="oracle")
    assert s.rounds() == []


def test_initialise_twice_is_refused(tmp_path):
    s = make(tmp_path)
    with pytest.raises(StoreError, match="already initialised"):
        s.initialise({"config": "{}"}, [], [])
    with pytest.raises(StoreError, match="already exists"):
        SessionStore.create(tmp_path)


def test_human_labels_complete_a_round_corrections_keep_history_and_undo_restores(tmp_path):
    s = make(tmp_path)
    s.finish_round(0, metrics={}, picks=["id2", "id3"], new_labels=[], source="human", status="awaiting-labels")
    assert s.next_round() == 1 and s.pending_round().picks == ["id2", "id3"]
    assert s.apply_labels(0, [LabelChange("id2", 1)], kind="label", origin="a.csv") == 1
    assert s.round(0).status == "awaiting-labels"
    before = dump(tmp_path / "session.sqlite")
    assert s.apply_labels(0, [LabelChange("id3", 0), LabelChange("id0", 2, old=1)], kind="relabel", origin="b.csv") == 0
    assert s.round(0).status == "done" and s.pending_round() is None
    assert dict(s.labels())["id0"] == 2
    hist = s.history()
    assert [(h["id"], h["label"], h["old_label"], h["old_source"]) for h in hist] == [
        ("id2", 1, None, None), ("id3", 0, None, None), ("id0", 2, 1, "initial")]
    last = s.last_import()
    assert last["origin"] == "b.csv"
    assert s.undo_import(last["import_id"], reopen=0) == 2
    after = dump(tmp_path / "session.sqlite")
    assert after == before  # labels and rounds as before the corrected import
    assert dict(s.labels())["id0"] == 1 and s.round(0).status == "awaiting-labels"
    with pytest.raises(StoreError, match="undone already"):
        s.undo_import(last["import_id"], reopen=None)


def test_a_correction_validated_against_a_stale_label_is_refused(tmp_path):
    s = make(tmp_path)
    with pytest.raises(StoreError, match="changed underneath"):
        s.apply_labels(None, [LabelChange("id0", 3, old=2)], kind="relabel", origin="x")
    assert dict(s.labels())["id0"] == 1 and s.last_import() is None


def test_schema_constraints_hold_even_for_raw_sql(tmp_path):
    s = make(tmp_path)
    with pytest.raises(sqlite3.IntegrityError):
        s.conn.execute("INSERT INTO labels VALUES ('id0', 2, 'oracle', 1, 0)")
    with pytest.raises(sqlite3.IntegrityError):
        s.conn.execute("INSERT INTO labels VALUES ('id5', 2, 'guess', 1, 0)")


@pytest.mark.parametrize("content", [
    b"", b"hello, not a database", b"SQLite format 3\x00" + b"\x00" * 50,
])
def test_foreign_or_truncated_files_are_refused_unchanged(tmp_path, content):
    path = tmp_path / "session.sqlite"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not an activekd session"):
        SessionStore.open(tmp_path)
    assert path.read_bytes() == content


def test_another_tools_sqlite_file_and_a_newer_schema_are_refused_unchanged(tmp_path):
    path = tmp_path / "session.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="did not write"):
        SessionStore.open(tmp_path)
    assert path.read_bytes() == before
    (tmp_path / "b").mkdir()
    make(tmp_path / "b").close()
    con = sqlite3.connect(tmp_path / "b" / "session.sqlite")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    before = (tmp_path / "b" / "session.sqlite").read_bytes()
    with pytest.raises(StoreError, match="newer activekd"):
        SessionStore.open(tmp_path / "b")
    assert (tmp_path / "b" / "session.sqlite").read_bytes() == before


def test_a_corrupt_store_is_refused(tmp_path):
    make(tmp_path).close()
    path = tmp_path / "session.sqlite"
    data = bytearray(path.read_bytes())
    data[100:] = b"\xff" * (len(data) - 100)  # keep the header, destroy the pages
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt"):
        SessionStore.open(tmp_path)
    assert path.read_bytes() == bytes(data)


def test_a_change_half_written_by_a_killed_process_is_rolled_back_on_open(tmp_path):
    """A big transaction spills into the file before COMMIT; SIGKILL leaves a hot journal that every command must survive."""
    import os
    import subprocess
    import sys

    code = (
        "import os, signal\n"
        "from activekd.session import SessionStore\n"
        f"s = SessionStore.create({str(tmp_path)!r})\n"
        "s.initialise({'config': '{}'}, [(f'id{i}', i, 'pool', None) for i in range(20000)], [('id0', 1)])\n"
        "s.conn.execute('PRAGMA cache_size = 10')\n"
        "s.conn.execute('BEGIN IMMEDIATE')\n"
        "s.conn.executemany(\"INSERT INTO labels VALUES (?, 1, 'oracle', 1, 0)\", [(f'id{i}',) for i in range(1, 15000)])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == -9
    assert (tmp_path / "session.sqlite-journal").exists()
    with SessionStore.open(tmp_path, readonly=True) as s:  # `status` opens read-only
        assert s.labels() == [("id0", 1)]
    assert not (tmp_path / "session.sqlite-journal").exists() or os.path.getsize(tmp_path / "session.sqlite-journal") == 0
