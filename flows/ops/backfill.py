"""Backfill: run the daily flow for each business date in a range, in order, resumably.

`ops.run_log` (written by the daily flow itself, and here around whatever `run` is given)
records each date as running, then completed or failed. A date already completed is skipped, so after a crash the same command carries on where it stopped; the date
that was running re-runs from the start, which is safe because every stage is idempotent for
its `as_of`. The first failure stops the backfill: later dates build on earlier ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import session
from debtflow.flows.ops.run_log import completed, mark, reason

log = logging.getLogger(__name__)


class BackfillStopped(DebtflowError):
    """A date failed; the dates before it are complete and will be skipped on the next run."""


def dates(start: date, end: date) -> list[date]:
    if end < start:
        raise DebtflowError(f"--to {end} is before --from {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def backfill(
    settings: Settings,
    start: date,
    end: date,
    run: Callable[[date], object] | None = None,
    on_date: Callable[[date, str], None] | None = None,
) -> dict[str, list[str]]:
    """Run `run` (default: the daily flow) for each date not yet complete; return what happened."""
    if run is None:
        from debtflow.flows.daily import daily  # imports Prefect: after configure_prefect

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
            why = reason(exc)
            with session(settings) as con:
                mark(con, as_of, "failed", why)
            raise BackfillStopped(
                f"backfill stopped at {as_of}: {why}\n"
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
