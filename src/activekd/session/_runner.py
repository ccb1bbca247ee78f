"""The active-learning session: rounds of train → evaluate → select → label, resumable at any point.

Data flows one way: dataset → teacher logits (once per teacher fit, cached) → per round: train a
fresh student → pool outputs → strategy → picked ids → oracle labels → store → next round. Every
random draw of round ``r`` is seeded from ``(seed, r)``, so a round redone after a kill makes the same
picks. All validation happens before the store is created or touched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from activekd.config import RunConfig
from activekd.data import Dataset, create_dataset, k_shot_ids, limit_split
from activekd.select import SelectionInputs, get_strategy, select
from activekd.students import create_student
from activekd.teachers import Teacher, TeacherContext, create_teacher
from activekd.train import (ImageBank, Outputs, TrainBatchSource, accuracy, predict, search_alpha_beta,
                            train_student)

from ._oracle import SimulatedOracle, write_label_request
from ._store import SessionStore

log = logging.getLogger(__name__)


class SessionError(ValueError):
    """A run that cannot start or continue; the store was not changed."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SessionError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return dev


def round_seed(seed: int, r: int, purpose: int) -> int:
    """A seed for one purpose (0 init, 1 training, 2 selection) of round ``r``."""
    return int(np.random.SeedSequence([seed, r, purpose]).generate_state(1, dtype=np.uint64)[0] >> 1)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class RoundMetrics:
    round: int
    num_labeled: int
    student_acc: float
    ce_acc: float
    kd_acc: float
    teacher_acc: float | None
    alpha: float
    beta: float
    train_loss: float
    num_picked: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        return d


