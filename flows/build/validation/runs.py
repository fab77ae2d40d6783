"""Running a suite: a frame read from DuckDB through the suite's checkpoint (GX's pandas engine; its
SQL datasource does not work on DuckDB), in parts for a large table. Results never carry personal
data: a suite that checks a column the contract marks personal runs with GX's
`exclude_unexpected_values`, and offending rows are named by their key columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier

from debtflow.flows.build.validation.context import DOCS_SITE, checkpoint, context, data_docs_index
from debtflow.flows.build.validation.results import (
    BLOCKING,
    ExpectationOutcome,
    ValidationResult,
    first_distinct,
    merge,
)
from debtflow.flows.build.validation.suites import columns_of, suite_columns
from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.ingest.contract import personal_columns

CHUNK_ROWS = 1_000_000


def run_suite(
    suite: gx.ExpectationSuite,
    frame: pd.DataFrame,
    key_columns: list[str],
    parameters: dict[str, Any] | None = None,
    run_name: str = "adhoc",
    settings: Settings | None = None,
) -> ValidationResult:
    """Validate a frame through the suite's checkpoint; offending rows named by `key_columns`."""
    settings = settings or get_settings()
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
    ((key, gx_result),) = checkpoint_result.run_results.items()
    order = {e.id: i for i, e in enumerate(ctx.suites.get(suite.name).expectations)}
    in_suite_order = sorted(
        gx_result.results, key=lambda r: order.get(r.expectation_config.id, len(order))
    )
    urls = ctx.get_docs_sites_urls(resource_identifier=key, site_name=DOCS_SITE)
    return ValidationResult(
        suite=suite.name,
        rows=len(frame),
        outcomes=[_outcome(r, key_columns) for r in in_suite_order],
        docs_pages=[unquote(urlparse(u["site_url"]).path) for u in urls if u.get("site_url")],
        docs_index=str(data_docs_index(settings)),
    )


def _outcome(r: Any, key_columns: list[str]) -> ExpectationOutcome:
    config = r.expectation_config
    columns = columns_of(config.kwargs)
    severity = getattr(config.severity, "value", config.severity) or BLOCKING
    error = _error_of(r.exception_info)
    if error:
        return ExpectationOutcome(config.type, columns, False, None, error=error, severity=severity)
    res = r.result or {}
    values: list[str] = []
    # Values only for single non-personal columns; a multi-column domain is the key itself.
    if len(columns) == 1 and columns[0] not in personal_columns():
        values = [str(v) for v in res.get("partial_unexpected_list") or [] if not pd.isna(v)]
    count = res.get("unexpected_count")
    if count is None and not r.success and "observed_value" in res:
        count = 0  # table-level expectation: there are no offending rows to count
    return ExpectationOutcome(
        config.type,
        columns,
        bool(r.success),
        count,
        first_distinct(values),
        first_distinct(_keys(res.get("partial_unexpected_index_list"), key_columns)),
        severity=severity,
    )


def _error_of(info: dict | None) -> str | None:
    """GX's exception, first line only (the rest may quote data); None if it evaluated."""
    if not info:
        return None
    # Either one {raised_exception, exception_message} dict or one per metric that raised.
    if "raised_exception" in info:
        raised = [info] if info["raised_exception"] else []
    else:
        raised = [v for v in info.values() if isinstance(v, dict)]
    for item in raised:
        return str(item.get("exception_message") or "error").strip().splitlines()[0][:200]
    return None


def _keys(index_list: list | None, key_columns: list[str]) -> list[str]:
    keys: list[str] = []
    for row in index_list or []:
        if any(isinstance(row.get(k), list) for k in key_columns):
            # exclude_unexpected_values: one dict holding a list of values per key column
            rows = zip(*(row.get(k) or [] for k in key_columns), strict=False)
        else:
            rows = [tuple(row[k] for k in key_columns if k in row)]
        keys += ["/".join(str(v) for v in values) for values in rows if values]
    return keys


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
