"""Shared fixtures: every test gets its own DEBTFLOW_HOME and Prefect home, never the repo's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DEBTFLOW_HOME for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("DEBTFLOW_HOME", str(path))
    monkeypatch.delenv("DEBTFLOW_LANDING_URL", raising=False)
    return path