class ActiveSession:
    """One run folder: its store, dataset, teacher and the loop over rounds.

    Build with :meth:`open` (validates everything, then creates or resumes the store).
    """

    def __init__(self, config: RunConfig, out: Path, dataset: Dataset, teacher: Teacher | None,
                 store: SessionStore, device: torch.device) -> None:
        self.config = config
        self.out = out
        self.dataset = dataset
        self.teacher = teacher
        self.store = store
        self.device = device
        self.bank = ImageBank(dataset.images, device)
        self._teacher_logits: torch.Tensor | None = None  # [N, C], rows = dataset positions
        self._teacher_fit_on: tuple[str, ...] | None = None

    # --- set-up -----------------------------------------------------------------------------
    @classmethod
    def open(cls, config: RunConfig, out: str | Path) -> "ActiveSession":
        out = Path(out)
        stored: RunConfig | None = None
        if SessionStore.exists_in(out):
            probe = SessionStore.open(out)
            try:
                raw = probe.get_meta("config")
            finally:
                probe.close()
            if raw is not None:
                stored = RunConfig.from_dict(json.loads(raw))
                if stored.identity() != config.identity():
                    diff = _config_diff(stored.identity(), config.identity())
                    raise SessionError(f"{out} holds a run with a different configuration ({diff}); use another --out or the same options")
        loop, cfg = config.loop, config
        get_strategy(loop.strategy)  # unknown names fail before anything is loaded
        create_student(cfg.student.name, 2, pretrained=False)
        device = resolve_device(cfg.device)
        cache = cfg.cache_path
        ds = load_dataset(cfg, cache)
        pool = ds.split_indices("pool")
        if stored is None:
            initial = k_shot_ids(ds, loop.shots, loop.seed)
            remaining = len(pool) - len(initial)
            if loop.rounds * loop.budget > remaining:
                raise SessionError(
                    f"budget {loop.budget} × {loop.rounds} rounds = {loop.budget * loop.rounds} labels, but the pool has only "
                    f"{remaining} unlabeled images after the initial {len(initial)}")
            if not initial:
                raise SessionError("the initial labeled set is empty: use --shots 1 or more")
        teacher = create_teacher(cfg.teacher, TeacherContext(ds, cache, device, loop.seed)) if cfg.train.uses_teacher else None
        if teacher is not None and teacher.num_classes != ds.num_classes:
            raise SessionError(f"teacher has {teacher.num_classes} classes, dataset {ds.num_classes}")
        out.mkdir(parents=True, exist_ok=True)
        store = SessionStore.open(out)
        if stored is None:
            labels = SimulatedOracle(ds).label(initial) if loop.oracle == "simulated" else _initial_from_dataset(ds, initial)
            store.initialise(
                {"config": config.to_json(), "dataset_fingerprint": ds.fingerprint(), "activekd_version": _version()},
                [(sid, i, str(ds.splits[i]), ds.paths[i] if ds.paths else None) for i, sid in enumerate(ds.ids)],
                labels,
            )
        elif store.get_meta("dataset_fingerprint") != ds.fingerprint():
            store.close()
            raise SessionError(f"the dataset changed since {out} was created (fingerprint differs); use another --out")
        return cls(config, out, ds, teacher, store, device)

    def close(self) -> None:
        self.store.close()

    # --- teacher ------------------------------------------------------------------------------
    def teacher_logits(self, labeled: list[tuple[str, int]]) -> torch.Tensor | None:
        """``[N, C]`` teacher logits for every pool/val/test sample (other rows zero), refit if adaptive."""
        if self.teacher is None:
            return None
        ids = tuple(i for i, _ in labeled)
        if self._teacher_logits is not None and (not self.teacher.adaptive or self._teacher_fit_on == ids):
            return self._teacher_logits
        if self.teacher.adaptive:
            self.teacher.fit(list(ids), torch.tensor([y for _, y in labeled], dtype=torch.long))
        ds = self.dataset
        pos = np.flatnonzero(np.isin(ds.splits, ("pool", "val", "test")))
        table = torch.zeros(len(ds), ds.num_classes)
        table[torch.from_numpy(pos)] = self.teacher.logits([ds.ids[i] for i in pos]).float()
        self._teacher_logits, self._teacher_fit_on = table, ids
        return table

    # --- the loop -----------------------------------------------------------------------------
    def pending_round(self) -> int | None:
        """A round whose picks await human labels, if any."""
        rec = self.store.pending_round()
        return None if rec is None else rec.round

    def run(self, on_round: Callable[[dict], None] | None = None) -> dict:
        """Run (or resume) every remaining round; returns the results also written to results.json."""
        loop = self.config.loop
        for rec in self.store.rounds():
            if rec.status == "done" and on_round is not None:
                on_round(dict(rec.metrics, resumed=True))
        waiting = self.pending_round()
        if waiting is not None:
            raise SessionError(
                f"round {waiting} is waiting for labels: fill in {self.request_path(waiting)} and run "
                f"`activekd label {self.out} FILE`")
        for r in range(self.store.next_round(), loop.rounds + 1):
            metrics = self.run_round(r)
            if on_round is not None:
                on_round(metrics)
            if self.pending_round() is not None:
                break
        return self.write_results()

    def request_path(self, r: int) -> Path:
        return self.out / "to_label" / f"round_{r:03d}.csv"

    def run_round(self, r: int) -> dict:
        cfg, loop, ds = self.config, self.config.loop, self.dataset
        labeled = self.store.labels(up_to_round=r)
        lab_pos = torch.from_numpy(ds.index_of([i for i, _ in labeled]))
        lab_y = torch.tensor([y for _, y in labeled], dtype=torch.long)
        pool_pos = ds.split_indices("pool")
        unl_pos = torch.from_numpy(np.setdiff1d(pool_pos, lab_pos.numpy()))
        t_all = self.teacher_logits(labeled) if cfg.train.uses_teacher else None

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(round_seed(loop.seed, r, 0))
            student = create_student(cfg.student.name, ds.num_classes, pretrained=cfg.student.pretrained,
                                     input_size=cfg.student.input_size)
        data = TrainBatchSource(lab_pos, lab_y, unl_pos,
                                None if t_all is None else t_all[lab_pos], None if t_all is None else t_all[unl_pos])
        losses = train_student(student, self.bank, data, cfg.train, device=self.device,
                               generator=torch.Generator().manual_seed(round_seed(loop.seed, r, 1)), progress=cfg.progress)
        metrics = self.evaluate(student, r, len(labeled), t_all)
        metrics.train_loss = float(np.mean(losses[-20:]))
        ckpt, digest = self.save_checkpoint(student, r, metrics) if loop.checkpoints or r == loop.rounds else (None, None)

        picks: list[str] = []
        if r < loop.rounds:
            picks = self.pick(student, r, labeled, lab_pos, unl_pos, metrics, t_all)
            metrics.num_picked = len(picks)
        md = metrics.to_dict()
        if loop.oracle == "simulated" or not picks:
            new = SimulatedOracle(ds).label(picks) if picks else []
            self.store.finish_round(r, metrics=md, picks=picks, new_labels=new, source="oracle", checkpoint=ckpt, checkpoint_sha256=digest)
        else:
            self.store.finish_round(r, metrics=md, picks=picks, new_labels=[], source="human", checkpoint=ckpt,
                                    checkpoint_sha256=digest, status="awaiting-labels")
            path = write_label_request(self.request_path(r), picks, ds)
            log.info("round %d: %d images to label in %s; then run `activekd label %s %s`", r, len(picks), path, self.out, path)
        return md

    def _predict(self, student, positions: torch.Tensor, desc: str) -> Outputs:
        t = self.config.train
        return predict(student, self.bank, positions, device=self.device, batch_size=t.eval_batch_size, bf16=t.bf16,
                       progress=self.config.progress, desc=desc)

    def evaluate(self, student, r: int, num_labeled: int, t_all: torch.Tensor | None) -> RoundMetrics:
        cfg, ds = self.config, self.dataset
        alpha, beta = cfg.train.default_alpha(cfg.loop.alpha), cfg.loop.beta
        extra: dict = {}
        val = ds.labeled_indices("val")
        if cfg.loop.search_alpha_beta and cfg.train.kd == "dho" and len(val):
            vo = self._predict(student, torch.from_numpy(val), "validation")
            alpha, beta, vacc = search_alpha_beta(vo.ce, vo.kd, torch.from_numpy(ds.labels[val]))
            extra["val_acc"] = vacc
        test = ds.labeled_indices("test")
        nan = float("nan")
        acc = ce_acc = kd_acc = nan
        t_acc = None
        if len(test):
            y = torch.from_numpy(ds.labels[test])
            to = self._predict(student, torch.from_numpy(test), "test")
            acc, ce_acc = accuracy(to.probs(alpha, beta), y), accuracy(to.ce, y)
            kd_acc = accuracy(to.kd, y) if cfg.train.kd == "dho" else nan  # other modes leave the KD head untrained
            if t_all is not None:
                t_acc = accuracy(t_all[torch.from_numpy(test)], y)
        return RoundMetrics(r, num_labeled, acc, ce_acc, kd_acc, t_acc, alpha, beta, nan, extra=extra)

    def pick(self, student, r: int, labeled, lab_pos, unl_pos, metrics: RoundMetrics, t_all) -> list[str]:
        cfg, ds = self.config, self.dataset
        budget = cfg.loop.budget
        if budget > len(unl_pos):
            raise SessionError(f"budget {budget} is larger than the remaining pool ({len(unl_pos)} images)")
        fn = get_strategy(cfg.loop.strategy)
        if getattr(fn, "needs_outputs", True):
            po = self._predict(student, unl_pos, "pool inference")
            lo = self._predict(student, lab_pos, "labeled inference")
        else:
            c, d = ds.num_classes, student.feature_dim
            po = Outputs(torch.zeros(len(unl_pos), c), torch.zeros(len(unl_pos), c), torch.zeros(len(unl_pos), d))
            lo = Outputs(torch.zeros(len(lab_pos), c), torch.zeros(len(lab_pos), c), torch.zeros(len(lab_pos), d))
        inputs = SelectionInputs(
            pool_ids=[ds.ids[i] for i in unl_pos.tolist()], pool_ce=po.ce, pool_kd=po.kd, pool_features=po.features,
            labeled_ids=[i for i, _ in labeled], labeled_ce=lo.ce, labeled_kd=lo.kd, labeled_features=lo.features,
            labeled_labels=torch.tensor([y for _, y in labeled], dtype=torch.long),
            alpha=metrics.alpha, beta=metrics.beta, pool_teacher=None if t_all is None else t_all[unl_pos],
        )
        return select(cfg.loop.strategy, inputs, budget, generator=torch.Generator().manual_seed(round_seed(cfg.loop.seed, r, 2)),
                      device=self.device)

    def save_checkpoint(self, student, r: int, metrics: RoundMetrics) -> tuple[str, str]:
        from safetensors.torch import save_file

        from activekd.students.io import student_metadata

        path = self.out / "checkpoints" / f"round_{r:03d}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        state = {k: v.detach().cpu().contiguous() for k, v in student.state_dict().items()}
        save_file(state, str(tmp), metadata=student_metadata(self.config.student.name, self.dataset.class_names,
                                                              metrics.alpha, metrics.beta, student.input_size))
        os.replace(tmp, path)
        return str(path.relative_to(self.out)), sha256_file(path)

    # --- results ------------------------------------------------------------------------------
    def write_results(self) -> dict:
        rounds = self.store.rounds()
        done = [x for x in rounds if x.status == "done"]
        final = done[-1] if done else None
        res = {
            "config": self.config.to_dict(),
            "dataset": {"name": self.dataset.name, "fingerprint": self.dataset.fingerprint(), "num_classes": self.dataset.num_classes,
                        "class_names": list(self.dataset.class_names)},
            "teacher": None if self.teacher is None else self.teacher.name,
            "rounds": [dict(x.metrics, status=x.status, picks=x.picks, checkpoint=x.checkpoint) for x in rounds],
            "complete": bool(final is not None and final.round == self.config.loop.rounds),
            "final": None if final is None else final.metrics,
            "num_labels": len(self.store.labels()),
        }
        if res["complete"] and final is not None and final.checkpoint:
            src = self.out / final.checkpoint
            dst = self.out / "student.safetensors"
            if not dst.exists() or sha256_file(dst) != final.checkpoint_sha256:
                tmp = dst.with_suffix(".partial")
                tmp.write_bytes(src.read_bytes())
                os.replace(tmp, dst)
            res["student"] = str(dst.name)
        tmp = self.out / "results.json.partial"
        tmp.write_text(json.dumps(res, indent=2, default=_json_default))
        os.replace(tmp, self.out / "results.json")
        return res


def _json_default(o):
    if isinstance(o, float) and math.isnan(o):
        return None
    raise TypeError(type(o))


def load_dataset(config: RunConfig, cache_dir: Path | None = None) -> Dataset:
    """The run's dataset, with its pool/test size limits applied."""
    d = config.data
    ds = create_dataset(d.dataset, data_root=d.data_root, image_size=d.image_size, cache_dir=None if cache_dir is None else str(cache_dir))
    return limit_split(limit_split(ds, "pool", d.pool_limit), "test", d.test_limit)


def _initial_from_dataset(ds: Dataset, initial: list[str]) -> list[tuple[str, int]]:
    y = ds.labels[ds.index_of(initial)]
    return [(i, int(v)) for i, v in zip(initial, y)]


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


def _version() -> str:
    from activekd import __version__

    return __version__
