import sqlite3

import pytest

from activekd.session import SessionStore, StoreError


def make(tmp_path):
    s = SessionStore.open(tmp_path)
    s.initialise({"config": "{}"}, [(f"id{i}", i, "pool", None) for i in range(6)], [("id0", 1), ("id1", 0)])
    return s


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


def test_human_labels_complete_a_round(tmp_path):
    s = make(tmp_path)
    s.finish_round(0, metrics={}, picks=["id2", "id3"], new_labels=[], source="human", status="awaiting-labels")
    assert s.next_round() == 0 and s.pending_round().picks == ["id2", "id3"]
    assert s.add_human_labels(0, [("id2", 1)]) == 1
    assert s.round(0).status == "awaiting-labels"
    assert s.add_human_labels(0, [("id3", 0)]) == 0
    assert s.round(0).status == "done" and s.next_round() == 1
    assert s.pending_round() is None
    with pytest.raises(StoreError):
        s.add_human_labels(0, [("id4", 0)])


def test_schema_constraints_hold_even_for_raw_sql(tmp_path):
    s = make(tmp_path)
    with pytest.raises(sqlite3.IntegrityError):
        s.conn.execute("INSERT INTO labels VALUES ('id0', 2, 'oracle', 1, 0)")
    with pytest.raises(sqlite3.IntegrityError):
        s.conn.execute("INSERT INTO labels VALUES ('id5', 2, 'guess', 1, 0)")
