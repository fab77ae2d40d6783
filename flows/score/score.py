"""Score every overdue debtor with the champion: exact reasons for the debtors the day's dunning
acts on, on Dask when the settings name a cluster; each phase a progress line."""

from __future__ import annotations

from datetime import date
from functools import partial

from debtflow.flows.core import progress
from debtflow.flows.core.settings import Settings
from debtflow.flows.dunning import plan
from debtflow.models import predict


def score(settings: Settings, as_of: date, reasons: str = "auto") -> dict:
    """predict.score, its partitions computed on the cluster of DEBTFLOW_DASK_ADDRESS if set."""
    distributed = None
    if settings.dask_address:
        from debtflow.flows.score import on_dask  # imports prefect-dask: only when asked for

        distributed = partial(on_dask.score, settings)
    acting = partial(plan.acted_on, settings=settings, as_of=as_of)
    try:
        return predict.score(
            settings,
            as_of,
            reasons=reasons,
            distributed=distributed,
            acted_on=acting,
            on_progress=_progress,
        )
    finally:
        progress.clear()  # the daily run's next log line starts on a clean line


def _progress(what: str, seconds: float) -> None:
    progress.done(f"  {what} ... {seconds:.1f} s")
