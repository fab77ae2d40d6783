"""The monthly debt-sale tape: select, pseudonymise, write the tape and its manifest."""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from debtflow.flows import tape
from debtflow.flows.settings import get_settings
from debtflow.flows.warehouse import session


@task(name="tape", timeout_seconds=1800)
def tape_stage(as_of: date) -> dict:
    settings = get_settings()
    with session(settings) as con:
        result = tape.build_tape(con, settings, as_of)
    return {"path": result["path"], "rows": result["manifest"]["row_count"]}


@flow(name="tape", log_prints=True)
def tape_monthly(as_of: date | None = None) -> dict:
    """Build the sale tape as of `as_of` (default: today); the marts must be built for it."""
    return tape_stage(as_of or get_settings().today())
