"""The ``make_run`` fixture: synthetic run folders (see report_synthetic.py)."""

from __future__ import annotations

import pytest
from report_synthetic import write_run


@pytest.fixture
def make_run(tmp_path):
    """``make_run(name, accs, **kw)`` writes ``tmp_path/name/results.json`` and returns the folder."""
    return lambda name, accs, **kw: write_run(tmp_path / name, accs, **kw)
