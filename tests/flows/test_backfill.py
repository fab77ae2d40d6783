"""Backfill: dates in order, completed dates skipped, and a crash mid-way loses nothing.

The acceptance case runs two 4-day backfills of one small world side by side, each in its own
process (each with its own ephemeral Prefect server): one straight through, one killed with
SIGKILL while it runs day 3 and then started again. Both must end with the same warehouse.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import session
from debtflow.flows.ops import backfill

END = date(2026, 11, 20)
DAYS = [END - timedelta(days=4 - i) for i in range(5)]
BACKFILL = DAYS[:4]  # the real backfills: each date is a whole daily run, so as few as prove it
SETUP = """
import sys
from datetime import date
from debtflow.flows.ingest import ingest
from debtflow.flows.build import transform
from debtflow.flows.core.settings import get_settings
from debtflow.flows.simulation.simulation import simulate
from debtflow.models import train

settings, end, before = get_settings(), date.fromisoformat(sys.argv[1]), date.fromisoformat(sys.argv[2])
simulate(250, 12, 9, settings.root, end, 10)
ingest.ingest(settings, before)
transform.build(settings, before)
train.train(settings, before)
"""


def test_backfill_runs_dates_in_order_and_skips_completed_ones(home: Path) -> None:
    seen: list[date] = []
    settings = get_settings()
    first = backfill.backfill(settings, DAYS[0], DAYS[2], run=seen.append)
    assert seen == DAYS[:3] and first["completed"] == [d.isoformat() for d in DAYS[:3]]
    again = backfill.backfill(settings, DAYS[0], DAYS[4], run=seen.append)
    assert seen == DAYS[:5]
    assert again == {
        "completed": [d.isoformat() for d in DAYS[3:5]],
        "skipped": [d.isoformat() for d in DAYS[:3]],
    }


def test_a_failed_date_stops_the_backfill_and_is_retried_next_time(home: Path) -> None:
    settings = get_settings()

    def flaky(as_of: date) -> None:
        if as_of == DAYS[1]:
            raise RuntimeError("landing unreachable")

    with pytest.raises(backfill.BackfillStopped, match=f"stopped at {DAYS[1]}"):
        backfill.backfill(settings, DAYS[0], DAYS[3], run=flaky)
    with session(settings) as con:
        assert con.execute("select as_of, status from ops.run_log order by 1").fetchall() == [
            (DAYS[0], "completed"),
            (DAYS[1], "failed"),
        ]
    ran: list[date] = []
    backfill.backfill(settings, DAYS[0], DAYS[3], run=ran.append)
    assert ran == DAYS[1:4]


def test_to_before_from_is_refused(home: Path) -> None:
    with pytest.raises(backfill.DebtflowError, match="before --from"):
        backfill.backfill(get_settings(), DAYS[3], DAYS[0], run=print)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world loaded up to the day before the backfill, with a champion; built in a child
    process because dbt-duckdb keeps the warehouse file open in the process that ran it."""
    home = tmp_path_factory.mktemp("backfill") / "base"
    done = subprocess.run(
        [sys.executable, "-c", SETUP, END.isoformat(), (DAYS[0] - timedelta(days=1)).isoformat()],
        env=_env(home), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.pop("DEBTFLOW_LANDING_URL", None)
    env.update(DEBTFLOW_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    return env


def _start(home: Path) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).parent / "debtflow"), "backfill",
           "--from", BACKFILL[0].isoformat(), "--to", BACKFILL[-1].isoformat()]  # fmt: skip
    return subprocess.Popen(
        cmd, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: the ephemeral Prefect server dies with it
    )  # fmt: skip


def _finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-4000:]
    return out


def _kill_after(proc: subprocess.Popen, line: str, timeout: float = 600) -> str:
    """Read the backfill's output until `line`, then SIGKILL its whole process group."""
    deadline, seen = time.monotonic() + timeout, []
    for text in proc.stdout:
        seen.append(text)
        if text.startswith(line):
            time.sleep(3)  # into the next date's run
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            return "".join(seen)
        assert time.monotonic() < deadline, "".join(seen)[-4000:]
    raise AssertionError(f"backfill ended before {line!r}:\n{''.join(seen)[-4000:]}")


def _state(home: Path) -> dict:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        from debtflow.flows.core.warehouse import row_counts

        return {
            "rows": row_counts(con),
            "ledger": sorted(r[0] for r in con.execute("select idempotency_key from dunning.ledger").fetchall()),
            "scores": con.execute("select as_of, count(*), sum(grade) from ml.debtor_scores group by 1 order by 1").fetchall(),
            "run_log": con.execute("select as_of, status from ops.run_log order by 1").fetchall(),
        }  # fmt: skip


@pytest.mark.slow
def test_backfill_killed_on_day_3_and_rerun_ends_like_an_uninterrupted_one(
    base: Path, tmp_path: Path
) -> None:
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    shutil.copytree(base, straight)
    shutil.copytree(base, crashed)
    a = _start(straight)  # both run at once: two cores
    b = _start(crashed)
    first = _kill_after(b, f"{BACKFILL[1]}: completed")
    assert f"{BACKFILL[2]}: completed" not in first
    resumed = _finish(_start(crashed))
    _finish(a)
    for day in BACKFILL[:2]:
        assert f"{day}: skipped" in resumed
    assert f"{BACKFILL[2]}: completed" in resumed and f"{BACKFILL[3]}: completed" in resumed

    expected, got = _state(straight), _state(crashed)
    assert got["run_log"] == [(d, "completed") for d in BACKFILL]
    assert got["rows"] == expected["rows"]
    assert got["ledger"] == expected["ledger"] and len(expected["ledger"]) > 0
    assert got["scores"] == expected["scores"]
