"""Running a suite: a frame read from DuckDB through the suite's checkpoint (GX's pandas engine; its
SQL datasource does not work on DuckDB), in parts for a large table. Results never carry personal
data: a suite that checks a column the contract marks personal runs with GX's
`exclude_unexpected_values`, and offending rows are named by their key columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier

from debtflow.flows.build.validation import quality_page
from debtflow.flows.build.validation.context import checkpoint, context
from debtflow.flows.build.validation.outcomes import outcome_of
from debtflow.flows.build.validation.results import ExpectationOutcome, ValidationResult, merge
from debtflow.flows.build.validation.suites import suite_columns
from debtflow.flows.core.settings import Settings
from debtflow.flows.ingest.contract import personal_columns

CHUNK_ROWS = 1_000_000


def run_suite(
    suite: gx.ExpectationSuite,
    frame: pd.DataFrame,
    key_columns: list[str],
    parameters: dict[str, Any],
    run_name: str,
    settings: Settings,
) -> ValidationResult:
    """Validate a frame through the suite's checkpoint; offending rows named by `key_columns`."""
    ctx = context(settings)
    columns = suite_columns(suite)
    exclude_values = bool(personal_columns().intersection(columns))
    suite_checkpoint = checkpoint(ctx, suite, key_columns, exclude_values)
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    checkpoint_result = suite_checkpoint.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters or {},
        run_id=run_id,
    )
    (gx_result,) = checkpoint_result.run_results.values()
    order = {e.id: i for i, e in enumerate(ctx.suites.get(suite.name).expectations)}
    in_suite_order = sorted(
        gx_result.results, key=lambda r: order.get(r.expectation_config.id, len(order))
    )
    page = quality_page.write(settings, quality_page.day_of(run_name, run_id.run_time))
    return ValidationResult(
        suite=suite.name,
        rows=len(frame),
        outcomes=[_outcome(r, key_columns) for r in in_suite_order],
        quality_page=str(page),
    )


def _outcome(r: Any, key_columns: list[str]) -> ExpectationOutcome:
    config = r.expectation_config
    severity = getattr(config.severity, "value", config.severity)
    return outcome_of(
        config.type, config.kwargs, severity, r.success, r.result, r.exception_info, key_columns
    )


def validate_relation(
    con: duckdb.DuckDBPyConnection,
    suite: gx.ExpectationSuite,
    relation: str,
    columns: list[str],
    key_columns: list[str],
    parameters: dict[str, Any],
    run_name: str,
    settings: Settings,
    where: str = "true",
    params: dict[str, Any] | None = None,
) -> ValidationResult:
    if _is_view(con, relation):
        # a view is computed on every read (the count, each part; fct_invoices at 1M: 1.4 s a
        # read): compute it once
        con.execute(
            f"create or replace temp table validated_view as "
            f"select {', '.join(columns)} from {relation} where {where}",
            params,
        )
        relation, where, params = "temp.validated_view", "true", None
    try:
        rows = con.execute(f"select count(*) from {relation} where {where}", params).fetchone()[0]
        # pandas holds ~1 GiB per million rows here, so a big table is validated in parts. Parts
        # split by a hash of the key, so duplicates of a key always meet in the same part.
        parts = max(1, -(-rows // CHUNK_ROWS))
        key_hash = f"hash({', '.join(key_columns)}) % {parts}"
        results = []
        for part in range(parts):
            frame = con.execute(
                f"select {', '.join(columns)} from {relation} "
                f"where {where} and {key_hash} = {part}",
                params,
            ).df()
            if parts > 1 and frame.empty:
                continue
            name = run_name if parts == 1 else f"{run_name}-part{part + 1}of{parts}"
            results.append(run_suite(suite, frame, key_columns, parameters, name, settings))
    finally:
        con.execute("drop table if exists temp.validated_view")
    return results[0] if len(results) == 1 else merge(results)


def _is_view(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? "
        "and table_name = ?",
        [schema, table],
    ).fetchone()
    return row is not None and row[0] == "VIEW"
