"""A labeling team's loop on real Fashion-MNIST images, through files: CSV, and Label Studio exports.

run → batch file → answers (with a mistake) → label → relabel → finish → extend rounds → answers → finish;
the labels in SQLite equal the intended final answers and each round trained on the corrected labels.
"""

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from activekd.cli import main
from store_view import digest, store_labels

pytestmark = pytest.mark.slow
SMALL = ["--pool-limit", "400", "--test-limit", "200", "--repeat", "5", "--device", "cpu", "--no-progress", "--seed", "5"]


def write_csv(batch: Path, answers: dict[str, str], dest: Path) -> Path:
    """The batch CSV as a person returns it: the label column filled in (other columns kept)."""
    rows = list(csv.DictReader(batch.open()))
    with dest.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            if r["id"] in answers:
                w.writerow(dict(r, label=answers[r["id"]]))
    return dest


def write_ls_json(batch: Path, answers: dict[str, str], dest: Path) -> Path:
    """A Label Studio JSON export of the batch's import file: each task with one annotation choosing a class."""
    tasks = json.loads(batch.with_suffix(".labelstudio.json").read_text())
    out = []
    for n, t in enumerate(tasks, start=1):
        sid = t["data"]["activekd_id"]
        if sid in answers:
            result = [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [answers[sid]]}}]
            out.append(dict(t, id=n, annotations=[{"id": 100 + n, "result": result, "was_cancelled": False,
                                                   "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z"}]))
    dest.write_text(json.dumps(out))
    return dest


def write_ls_min(batch: Path, answers: dict[str, str], dest: Path) -> Path:
    """A Label Studio JSON-MIN export: one flat object per annotated task."""
    tasks = json.loads(batch.with_suffix(".labelstudio.json").read_text())
    rows = [{"id": n, "image": t["data"]["image"], "activekd_id": t["data"]["activekd_id"], "label": answers[t["data"]["activekd_id"]],
             "annotator": 1, "annotation_id": 100 + n, "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z",
             "lead_time": 3.2}
            for n, t in enumerate(tasks, start=1) if t["data"]["activekd_id"] in answers]
    dest.write_text(json.dumps(rows))
    return dest


def round_metrics(out: Path) -> dict[int, dict]:
    return {r["round"]: r for r in json.loads((out / "results.json").read_text())["rounds"]}


@pytest.mark.parametrize("first,second", [(write_csv, write_csv), (write_ls_json, write_ls_min)], ids=["csv", "labelstudio-files"])
def test_a_team_labels_with_a_mistake_corrects_it_extends_and_finishes(tmp_path, cache_dir, fmnist, capsys, first, second):
    names = fmnist.class_names
    truth = lambda sid: names[fmnist.labels[fmnist.index_of([sid])[0]]]  # noqa: E731
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "human", "--strategy", "margin",
                 "--rounds", "1", "--budget", "4"]) == 3  # 3: waits for labels
    initial = store_labels(out)
    batch0 = out / "to_label" / "round_000.csv"
    rows = list(csv.DictReader(batch0.open()))
    assert {r["teacher_guess"] for r in rows} <= set(names) and all(0 < float(r["student_prob"]) <= 1 for r in rows)
    assert (out / "to_label" / "classes.txt").read_text().split("\n")[:-1] == list(names)
    picks = [r["id"] for r in rows]
    intended = {p: truth(p) for p in picks}
    wrong = next(n for n in names if n != intended[picks[0]])
    answers = dict(intended, **{picks[0]: wrong})

    assert main(["label", str(out), str(first(batch0, answers, tmp_path / "a0"))]) == 0
    assert main(["label", str(out), str(first(batch0, answers, tmp_path / "a0"))]) == 0  # the same answers again: a no-op
    assert "0 label(s) added, 0 corrected, 4 unchanged" in capsys.readouterr().out
    assert main(["label", str(out), str(first(batch0, intended, tmp_path / "fix"))]) == 2  # a conflict needs --relabel
    assert main(["label", str(out), "--relabel", str(first(batch0, intended, tmp_path / "fix"))]) == 0  # options anywhere
    assert main(["resume", str(out)]) == 0
    res = round_metrics(out)
    corrected = dict(initial, **{p: names.index(c) for p, c in intended.items()})
    assert res[1]["labels_sha256"] == digest(corrected)  # round 1 trained on the corrected label
    assert json.loads((out / "results.json").read_text())["complete"]

    assert main(["resume", str(out), "--rounds", "2"]) == 3  # grow the finished run: round 1's picks wait for labels
    batch1 = out / "to_label" / "round_001.csv"
    picks1 = [r["id"] for r in csv.DictReader(batch1.open())]
    assert len(picks1) == 4 and not set(picks1) & set(corrected)
    intended.update({p: truth(p) for p in picks1})
    assert main(["label", str(out), str(second(batch1, {p: intended[p] for p in picks1}, tmp_path / "a1"))]) == 0
    assert main(["resume", str(out)]) == 0
    final = dict(initial, **{p: names.index(c) for p, c in intended.items()})
    assert store_labels(out) == final
    res = round_metrics(out)
    assert res[2]["labels_sha256"] == digest(final) and res[2]["num_labeled"] == len(final)
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] and results["num_labels"] == len(final) and results["config"]["loop"]["rounds"] == 2
    con = sqlite3.connect(out / "session.sqlite")
    hist = con.execute("SELECT sample_id, new_label, old_label FROM label_events ORDER BY event_id").fetchall()
    con.close()
    assert (picks[0], names.index(intended[picks[0]]), names.index(wrong)) in hist  # the mistake is kept in the history


