"""A round's results as one type: every figure's name written once, and ``results.json`` files of older schemas read.

``tests/fixtures/results_schema2*.json`` are ``results.json`` files written by activekd before ``RoundResult`` (schema 2):
a 3-round run with ``--eval-on`` and a ``--shots 0`` run, on Fashion-MNIST slices.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest

from activekd.report import compare_table, load_run, stopping_advice
from activekd.round_result import (
    Accuracy,
    Agreement,
    ExtraSetResult,
    LikelyMistake,
    MixChoice,
    PerClass,
    RoundResult,
    SelectionMix,
    Training,
    keys,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD = FIXTURES / "results_schema2.json"
OLD_ZERO = FIXTURES / "results_schema2_zero_start.json"
SRC = Path(__file__).resolve().parents[1] / "src" / "activekd"
SAME_NAME_ELSEWHERE = {"eval_on"}  # also the configuration's field (DataConfig.eval_on) that asks for these figures
ELSEWHERE = {(f, "mix_source") for f in ("students/io.py", "export/_meta.py", "export/_source.py")}  # the student file's own
# metadata names its mix the same way
ELSEWHERE.add(("session/_standing.py", "likely_mistakes"))  # a field of `activekd status --json` (the flags standing now)


def _old_rounds(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rounds"]


@pytest.mark.parametrize("path", [OLD, OLD_ZERO], ids=["run", "zero-start"])
def test_an_old_results_file_reads_into_the_type_and_writes_back_every_figure(path):
    for old in _old_rounds(path):
        r = RoundResult.from_dict(old)
        back = r.to_dict()
        assert {k: back[k] for k in old} == old  # nothing lost or changed, status/picks/checkpoint kept as they were
        assert all(back[k] is None for k in back if k not in old and k != "student_trained") and back["student_trained"] is not None
        assert (r.round, r.num_labeled, r.test.student, r.test.teacher) == (old["round"], old["num_labeled"], old["student_acc"],
                                                                            old["teacher_acc"])
        assert (r.mix.alpha, r.mix.beta, r.mix.source, r.selection_mix.alpha) == (old["alpha"], old["beta"], old["mix_source"],
                                                                                 old["select_alpha"])
        assert r.seconds == old["seconds"] and r.likely_mistakes == tuple(LikelyMistake.from_dict(f) for f in old["likely_mistakes"])


def test_the_old_files_typed_figures():
    first = RoundResult.from_dict(_old_rounds(OLD)[0])
    assert first.training.trained and first.training.steps == 3 and len(first.test.grid) == 8 and len(first.per_class.confusion) == 10
    assert sum(map(sum, first.per_class.confusion)) == 100 and first.agreement == Agreement(None, first.agreement.teacher)
    ((spec, extra),) = first.eval_on.items()
    assert spec == "csv:extra.csv" and isinstance(extra, ExtraSetResult) and extra.num_images == 40 and extra.teacher is None
    zero = RoundResult.from_dict(_old_rounds(OLD_ZERO)[0])
    assert zero.training.trained is False and zero.selection == "teacher-coverage" and zero.num_labeled == 0
    assert zero.test == Accuracy(teacher=zero.test.teacher) and zero.mix == MixChoice(0.5, 1.0, "fixed", 0)


def test_the_report_and_the_advice_read_an_old_file():
    run = load_run(OLD)
    assert [r.num_labeled for r in run.rounds] == [10, 15, 20] and run.curve() == [(10, pytest.approx(0.47)), (15, pytest.approx(0.38)),
                                                                                  (20, pytest.approx(0.5))]
    assert stopping_advice(run.rounds)["decision"] == "undecided" == stopping_advice(_old_rounds(OLD))["decision"]
    text = compare_table([OLD, OLD_ZERO])
    assert "csv:extra.csv" in text and "undecided" in text


def test_a_round_written_and_read_back_is_the_same_round():
    r = RoundResult(round=2, num_labeled=30, mix=MixChoice(0.75, 2.0, "picks", 20, 0.8, 0.05, 0.02), selection_mix=SelectionMix(0.5, 1.0),
                    test=Accuracy(0.8, 0.6, 0.79, 0.7, 0.85, (0.8,) * 8), per_class=PerClass((1.0, None), ((3, 0), (1, 0))),
                    agreement=Agreement(0.9, None), training=Training(0.5, 40, (2.0, 1.0), 1), num_picked=10,
                    eval_on={"csv:x.csv": ExtraSetResult(0.5, None, 4)}, seconds={"train": 1.5}, labels_sha256="ab",
                    likely_mistakes=(LikelyMistake("id1", "cat", 0, ("dog", 0.9), None, 0.01, None, "teacher"),),
                    pick_thumbnails={"id1": "thumbnails/id1.png"})
    flat = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert RoundResult.from_dict(flat) == r and set(flat) == set(keys(RoundResult))
    assert r.headline() == {"num_labeled": 30, "student_acc": 0.8, "teacher_acc": 0.85, "alpha": 0.75, "beta": 2.0, "skipped": 0,
                            "returned_to_pool": 0}


def test_a_missing_figure_is_none_never_nan_and_an_unknown_one_is_kept():
    r = RoundResult.from_dict({"round": 0, "num_labeled": 5, "student_acc": math.nan, "alpha": 1.0, "beta": 1.0, "new_figure": [1, 2]})
    assert r.test.student is None and r.test.kd is None and r.mix.source is None and r.mix.evidence is None
    assert r.extra == {"new_figure": (1, 2)} and r.to_dict()["new_figure"] == [1, 2]
    assert RoundResult.from_dict({"round": 0}).mix is None and RoundResult.from_dict({}).closing.returned is None


def test_each_figure_has_one_name():
    names = keys(RoundResult)
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_figure_names_are_spelled_in_the_type_only():
    names = {n for n in keys(RoundResult) if "_" in n} - SAME_NAME_ELSEWHERE  # the one-word ones (round, alpha, ...) are common words
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "round_result.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":  # dict(student_acc=...)
                spelled = [(k.arg, node.lineno) for k in node.keywords]
            else:
                spelled = [(node.value, node.lineno)] if isinstance(node, ast.Constant) else []
            found += [f"{rel}:{line} {name!r}" for name, line in spelled if name in names and (rel, name) not in ELSEWHERE]
    assert not found, found
