"""The command line: the only place that parses arguments.

``activekd`` alone prints an overview naming every subcommand: ``demo``, ``run``, ``resume``, ``embed``, ``label``,
``sync``, ``serve``, ``status``, ``history``, ``export``, ``predict``, ``report``, ``compare``, ``benchmark``, ``list``.
Run options are generated from the config dataclasses' field help (``_cli_options``). It imports only the
configuration and the session (and the export package for deployment): the session does the work. A user's mistake
(:class:`~activekd.errors.ActiveKDError`) is one line and exit 2; anything else is a bug, shown with its traceback.

Exit statuses: 0 done (``run``/``resume``: every round trained; ``sync``: the batch is complete), 1 a bug,
2 refused (a user's mistake, one line), 3 waiting for labels (``run``/``resume``/``sync``: a round's picks are not
all labeled; ``activekd status --json`` says which), 130 interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

from activekd import __version__
from activekd._cli_options import (
    SECTIONS,
    TOP_FIELDS,
    add_config_args,
    build_config,
    config_toml,
    dest,
    flag,
)
from activekd.config import LabelStudioConfig
from activekd.errors import ActiveKDError, ConfigError
from activekd.layout import RunLayout
from activekd.round_result import RoundResult
from activekd.presets import PRESETS, preset_values

EXIT_DONE, EXIT_BUG, EXIT_REFUSED, EXIT_WAITING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""The exit statuses (docs/status.md): 3 tells a script "a person's turn" from 0 "finished"."""

DEMO = dict(dataset="fashion-mnist", teacher="standin", student="small-cnn", strategy="random", shots=1, rounds=10, budget=10, seed=1)
DEMO_OUT = "runs/demo"
OVERVIEW = """activekd trains a small image classifier with as few human labels as possible: a vision-language
teacher distils into a dual-head student (DHO) while active learning (PCoreSet, ...) picks what to label.

  activekd demo                     the offline Fashion-MNIST demo (about 3 minutes on 2 CPU cores)
  activekd run --out RUN ...        a run (see `activekd run --help`)
  activekd resume RUN               continue a run (--rounds/--budget extend a finished one)
  activekd embed ...                cache a VLM teacher's image embeddings ahead of runs
  activekd label RUN FILE           a person's labels (a filled-in batch CSV or a Label Studio export)
  activekd sync RUN                 pull finished annotations from the run's Label Studio project
  activekd serve RUN                Label Studio's machine-learning backend: suggestions, retraining
  activekd status RUN [--json]      where a run stands and the next command (run/resume/sync exit 3 while waiting)
  activekd history RUN ID           one image's label history: when, which round, from where, old -> new
  activekd export RUN ...           one file (ONNX, TorchScript, torch.export) of the latest trained student
  activekd predict MODEL IMAGES     classify images with an exported file or a run folder
  activekd report RUN...            one HTML page comparing runs (figures as PNG files beside it)
  activekd compare RUN...           the report's comparison as tables in the terminal
  activekd benchmark offline ...    the offline benchmark grid
  activekd list                     datasets, teachers, students, strategies, oracles, presets

`activekd COMMAND --help` for a command's options; README.md for the whole story."""


def _fmt(x: float | None) -> str:
    return "   —  " if x is None else f"{100 * x:6.2f}"


MIX_LEGEND = ("α, β: the head mix predicted with (p = (1-α)·CE + α·KD/β); from: prior = pure KD until 2 out-of-sample "
              "labels per class, picks N = chosen on N labeled picks, val N = DHO's search on N validation labels, "
              "fixed = --alpha/--beta")


def _mix_source(mix) -> str:
    n = mix.counted()
    return f"{mix.source} {n}" if n is not None else mix.source or ""


