"""Shared fixtures: every test gets its own DEBTFLOW_HOME and Prefect home, never the repo's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session", autouse=True)
def prefect_logs_to_the_sessions_stderr() -> None:
    """Prefect sets up its log handlers once, on the stderr of that moment: set them up before
    any test captures stderr, or they keep a test's capture stream, closed when it ends."""
    from prefect.logging.configuration import setup_logging

    setup_logging()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DEBTFLOW_HOME for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("DEBTFLOW_HOME", str(path))
    monkeypatch.delenv("DEBTFLOW_LANDING_URL", raising=False)
    return path


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server on 127.0.0.1, spoken to over HTTP like real S3."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.2)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    os.environ.update(env)
    yield url
    proc.terminate()
    proc.wait(10)
