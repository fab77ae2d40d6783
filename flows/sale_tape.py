"""The `sale-tape` flow (monthly): one bidder tape per pool, pseudonymised and published."""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import session
from debtflow.flows.tape import tape


@task(name="build-tapes", timeout_seconds=3600)
def tapes_stage(settings: Settings, as_of: date, pool: str | None) -> list[dict]:
    with session(settings) as con:
        return [t.summary() for t in tape.build(con, settings, as_of, pool)]


@flow(name="sale-tape", log_prints=True)
def sale_tape(as_of: date | None = None, pool: str | None = None) -> dict:
    """Bidder tapes as of `as_of` (default: today), one per pool or only `pool`; the marts must
    be built for that date. Run again, it returns the tapes already published."""
    settings = get_settings()
    as_of = as_of or settings.today()
    tapes = tapes_stage(settings, as_of, pool)
    return {"as_of": as_of.isoformat(), "tapes": tapes}