def print_round(r: RoundResult, resumed: bool = False, *, header: bool = False) -> None:
    """One table row of round ``r`` (a header before round 0, or when asked); ``resumed``: recorded by an earlier command."""
    if r.round == 0 or header:
        select = r.selection_mix
        print(MIX_LEGEND + ("" if select.alpha is None else f"; selection uses {select.alpha:.2f}/{_or(select.beta, 1.0):.2f}") + ".")
        print(f"{'round':>5}  {'labels':>6}  {'student %':>9}  {'CE head %':>9}  {'KD head %':>9}  {'teacher %':>9}  {'α':>4}  {'β':>4}  from")
    tag, acc = "  (resumed)" if resumed else "", r.test
    print(f"{r.round:>5}  {r.num_labeled:>6}  {_fmt(acc.student):>9}  {_fmt(acc.ce):>9}  {_fmt(acc.kd):>9}  "
          f"{_fmt(acc.teacher):>9}  {r.mix.alpha:>4.2f}  {r.mix.beta:>4.2f}  {_mix_source(r.mix)}{tag}", flush=True)
    for spec, e in (r.eval_on or {}).items():  # --eval-on: one line per extra test set, under the student and teacher columns
        print(f"{'':>5}  {'':>6}  {_fmt(e.student):>9}  {'':>9}  {'':>9}  {_fmt(e.teacher):>9}  "
              f"on {spec} ({e.num_images} images)", flush=True)


def _or(x, default):
    return default if x is None else x


def _print_report(report) -> None:
    print(report.describe(), flush=True)


def _finish(session, res: dict, out: Path) -> int:
    """Say what the run needs next; returns its exit status (:data:`EXIT_WAITING` while a round waits for labels)."""
    pending = session.store.pending_round()
    if pending is not None:
        print(f"round {pending.round}: {len(pending.picks)} image(s) to label: {session.oracle.describe(session.batch(pending.round))}")
        return EXIT_WAITING
    if res["complete"]:
        f = RoundResult.from_dict(res["final"]).test
        print(f"done: {res['num_labels']} labels; final student accuracy {_fmt(f.student).strip()}%"
              + (f", teacher {_fmt(f.teacher).strip()}%" if f.teacher is not None else ""))
        layout = RunLayout(out)
        print(f"results: {layout.results}  student: {layout.student}  session: {layout.store}")
    return EXIT_DONE


def _waiting_status(out: Path) -> int:
    """:data:`EXIT_WAITING` when the run in ``out`` waits for labels, else :data:`EXIT_DONE` (read-only)."""
    from activekd.session import SessionStore, standing

    with SessionStore.open(out, readonly=True) as store:
        return EXIT_WAITING if standing(store, out).state == "waiting-for-labels" else EXIT_DONE


def _run(ns: argparse.Namespace, device: str, open_run) -> int:
    """Run ``open_run(compute)``'s session here, or as ``--nproc`` processes (torchrun); a rank > 0 serves rank 0.

    Returns the exit status; inside a torchrun launch rank 0 ends 0 when waiting (torchrun would call 3 a failure) and
    the launching process reads the run's standing instead."""
    from activekd.parallel import torchrun, without_option
    from activekd.session import launch, serve_rank

    if getattr(ns, "nproc", 1) < 1:
        raise ConfigError(f"--nproc must be >= 1, got {ns.nproc}")
    out = Path(ns.out)
    if getattr(ns, "nproc", 1) > 1:
        rc = torchrun(ns.nproc, without_option(ns.argv, "--nproc"))
        return _waiting_status(out) if rc == EXIT_DONE else rc
    with launch(device) as compute:
        if not compute.group.is_main:
            return serve_rank(compute)
        with open_run(compute) as session:
            rc = _finish(session, session.run(on_round=print_round), out)
        return EXIT_DONE if compute.group.world_size > 1 else rc


def cmd_run(ns: argparse.Namespace, defaults: dict[str, Any] | None = None) -> int:
    from activekd.session import ActiveSession

    preset = getattr(ns, "preset", None)
    config = build_config(ns, defaults if preset is None else preset_values(preset))
    if ns.print_config:
        print(config_toml(config), end="")
        return 0
    if ns.out is None:
        raise ConfigError("--out is required: the run folder (created; re-running the same command resumes)")
    return _run(ns, config.device, lambda compute: ActiveSession.open(config, Path(ns.out), compute=compute))


