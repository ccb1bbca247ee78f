"""``compare_table``: the comparison of two synthetic runs as text."""

import pytest

from activekd.report import compare_table


def test_compare_table_over_two_runs(make_run):
    a = make_run("random-dho-seed1", [0.5, 0.7, 0.6])
    b = make_run("entropy-dho-seed1", [0.4, 0.6, 0.8], strategy="entropy")
    text = compare_table([a, b])
    lines = text.splitlines()
    row_a = next(ln for ln in lines if ln.startswith("random-dho "))
    row_b = next(ln for ln in lines if ln.startswith("entropy-dho "))
    assert "AUBC 10–30 %" in text
    # final 60.00, AUBC (0.5+0.7)/2·10 + (0.7+0.6)/2·10 = 12.5 / 20 = 62.50; ranks 1, 1, 2 -> 1.33
    assert row_a.split()[1:7] == ["1", "30", "60.00", "62.50", "1.33", "80.00"]
    # final 80.00, AUBC (5 + 7) / 20 = 60.00; ranks 2, 2, 1 -> 1.67
    assert row_b.split()[1:7] == ["1", "30", "80.00", "60.00", "1.67", "80.00"]
    assert "50.0 (1)" in text and "40.0 (2)" in text
    assert "random-dho-seed1: continue" in text or "random-dho-seed1: stop" in text


def test_compare_table_shows_mean_and_std_over_seeds(make_run):
    runs = [make_run(f"m-seed{s}", accs, seed=s) for s, accs in ((1, [0.2, 0.4]), (2, [0.4, 0.6]), (3, [0.3, 0.8]))]
    row = next(ln for ln in compare_table(runs).splitlines() if ln.startswith("m "))
    assert "1,2,3" in row and "60.00 ± 20.00" in row


def test_older_runs_and_runs_without_test_accuracy_are_shown(make_run):
    old = make_run("old", [0.5, 0.6], rich=False)
    blind = make_run("blind", [None, None], strategy="entropy", teacher=None)
    text = compare_table([old, blind])
    assert "old" in text and "blind" in text and "—" in text


def test_missing_run_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="no results.json"):  # ReportError: a user mistake, one line
        compare_table([tmp_path / "nothing"])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        compare_table([tmp_path / "bad"])


def _dataset(run, **fields):
    import json

    doc = json.loads((run / "results.json").read_text())
    doc["dataset"].update(fields)
    (run / "results.json").write_text(json.dumps(doc))
    return run


def test_comparing_runs_on_different_data_warns_in_one_line(make_run, tmp_path, caplog):
    import logging

    from activekd.report import build_report

    a, b, c = (make_run(n, [0.4, 0.5]) for n in ("a", "b", "c"))
    caplog.set_level(logging.WARNING, logger="activekd.report")
    compare_table([a, b])
    assert not caplog.records  # same dataset, same fingerprint
    _dataset(b, name="cifar10")
    compare_table([a, b, c])
    (w,) = caplog.records
    assert w.getMessage() == ("these runs are on different datasets, so their accuracies are not comparable: "
                              "fashion-mnist: a, c; cifar10: b")
    caplog.clear()
    _dataset(b, name="fashion-mnist", fingerprint="other")
    assert "not comparable" in build_report([a, b], tmp_path / "r.html").read_text()
    (w,) = caplog.records
    assert "different data (another --pool-limit/--test-limit" in w.getMessage() and "(data other): b" in w.getMessage()


def test_the_label_count_is_the_stores_with_the_trained_count_beside_it(make_run, caplog):
    """The issue's report said 24 labels where the store held 44: labels a person gave after the last training count."""
    from activekd.config import RunConfig
    from activekd.report import load_run
    from activekd.session import SessionStore

    folder = make_run("human-seed1", [0.5, 0.6], labels=[10, 24])
    store = SessionStore.create(folder)
    ids = [f"im{i}" for i in range(60)]
    store.initialise({"config": RunConfig().to_json()}, [(i, n, "pool", None) for n, i in enumerate(ids)], [(i, 0) for i in ids[:44]])
    store.close()
    assert load_run(folder).num_labels == 44 and load_run(folder / "results.json").num_labels == 44
    row = next(ln for ln in compare_table([folder]).splitlines() if ln.startswith("human "))
    assert row.split()[1:4] == ["1", "44", "(24"] and "(24 trained)" in row
    plain = make_run("plain-seed1", [0.5, 0.6], labels=[10, 24])  # no store: results.json's count, equal to the trained one
    assert load_run(plain).num_labels == 24 and next(ln for ln in compare_table([plain]).splitlines()
                                                     if ln.startswith("plain ")).split()[1:4] == ["1", "24", "60.00"]
    (folder / "session.sqlite").write_bytes(b"not a store")
    with caplog.at_level("WARNING"):
        assert load_run(folder).num_labels == 24  # a damaged store: results.json's count, said in one warning
    assert any("label count is results.json's" in r.getMessage() for r in caplog.records)
