"""Run folders holding students of every registered kind, trained briefly on Fashion-MNIST (no downloads)."""

from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from activekd.students import create_student, list_students
from activekd.students.io import student_metadata

CLASSES = [f"class-{i}" for i in range(10)]
ALPHA, BETA = 0.3, 1.7
FINGERPRINT = "fp-0123456789"

# every registered student; timm with a tiny ViT (attention, LayerNorm, GELU: ops the CNNs lack). The VLM image
# towers (openclip:, hf:) need a model spec or folder: tests/students/test_vlm_students.py exports them to every format.
STUDENTS = [n if n != "timm" else "timm:test_vit" for n in list_students() if n not in ("openclip", "hf")]
SIZES = {"small-cnn": None}  # the others at 32 px to keep the tests fast
STEPS, EARLY = 40, 10  # Adam steps of the final student; round 0 is the student after EARLY steps
MIXED_SIZES = [(28, 28), (32, 32), (17, 41), (45, 30), (33, 19), (64, 64), (100, 80), (9, 7)]  # (H, W), 8 images each


@cache
def _pool() -> tuple[torch.Tensor, torch.Tensor]:
    """2048 Fashion-MNIST pool images uint8 ``[N, 1, 28, 28]`` and their labels ``[N]`` (the tests use the test split)."""
    from activekd.data import create_dataset

    ds = create_dataset("fashion-mnist")
    idx = ds.split_indices("pool")[:2048]
    return ds.images.batch(idx), torch.as_tensor(np.asarray(ds.labels)[idx]).long()


def _precise_bn(student, images: torch.Tensor):
    """Batch-norm statistics of ``student``'s current weights over ``images`` (cumulative average), in eval mode."""
    for m in student.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for s in range(0, len(images), 128):
            student.train()(images[s : s + 128])
    return student.eval()


@contextmanager
def _one_thread():
    """Train on one thread: on a shared 2-core machine two threads ran the training 6 times slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@cache
def _trained(name: str):
    """``(after EARLY steps, after STEPS steps)`` of one seeded, randomly initialised student trained on both heads.

    A deployed student is a trained one, and only training makes a random-init network numerically
    sane: random mobilenet_v2 batch-norm statistics taken on noise have channel variances of 1e-12,
    so float32 rounding alone (PyTorch against itself at batch 1 vs 8) moves its probabilities by
    6e-5. After 40 steps the students reach 50-80 % test accuracy with logits spread by 1.5-3.5.
    """
    torch.manual_seed(0)
    s = create_student(name, len(CLASSES), pretrained=False, input_size=SIZES.get(name, 32))
    x, y = _pool()
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(s.parameters(), lr=2e-3)
    early = None
    with _one_thread():
        for step in range(STEPS):
            i = torch.randint(0, len(x), (32,), generator=g)
            ce, kd, _ = s.train()(x[i])
            loss = F.cross_entropy(ce, y[i]) + F.cross_entropy(kd, y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step + 1 == EARLY:
                early = copy.deepcopy(s)
        return _precise_bn(early, x[:512]), _precise_bn(s, x[:512])


def make_student(name: str, early: bool = False):
    """The final student of run ``name`` (``early``: its round-0 checkpoint). Cached: callers must not modify it."""
    return _trained(name)[0 if early else 1]


def write_run(run: Path, name: str) -> Path:
    """``run/`` with ``student.safetensors``, ``checkpoints/round_000`` / ``round_001`` and ``results.json``."""
    meta = student_metadata(name, CLASSES, ALPHA, BETA, make_student(name).input_size)
    (run / "checkpoints").mkdir(parents=True)
    for r, early in ((0, True), (1, False)):
        state = {k: v.contiguous() for k, v in make_student(name, early).state_dict().items()}
        save_file(state, str(run / "checkpoints" / f"round_{r:03d}.safetensors"), metadata=meta)
    (run / "student.safetensors").write_bytes((run / "checkpoints" / "round_001.safetensors").read_bytes())
    (run / "results.json").write_text(json.dumps({"dataset": {"name": "x", "fingerprint": FINGERPRINT}}))
    return run


class Spec:
    """What the run folders hold, for the tests to compare against."""

    classes, alpha, beta, fingerprint, students, mixed_sizes = CLASSES, ALPHA, BETA, FINGERPRINT, STUDENTS, MIXED_SIZES
    make_student = staticmethod(make_student)


@pytest.fixture(scope="session")
def spec() -> type[Spec]:
    return Spec


def pytest_generate_tests(metafunc):
    """``student_format``: every registered student × every export format (module-scoped); ``student_name``: every student."""
    if "student_name" in metafunc.fixturenames:
        metafunc.parametrize("student_name", STUDENTS)
    if "student_format" in metafunc.fixturenames:
        from activekd.export import list_formats

        params = [(s, f) for s in STUDENTS for f in list_formats()]
        metafunc.parametrize("student_format", params, ids=[f"{s}-{f}" for s, f in params], indirect=True, scope="module")


@pytest.fixture(scope="module")
def student_format(request) -> tuple[str, str]:
    return request.param


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One run folder per registered student; its final student is ``make_student(name)``."""
    base = tmp_path_factory.mktemp("runs")
    return {name: write_run(base / name.replace(":", "_"), name) for name in STUDENTS}


@pytest.fixture(scope="session")
def fmnist_images(fmnist) -> torch.Tensor:
    """Seven real Fashion-MNIST test images, uint8 ``[7, 1, 28, 28]``."""
    idx = fmnist.split_indices("test")[:7]
    return fmnist.images.batch(idx)


@pytest.fixture(scope="session")
def mixed_images(fmnist) -> list[np.ndarray]:
    """64 images of 8 sizes (``MIXED_SIZES``), one uint8 ``[8, 3, H, W]`` batch per size.

    Per size: 3 Fashion-MNIST test images in gray (replicated to RGB), 4 colour images (three
    test images as R, G, B), 1 of uniform noise; each resized with PIL from 28 x 28 to ``H x W``.
    """
    idx = fmnist.split_indices("test")[:64]
    fm = fmnist.images.batch(idx)[:, 0].numpy()
    rng = np.random.default_rng(0)
    batches = []
    for k, (h, w) in enumerate(MIXED_SIZES):
        at = [np.asarray(Image.fromarray(a).resize((w, h), Image.BILINEAR)) for a in fm[8 * k : 8 * k + 7]]
        gray = [np.repeat(at[j][None], 3, 0) for j in range(3)]
        colour = [np.stack([at[j], at[(j + 1) % 7], at[(j + 2) % 7]]) for j in range(3, 7)]
        batches.append(np.stack([*gray, *colour, rng.integers(0, 256, (3, h, w), dtype=np.uint8)]))
    return batches
