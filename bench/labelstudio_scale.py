"""Label Studio at pool scale: what ``serve`` costs a real Label Studio 1.23 (SQLite) with N tasks.

For each N, a fresh server (started as the tests start it: tests/_labelstudio_server.py) and one
project, driven through ``serve``'s own code (:class:`activekd.serve._studio.StudioProject`):

1. **import**: the N tasks created in queue order, ``TASK_CHUNK`` per import call: seconds until
   the first call is in (an annotator can start) and for all N;
2. **listing**: what a restarted ``serve`` lists once (ids and data of the N tasks);
3. **serve's rounds**: two rounds pushed as ``serve`` pushes them (``push_queue``: the first
   ``queue_window`` tasks of the queue with the round's 2 predictions each; the second round also
   deletes the first's), with the seconds an annotator then waits for the next task and the size
   of Label Studio's database after each round;
4. with ``--every-task [ROUNDS]``, one or two rounds that give *every* task its 2 predictions
   (``PREDICTION_CHUNK`` per import call), each deleting the previous round's: what a pool-wide push
   would cost. Each import call takes longer the more tasks already have predictions, so a round
   stops pushing once its calls have taken ``--every-task-budget`` seconds (and then deletes nothing).

Images are one small Fashion-MNIST JPEG per class, repeated (tasks only need URLs).

    OMP_NUM_THREADS=1 python3 bench/labelstudio_scale.py --tasks 10000 --every-task
    OMP_NUM_THREADS=1 python3 bench/labelstudio_scale.py --tasks 50000 --every-task 1 --every-task-budget 600
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _labelstudio_server import running_label_studio  # noqa: E402 - the server as the tests start it

from activekd.data import ArraySource, Dataset  # noqa: E402
from activekd.data._fashion_mnist import CLASS_NAMES, load_fashion_mnist  # noqa: E402
from activekd.serve import snapshot  # noqa: E402
from activekd.serve._loop import HEAD_BATCHES  # noqa: E402
from activekd.serve._protocol import predictions  # noqa: E402
from activekd.serve._studio import StudioProject, queue_window  # noqa: E402
from activekd.session._studio_link import TASK_CHUNK, LabelStudioLink, chunks  # noqa: E402

RETRAIN_EVERY = 10


def pool(root: Path, n: int) -> Dataset:
    """``n`` pool images whose files are 10 small JPEGs (one per class) under ``root/images``, repeated."""
    fm = load_fashion_mnist()
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    first = [int(np.flatnonzero(fm.labels == c)[0]) for c in range(10)]
    files = []
    for c, i in enumerate(first):
        files.append(str(folder / f"class{c}.jpg"))
        Image.fromarray(fm.images.as_tensor().numpy()[i, 0]).save(files[-1], quality=90)
    labels = np.arange(n) % 10
    return Dataset("scale", tuple(CLASS_NAMES), [f"im{i:06d}" for i in range(n)], labels, np.array(["pool"] * n, dtype=object),
                   ArraySource(np.zeros((1, 1, 1), np.uint8)), paths=[files[c] for c in labels])


def round_snapshot(ds: Dataset, r: int) -> object:
    """Round ``r``'s queue over the whole pool: random probabilities (seeded by ``r``), the first 10 as picks."""
    g = torch.Generator().manual_seed(r)
    probs = torch.softmax(3 * torch.randn(len(ds.ids), 10, generator=g), dim=1)
    teacher = torch.softmax(3 * torch.randn(len(ds.ids), 10, generator=g), dim=1)
    order = torch.randperm(len(ds.ids), generator=g)[:RETRAIN_EVERY].tolist()
    return snapshot(r, f"scale round {r} (score = queue place)", ds.ids, probs, teacher, [ds.ids[i] for i in order], set(), ds.class_names)


def db_mb(data_dir: Path) -> float:
    """Label Studio's SQLite database with its write-ahead log, if any (not a rollback journal: it lasts one write), in MB."""
    files = [data_dir / "label_studio.sqlite3", data_dir / "label_studio.sqlite3-wal"]
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def import_pool(studio: StudioProject, session, ids: list[str]) -> dict:
    """Create the pool's tasks in queue order; seconds to the first import call's tasks and to all of them."""
    create, marks = studio.link.create_tasks, []

    def marked(*args, **kw):
        for made in create(*args, **kw):
            marks.append(time.perf_counter())
            yield made

    studio.link.create_tasks = marked
    start = time.perf_counter()
    studio.ensure_tasks(session, ids)
    studio.link.create_tasks = create
    return {"first_chunk_s": marks[0] - start, "import_s": time.perf_counter() - start, "import_calls": len(marks)}


def next_task_s(ls, project: int) -> float:
    """Seconds Label Studio takes to serve an annotator the next task."""
    with httpx.Client(base_url=ls.url, headers={"Authorization": f"Token {ls.token}"}, timeout=600) as http:
        t = time.perf_counter()
        r = http.get(f"/api/projects/{project}/next")
        r.raise_for_status()
        return time.perf_counter() - t


