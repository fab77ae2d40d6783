"""Process-wide setup that must happen before Prefect is imported, and stage timing."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from debtflow.flows.core.settings import Settings

log = logging.getLogger("debtflow")


def configure_prefect(settings: Settings) -> None:
    """Keep Prefect's state inside DEBTFLOW_HOME and make its ephemeral server patient and quiet.

    Explicit environment variables win, so a deployment can point at a real Prefect server.
    """
    defaults = {
        "PREFECT_HOME": str(settings.root / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "1",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    for noisy in ("httpx", "great_expectations"):  # a line per API call, per GX registration
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def timed(stage: str, timings: dict[str, float]) -> Iterator[None]:
    """Record a stage's wall time in `timings` and log it."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(time.perf_counter() - start, 2)
        log.info("stage %s took %.2f s", stage, timings[stage])
