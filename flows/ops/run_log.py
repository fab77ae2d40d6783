"""`ops.run_log`: one row per (business date, flow) saying whether that day's run completed, and
the run's record (stage digests, seconds, the stage that failed) for the daily report.

The daily flow writes it itself, so scheduled runs, manual runs and backfills share one record;
a backfill skips the dates it shows as completed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb

from debtflow.flows.core.warehouse import RUN_LOG

DAILY = "daily"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def completed(con: duckdb.DuckDBPyConnection, flow: str = DAILY) -> set[date]:
    rows = con.execute(
        f"select as_of from {RUN_LOG} where flow = ? and status = 'completed'", [flow]
    ).fetchall()
    return {r[0] for r in rows}


def mark(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    status: str,
    message: str | None = None,
    flow: str = DAILY,
    summary: dict | None = None,
) -> None:
    """Record a date's state; `running` (re)starts its clock and clears the last run's record,
    the others stop it and keep `summary` (counts only: it is shown in reports)."""
    if status == "running":
        con.execute(
            f"insert or replace into {RUN_LOG} (as_of, flow, status, started_at) "
            "values (?, ?, 'running', ?)",
            [as_of, flow, _now()],
        )
    else:
        con.execute(
            f"update {RUN_LOG} set status = ?, finished_at = ?, message = ?, summary = ? "
            "where as_of = ? and flow = ?",
            [status, _now(), message, _json(summary), as_of, flow],
        )


def _json(summary: dict | None) -> str | None:
    return None if summary is None else json.dumps(summary, default=str, sort_keys=True)


def entry(con: duckdb.DuckDBPyConnection, as_of: date, flow: str = DAILY) -> dict | None:
    """The date's row: status, started_at, finished_at, message and the summary (a dict)."""
    row = con.execute(
        f"select status, started_at, finished_at, message, summary from {RUN_LOG} "
        "where as_of = ? and flow = ?",
        [as_of, flow],
    ).fetchone()
    if row is None:
        return None
    status, started, finished, message, summary = row
    return {
        "status": status,
        "started_at": started,
        "finished_at": finished,
        "message": message,
        "summary": json.loads(summary) if summary else None,
    }


def last_day(con: duckdb.DuckDBPyConnection, flow: str = DAILY) -> date | None:
    """The latest business date a run was recorded for (a back-fill of older dates does not
    move it)."""
    return con.execute(f"select max(as_of) from {RUN_LOG} where flow = ?", [flow]).fetchone()[0]


def reason(exc: BaseException) -> str:
    """The first line of an error, short enough for a log table and an alert."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:500]