def test_every_derived_file_is_rebuilt_from_the_store(tmp_path, cache_dir):
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--cache-dir", str(cache_dir), *SMALL, "--oracle", "human", "--rounds", "1", "--budget", "3"]
    assert main(args) == 3
    batch = out / "to_label" / "round_000.csv"
    first = batch.read_text()
    con = sqlite3.connect(out / "session.sqlite")
    sha = con.execute("SELECT checkpoint_sha256 FROM rounds WHERE round = 0").fetchone()[0]
    con.close()
    for f in (batch, out / "results.json", out / "checkpoints" / "round_000.safetensors"):
        f.unlink()
    assert main(["resume", str(out)]) == 3  # rebuilt, still waiting for labels
    assert batch.read_text() == first
    assert json.loads((out / "results.json").read_text())["rounds"][0]["round"] == 0
    from activekd.students.io import sha256_file

    assert sha256_file(out / "checkpoints" / "round_000.safetensors") == sha  # retrained: same seeds, same labels, same bytes


def test_initial_all_starts_from_every_label_the_dataset_carries(tmp_path, cache_dir, fmnist):
    """A CSV dataset with 12 of 30 images labeled: those 12 are the initial set; no test split → figures are null."""
    rows = ["path,label"]
    for n, i in enumerate(range(30)):
        path = tmp_path / "img" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        fmnist.images.pil(i).save(path)
        rows.append(f"{path},{fmnist.class_names[fmnist.labels[i]] if n < 12 else ''}")
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), "--cache-dir", str(cache_dir), "--dataset", f"csv:{tmp_path / 'data.csv'}", "--image-size", "28",
                 "--initial", "all", "--oracle", "human", "--kd", "none", "--rounds", "1", "--budget", "3", "--repeat", "2",
                 "--device", "cpu", "--no-progress"]) == 3
    con = sqlite3.connect(out / "session.sqlite")
    initial = con.execute("SELECT COUNT(*), MIN(source), MAX(source) FROM labels").fetchone()
    con.close()
    assert initial == (12, "initial", "initial")
    text = (out / "results.json").read_text()
    assert "NaN" not in text and json.loads(text)["rounds"][0]["student_acc"] is None


def test_selection_reads_fp32_outputs_whatever_the_training_precision(tmp_path, cache_dir, monkeypatch):
    """bf16 is for training and evaluation; every inference pass that selection reads runs in fp32."""
    import activekd.session._compute as compute  # every session inference pass goes through it

    seen = []
    real = compute.predict

    def spy(*args, bf16, desc, **kw):
        seen.append((desc, bf16))
        return real(*args, bf16=bf16, desc=desc, **kw)

    monkeypatch.setattr(compute, "predict", spy)
    assert main(["run", "--out", str(tmp_path / "run"), "--cache-dir", str(cache_dir), *SMALL, "--strategy", "pcoreset", "--bf16",
                 "--oracle", "human", "--rounds", "1", "--budget", "3"]) == 3
    selection = {"pool inference", "labeled inference", "picks"}  # "picks": the picked images' votes and suggestions
    assert {d for d, _ in seen} >= selection | {"test"}
    assert all(bf16 is False for d, bf16 in seen if d in selection)
    assert all(bf16 is True for d, bf16 in seen if d not in selection)  # evaluation keeps --bf16 (a no-op on CPU)
