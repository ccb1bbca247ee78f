"""A real Label Studio 1.23 that may call a backend on 127.0.0.1, and a served run's helpers.

The server is the shared one (``tests/_labelstudio_server.py``), which is started with the two
switches a backend on the same machine needs: Label Studio refuses ML backends and webhooks on
local addresses unless ``ML_BLOCK_LOCAL_IP`` and ``SSRF_PROTECTION_ENABLED`` are off.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def label_studio_ml(label_studio):
    """The shared real Label Studio (tests/_labelstudio_server.py), started with ML backends on 127.0.0.1 allowed."""
    return label_studio


@pytest.fixture
def client():
    """``(inbox, Flask test client)`` of a backend serving round 1 (tests/serve/payloads.py)."""
    from payloads import served_app

    inbox, app = served_app()
    return inbox, app.test_client()
