"""The daily run for one business date: ingest -> validate -> transform -> score -> dunning.

A failed validation gate stops the run before anything is scored or planned. Every stage is
idempotent for its `as_of`, so a re-run rewrites the same rows and sends nothing twice.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.tasks import exponential_backoff

from debtflow.flows import dunning, ingest, notify, publish, transform, validation
from debtflow.flows.errors import DebtflowError
from debtflow.flows.runtime import timed
from debtflow.flows.settings import get_settings
from debtflow.flows.warehouse import row_counts, session
from debtflow.models import late_payment, predict, registry


def _landing_hiccup(task, task_run, state) -> bool:
    """Retry ingest only for a remote landing zone and an error that is not the data's fault."""
    if not get_settings().landing.startswith("s3://"):
        return False
    try:
        state.result()
    except DebtflowError:  # a rejected batch fails the same way every time
        return False
    except Exception:
        return True
    return False


@task(
    name="ingest",
    timeout_seconds=3600,
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=30),
    retry_jitter_factor=0.5,
    retry_condition_fn=_landing_hiccup,
)
def ingest_stage(as_of: date) -> list[str]:
    """Load new landing batches up to as_of; return the ids of the batches to validate."""
    results = ingest.ingest(get_settings(), as_of)
    new = [r.batch_id for r in results if r.status == "loaded"]
    return new or [r.batch_id for r in results if r.batch_id.startswith(as_of.isoformat())]


@task(name="validate-raw", timeout_seconds=1800)
def validate_raw_stage(batch_ids: list[str]) -> str:
    with session() as con:
        results = validation.validate_raw_all(con, batch_ids)
    summary = validation.summary_markdown(results, title="Raw batches")
    create_markdown_artifact(key="validation-raw", markdown=summary, description="GX raw suites")
    for line in validation.warning_lines(results):
        get_run_logger().warning(line)
    validation.raise_if_failed(results)  # after publishing: a failed gate is shown too
    return summary


@task(name="transform", timeout_seconds=7200)
def transform_stage(as_of: date) -> dict:
    return transform.build(get_settings(), as_of)


@task(name="validate-marts", timeout_seconds=1800)
def validate_marts_stage(as_of: date) -> str:
    with session() as con:
        results = validation.validate_marts(con, as_of)
    summary = validation.summary_markdown(results, title=f"Marts as of {as_of}")
    create_markdown_artifact(key="validation-marts", markdown=summary, description="GX mart suites")
    for line in validation.warning_lines(results):
        get_run_logger().warning(line)
    validation.raise_if_failed(results)  # after publishing: a failed gate is shown too
    return summary


@task(name="score", timeout_seconds=3600)
def score_stage(as_of: date) -> dict:
    """Collectability for every overdue debtor; late-payment risk for open, not-yet-due invoices
    when a late-payment champion exists (it is optional: trained by `debtflow train --model`)."""
    settings = get_settings()
    result = predict.score(settings, as_of)
    if registry.champion_version(settings, late_payment.NAME):
        result["late_payment"] = late_payment.score(settings, as_of)
    return result


@task(name="publish", timeout_seconds=1800)
def publish_stage(as_of: date) -> dict:
    """Marts as Parquet for analysts, so a running flow never locks them out."""
    return publish.publish(get_settings(), as_of)


@task(name="dunning", timeout_seconds=3600)
def dunning_stage(as_of: date) -> dict:
    settings = get_settings()
    with session(settings) as con:
        planned = dunning.plan(con, settings, as_of)
        sent = dunning.send_outbox(con, settings, as_of)
    return {"planned": planned, "sent": sent}


@flow(name="daily", log_prints=True, on_failure=[notify.on_flow_failure])
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
    with timed("publish", timings):
        publish_stage(as_of)
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
