"""`debtflow doctor`: one line per check, exit 0 when all is well, 1 with what to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from debtflow.flows.ops.doctor import FAIL, OK, run_checks

DEBTFLOW = str(Path(sys.executable).parent / "debtflow")


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([DEBTFLOW, "doctor"], env=env, capture_output=True, text=True)


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    import os

    (home / "landing" / "2026-11-20T0600").mkdir(parents=True)
    for name in ("PREFECT_API_URL", "DEBTFLOW_SMTP_HOST", "DEBTFLOW_ALERT_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ)


def test_good_configuration_exits_0(env: dict[str, str]) -> None:
    done = doctor(env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in ("settings", "home", "landing", "warehouse", "dbt", "prefect"):
        assert any(line.startswith(OK) and f" {name} " in line for line in lines), done.stdout
    assert "1 batch folder(s)" in done.stdout


def test_missing_landing_exits_1_and_says_what_to_do(env: dict[str, str], tmp_path: Path) -> None:
    env["DEBTFLOW_LANDING_URL"] = str(tmp_path / "nowhere")
    done = doctor(env)
    assert done.returncode == 1
    (line,) = [x for x in done.stdout.splitlines() if x.startswith(FAIL)]
    assert "landing" in line and "nowhere" in line and "set DEBTFLOW_LANDING_URL" in line
    assert "1 check(s) failed" in done.stderr


def test_unreachable_services_fail(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "landing").mkdir(parents=True)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # port 9: nothing listens
    monkeypatch.setenv("DEBTFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEBTFLOW_SMTP_PORT", "9")
    failed = {c.name for c in run_checks() if c.status == FAIL}
    assert failed == {"prefect", "smtp"}


def test_a_bad_setting_is_reported_not_raised(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEBTFLOW_SMTP_PORT", "twenty-five")
    (check,) = run_checks()
    assert check.name == "settings" and check.status == FAIL
    assert "DEBTFLOW_SMTP_PORT" in check.detail