class Figures:
    """Each figure printed as soon as it is measured, and saved with the others (so a run stopped early keeps them)."""

    def __init__(self, path: Path, tasks: int, runs: list[dict]) -> None:
        self.path, self.result = path, {"tasks": tasks}
        runs.append(self.result)
        self.runs = runs
        print(f"\n{tasks:,} tasks", flush=True)

    def __call__(self, line: str, **figures) -> None:
        self.result.update(figures)
        self.path.write_text(json.dumps(self.runs, indent=1))
        print(f"  {line}", flush=True)


def every_task_round(studio: StudioProject, snap, budget_s: float) -> dict:
    """Every task's 2 predictions of ``snap``, ``PREDICTION_CHUNK`` per call (stopping once ``budget_s`` is spent), then,
    if all went in, every older version deleted."""
    known = studio.tasks()
    preds = [dict(p, task=known[sid][0]) for sid in snap.order for p in predictions(snap.guesses[sid], snap.version)]
    calls, start = [], time.perf_counter()
    for part in chunks(preds, studio.prediction_chunk):
        if time.perf_counter() - start > budget_s:
            break
        calls.append(timed(lambda part=part: studio.predictions.import_predictions(part, len(part)))[0])
    done = {"predictions": len(preds), "calls": len(calls), "pushed": min(len(preds), len(calls) * studio.prediction_chunk),
            "push_s": sum(calls), "call_s": calls}
    if done["pushed"] < len(preds):
        return done
    delete_s, gone = timed(lambda: studio.predictions.delete_other_versions(snap.version))
    return dict(done, deleted=gone, delete_s=delete_s)


def measure(n: int, out: Path, every_task: int, budget_s: float, runs: list[dict]) -> None:
    data_dir, root = out / f"ls-{n}" / "data", out / f"ls-{n}" / "files"
    shutil.rmtree(out / f"ls-{n}", ignore_errors=True)
    data_dir.mkdir(parents=True)
    root.mkdir(parents=True)
    ds = pool(root, n)
    session = SimpleNamespace(out=root / "run", dataset=ds, config=SimpleNamespace(labelstudio=SimpleNamespace(document_root=str(root))))
    window, fig = queue_window(HEAD_BATCHES * RETRAIN_EVERY), Figures(out / "labelstudio_scale.json", n, runs)
    with running_label_studio(data_dir, root) as ls:
        link = LabelStudioLink(ls.url, ls.token)  # serve's: 60 s a call
        studio = StudioProject(link, link.ensure_project(f"activekd scale {n}", list(ds.class_names)))
        snaps = [round_snapshot(ds, r) for r in (1, 2, 3, 4)]
        r = import_pool(studio, session, list(snaps[0].order))
        fig(f"import: the first call ({min(TASK_CHUNK, n):,} tasks) in {r['first_chunk_s']:.1f} s, all {n:,} in {r['import_s']:.1f} s "
            f"({r['import_calls']} calls); database {db_mb(data_dir):.1f} MB", **r, db_after_import_mb=db_mb(data_dir))
        list_s, listed = timed(lambda: StudioProject(link, studio.project).tasks())
        assert len(listed) == n, (len(listed), n)
        fig(f"listing the project (a restart): {list_s:.1f} s", list_s=list_s)
        for k, snap in enumerate(snaps[:2], start=1):
            push_s, _ = timed(lambda snap=snap: studio.push_queue(session, snap, head=HEAD_BATCHES * RETRAIN_EVERY))
            nxt, mb = next_task_s(ls, studio.project), db_mb(data_dir)
            fig(f"serve round {k} (head of {window}): {push_s:.1f} s; next task in {nxt:.2f} s; database {mb:.1f} MB",
                **{f"serve_round{k}_s": push_s, f"serve_round{k}_next_s": nxt, f"serve_round{k}_db_mb": mb, "window": window})
        patient = StudioProject(LabelStudioLink(ls.url, ls.token, timeout=1800), studio.project)  # a pool-wide call takes long
        for k, snap in enumerate(snaps[2:2 + every_task], start=1):
            e = dict(every_task_round(patient, snap, budget_s), db_mb=db_mb(data_dir))
            gone = f", {e['deleted']:,} older deleted in {e['delete_s']:.1f} s" if "deleted" in e else " (stopped: budget spent)"
            fig(f"every task, round {k}: {e['pushed']:,} of {e['predictions']:,} predictions pushed in {e['push_s']:.1f} s "
                f"({e['calls']} calls, the slowest {max(e['call_s']):.1f} s){gone}; database {e['db_mb']:.1f} MB", **{f"every_round{k}": e})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, nargs="+", default=[10_000])
    p.add_argument("--out", type=Path, default=Path("/tmp/labelstudio_scale"))
    p.add_argument("--every-task", type=int, nargs="?", const=2, default=0, choices=(0, 1, 2), metavar="ROUNDS",
                   help="also push ROUNDS (default 2) rounds of predictions for every task")
    p.add_argument("--every-task-budget", type=float, default=900.0, metavar="S",
                   help="stop a pool-wide push after this many seconds of import calls (default 900)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[dict] = []
    for n in args.tasks:
        measure(n, args.out, args.every_task, args.every_task_budget, runs)


if __name__ == "__main__":
    main()
