"""Shared fixtures: the real Fashion-MNIST files and one teacher cache per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _labelstudio_server import label_studio  # noqa: F401 - the real Label Studio fixture, shared by tests/session and tests/serve
from hypothesis import HealthCheck, Phase, settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n N: one thread per worker (and its subprocesses), not N x cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# Property-based (fuzz) tests: `ci` (the default) runs a fixed, derandomized 50 examples per test (the same inputs on
# every run, no example database); HYPOTHESIS_PROFILE=long runs 5,000 per test, freshly drawn, on purpose.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]  # the fuzzers write files and run the CLI: slow is expected
settings.register_profile("ci", derandomize=True, max_examples=50, deadline=None, database=None, print_blob=True,
                          suppress_health_check=_SLOW_OK, phases=[p for p in Phase if p is not Phase.explain])
settings.register_profile("long", max_examples=5000, deadline=None, print_blob=True, suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def fmnist():
    """The real Fashion-MNIST dataset (Debian's dataset-fashion-mnist)."""
    if not (FMNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.fail("Fashion-MNIST is missing: run scripts/setup.sh (installs Debian's dataset-fashion-mnist)")
    from activekd.data import create_dataset

    return create_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache folder for the whole session, so the stand-in teacher is fitted once."""
    return tmp_path_factory.mktemp("activekd-cache")


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``--dist loadgroup``) a test file runs whole on one worker, in order, its module fixtures set up
    once; every test on the real Label Studio goes to one worker, so the server starts once per session."""
    for item in items:
        on_studio = "label_studio" in getattr(item, "fixturenames", ())
        item.add_marker(pytest.mark.xdist_group("label-studio" if on_studio else item.nodeid.split("::")[0]))
