"""`ops.run_log`: one row per (business date, flow) saying whether that day's run completed.

The daily flow writes it itself, so scheduled runs, manual runs and backfills share one record;
a backfill skips the dates it shows as completed.
"""

from __future__ import annotations

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
) -> None:
    """Record a date's state; `running` (re)starts its clock, the others stop it."""
    if status == "running":
        con.execute(
            f"insert or replace into {RUN_LOG} values (?, ?, 'running', ?, null, null)",
            [as_of, flow, _now()],
        )
    else:
        con.execute(
            f"update {RUN_LOG} set status = ?, finished_at = ?, message = ? "
            "where as_of = ? and flow = ?",
            [status, _now(), message, as_of, flow],
        )


def reason(exc: BaseException) -> str:
    """The first line of an error, short enough for a log table and an alert."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:500]
