"""Run folders holding randomly initialised students of every registered kind (no downloads)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from activekd.students import create_student, list_students
from activekd.students.io import student_metadata

CLASSES = [f"class-{i}" for i in range(10)]
ALPHA, BETA = 0.3, 1.7
FINGERPRINT = "fp-0123456789"

# every registered student; timm with a tiny ViT (attention, LayerNorm, GELU: ops the CNNs lack)
STUDENTS = [n if n != "timm" else "timm:test_vit" for n in list_students()]
SIZES = {"small-cnn": None}  # the others at 32 px to keep the tests fast


@cache
def make_student(name: str, seed: int = 0):
    """A seeded random student, made input-sensitive and far from uniform.

    Random-init batch-norm statistics make some backbones (mobilenet_v2) give nearly the same
    features for every image; one pass in train mode over a probe batch sets them, then the
    heads are rescaled so the logits spread by about 3. Cached: callers must not modify it.
    """
    torch.manual_seed(seed)
    s = create_student(name, len(CLASSES), pretrained=False, input_size=SIZES.get(name, 32))
    probe = torch.randint(0, 256, (16, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    for m in s.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass gives the probe's statistics
    with torch.no_grad():
        s.train()(probe)
        h = s.eval()(probe)[2]
        for head in (s.ce_head, s.kd_head):
            head.weight.mul_(3.0 / (h @ head.weight.T).std().clamp_min(1e-6))
    return s


def write_run(run: Path, name: str) -> Path:
    """``run/`` with ``student.safetensors``, ``checkpoints/round_000`` / ``round_001`` and ``results.json``."""
    meta = student_metadata(name, CLASSES, ALPHA, BETA, make_student(name).input_size)
    (run / "checkpoints").mkdir(parents=True)
    for r, seed in ((0, 1), (1, 0)):
        state = {k: v.contiguous() for k, v in make_student(name, seed).state_dict().items()}
        save_file(state, str(run / "checkpoints" / f"round_{r:03d}.safetensors"), metadata=meta)
    (run / "student.safetensors").write_bytes((run / "checkpoints" / "round_001.safetensors").read_bytes())
    (run / "results.json").write_text(json.dumps({"dataset": {"name": "x", "fingerprint": FINGERPRINT}}))
    return run


class Spec:
    """What the run folders hold, for the tests to compare against."""

    classes, alpha, beta, fingerprint, students = CLASSES, ALPHA, BETA, FINGERPRINT, STUDENTS
    make_student = staticmethod(make_student)


@pytest.fixture(scope="session")
def spec() -> type[Spec]:
    return Spec


def pytest_generate_tests(metafunc):
    """``student_format``: every registered student × every export format (module-scoped)."""
    if "student_format" in metafunc.fixturenames:
        from activekd.export import list_formats

        params = [(s, f) for s in STUDENTS for f in list_formats()]
        metafunc.parametrize("student_format", params, ids=[f"{s}-{f}" for s, f in params], indirect=True, scope="module")


@pytest.fixture(scope="module")
def student_format(request) -> tuple[str, str]:
    return request.param


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """One run folder per registered student; its final student is ``make_student(name, 0)``."""
    base = tmp_path_factory.mktemp("runs")
    return {name: write_run(base / name.replace(":", "_"), name) for name in STUDENTS}


@pytest.fixture(scope="session")
def fmnist_images(fmnist) -> torch.Tensor:
    """Seven real Fashion-MNIST test images, uint8 ``[7, 1, 28, 28]``."""
    idx = fmnist.split_indices("test")[:7]
    return fmnist.images.batch(idx)
