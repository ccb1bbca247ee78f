"""A real Label Studio server for the tests (session, serve), started once per test session.

The server runs from the virtualenv ``scripts/setup.sh`` makes (``ACTIVEKD_LABEL_STUDIO_VENV``,
default ``~/.cache/activekd/label-studio-venv``), on 127.0.0.1 only, with SQLite in a temporary
data folder, local-file serving from a temporary document root, and a legacy API token.
:func:`running_label_studio` starts one outside pytest too (``bench/labelstudio_scale.py``).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class LabelStudioServer:
    """A running Label Studio: base ``url``, API ``token``, and the ``document_root`` it serves files from."""

    url: str
    token: str
    document_root: Path
    data_dir: Path
    email: str
    password: str
    log_path: Path


def label_studio_venv() -> Path:
    """The Label Studio server's virtualenv (made by scripts/setup.sh)."""
    default = Path.home() / ".cache" / "activekd" / "label-studio-venv"
    return Path(os.environ.get("ACTIVEKD_LABEL_STUDIO_VENV", default))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(data_dir: Path, document_root: Path, email: str, password: str, token: str) -> dict[str, str]:
    """The environment of the server: everything local, nothing phoned home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "HEARTEX_"))}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
        "LABEL_STUDIO_USERNAME": email,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_HOST": "",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "DJANGO_DB": "sqlite",
        "ML_BLOCK_LOCAL_IP": "false",  # the serve tests' ML backend and webhooks live on 127.0.0.1 too
        "SSRF_PROTECTION_ENABLED": "false",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    })
    return env


class ServerStartError(RuntimeError):
    """Label Studio did not start: the message ends with its log's tail."""


def _wait_ready(proc: subprocess.Popen, url: str, token: str, log_path: Path) -> None:
    """Poll health, then the token, for at most START_TIMEOUT_S; ``ServerStartError`` with the log's tail."""
    deadline = time.monotonic() + START_TIMEOUT_S
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    probes = [urllib.request.Request(f"{url}/health"),
              urllib.request.Request(f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {token}"})]
    while probes:
        if proc.poll() is not None:
            raise ServerStartError(f"Label Studio exited with {proc.returncode}; log {log_path}:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise ServerStartError(f"Label Studio not ready after {START_TIMEOUT_S:.0f} s; log {log_path}:\n{_tail(log_path)}")
        try:
            with opener.open(probes[0], timeout=5) as r:
                if r.status == 200:
                    probes.pop(0)
                    continue
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's process group, then kill it if it does not exit in time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def running_label_studio(data_dir: Path, document_root: Path) -> Iterator[LabelStudioServer]:
    """A real Label Studio on 127.0.0.1 with its SQLite under ``data_dir``, stopped on exit; ``ServerStartError`` if it
    does not start (about 45 s)."""
    exe = label_studio_venv() / "bin" / "label-studio"
    if not exe.exists():
        raise ServerStartError(f"Label Studio server missing ({exe}): run scripts/setup.sh (it installs label-studio into that virtualenv)")
    email, password, token = "activekd@example.com", secrets.token_hex(12), secrets.token_hex(20)
    port = _free_port()
    log_path = data_dir / "server.log"
    cmd = [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), "--enable-legacy-api-token", "--log-level", "WARNING"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=data_dir, env=_server_env(data_dir, document_root, email, password, token),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, token, log_path)
        yield LabelStudioServer(url, token, document_root, data_dir, email, password, log_path)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory) -> Iterator[LabelStudioServer]:
    """A real Label Studio 1.23 on 127.0.0.1 for this test session (about 45 s to start)."""
    try:
        with running_label_studio(tmp_path_factory.mktemp("label-studio-data"), tmp_path_factory.mktemp("label-studio-files")) as ls:
            yield ls
    except ServerStartError as e:
        pytest.fail(str(e))