def cmd_demo(ns: argparse.Namespace) -> int:
    config = build_config(ns, DEMO)
    if ns.print_config:
        return cmd_run(ns, DEMO)
    print(f"activekd demo: Fashion-MNIST, {config.loop.shots} label(s) per class + {config.loop.rounds} rounds × {config.loop.budget} labels, "
          f"{config.student.name} student.\n"
          "Offline the teacher is the STAND-IN (a softmax regression fitted on 10,000 held-out Fashion-MNIST\n"
          "training images, ~83% test accuracy), not a vision-language model. See README.", flush=True)
    if ns.out is None:
        ns.out = DEMO_OUT
    return cmd_run(ns, DEMO)


def _resume_changes(ns: argparse.Namespace) -> dict[str, Any]:
    changes = {k: getattr(ns, dest("run", k), None) for k in TOP_FIELDS}
    changes.update(rounds=getattr(ns, "rounds", None), budget=getattr(ns, "budget", None))
    ls = {f.name: getattr(ns, dest("labelstudio", f.name), None) for f in dataclasses.fields(LabelStudioConfig)}
    if any(v is not None for v in ls.values()):
        changes["labelstudio"] = {k: v for k, v in ls.items() if v is not None}
    return {k: v for k, v in changes.items() if v is not None}


def cmd_resume(ns: argparse.Namespace) -> int:
    from activekd.session import ActiveSession

    changes = _resume_changes(ns)
    return _run(ns, changes.get("device", "auto"), lambda compute: ActiveSession.resume(Path(ns.out), compute=compute, **changes))


def cmd_label(ns: argparse.Namespace) -> int:
    from activekd.session import ActiveSession, undo_last_import, write_review_file

    if [ns.file is not None, ns.undo, ns.review].count(True) != 1:
        raise ConfigError("give a label FILE, or --undo to take back the last import, or --review to list likely label mistakes")
    if ns.review_out is not None and not ns.review:
        raise ConfigError("--out names the file of --review")
    with ActiveSession.resume(Path(ns.out)) as session:
        if ns.review:
            n, path = write_review_file(session, ns.review_out)
            print(f"{n} likely label mistake(s) written to {path} (and {path.with_suffix('.labelstudio.json').name}); "
                  f"correct the label column, then `activekd label {ns.out} {path} --relabel`")
            return 0
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
        report = sync(session, relabel=ns.relabel, close=ns.close)
        _print_report(report)
        if ns.continue_ and report.round is not None and not report.missing:
            return _finish(session, session.run(on_round=print_round), Path(ns.out))
        return EXIT_WAITING if session.store.pending_round() is not None else EXIT_DONE


def cmd_status(ns: argparse.Namespace) -> int:
    from activekd.report import stopping_advice
    from activekd.session import LikelyMistake, SessionStore, standing

    out = Path(ns.out)
    with SessionStore.open(out, readonly=True) as store:
        rounds, where = store.rounds(), standing(store, out)
    advice = stopping_advice([r.result for r in rounds]) if rounds else None
    if ns.json:
        print(where.to_json(advice=advice))
        return EXIT_DONE
    of = "" if where.rounds_planned is None else f" of {where.rounds_planned + 1}"
    print(f"{out}: {where.labels} labels, {where.rounds_trained}{of} round(s) trained; {where.summary}")
    for i, r in enumerate(rounds):
        print_round(r.result, header=i == 0)
        closing = r.result.closing
        if r.round == where.pending_round:
            print(f"       round {r.round} awaits labels for {where.missing} of {where.picks} image(s)")
        elif closing.returned:
            print(f"       round {r.round} closed with {closing.returned} of {len(r.picks)} pick(s) back in the pool "
                  f"({closing.skipped or 0} skipped)")
    if where.likely_mistakes:
        print(f"likely label mistakes: {len(where.likely_mistakes)} (`activekd label {out} --review` writes them to re-check)")
        for f in where.likely_mistakes[:10]:
            print(f"  {f['id']}: {LikelyMistake.from_dict(f).describe()}")
    if where.unreadable:
        print(f"unreadable images left out: {where.unreadable} (listed in {where.unreadable_list})")
    if advice is not None:
        print(f"advice: {advice['decision']} ({advice['reason']})")
    print(f"next: {where.next}")
    return EXIT_DONE


def cmd_history(ns: argparse.Namespace) -> int:
    from activekd.session import SessionStore, label_history

    with SessionStore.open(Path(ns.out), readonly=True) as store:
        print("\n".join(label_history(store, ns.out, ns.id).lines()))
    return EXIT_DONE


