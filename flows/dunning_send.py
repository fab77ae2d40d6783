"""The dunning sends, scheduled in the sending hours (weekdays 09:00).

The daily run plans the day's actions early in the morning, and sends only what may go out then
(the call list, the agency file); this flow sends the rest once the debtors' sending windows are
open, and what a failed channel left planned. Every action is sent once, however often it runs.
Then it rewrites the day's report (flows/ops/daily_report.py), so it shows what went out.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.dunning import dunning
from debtflow.flows.ops import daily_report


@task(name="dunning-send", timeout_seconds=1800)
def send_stage(settings: Settings, as_of: date) -> dict:
    return dunning.send(settings, as_of)


@flow(name="dunning-send", log_prints=True)
def dunning_send(as_of: date | None = None) -> dict:
    """Send the planned dunning messages of `as_of` and earlier days (default: today)."""
    settings = get_settings()
    as_of = as_of or settings.today()
    result = send_stage(settings, as_of)
    result["report"] = daily_report.refresh(settings, as_of)
    return result
