"""The `sale-tape` flow (monthly): select, pseudonymise, write the debt-sale tape and its manifest."""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import session
from debtflow.flows.tape import tape


@task(name="build-tape", timeout_seconds=1800)
def tape_stage(settings: Settings, as_of: date) -> dict:
    with session(settings) as con:
        result = tape.build_tape(con, settings, as_of)
    return {"path": result["path"], "rows": result["manifest"]["row_count"]}


@flow(name="sale-tape", log_prints=True)
def sale_tape(as_of: date | None = None) -> dict:
    """Build the sale tape as of `as_of` (default: today); the marts must be built for it."""
    settings = get_settings()
    return tape_stage(settings, as_of or settings.today())
