"""The `forward-flow` flow (monthly): the receivables fresh since the previous run (a skipped
month included) sold to the agreed buyer."""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import session
from debtflow.flows.tape import forward_flow as forward


@task(name="sell-forward-flow", timeout_seconds=3600)
def sell_stage(settings: Settings, as_of: date) -> dict:
    with session(settings) as con:
        return forward.run(con, settings, as_of)


@flow(name="forward-flow", log_prints=True)
def forward_flow(as_of: date | None = None) -> dict:
    """Forward-flow tapes as of `as_of` (default: today), sold at the agreed prices; the marts
    must be built for that date. Run again, it returns what was sold and sells nothing more."""
    settings = get_settings()
    return sell_stage(settings, as_of or settings.today())
