"""Every check that can fail a start, run before the run folder or the store is created or changed.

``check_config`` needs no data (names, combinations); ``check_folder`` the ``--out`` path;
``check_dataset`` and ``initial_labels`` the loaded dataset; ``check_budget`` the plan. A start that
fails here leaves nothing behind, so the corrected command works on the same ``--out``.
"""

from __future__ import annotations

import os
from pathlib import Path

from activekd.config import RunConfig
from activekd.data import UNLABELED, Dataset, k_shot_ids
from activekd.select import strategy_info
from activekd.students import create_student
from activekd.teachers import check_few_shot

from ._errors import SessionError
from ._zero_start import starts_without_labels


def check_config(config: RunConfig) -> None:
    """Names and combinations that can never work (a strategy's declared needs, a few-shot head on a fixed teacher), and a
    cache folder that cannot be, found before anything is loaded."""
    loop, train = config.loop, config.train
    needs = strategy_info(loop.strategy).needs
    _check_student(config)
    check_few_shot(config.teacher)
    _check_writable_folder(config.cache_path, "--cache-dir")
    if needs.teacher and not train.uses_teacher:
        raise SessionError(f"strategy {loop.strategy!r} needs a teacher, but --kd none trains without one; "
                           f"use --kd dho or another strategy")
    if starts_without_labels(loop):
        _check_zero_start(config)


def _check_zero_start(config: RunConfig) -> None:
    """``--shots 0``: round 0 picks from the teacher alone, so there must be a teacher and a round after it to train."""
    if not config.train.uses_teacher:
        raise SessionError("--shots 0 picks the first batch from the teacher's probabilities, but --kd none runs without a teacher; "
                           "use --kd dho (or --shots 1 or more)")
    if config.loop.rounds == 0:
        raise SessionError("--shots 0 with --rounds 0 would label nothing and train nothing; use --rounds 1 or more")


def check_folder(out: Path) -> None:
    """``--out`` must be a folder (or nothing yet) in a place this user can write."""
    if out.exists() and not out.is_dir():
        raise SessionError(f"--out {out} is a file, not a folder; choose another --out")
    _check_writable_folder(out, "--out")


def _check_writable_folder(path: Path, flag: str) -> None:
    """``path`` is a folder, or can be made one: its nearest existing ancestor is a folder this user can write."""
    if path.exists() and not path.is_dir():
        raise SessionError(f"{flag} {path} is a file, not a folder; choose another {flag}")
    parent = next(p for p in [path, *path.parents] if p.exists())
    if not parent.is_dir():
        raise SessionError(f"{flag} {path} lies under {parent}, which is a file, not a folder; choose another {flag}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SessionError(f"cannot write to {parent}; choose a writable {flag}")


def _check_student(config: RunConfig) -> None:
    """The student exists, its weights load when they must (``--student-require-pretrained``, set by the presets: loaded
    once here, before anything is written), and, when ``--student-input-size`` is given, it takes images of that size."""
    st = config.student
    required = st.pretrained and st.require_pretrained
    student = create_student(st.name, 2, pretrained=required, require_pretrained=required, input_size=st.input_size, tune=st.tune)
    if st.input_size is None:
        return
    import torch

    try:
        with torch.no_grad():
            student.eval()(torch.zeros(1, student.in_chans, st.input_size, st.input_size, dtype=torch.uint8))
    except (RuntimeError, ValueError) as e:
        reason = " ".join(str(e).split())[:160]
        raise SessionError(f"student {st.name!r} cannot take --student-input-size {st.input_size} ({reason}); "
                           f"use a larger size or leave it out") from None


def check_oracle(config: RunConfig) -> None:
    """A new run's oracle can be reached: the ``labelstudio`` one needs its SDK and an API token before round 0 trains."""
    if config.loop.oracle != "labelstudio":
        return
    import importlib.util

    if importlib.util.find_spec("label_studio_sdk") is None:
        raise SessionError("--oracle labelstudio needs label-studio-sdk: pip install 'activekd[labelstudio]' (or use --oracle human)")
    if not os.environ.get("LABEL_STUDIO_API_KEY"):
        raise SessionError("--oracle labelstudio: set LABEL_STUDIO_API_KEY to a Label Studio access token "
                           "(Account & Settings → Access Token), or use --oracle human")


def check_dataset(config: RunConfig, ds: Dataset) -> None:
    """A new run's dataset suits the run."""
    if ds.num_classes < 2:
        raise SessionError(f"dataset {config.data.dataset!r} has {ds.num_classes} class(es); active learning needs at least 2")
    pool = ds.split_indices("pool")
    if not len(pool):
        raise SessionError(f"dataset {config.data.dataset!r} has no pool images")
    if config.loop.oracle == "simulated" and (ds.labels[pool] == UNLABELED).any():
        raise SessionError("the simulated oracle needs a label for every pool image, and this dataset has unlabeled ones: "
                           "use --oracle human (or labelstudio)")


def initial_labels(config: RunConfig, ds: Dataset) -> list[tuple[str, int]]:
    """The initial labeled set: ``--shots`` per class (seeded) or every label the pool carries (``--initial all``).

    Empty only for ``--shots 0`` (``check_config`` has made sure the run has a teacher to pick round 0 with)."""
    loop = config.loop
    if loop.initial == "all":
        pos = ds.labeled_indices("pool")
        ids = [ds.ids[i] for i in pos]
    else:
        try:
            ids = k_shot_ids(ds, loop.shots, loop.seed)
        except ValueError as e:
            raise SessionError(f"{e}; lower --shots or label more images") from None
    if not ids and not starts_without_labels(loop):
        raise SessionError("the initial labeled set is empty (--initial all, and the pool carries no label): leave out "
                           "--initial all and use --shots 0 (the first batch is then picked from the teacher alone)")
    y = ds.labels[ds.index_of(ids)]
    return [(i, int(v)) for i, v in zip(ids, y)]


def check_budget(config: RunConfig, ds: Dataset, num_labeled: int, first_round: int) -> None:
    """Rounds ``first_round .. rounds-1`` each pick ``budget`` images: the pool must hold them."""
    remaining = len(ds.split_indices("pool")) - num_labeled
    need = config.loop.budget * max(0, config.loop.rounds - first_round)
    if need > remaining:
        raise SessionError(f"budget {config.loop.budget} × {config.loop.rounds - first_round} round(s) = {need} labels, but the pool has "
                           f"only {remaining} unlabeled images after the {num_labeled} labeled; lower --budget or --rounds")
