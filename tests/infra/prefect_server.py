"""A real Prefect server and process worker as subprocesses, for deployment tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def prefect_env(base: Path, api_url: str | None = None) -> dict[str, str]:
    """An environment whose Prefect state lives under `base` and never phones home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(base / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        PREFECT_LOGGING_TO_API_BATCH_INTERVAL="1",
        OMP_WAIT_POLICY="PASSIVE",
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def wait_healthy(api_url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Prefect server at {api_url} did not become healthy")
        time.sleep(0.5)


@contextmanager
def prefect_server(base: Path, port: int) -> Iterator[str]:
    """`prefect server start` on 127.0.0.1:port with a SQLite database under `base`; yields the API URL."""
    env = prefect_env(base)
    env["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{base / 'prefect.db'}"
    log = (base / "server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
         "--no-ui", "--no-scheduler"],  # fmt: skip
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    api_url = f"http://127.0.0.1:{port}/api"
    try:
        wait_healthy(api_url, proc)
        yield api_url
    finally:
        stop(proc, signals=1)
        log.close()


def start_worker(pool: str, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    return subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--limit", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def stop(proc: subprocess.Popen, signals: int = 2, timeout: float = 30) -> None:
    """SIGTERM (a process worker ignores the first one, so send `signals` of them), then kill."""
    for i in range(signals):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout if i == signals - 1 else 3)
            except subprocess.TimeoutExpired:
                continue
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
