"""The command line: the only place that parses arguments.

``activekd`` with no arguments runs the offline demo. Subcommands: ``run``, ``demo``, ``label``,
``status``, ``list``. Options are generated from the config dataclasses' field help.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

from activekd.config import DataConfig, LoopConfig, RunConfig, StudentConfig
from activekd.teachers import TeacherConfig
from activekd.train import TrainConfig

log = logging.getLogger("activekd")

# (config section, dataclass, {field: flag name} for fields whose flag is not --field-name)
SECTIONS: list[tuple[str, type, dict[str, str]]] = [
    ("data", DataConfig, {}),
    ("teacher", TeacherConfig, {"spec": "teacher", "batch_size": "teacher-batch-size"}),
    ("student", StudentConfig, {"name": "student", "pretrained": "student-pretrained", "input_size": "student-input-size"}),
    ("train", TrainConfig, {}),
    ("loop", LoopConfig, {}),
]
TOP_FIELDS = ("device", "cache_dir", "progress")
DEMO = dict(dataset="fashion-mnist", teacher="standin", student="small-cnn", strategy="random", shots=1, rounds=10, budget=10, seed=1)
DEMO_OUT = "runs/demo"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _dest(section: str, name: str) -> str:
    return f"{section}__{name}"


def _add_field(group, f: dataclasses.Field, flag: str, dest: str, hints: dict[str, Any]) -> None:
    tp = hints[f.name]
    args = typing.get_args(tp)
    base = next((a for a in args if a is not type(None)), tp) if args else tp
    help_ = f.metadata.get("help", "")
    if base is bool:
        group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=None, help=f"{help_} (default: {f.default})")
    else:
        group.add_argument(flag, dest=dest, type=base, default=None, metavar=f.name.upper(), help=f"{help_} (default: {f.default})")


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """One option per config field; ``dest`` is ``SECTION__FIELD`` (``run__FIELD`` for top-level ones)."""
    for section, cls, renames in SECTIONS:
        group = parser.add_argument_group(section)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            _add_field(group, f, _flag(renames.get(f.name, f.name)), _dest(section, f.name), hints)
    group = parser.add_argument_group("run")
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        if f.name in TOP_FIELDS:
            _add_field(group, f, _flag(f.name), _dest("run", f.name), hints)


def build_config(ns: argparse.Namespace, defaults: dict[str, Any] | None = None) -> RunConfig:
    """The one place a RunConfig is built from parsed arguments.

    ``defaults`` maps flag names (``"teacher"``, ``"shots"``, with ``_`` for ``-``) to values used
    where the option was not given.
    """
    given = vars(ns)
    defaults = defaults or {}

    def pick(section: str, name: str, flag: str, kw: dict) -> None:
        v = given.get(_dest(section, name))
        if v is None:
            v = defaults.get(flag.replace("-", "_"))
        if v is not None:
            kw[name] = v

    parts: dict[str, Any] = {}
    for section, cls, renames in SECTIONS:
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            pick(section, f.name, renames.get(f.name, f.name), kw)
        parts[section] = cls(**kw)
    top: dict[str, Any] = {}
    for name in TOP_FIELDS:
        pick("run", name, name, top)
    return RunConfig(**parts, **top)


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "   —  "
    return f"{100 * x:6.2f}"


def print_round(m: dict) -> None:
    if m.get("round") == 0 or m.get("_header"):
        print(f"{'round':>5}  {'labels':>6}  {'student %':>9}  {'CE head %':>9}  {'KD head %':>9}  {'teacher %':>9}  {'α':>4}  {'β':>4}")
    tag = "  (resumed)" if m.get("resumed") else ""
    print(f"{m['round']:>5}  {m['num_labeled']:>6}  {_fmt(m['student_acc']):>9}  {_fmt(m['ce_acc']):>9}  {_fmt(m['kd_acc']):>9}  "
          f"{_fmt(m.get('teacher_acc')):>9}  {m['alpha']:>4.2f}  {m['beta']:>4.2f}{tag}", flush=True)


def cmd_run(ns: argparse.Namespace, defaults: dict[str, Any] | None = None) -> int:
    from activekd.session import ActiveSession

    config = build_config(ns, defaults)
    out = Path(ns.out)
    session = ActiveSession.open(config, out)
    try:
        log.info("run folder %s; teacher: %s; device: %s", out, session.teacher.name if session.teacher else "none (CE only)", session.device)
        res = session.run(on_round=print_round)
        waiting = session.pending_round()
        if waiting is not None:
            print(f"round {waiting}: label the images listed in {session.request_path(waiting)} (column 'label': class name), "
                  f"then run `activekd label {out} FILE` and `activekd resume {out}`")
    finally:
        session.close()
    if res["complete"]:
        f = res["final"]
        print(f"done: {res['num_labels']} labels; final student accuracy {_fmt(f['student_acc']).strip()}%"
              + (f", teacher {_fmt(f['teacher_acc']).strip()}%" if f.get("teacher_acc") is not None else ""))
        print(f"results: {out / 'results.json'}  student: {out / 'student.safetensors'}  session: {out / 'session.sqlite'}")
    return 0


def cmd_demo(ns: argparse.Namespace) -> int:
    print("activekd demo: Fashion-MNIST, 1 label per class + 10 rounds × 10 labels, small-cnn student.\n"
          "Offline the teacher is the STAND-IN (a softmax regression fitted on 10,000 held-out Fashion-MNIST\n"
          "training images, ~83% test accuracy), not a vision-language model. See README.", flush=True)
    if ns.out is None:
        ns.out = DEMO_OUT
    return cmd_run(ns, DEMO)


def _open_store(out: Path):
    from activekd.session import SessionStore

    if not SessionStore.exists_in(out):
        raise ValueError(f"{out} holds no session")
    return SessionStore.open(out)


def cmd_label(ns: argparse.Namespace) -> int:
    from activekd.session import load_dataset, read_label_answers

    out = Path(ns.out)
    store = _open_store(out)
    try:
        config = RunConfig.from_dict(json.loads(store.get_meta("config")))
        rec = store.pending_round()
        if rec is None:
            raise ValueError(f"{out}: no round is waiting for labels")
        ds = load_dataset(config)
        already = {i for i, _ in store.labels()}
        answers = read_label_answers(Path(ns.file), ds, rec.picks, already)
        missing = store.add_human_labels(rec.round, answers)
    finally:
        store.close()
    print(f"round {rec.round}: recorded {len(answers)} label(s); {missing} still missing"
          + ("" if missing else f"; continue with `activekd resume {out}`"))
    return 0


def cmd_resume(ns: argparse.Namespace) -> int:
    out = Path(ns.out)
    store = _open_store(out)
    try:
        raw = json.loads(store.get_meta("config"))
    finally:
        store.close()
    config = RunConfig.from_dict(raw)
    overrides = {k: getattr(ns, _dest("run", k)) for k in TOP_FIELDS if getattr(ns, _dest("run", k), None) is not None}
    config = dataclasses.replace(config, **overrides)
    from activekd.session import ActiveSession

    session = ActiveSession.open(config, out)
    try:
        session.run(on_round=print_round)
    finally:
        session.close()
    return 0


def cmd_status(ns: argparse.Namespace) -> int:
    out = Path(ns.out)
    store = _open_store(out)
    try:
        rounds = store.rounds()
        print(f"{out}: {len(store.labels())} labels, {sum(r.status == 'done' for r in rounds)} round(s) done")
        for i, r in enumerate(rounds):
            print_round(dict(r.metrics, _header=i == 0))
            if r.status != "done":
                print(f"       round {r.round} awaits labels for {len(r.picks)} image(s)")
    finally:
        store.close()
    return 0


def cmd_embed(ns: argparse.Namespace) -> int:
    """Fill the embedding cache of a VLM teacher ahead of a run."""
    from activekd.session import load_dataset, resolve_device
    from activekd.teachers import TeacherContext, embed_dataset

    config = build_config(ns)
    cache = config.cache_path
    ds = load_dataset(config, cache)
    path = embed_dataset(config.teacher, TeacherContext(ds, cache, resolve_device(config.device), config.loop.seed))
    print(f"embeddings of {config.data.dataset} by {config.teacher.spec}: {path}")
    return 0


def cmd_list(ns: argparse.Namespace) -> int:
    from activekd.data import list_datasets
    from activekd.select import list_strategies
    from activekd.students import list_students
    from activekd.teachers import list_teachers

    print("datasets:  ", ", ".join(list_datasets()))
    print("teachers:  ", ", ".join(list_teachers()))
    print("students:  ", ", ".join(list_students()))
    print("strategies:", ", ".join(list_strategies()))
    return 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="activekd", description="Active learning with knowledge distillation from a vision-language teacher. "
                                "With no arguments: the offline Fashion-MNIST demo.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="run or resume an active-learning session")
    r.add_argument("--out", required=True, help="run folder (created; re-running the same command resumes)")
    add_config_args(r)
    r.set_defaults(func=cmd_run)
    d = sub.add_parser("demo", help="the offline Fashion-MNIST demo (stand-in teacher)")
    d.add_argument("--out", default=None, help=f"run folder (default {DEMO_OUT})")
    add_config_args(d)
    d.set_defaults(func=cmd_demo)
    lb = sub.add_parser("label", help="add a person's labels for the images a round picked")
    lb.add_argument("out", help="run folder")
    lb.add_argument("file", help="CSV with columns id,label (class name or index)")
    lb.set_defaults(func=cmd_label)
    rs = sub.add_parser("resume", help="continue a run from its folder with its stored configuration")
    rs.add_argument("out", help="run folder")
    rs.add_argument("--device", dest=_dest("run", "device"), default=None, help="override the stored device")
    rs.add_argument("--cache-dir", dest=_dest("run", "cache_dir"), default=None, help="override the stored cache folder")
    rs.add_argument("--progress", dest=_dest("run", "progress"), action=argparse.BooleanOptionalAction, default=None)
    rs.set_defaults(func=cmd_resume)
    st = sub.add_parser("status", help="show a run's rounds")
    st.add_argument("out", help="run folder")
    st.set_defaults(func=cmd_status)
    em = sub.add_parser("embed", help="compute and cache a VLM teacher's image embeddings ahead of runs")
    add_config_args(em)
    em.set_defaults(func=cmd_embed)
    ls = sub.add_parser("list", help="list datasets, teachers, students and strategies")
    ls.set_defaults(func=cmd_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    if not argv or argv[0] in ("-v", "--verbose") and len(argv) == 1:
        argv = argv + ["demo"]
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if ns.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
                        if ns.verbose else "%(message)s")
    if ns.command is None:
        parser.print_help()
        return 2
    from activekd.registry import UnknownNameError
    from activekd.session import SessionError, StoreError

    try:
        return ns.func(ns)
    except (UnknownNameError, SessionError, StoreError, ValueError, KeyError, FileNotFoundError, ImportError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"activekd: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
