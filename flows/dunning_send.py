"""The dunning sends, scheduled in the allowed sending hours.

The daily run plans and sends too; this flow exists so a deployment can send in office hours
(or re-send what a failed channel left planned). Both are idempotent per ledger key, so running
it after the daily run sends nothing twice.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.dunning import dunning


@task(name="dunning-send", timeout_seconds=1800)
def send_stage(settings: Settings, as_of: date) -> dict:
    return dunning.plan_and_send(settings, as_of)


@flow(name="dunning-send", log_prints=True)
def dunning_send(as_of: date | None = None) -> dict:
    """Plan and send the day's dunning messages for `as_of` (default: today)."""
    settings = get_settings()
    return send_stage(settings, as_of or settings.today())
