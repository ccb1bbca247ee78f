"""Opening a run: every check first, then (and only then) the folder, the lock and the store.

A new run is created only after the configuration, the ``--out`` folder, the dataset, the initial
set, the budget and the teacher have all passed; a failed start removes what it created. An
existing run is locked first (one writer), then its store's mark, its configuration (equal, or the
same run with more rounds) and its dataset fingerprint are checked before anything is written.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import torch

from activekd import __version__
from activekd.config import RunConfig
from activekd.data import Dataset, create_dataset, limit_split
from activekd.device import resolve_device
from activekd.layout import RunLayout
from activekd.teachers import TeacherContext, create_teacher, embed_dataset

from ._checks import (
    check_budget,
    check_config,
    check_dataset,
    check_folder,
    check_oracle,
    initial_labels,
)
from ._errors import SessionError, StoreError
from ._extra_eval import check_extra_sets
from ._lock import RunLock
from ._oracle import ORACLES, create_oracle
from ._store import SessionStore
from ._studio_check import check_label_studio, with_env_document_root
from ._teacher_logits import TeacherLogits
from ._unreadable import record_unreadable

log = logging.getLogger(__name__)


def load_dataset(config: RunConfig) -> Dataset:
    """The run's dataset, with its pool/test size limits applied."""
    d = config.data
    ds = create_dataset(d.dataset, data_root=d.data_root, image_size=d.image_size, cache_dir=str(config.cache_path),
                        classes=d.classes)
    return limit_split(limit_split(ds, "pool", d.pool_limit), "test", d.test_limit)


def read_stored_config(out: Path) -> RunConfig:
    """The configuration a run folder holds (read-only; the store is checked first)."""
    with SessionStore.open(out, readonly=True) as store:
        raw = store.config()
    try:
        return RunConfig.from_dict(raw)
    except (TypeError, ValueError, AttributeError) as e:
        raise StoreError(f"{out}: its stored configuration does not fit this activekd ({e}); use the activekd that made it") from None


def stored_config(out: Path, changes: dict) -> RunConfig:
    """The stored configuration with ``changes`` applied: top-level fields, ``labelstudio``, or loop ``rounds``/``budget``."""
    config = read_stored_config(out)
    loop = {k: changes.pop(k) for k in RunConfig.EXTENDABLE if changes.get(k) is not None}
    if "labelstudio" in changes and isinstance(changes["labelstudio"], dict):
        changes["labelstudio"] = dataclasses.replace(config.labelstudio, **changes["labelstudio"])
    unknown = set(changes) - set(RunConfig.RESUMABLE)
    if unknown:
        raise SessionError(f"cannot change {', '.join(sorted(unknown))} of an existing run; "
                           f"changeable: {', '.join(RunConfig.RESUMABLE + RunConfig.EXTENDABLE)}")
    return dataclasses.replace(config, loop=dataclasses.replace(config.loop, **loop),
                               **{k: v for k, v in changes.items() if v is not None})


def open_session(cls, config: RunConfig, out: Path, compute):
    check_config(config)
    check_folder(out)
    device = compute.device(config.device)
    if SessionStore.exists_in(out):
        return _open_existing(cls, config, out, device, compute)
    config = dataclasses.replace(config, labelstudio=with_env_document_root(config.labelstudio))
    check_oracle(config)
    ds = load_dataset(config)
    check_dataset(config, ds)
    check_label_studio(config, out, ds)  # before training: the server, the token, the project, the document root
    check_extra_sets(config, ds)
    initial = initial_labels(config, ds)
    check_budget(config, ds, len(initial), 0)
    teacher = _teacher(config, ds, device, compute)
    if teacher is not None:
        teacher.teacher  # noqa: B018 -- build and check it now, before anything is written
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    lock = RunLock(out).acquire()
    if SessionStore.exists_in(out):
        lock.release()
        raise StoreError(f"{out} was started by another command meanwhile; run the command again to resume it")
    try:
        store = SessionStore.create(out)
        store.initialise({"config": config.to_json(), "dataset_fingerprint": ds.fingerprint(), "activekd_version": __version__},
                         [(sid, i, str(ds.splits[i]), ds.paths[i] if ds.paths else None) for i, sid in enumerate(ds.ids)], initial)
        record_unreadable(out, ds.unreadable)
    except BaseException:
        lock.release()
        _remove_start(out, created)
        raise
    return cls(config, out, ds, teacher, store, device, create_oracle(config.loop.oracle, out, ds, config.labelstudio), lock, compute)