def cmd_embed(ns: argparse.Namespace) -> int:
    """Fill the embedding cache of a VLM teacher ahead of a run."""
    from activekd.session import embed_teacher

    config = build_config(ns)
    if ns.print_config:
        print(config_toml(config), end="")
        return 0
    print(f"embeddings of {config.data.dataset} by {config.teacher.spec}: {embed_teacher(config)}")
    return 0


def cmd_list(ns: argparse.Namespace) -> int:
    from activekd.session import registered_names

    for family, names in registered_names().items():
        print(f"{family + ':':<12}", ", ".join(names))
    print(f"{'presets:':<12}", ", ".join(PRESETS.names()))
    return 0


def cmd_export(ns: argparse.Namespace) -> int:
    from activekd.export import describe_checkpoint, export_student, resolve_checkpoint

    ckpt, _ = resolve_checkpoint(ns.run, ns.round)  # without --round: the latest trained round
    path = export_student(ckpt, ns.format, ns.out)
    print(f"exported {ns.run}, {describe_checkpoint(ckpt)} ({ns.format}), to {path}: uint8 RGB [B, 3, H, W] in, class probabilities out")
    return 0


def cmd_predict(ns: argparse.Namespace) -> int:
    from activekd.export import predict_images

    if ns.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {ns.top_k}")
    report = predict_images(ns.model, ns.images, out=ns.out, top_k=ns.top_k, batch_size=ns.batch_size, progress=ns.progress)
    print(f"{len(report.predictions)} image(s) predicted" + (f", {len(report.unreadable)} unreadable" if report.unreadable else "")
          + (f": {report.out}" if report.out else ""))
    if report.accuracy is not None:
        print(f"top-1 accuracy against the CSV's labels: {100 * report.accuracy:.2f}%")
    if report.out is None:
        for p in report.predictions:
            print(p.path, *(f"{c}={q:.3f}" for c, q in zip(p.classes, p.probs)), sep="\t")
    return 0


def cmd_report(ns: argparse.Namespace) -> int:
    from activekd.report import build_report

    path = build_report([Path(r) for r in ns.runs], Path(ns.out))
    print(f"report of {len(ns.runs)} run(s): {path} (figures also as PNG files beside it)")
    return 0


def cmd_compare(ns: argparse.Namespace) -> int:
    from activekd.report import compare_table

    print(compare_table([Path(r) for r in ns.runs]))
    return 0


def cmd_benchmark(ns: argparse.Namespace) -> int:
    from activekd.report import run_offline_benchmark

    report = run_offline_benchmark(Path(ns.out), strategies=ns.strategies, seeds=ns.seeds, kd_modes=ns.kd, device=ns.device,
                                   cache_dir=ns.cache_dir, progress=ns.progress, pool_limit=ns.pool_limit, test_limit=ns.test_limit,
                                   repeat=ns.repeat, baseline_labels=ns.baseline_labels or None)
    print(f"benchmark grid in {ns.out}; report: {report}")
    return 0


def cmd_serve(ns: argparse.Namespace) -> int:
    from activekd.serve import serve

    serve(Path(ns.out), host=ns.host, port=ns.port, retrain_every=ns.retrain_every, connect=ns.connect, backend_url=ns.backend_url,
          relabel=not ns.no_relabel, device=ns.device)
    return 0


def _add_serve_command(sub, common) -> None:
    sv = sub.add_parser("serve", parents=[common], help="Label Studio's machine-learning backend for a run (--oracle labelstudio): "
                        "suggestions, learning from annotations, the strategy's order as the queue")
    sv.add_argument("out", help="run folder")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=9090, help="port (default 9090)")
    sv.add_argument("--retrain-every", type=int, default=None, metavar="N", help="train the next round every N new labels (default: the run's budget)")
    sv.add_argument("--connect", action="store_true", help="register this backend in the run's Label Studio project")
    sv.add_argument("--backend-url", default=None, help="the address Label Studio should call, when not http://HOST:PORT")
    sv.add_argument("--no-relabel", action="store_true", help="refuse an edited annotation instead of correcting the stored label")
    sv.add_argument("--device", default=None, help="override the stored device")
    sv.set_defaults(func=cmd_serve)


