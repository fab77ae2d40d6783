"""Backfill: run the daily flow for each business date in a range, in order, resumably.

`ops.run_log` records each (as_of, flow) as running, then completed or failed. A date already
completed is skipped, so after a crash the same command carries on where it stopped; the date
that was running re-runs from the start, which is safe because every stage is idempotent for
its `as_of`. The first failure stops the backfill: later dates build on earlier ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import duckdb

from debtflow.flows.errors import DebtflowError
from debtflow.flows.settings import Settings
from debtflow.flows.warehouse import RUN_LOG, session

log = logging.getLogger(__name__)
FLOW = "daily"


class BackfillStopped(DebtflowError):
    """A date failed; the dates before it are complete and will be skipped on the next run."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def dates(start: date, end: date) -> list[date]:
    if end < start:
        raise DebtflowError(f"--to {end} is before --from {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def completed(con: duckdb.DuckDBPyConnection, flow: str = FLOW) -> set[date]:
    rows = con.execute(
        f"select as_of from {RUN_LOG} where flow = ? and status = 'completed'", [flow]
    ).fetchall()
    return {r[0] for r in rows}


def mark(
    con: duckdb.DuckDBPyConnection, as_of: date, status: str, message: str | None = None
) -> None:
    """Record a date's state; `running` (re)starts its clock, the others stop it."""
    if status == "running":
        con.execute(
            f"insert or replace into {RUN_LOG} values (?, ?, 'running', ?, null, null)",
            [as_of, FLOW, _now()],
        )
    else:
        con.execute(
            f"update {RUN_LOG} set status = ?, finished_at = ?, message = ? "
            "where as_of = ? and flow = ?",
            [status, _now(), message, as_of, FLOW],
        )


def backfill(
    settings: Settings,
    start: date,
    end: date,
    run: Callable[[date], object] | None = None,
    on_date: Callable[[date, str], None] | None = None,
) -> dict[str, list[str]]:
    """Run `run` (default: the daily flow) for each date not yet complete; return what happened."""
    if run is None:
        from debtflow.flows.daily_flow import daily  # imports Prefect: after configure_prefect

        run = daily
    with session(settings) as con:
        done = completed(con)
    report: dict[str, list[str]] = {"completed": [], "skipped": []}
    for as_of in dates(start, end):
        if as_of in done:
            report["skipped"].append(as_of.isoformat())
            _tell(on_date, as_of, "skipped (already complete)")
            continue
        with session(settings) as con:
            mark(con, as_of, "running")
        try:
            run(as_of)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            with session(settings) as con:
                mark(con, as_of, "failed", reason[:500])
            raise BackfillStopped(
                f"backfill stopped at {as_of}: {reason}\n"
                f"Fix the cause and run the same command again: the {len(report['completed'])}"
                " date(s) completed now, and any before, are skipped."
            ) from exc
        with session(settings) as con:
            mark(con, as_of, "completed")
        report["completed"].append(as_of.isoformat())
        _tell(on_date, as_of, "completed")
    return report


def _tell(on_date: Callable[[date, str], None] | None, as_of: date, what: str) -> None:
    log.info("backfill %s: %s", as_of, what)
    if on_date:
        on_date(as_of, what)
