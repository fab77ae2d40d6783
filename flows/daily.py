"""The daily run for one business date: ingest -> validate -> transform -> score -> dunning.

A failed validation gate stops the run before anything is scored or planned. Every stage is
idempotent for its `as_of`, so a re-run rewrites the same rows and sends nothing twice; the
expensive ones (transform, score) are skipped when `ops.stage_log` shows they already finished on
the same inputs, so a retry resumes. `ops.run_log` records each date's outcome and the run's
record; at its end, also when a stage failed, the run writes the day's report
(HOME/reports/daily/<as_of>.html, see flows/ops/daily_report.py) and publishes its Markdown twin
as the artifact `daily-run`.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.tasks import exponential_backoff

from debtflow.flows.build import publish, transform, validation
from debtflow.flows.core import notify
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.runtime import timed
from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import row_counts, session
from debtflow.flows.dunning import dunning
from debtflow.flows.ingest import ingest
from debtflow.flows.ops import daily_report, report_render, run_log, run_summary, stage_cache
from debtflow.flows.score import score
from debtflow.models import late_payment, predict, registry


def _landing_hiccup(task, task_run, state) -> bool:
    """Retry ingest only for a remote landing zone and an error that is not the data's fault.
    (Prefect hands a retry condition no task arguments: the settings come from the environment.)"""
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
def ingest_stage(settings: Settings, as_of: date) -> dict:
    """Load new landing batches up to as_of; name the batches to validate."""
    results = ingest.ingest(settings, as_of)
    new = [r.batch_id for r in results if r.status == "loaded"]
    to_validate = new or [r.batch_id for r in results if r.batch_id.startswith(as_of.isoformat())]
    return {**run_summary.ingest_digest(results), "batch_ids": to_validate}


def _publish_validation(results: list, key: str, title: str) -> dict:
    """Artifact and warnings first, then the gate: a failed gate is shown too."""
    summary = validation.summary_markdown(results, title=title)
    create_markdown_artifact(key=key, markdown=summary, description="GX validation")
    for line in validation.warning_lines(results):
        get_run_logger().warning(line)
    validation.raise_if_failed(results)
    return run_summary.validation_digest(results)


@task(name="validate-raw", timeout_seconds=1800)
def validate_raw_stage(settings: Settings, batch_ids: list[str]) -> dict:
    with session(settings) as con:
        results = validation.validate_raw_all(con, batch_ids, settings)
    return _publish_validation(results, "validation-raw", "Raw batches")


@task(name="transform", timeout_seconds=7200)
def transform_stage(settings: Settings, as_of: date, force: bool = False) -> dict:
    """dbt build, skipped when the marts were already built for as_of from the same raw data."""
    with session(settings) as con:
        key = stage_cache.transform_key(con, settings, as_of)

    def work() -> dict:
        return run_summary.transform_digest(transform.build(settings, as_of))

    result, cached = stage_cache.run(settings, "transform", as_of, key, work, force)
    return {**result, "input_key": key, "cached": cached}


@task(name="validate-marts", timeout_seconds=1800)
def validate_marts_stage(settings: Settings, as_of: date) -> dict:
    with session(settings) as con:
        results = validation.validate_marts(con, as_of, settings)
    return _publish_validation(results, "validation-marts", f"Marts as of {as_of}")


@task(name="score", timeout_seconds=3600)
def score_stage(settings: Settings, as_of: date, transform_key: str, force: bool = False) -> dict:
    """Collectability for every overdue debtor; late-payment risk for open, not-yet-due invoices
    when a late-payment champion exists (it is optional: trained by `debtflow train --model`).
    Skipped when the same champions already scored the same marts for as_of, and when there is
    no collectability champion yet (the result says when there will be history to train one)."""
    champions = {
        m: registry.champion_version(settings, m) for m in (registry.NAME, late_payment.NAME)
    }
    key = stage_cache.score_key(transform_key, champions)

    def work() -> dict:
        if champions[registry.NAME]:
            result = score.score(settings, as_of)
        else:  # a new book: the day goes on without scores
            result = predict.without_model(settings, as_of)
            get_run_logger().warning(result["skipped"])
        if champions[late_payment.NAME]:
            result["late_payment"] = late_payment.score(settings, as_of)
        return result

    result, cached = stage_cache.run(settings, "score", as_of, key, work, force)
    return {**result, "cached": cached}


@task(name="dunning", timeout_seconds=3600)
def dunning_stage(settings: Settings, as_of: date) -> dict:
    return dunning.plan_and_send(settings, as_of)


@task(name="publish", timeout_seconds=1800)
def publish_stage(settings: Settings, as_of: date) -> dict:
    """Marts as Parquet for analysts, so a running flow never locks them out."""
    return publish.publish(settings, as_of)


@flow(name="daily", log_prints=True, on_failure=[notify.on_flow_failure])
def daily(as_of: date | None = None, force: bool = False) -> dict:
    """Run the whole day for `as_of` (default: today in the configured time zone).

    force: rebuild and rescore even when the stage cache says the inputs are unchanged.
    """
    settings = get_settings()
    as_of = as_of or settings.today()
    with session(settings) as con:
        run_log.mark(con, as_of, "running")
    run: dict = {"stages": {}, "seconds": {}}
    try:
        result = _run_stages(settings, as_of, force, run)
    except BaseException as exc:
        run.update(status="failed", failed_stage=_failed_stage(run), error=_why(exc))
        with session(settings) as con:
            run_log.mark(con, as_of, "failed", run_log.reason(exc), summary=run)
        _report(settings, as_of, run)
        raise
    run["status"] = "completed"
    with session(settings) as con:
        run_log.mark(con, as_of, "completed", summary=run)
    result["report"] = _report(settings, as_of, run)
    return result


def _run_stages(settings: Settings, as_of: date, force: bool, run: dict) -> dict:
    """The stages in order; `run` holds each one's digest and seconds as it finishes, so a
    failure still reports what came before it."""
    timings: dict[str, float] = run["seconds"]
    stages: dict[str, dict] = run["stages"]
    with timed("ingest", timings):
        stages["ingest"] = ingest_stage(settings, as_of)
    with timed("validate_raw", timings):
        stages["validate_raw"] = validate_raw_stage(settings, stages["ingest"]["batch_ids"])
    with timed("transform", timings):
        stages["transform"] = transform_stage(settings, as_of, force)
    with timed("validate_marts", timings):
        stages["validate_marts"] = validate_marts_stage(settings, as_of)
    with timed("score", timings):
        stages["score"] = score_stage(settings, as_of, stages["transform"]["input_key"], force)
    with timed("dunning", timings):
        stages["dunning"] = dunning_stage(settings, as_of)
    with timed("publish", timings):
        stages["publish"] = publish_stage(settings, as_of)
    run["cached"] = [name for name, s in stages.items() if s.get("cached")]
    with session(settings) as con:
        counts = row_counts(con)
    get_run_logger().info("daily run %s done in %s", as_of, timings)
    return {
        "as_of": as_of.isoformat(),
        "seconds": timings,
        "stages": stages,
        "cached": run["cached"],
        "links": daily_report.links(settings, stages),
        "rows": counts,
    }


def _failed_stage(run: dict) -> str | None:
    """The first stage without a digest: the one that raised (None if all had finished)."""
    return next((s for s in run_summary.STAGES if s not in run["stages"]), None)


def _why(exc: BaseException) -> list[str]:
    """The error's lines for the report, without the sample values and keys a validation
    failure names (they may be a debtor's)."""
    lines = [line.split("; sample ")[0].strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line][:10]
    return [f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500], *lines[1:]]


def _report(settings: Settings, as_of: date, run: dict) -> str | None:
    """Write the day's report and publish its Markdown twin as the `daily-run` artifact. The
    report never fails the run: an error is logged and the run's own outcome stands."""
    try:
        report = daily_report.write(settings, as_of, run)
        create_markdown_artifact(
            key="daily-run",
            markdown=report_render.markdown(report),
            description=f"Daily run {as_of}",
        )
    except Exception as exc:  # whatever broke, the run's own outcome is the news
        get_run_logger().warning("the daily report for %s was not written: %r", as_of, exc)
        return None
    get_run_logger().info("daily report: %s", report.path)
    return str(report.path)
