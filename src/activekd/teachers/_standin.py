"""``standin``: the offline stand-in for a vision-language teacher.

With no pretrained VLM at hand (offline machines, CI), the demo needs a teacher that behaves like a
zero-shot one: decent but imperfect, with systematic confusions, and knowing nothing about the pool's
labels. This is a multinomial logistic regression on raw pixels fitted on the dataset's ``holdout``
split only (for Fashion-MNIST, the 10,000 training images 50,000-59,999, never in the pool). On
Fashion-MNIST it reaches about 83% test accuracy and confuses shirt / T-shirt / pullover / coat, as
CLIP-like zero-shot teachers do. It is *not* a VLM.

The fit is deterministic (float64, zero initialisation, full-batch L-BFGS). Its logits for every
sample are written once to ``CACHE/teachers/standin-<dataset fingerprint>.npz`` and served through
the same door as any precomputed teacher (``file:PATH``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from activekd._atomic import atomic_path
from activekd.errors import TeacherError

from ._base import TableTeacher, TeacherConfig, TeacherContext, register_teacher
from ._file import load_teacher_file, needed_ids

log = logging.getLogger(__name__)

L2 = 1e-3
MAX_ITER = 200


def _features(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).double() / 255.0


def fit_softmax_regression(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit ``W [D, C]``, ``b [C]`` minimising mean cross-entropy + ``L2 * ||W||²`` (deterministic)."""
    w = torch.zeros(x.shape[1], num_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=MAX_ITER, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + L2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def standin_file(ctx: TeacherContext) -> Path:
    """Fit (or reuse) the stand-in teacher and return the path of its logits file."""
    ds = ctx.dataset
    path = Path(ctx.cache_dir) / "teachers" / f"standin-{ds.fingerprint()}.npz"
    if path.exists():
        return path
    hold = ds.labeled_indices("holdout")
    if len(hold) == 0:
        raise TeacherError(
            f"the stand-in teacher needs a labeled 'holdout' split to fit on; dataset {ds.name!r} has none "
            "(it exists for fashion-mnist). Use a VLM teacher (openclip:..., hf:...) or file:PATH instead."
        )
    log.info("fitting the stand-in teacher on %d held-out images (once; cached at %s)", len(hold), path)
    with torch.inference_mode(False):
        x = _features(ds.images.batch(hold))
        y = torch.from_numpy(ds.labels[hold])
        w, b = fit_softmax_regression(x, y, ds.num_classes)
    logits = np.concatenate([
        (_features(ds.images.batch(np.arange(s, min(s + 8192, len(ds))))) @ w + b).float().numpy()
        for s in range(0, len(ds), 8192)
    ])
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, ids=np.array(ds.ids), logits=logits)
    return path


@register_teacher("standin")
def _standin(arg: str | None, config: TeacherConfig, ctx: TeacherContext) -> TableTeacher:
    if arg:
        raise TeacherError(f"the stand-in teacher takes no argument, got 'standin:{arg}'")
    t = load_teacher_file(standin_file(ctx), dataset_ids=ctx.dataset.ids, needed_ids=needed_ids(ctx), num_classes=ctx.dataset.num_classes)
    t.name = "standin (softmax regression on the held-out slice; not a VLM)"
    return t