def _add_report_commands(sub, common) -> None:
    from activekd.report import BASELINE_LABELS, KD_MODES, SEEDS, default_strategies

    grid = default_strategies()
    rp = sub.add_parser("report", parents=[common], help="one self-contained HTML page (and PNGs) comparing runs")
    rp.add_argument("runs", nargs="+", help="run folders (or results.json files); runs differing only in seed are grouped")
    rp.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    rp.set_defaults(func=cmd_report)
    cp = sub.add_parser("compare", parents=[common], help="the report's comparison as a table in the terminal")
    cp.add_argument("runs", nargs="+", help="run folders (or results.json files)")
    cp.set_defaults(func=cmd_compare)
    bm = sub.add_parser("benchmark", parents=[common], help="the offline benchmark grid (Fashion-MNIST, stand-in teacher, small-cnn)")
    bm.add_argument("suite", choices=["offline"], help="which benchmark (offline: needs no network)")
    bm.add_argument("--out", required=True, help="folder of the grid: one resumable run folder per cell, then report.html")
    bm.add_argument("--strategies", nargs="+", default=grid, help=f"default: {' '.join(grid)}")
    bm.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help=f"default: {' '.join(map(str, SEEDS))}")
    bm.add_argument("--kd", nargs="+", default=list(KD_MODES), help=f"default: {' '.join(KD_MODES)}")
    bm.add_argument("--baseline-labels", type=int, default=BASELINE_LABELS,
                    help=f"CE-only random picks up to this many labels, 'what plain labeling needs' (0: none; default {BASELINE_LABELS})")
    bm.add_argument("--device", default="auto", help="auto | cpu | cuda")
    bm.add_argument("--cache-dir", default=None, metavar="DIR", help="teacher and image cache")
    bm.add_argument("--pool-limit", type=int, default=None, help="shrink every run (quick trials)")
    bm.add_argument("--test-limit", type=int, default=None, help="shrink every run's test split")
    bm.add_argument("--repeat", type=int, default=None, help="labeled-set repeats per round (default: the reference's 200)")
    bm.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False, help="progress bars")
    bm.set_defaults(func=cmd_benchmark)


def _add_deploy_commands(sub, common) -> None:
    ex = sub.add_parser("export", parents=[common], help="one self-contained file of the trained student (ONNX, TorchScript or torch.export)")
    ex.add_argument("run", help="run folder (its latest trained round) or a student checkpoint (.safetensors)")
    ex.add_argument("--format", required=True, help="onnx | torchscript | pt2")
    ex.add_argument("--out", required=True, help="file to write (atomically: nothing is left if the export fails)")
    ex.add_argument("--round", type=int, default=None, metavar="N",
                    help="export round N's checkpoint (N >= 0); default: the latest trained round (the final student of a complete run); "
                         "a negative N is refused, not read as the latest")
    ex.set_defaults(func=cmd_export)
    pr = sub.add_parser("predict", parents=[common], help="classify images with an exported model or a run folder")
    pr.add_argument("model", help="an exported file (.onnx, .pt2, .pt) or a run folder")
    pr.add_argument("images", nargs="+", help="image files, folders, globs, or a CSV with a path column (ids: paths relative to the "
                    "folder given, or to the folder above several)")
    pr.add_argument("--out", default=None, help="CSV to write (id, path, top-k classes and probabilities); default: print")
    pr.add_argument("--top-k", type=int, default=1, help="classes per image (default 1)")
    pr.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    pr.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar (on a terminal only)")
    pr.set_defaults(func=cmd_predict)


def _add_resume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="run folder")
    p.add_argument("--rounds", type=int, default=None, help="raise the number of rounds (extends a finished run)")
    p.add_argument("--budget", type=int, default=None, help="images per round from now on")
    p.add_argument("--device", dest=dest("run", "device"), default=None, metavar="DEVICE", help="override the stored device")
    p.add_argument("--cache-dir", dest=dest("run", "cache_dir"), default=None, metavar="DIR", help="override the stored cache folder")
    p.add_argument("--progress", dest=dest("run", "progress"), action=argparse.BooleanOptionalAction, default=None,
                   help="show progress bars (on a terminal)")
    for f in dataclasses.fields(LabelStudioConfig):
        p.add_argument(flag(SECTIONS[-1][2][f.name]), dest=dest("labelstudio", f.name), default=None, metavar=f.name.upper(),
                       help=f.metadata["help"])


