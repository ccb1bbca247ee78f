"""The command line: the only place that parses arguments.

``activekd`` with no arguments runs the offline demo. Subcommands: ``run``, ``demo``, ``label``,
``resume``, ``sync``, ``status``, ``embed``, ``list``. Options are generated from the config dataclasses'
field help. It imports only the configuration and the session: the session does the work.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

from activekd.config import DataConfig, LabelStudioConfig, LoopConfig, RunConfig, StudentConfig, TeacherConfig, TrainConfig

log = logging.getLogger("activekd")

# (config section, dataclass, {field: flag name} for fields whose flag is not --field-name)
SECTIONS: list[tuple[str, type, dict[str, str]]] = [
    ("data", DataConfig, {}),
    ("teacher", TeacherConfig, {"spec": "teacher", "batch_size": "teacher-batch-size"}),
    ("student", StudentConfig, {"name": "student", "pretrained": "student-pretrained", "input_size": "student-input-size"}),
    ("train", TrainConfig, {}),
    ("loop", LoopConfig, {}),
    ("labelstudio", LabelStudioConfig, {"url": "ls-url", "project": "ls-project", "document_root": "ls-document-root"}),
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


def _print_report(report) -> None:
    print(report.describe(), flush=True)


def _finish(session, res: dict, out: Path) -> None:
    pending = session.store.pending_round()
    if pending is not None:
        print(f"round {pending.round}: {len(pending.picks)} image(s) to label: {session.oracle.describe(session.batch(pending.round))}")
    elif res["complete"]:
        f = res["final"]
        print(f"done: {res['num_labels']} labels; final student accuracy {_fmt(f['student_acc']).strip()}%"
              + (f", teacher {_fmt(f['teacher_acc']).strip()}%" if f.get("teacher_acc") is not None else ""))
        print(f"results: {out / 'results.json'}  student: {out / 'student.safetensors'}  session: {out / 'session.sqlite'}")


def _run(session, out: Path) -> int:
    with session:
        log.info("run folder %s; teacher: %s; device: %s", out, session.teacher.name if session.teacher else "none (CE only)", session.device)
        res = session.run(on_round=print_round)
        _finish(session, res, out)
    return 0


def cmd_run(ns: argparse.Namespace, defaults: dict[str, Any] | None = None) -> int:
    from activekd.session import ActiveSession

    config = build_config(ns, defaults)
    return _run(ActiveSession.open(config, Path(ns.out)), Path(ns.out))


def cmd_demo(ns: argparse.Namespace) -> int:
    config = build_config(ns, DEMO)
    print(f"activekd demo: Fashion-MNIST, {config.loop.shots} label(s) per class + {config.loop.rounds} rounds × {config.loop.budget} labels, "
          f"{config.student.name} student.\n"
          "Offline the teacher is the STAND-IN (a softmax regression fitted on 10,000 held-out Fashion-MNIST\n"
          "training images, ~83% test accuracy), not a vision-language model. See README.", flush=True)
    if ns.out is None:
        ns.out = DEMO_OUT
    return cmd_run(ns, DEMO)


def _resume_changes(ns: argparse.Namespace) -> dict[str, Any]:
    changes = {k: getattr(ns, _dest("run", k), None) for k in TOP_FIELDS}
    changes.update(rounds=getattr(ns, "rounds", None), budget=getattr(ns, "budget", None))
    ls = {f.name: getattr(ns, _dest("labelstudio", f.name), None) for f in dataclasses.fields(LabelStudioConfig)}
    if any(v is not None for v in ls.values()):
        changes["labelstudio"] = {k: v for k, v in ls.items() if v is not None}
    return {k: v for k, v in changes.items() if v is not None}


def cmd_resume(ns: argparse.Namespace) -> int:
    from activekd.session import ActiveSession

    return _run(ActiveSession.resume(Path(ns.out), **_resume_changes(ns)), Path(ns.out))


def cmd_label(ns: argparse.Namespace) -> int:
    from activekd.session import ActiveSession, undo_last_import

    if (ns.file is None) == (not ns.undo):
        raise ValueError("give a label FILE, or --undo to take back the last import")
    with ActiveSession.resume(Path(ns.out), progress=False) as session:
        if ns.undo:
            last, restored = undo_last_import(session)
            print(f"undid import {last['import_id']} ({last['kind']} from {last['origin']}): {restored} label(s) restored")
            return 0
        report = session.add_labels(ns.file, relabel=ns.relabel)
    _print_report(report)
    if report.round is not None and not report.missing and report.added:
        print(f"continue with `activekd resume {ns.out}`")
    return 0


def cmd_sync(ns: argparse.Namespace) -> int:
    from activekd.session import ActiveSession, sync

    with ActiveSession.resume(Path(ns.out), **_resume_changes(ns)) as session:
        report = sync(session, relabel=ns.relabel)
        _print_report(report)
        if ns.continue_ and report.round is not None and not report.missing:
            res = session.run(on_round=print_round)
            _finish(session, res, Path(ns.out))
    return 0


def cmd_status(ns: argparse.Namespace) -> int:
    from activekd.session import SessionStore

    out = Path(ns.out)
    with SessionStore.open(out, readonly=True) as store:
        rounds = store.rounds()
        print(f"{out}: {len(store.labels())} labels, {sum(r.status == 'done' for r in rounds)} round(s) done")
        for i, r in enumerate(rounds):
            print_round(dict(r.metrics, _header=i == 0))
            if r.status != "done":
                have = {i for i, _ in store.labels()}
                print(f"       round {r.round} awaits labels for {sum(p not in have for p in r.picks)} of {len(r.picks)} image(s)")
    return 0


def cmd_embed(ns: argparse.Namespace) -> int:
    """Fill the embedding cache of a VLM teacher ahead of a run."""
    from activekd.session import embed_teacher

    config = build_config(ns)
    print(f"embeddings of {config.data.dataset} by {config.teacher.spec}: {embed_teacher(config)}")
    return 0


def cmd_list(ns: argparse.Namespace) -> int:
    from activekd.session import registered_names

    for family, names in registered_names().items():
        print(f"{family + ':':<12}", ", ".join(names))
    return 0


def cmd_export(ns: argparse.Namespace) -> int:
    from activekd.export import export_student

    path = export_student(ns.run, ns.format, ns.out, round=ns.round)
    print(f"exported {ns.run} ({ns.format}) to {path}: uint8 RGB [B, 3, H, W] in, class probabilities out")
    return 0


def cmd_predict(ns: argparse.Namespace) -> int:
    from activekd.export import predict_images

    if ns.top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {ns.top_k}")
    report = predict_images(ns.model, ns.images, out=ns.out, top_k=ns.top_k, batch_size=ns.batch_size, progress=ns.progress)
    for path in report.unreadable:
        print(f"activekd: skipped unreadable image {path}", file=sys.stderr)
    print(f"{len(report.predictions)} image(s) predicted" + (f", {len(report.unreadable)} unreadable" if report.unreadable else "")
          + (f": {report.out}" if report.out else ""))
    if report.out is None:
        for p in report.predictions:
            print(p.path, *(f"{c}={q:.3f}" for c, q in zip(p.classes, p.probs)), sep="\t")
    return 0


def _add_deploy_commands(sub) -> None:
    ex = sub.add_parser("export", help="one self-contained file of the trained student (ONNX, TorchScript or torch.export)")
    ex.add_argument("run", help="run folder (its final student) or a student checkpoint (.safetensors)")
    ex.add_argument("--format", required=True, help="onnx | torchscript | pt2")
    ex.add_argument("--out", required=True, help="file to write")
    ex.add_argument("--round", type=int, default=None, help="export round N's checkpoint instead of the final student")
    ex.set_defaults(func=cmd_export)
    pr = sub.add_parser("predict", help="classify images with an exported model or a run folder")
    pr.add_argument("model", help="an exported file (.onnx, .pt2, .pt) or a run folder")
    pr.add_argument("images", nargs="+", help="image files, folders, globs, or a CSV with a path column")
    pr.add_argument("--out", default=None, help="CSV to write (id, path, top-k classes and probabilities); default: print")
    pr.add_argument("--top-k", type=int, default=1, help="classes per image (default 1)")
    pr.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    pr.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    pr.set_defaults(func=cmd_predict)


def _add_resume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="run folder")
    p.add_argument("--rounds", type=int, default=None, help="raise the number of rounds (extends a finished run)")
    p.add_argument("--budget", type=int, default=None, help="images per round from now on")
    p.add_argument("--device", dest=_dest("run", "device"), default=None, help="override the stored device")
    p.add_argument("--cache-dir", dest=_dest("run", "cache_dir"), default=None, help="override the stored cache folder")
    p.add_argument("--progress", dest=_dest("run", "progress"), action=argparse.BooleanOptionalAction, default=None)
    for f in dataclasses.fields(LabelStudioConfig):
        p.add_argument(_flag(SECTIONS[-1][2][f.name]), dest=_dest("labelstudio", f.name), default=None, help=f.metadata["help"])


class UsageError(ValueError):
    """A command line argparse cannot parse (told in one line, like every other user mistake)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def make_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="activekd", description="Active learning with knowledge distillation from a vision-language teacher. "
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
    lb = sub.add_parser("label", help="add (or correct) a person's labels: a filled-in batch CSV or a Label Studio export")
    lb.add_argument("out", help="run folder")
    lb.add_argument("file", nargs="?", help="CSV with columns id,label (class name or index), or a Label Studio JSON / JSON-MIN / CSV export")
    lb.add_argument("--relabel", action="store_true", help="allow answers that change an existing label (the old one is kept in the history)")
    lb.add_argument("--undo", action="store_true", help="take back the last import")
    lb.set_defaults(func=cmd_label)
    rs = sub.add_parser("resume", help="continue a run from its folder with its stored configuration (--rounds/--budget extend it)")
    _add_resume_args(rs)
    rs.set_defaults(func=cmd_resume)
    sy = sub.add_parser("sync", help="pull finished annotations from the run's Label Studio project")
    _add_resume_args(sy)
    sy.add_argument("--relabel", action="store_true", help="take Label Studio's answer where it differs from the stored label")
    sy.add_argument("--continue", dest="continue_", action="store_true", help="when the batch is complete, go on with the next round")
    sy.set_defaults(func=cmd_sync)
    st = sub.add_parser("status", help="show a run's rounds")
    st.add_argument("out", help="run folder")
    st.set_defaults(func=cmd_status)
    em = sub.add_parser("embed", help="compute and cache a VLM teacher's image embeddings ahead of runs")
    add_config_args(em)
    em.set_defaults(func=cmd_embed)
    ls = sub.add_parser("list", help="list datasets, teachers, students, strategies and oracles")
    ls.set_defaults(func=cmd_list)
    _add_deploy_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser()
    if not argv or argv[0] in ("-v", "--verbose") and len(argv) == 1:
        argv = argv + ["demo"]
    try:
        ns = parser.parse_args(argv)
    except UsageError as e:
        print(f"activekd: error: {e}", file=sys.stderr)
        return 2
    # activekd's own messages at INFO; other libraries' only from WARNING up (their INFO chatter is not for users)
    logging.basicConfig(level=logging.DEBUG if ns.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
                        if ns.verbose else "%(message)s")
    logging.getLogger("activekd").setLevel(logging.DEBUG if ns.verbose else logging.INFO)
    if ns.command is None:
        parser.print_help()
        return 2
    try:
        return ns.func(ns)
    except (ValueError, KeyError, OSError, ImportError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"activekd: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