def _open_existing(cls, config: RunConfig, out: Path, device: torch.device, compute):
    lock = RunLock(out).acquire()
    try:
        stored = read_stored_config(out)  # checks the store (and rolls back a killed command's half-written change)
        _check_same_run(stored, config, out)
        ds = load_dataset(config)
        with SessionStore.open(out, readonly=True) as probe:
            if probe.get_meta("dataset_fingerprint") != ds.fingerprint():
                raise SessionError(f"the dataset changed since {out} was created (fingerprint differs); use another --out")
            first = probe.next_round()
            num = len(probe.labels())
        check_extra_sets(config, ds)
        if config.loop.rounds != stored.loop.rounds or config.loop.budget != stored.loop.budget:
            check_budget(config, ds, num, _first_picking_round(out, first))
        if config.labelstudio != stored.labelstudio or (config.loop.oracle == "labelstudio" and stored.to_json() != config.to_json()):
            check_label_studio(config, out, ds)  # a changed option (of a Label Studio run) is stored only once Label Studio works
        teacher = _teacher(config, ds, device, compute)
        record_unreadable(out, ds.unreadable)  # a run made before the list was kept, or a broken file deleted since
        store = SessionStore.open(out)
        if stored.to_json() != config.to_json():
            store.replace_config(store.get_meta("config"), config.to_json())
    except BaseException:
        lock.release()
        raise
    return cls(config, out, ds, teacher, store, device, create_oracle(config.loop.oracle, out, ds, config.labelstudio), lock, compute)


def _check_same_run(stored: RunConfig, config: RunConfig, out: Path) -> None:
    if stored.identity(extendable=True) != config.identity(extendable=True):
        diff = _config_diff(stored.identity(extendable=True), config.identity(extendable=True))
        raise SessionError(f"{out} holds a run with a different configuration ({diff}); use another --out or the same options "
                           f"(only --rounds and --budget may change, to extend it)")
    if config.loop.rounds < stored.loop.rounds:
        with SessionStore.open(out, readonly=True) as probe:
            done = probe.next_round() - 1
        if config.loop.rounds < done:
            raise SessionError(f"{out} has finished round {done} already; --rounds cannot go below it")


def _first_picking_round(out: Path, next_round: int) -> int:
    """The first round whose picks are not recorded yet (the old last round, if it finished without picks)."""
    with SessionStore.open(out, readonly=True) as probe:
        last = probe.round(next_round - 1) if next_round else None
    return next_round - 1 if last is not None and not last.picks else next_round


def _teacher(config: RunConfig, ds: Dataset, device: torch.device, compute) -> TeacherLogits | None:
    """The run's teacher, built when first used (a new run builds it at once, to check it before writing); its image
    embedding passes run on every process of the ``compute`` group."""
    if not config.train.uses_teacher:
        return None
    ctx = TeacherContext(ds, config.cache_path, device, config.loop.seed, encoder=compute.embed)
    return TeacherLogits(config.teacher.spec, lambda: create_teacher(config.teacher, ctx), ds)


def embed_teacher(config: RunConfig) -> Path:
    """Fill a VLM teacher's embedding cache for the configured dataset ahead of runs; returns the cache folder."""
    ctx = TeacherContext(load_dataset(config), config.cache_path, resolve_device(config.device), config.loop.seed)
    return embed_dataset(config.teacher, ctx)


def registered_names() -> dict[str, list[str]]:
    """Every registry's names, for ``activekd list``."""
    from activekd.data import list_datasets
    from activekd.select import list_strategies
    from activekd.students import list_students
    from activekd.teachers import list_teachers

    return {"datasets": list_datasets(), "teachers": list_teachers(), "students": list_students(),
            "strategies": list_strategies(), "oracles": ORACLES.names()}


def _remove_start(out: Path, created: bool) -> None:
    """Undo a failed start: the store and lock it made, and the folder if this start created it."""
    layout = RunLayout(out)
    for path in (layout.store, Path(f"{layout.store}-journal"), layout.lock):
        path.unlink(missing_ok=True)
    if created:
        shutil.rmtree(out, ignore_errors=True)


def _config_diff(a: dict, b: dict, prefix: str = "") -> str:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            d = _config_diff(va, vb, f"{prefix}{k}.")
            if d:
                out.append(d)
        elif va != vb:
            out.append(f"{prefix}{k}: {va!r} -> {vb!r}")
    return "; ".join(out)