class UsageError(ActiveKDError):
    """A command line argparse cannot parse (told in one line, like every other user mistake)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _AnyOrderParser(_Parser):
    """A subcommand's parser: its positionals and options in any order (``label RUN --relabel FILE`` as well as
    ``label RUN FILE --relabel``), by argparse's intermixed parsing, which plain parsing lacks for optional positionals."""

    _inside = False  # parse_known_intermixed_args calls parse_known_args (Python < 3.13): the inner calls parse plainly

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def _common() -> argparse.ArgumentParser:
    """-v/-q/--version, accepted before or after the subcommand (SUPPRESS keeps a subcommand from resetting them)."""
    c = argparse.ArgumentParser(add_help=False)
    c.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging, with times")
    c.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="only warnings and errors; no progress bars")
    c.add_argument("--version", action="version", version=f"activekd {__version__}")
    return c


def _add_nproc(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="processes (one per GPU, or CPU processes with gloo): N > 1 runs this command under "
                        "`torchrun --standalone --nproc-per-node N` (DistributedDataParallel)")


def _run_commands(sub, common) -> None:
    r = sub.add_parser("run", parents=[common], help="run or resume an active-learning session")
    r.add_argument("--out", default=None, help="run folder (created; re-running the same command resumes)")
    r.add_argument("--preset", default=None, metavar="NAME",
                   help=f"start from a paper's settings ({', '.join(PRESETS.names())}; docs/presets.md); the config file and flags override it")
    _add_nproc(r)
    add_config_args(r)
    r.set_defaults(func=cmd_run)
    d = sub.add_parser("demo", parents=[common], help="the offline Fashion-MNIST demo (stand-in teacher)")
    d.add_argument("--out", default=None, help=f"run folder (default {DEMO_OUT})")
    add_config_args(d)
    d.set_defaults(func=cmd_demo)
    rs = sub.add_parser("resume", parents=[common], help="continue a run with its stored configuration (--rounds/--budget extend it)")
    _add_resume_args(rs)
    _add_nproc(rs)
    rs.set_defaults(func=cmd_resume)
    em = sub.add_parser("embed", parents=[common], help="compute and cache a VLM teacher's image embeddings ahead of runs")
    add_config_args(em, sections=("data", "teacher"))
    em.set_defaults(func=cmd_embed)


def _label_commands(sub, common) -> None:
    lb = sub.add_parser("label", parents=[common], help="add (or correct) a person's labels: a filled-in batch CSV or a Label Studio export")
    lb.add_argument("out", help="run folder")
    lb.add_argument("file", nargs="?", help="CSV with columns id,label (class name or index), or a Label Studio JSON / JSON-MIN / CSV export")
    lb.add_argument("--relabel", action="store_true", help="allow answers that change an existing label (the old one is kept in the history)")
    lb.add_argument("--undo", action="store_true", help="take back the last import")
    lb.add_argument("--review", action="store_true", help="write the likely label mistakes (see docs/mislabels.md) to a CSV to "
                    "re-check, labels filled in (feed it back with --relabel), and its Label Studio tasks beside it")
    lb.add_argument("--out", dest="review_out", default=None, metavar="FILE", help="the CSV of --review (default RUN/to_label/review.csv)")
    lb.set_defaults(func=cmd_label)
    sy = sub.add_parser("sync", parents=[common], help="pull finished annotations from the run's Label Studio project")
    _add_resume_args(sy)
    sy.add_argument("--relabel", action="store_true", help="take Label Studio's answer where it differs from the stored label")
    sy.add_argument("--continue", dest="continue_", action="store_true", help="when the batch is complete, go on with the next round")
    sy.add_argument("--close", action="store_true", help="close the round with the labels it has: its unlabeled picks go back "
                    "to the pool (a pick skipped in Label Studio counts as answered anyway)")
    sy.set_defaults(func=cmd_sync)
    st = sub.add_parser("status", parents=[common], help="show a run's rounds, what it waits for and what to do next (read-only)")
    st.add_argument("out", help="run folder")
    st.add_argument("--json", action="store_true", help="one JSON document for scripts: state (waiting-for-labels, ready, finished), "
                    "labels, rounds, the round waiting for labels, the next step")
    st.set_defaults(func=cmd_status)
    hi = sub.add_parser("history", parents=[common], help="one image's label history: when, for which round, how, from where, "
                        "old -> new class (read-only)")
    hi.add_argument("out", help="run folder")
    hi.add_argument("id", help="the image's id (as in the batch CSV's id column)")
    hi.set_defaults(func=cmd_history)
    ls = sub.add_parser("list", parents=[common], help="list datasets, teachers, students, strategies, oracles and presets")
    ls.set_defaults(func=cmd_list)


