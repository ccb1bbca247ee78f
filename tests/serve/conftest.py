"""A real Label Studio 1.23 that may call a backend on 127.0.0.1, and a served run's helpers.

The server is the one ``tests/session/conftest.py`` starts (same helpers, same virtualenv), with
the two switches a backend on the same machine needs: Label Studio refuses ML backends and
webhooks on local addresses unless ``ML_BLOCK_LOCAL_IP`` and ``SSRF_PROTECTION_ENABLED`` are off.
"""

from __future__ import annotations

import importlib.util
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("activekd_tests_session_conftest", Path(__file__).parents[1] / "session" / "conftest.py")
ls_helpers = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(ls_helpers)

LOCAL_BACKENDS = {"ML_BLOCK_LOCAL_IP": "false", "SSRF_PROTECTION_ENABLED": "false"}


@pytest.fixture(scope="session")
def label_studio_ml(tmp_path_factory):
    """A real Label Studio on 127.0.0.1 that accepts an ML backend on 127.0.0.1 (about 45 s to start)."""
    exe = ls_helpers.label_studio_venv() / "bin" / "label-studio"
    if not exe.exists():
        pytest.fail(f"Label Studio server missing ({exe}): run scripts/setup.sh (it installs label-studio into that virtualenv)")
    data_dir = tmp_path_factory.mktemp("label-studio-ml-data")
    document_root = tmp_path_factory.mktemp("label-studio-ml-files")
    email, password, token = "activekd@example.com", secrets.token_hex(12), secrets.token_hex(20)
    port = ls_helpers._free_port()
    log_path = data_dir / "server.log"
    cmd = [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--enable-legacy-api-token", "--log-level", "WARNING"]
    env = dict(ls_helpers._server_env(data_dir, document_root, email, password, token), **LOCAL_BACKENDS)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=data_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        ls_helpers._wait_ready(proc, url, token, log_path)
        yield ls_helpers.LabelStudioServer(url, token, document_root, email, password, log_path)
    finally:
        ls_helpers._stop(proc)
