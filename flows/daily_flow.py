"""The daily run for one business date: ingest -> validate -> transform -> score -> dunning.

A failed validation gate stops the run before anything is scored or planned. Every stage is
idempotent for its `as_of`, so a re-run rewrites the same rows and sends nothing twice.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task

from debtflow.flows import dunning, ingest, transform, validation
from debtflow.flows.runtime import timed
from debtflow.flows.settings import get_settings
from debtflow.flows.warehouse import row_counts, session
from debtflow.models import predict


@task(name="ingest")
def ingest_stage(as_of: date) -> list[str]:
    """Load new landing batches up to as_of; return the ids of the batches to validate."""
    results = ingest.ingest(get_settings(), as_of)
    new = [r.batch_id for r in results if r.status == "loaded"]
    return new or [r.batch_id for r in results if r.batch_id.startswith(as_of.isoformat())]


@task(name="validate-raw")
def validate_raw_stage(batch_ids: list[str]) -> str:
    with session() as con:
        results = validation.validate_raw_all(con, batch_ids)
    validation.raise_if_failed(results)
    return validation.summary_markdown(results)


@task(name="transform")
def transform_stage(as_of: date) -> dict:
    return transform.build(get_settings(), as_of)


@task(name="validate-marts")
def validate_marts_stage(as_of: date) -> str:
    with session() as con:
        results = validation.validate_marts(con, as_of)
    validation.raise_if_failed(results)
    return validation.summary_markdown(results)


@task(name="score")
def score_stage(as_of: date) -> dict:
    return predict.score(get_settings(), as_of)


@task(name="dunning")
def dunning_stage(as_of: date) -> dict:
    settings = get_settings()
    with session(settings) as con:
        planned = dunning.plan(con, settings, as_of)
        sent = dunning.send_outbox(con, settings, as_of)
    return {"planned": planned, "sent": sent}


@flow(name="daily", log_prints=True)
def daily(as_of: date | None = None) -> dict:
    """Run the whole day for `as_of` (default: today in the configured time zone)."""
    as_of = as_of or get_settings().today()
    logger = get_run_logger()
    timings: dict[str, float] = {}
    with timed("ingest", timings):
        batch_ids = ingest_stage(as_of)
    with timed("validate_raw", timings):
        validate_raw_stage(batch_ids)
    with timed("transform", timings):
        transform_stage(as_of)
    with timed("validate_marts", timings):
        validate_marts_stage(as_of)
    with timed("score", timings):
        scored = score_stage(as_of)
    with timed("dunning", timings):
        actions = dunning_stage(as_of)
    with session() as con:
        counts = row_counts(con)
    logger.info("daily run %s done in %s", as_of, timings)
    return {
        "as_of": as_of.isoformat(),
        "seconds": timings,
        "scored": scored,
        "dunning": actions,
        "rows": counts,
    }