def make_parser() -> argparse.ArgumentParser:
    common = _common()
    p = _Parser(prog="activekd", parents=[common], description="Active learning with knowledge distillation from a vision-language teacher.")
    p.set_defaults(verbose=False, quiet=False)
    sub = p.add_subparsers(dest="command", parser_class=_AnyOrderParser)
    _run_commands(sub, common)
    _label_commands(sub, common)
    _add_deploy_commands(sub, common)
    _add_report_commands(sub, common)
    _add_serve_command(sub, common)
    return p


def _setup_output(ns: argparse.Namespace) -> None:
    """activekd's messages at INFO (WARNING with -q); other libraries' from WARNING up; progress bars off with -q/--no-progress."""
    from activekd.progress import set_enabled

    level = logging.DEBUG if ns.verbose else logging.WARNING if ns.quiet else logging.INFO
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if ns.verbose else "%(asctime)s %(message)s"
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "activekd-console"]:  # main() may run again in one process
        root.removeHandler(old)
    console = logging.StreamHandler()
    console.set_name("activekd-console")
    console.setLevel(level)
    console.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
    console.addFilter(lambda record: record.name != "activekd.runlog")  # the run log's own lines (rounds: printed as a table)
    root.addHandler(console)
    root.setLevel(logging.WARNING)
    logging.getLogger("activekd").setLevel(level)
    set_enabled(not ns.quiet and getattr(ns, dest("run", "progress"), None) is not False and getattr(ns, "progress", True) is not False)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        ns = make_parser().parse_args(argv)
    except UsageError as e:
        print(f"activekd: error: {e}", file=sys.stderr)
        return EXIT_REFUSED
    if ns.command is None:
        print(OVERVIEW)
        return 0
    _setup_output(ns)
    ns.argv = argv
    return _call(ns)


EXTRAS = {"flask": "serve", "label_studio_sdk": "labelstudio", "matplotlib": "report", "onnx": "deploy", "onnxruntime": "deploy",
          "onnxscript": "deploy", "pyarrow": "parquet", "open_clip": "vlm", "transformers": "vlm", "timm": "timm"}
"""The extra of pyproject.toml that brings each optional module (`bash scripts/setup.sh` installs none of them)."""


def _missing_extra(e: ImportError) -> str:
    """One line for a missing optional module: what to install."""
    top = (e.name or "").split(".")[0]
    if top not in EXTRAS or not str(e).startswith("No module named"):
        return str(e)
    return f"this command needs {top}: pip install 'activekd[{EXTRAS[top]}]' (or `bash scripts/setup.sh --test` for every extra)"


def _call(ns: argparse.Namespace) -> int:
    try:
        return ns.func(ns)
    except ActiveKDError as e:
        print(f"activekd: error: {e}", file=sys.stderr)
    except ImportError as e:  # an optional dependency that is not installed
        print(f"activekd: error: {_missing_extra(e)}", file=sys.stderr)
    except OSError as e:  # a file or folder the user named: unreadable, unwritable, full disk
        where = f" ({e.filename})" if e.filename else ""
        print(f"activekd: error: {e.strerror or e}{where}", file=sys.stderr)
    except KeyboardInterrupt:
        print("activekd: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        print("activekd: internal error: this is a bug in activekd, not your mistake; please report it with the traceback above",
              file=sys.stderr)
        return EXIT_BUG
    return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
