"""The `train` flow (weekly): fit on point-in-time snapshots, backtest, register; promote through
the gate."""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from debtflow.flows.core.settings import Settings, get_settings
from debtflow.models import train as training


@task(name="train-collectability", timeout_seconds=3600)
def train_stage(settings: Settings, as_of: date) -> dict:
    return training.train(settings, as_of)


@flow(name="train", log_prints=True)
def train(as_of: date | None = None) -> dict:
    """Train the collectability model on the snapshots before `as_of` (default: today)."""
    settings = get_settings()
    return train_stage(settings, as_of or settings.today())
