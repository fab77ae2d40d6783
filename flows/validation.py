"""Data-quality gates with Great Expectations: raw batches after ingest, marts after dbt.

Raw suites are generated from the landing contract; the mart suite is hand-written and lives in
`expectations/expectations/<name>.json` (GX 1.x suite format). Frames are read from DuckDB and
validated by GX's pandas engine (its SQL datasource does not work on DuckDB) in one ephemeral
context per process, because creating a context and its datasource is the expensive part.

Results never carry personal data: samples of offending values are kept only for columns the
contract does not mark personal, and offending rows are named by their key columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations import expectations as gxe
from great_expectations.data_context.types.base import ProgressBarsConfig

from debtflow.flows.contract import TABLES, Table, personal_columns
from debtflow.flows.errors import DebtflowError
from debtflow.flows.settings import Settings, get_settings
from debtflow.flows.warehouse import RAW

SAMPLE_SIZE = 5
CHUNK_ROWS = 1_000_000
MART_SUITES = {"debtor_features": "marts.debtor_features"}

# A later batch may restate a row with a newer updated_at, so uniqueness is per batch and version.
VERSION_COLUMN = "updated_at"
BATCH_COLUMN = "_batch_id"


class ValidationFailed(DebtflowError):
    """A gate failed; the message names suite, expectation, count and sample keys (no PII)."""


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    columns: tuple[str, ...]
    success: bool
    unexpected_count: int | None
    sample_values: tuple[str, ...] = ()
    sample_keys: tuple[str, ...] = ()
    error: str | None = None  # GX raised instead of evaluating (missing column, type clash)

    @property
    def label(self) -> str:
        return (
            f"{self.expectation}({', '.join(self.columns)})" if self.columns else self.expectation
        )


@dataclass
class ValidationResult:
    suite: str
    rows: int
    outcomes: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


# --- suites -------------------------------------------------------------------------------------


def raw_suite(table: str) -> gx.ExpectationSuite:
    """The suite for one raw table, derived from its contract entry."""
    spec: Table = TABLES[table]
    _context()  # GX binds suites to the active context, even unsaved ones
    suite = gx.ExpectationSuite(name=f"raw_{table}")
    for col in spec.columns:
        if col.required:
            suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=col.name))
        if col.accepted:
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.accepted))
            )
        if col.positive:
            suite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=0, strict_min=True)
            )
    for rule in spec.rules:
        suite.add_expectation(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=rule.column,
                column_B=rule.at_least,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
        )
    suite.add_expectation(gxe.ExpectCompoundColumnsToBeUnique(column_list=_unique_columns(spec)))
    return suite


def _unique_columns(spec: Table) -> list[str]:
    cols = list(spec.key)
    if VERSION_COLUMN in spec.column_names and VERSION_COLUMN not in cols:
        cols.append(VERSION_COLUMN)
    return [*cols, BATCH_COLUMN]


def load_suite(name: str, settings: Settings | None = None) -> gx.ExpectationSuite:
    """A hand-written suite from `expectations/expectations/<name>.json`."""
    settings = settings or get_settings()
    path = Path(settings.expectations_dir) / "expectations" / f"{name}.json"
    spec = json.loads(path.read_text())
    _context()
    return gx.ExpectationSuite(
        name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta", {})
    )


# --- running ------------------------------------------------------------------------------------


@cache
def _context() -> Any:
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_pandas("debtflow")
    return context


def _batch_definition(asset_name: str) -> Any:
    source = _context().data_sources.get("debtflow")
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole")


def run_suite(
    suite: gx.ExpectationSuite,
    frame: pd.DataFrame,
    key_columns: list[str],
    parameters: dict[str, Any] | None = None,
) -> ValidationResult:
    """Validate a frame; offending rows are reported by `key_columns` only."""
    result = ValidationResult(suite=suite.name, rows=len(frame))
    batch = _batch_definition(suite.name).get_batch(batch_parameters={"dataframe": frame})
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": 20,
        "unexpected_index_column_names": key_columns,
    }
    gx_result = batch.validate(
        suite, result_format=result_format, expectation_parameters=parameters or {}
    )
    result.outcomes = [_outcome(r, key_columns) for r in gx_result.results]
    return result


def _outcome(r: Any, key_columns: list[str]) -> ExpectationOutcome:
    kwargs = r.expectation_config.kwargs
    columns = _columns_of(kwargs)
    info = r.exception_info or {}
    if info.get("raised_exception"):
        # The message may quote data; keep only its first line, which names the problem.
        message = str(info.get("exception_message") or "error").splitlines()[0][:200]
        return ExpectationOutcome(r.expectation_config.type, columns, False, None, error=message)
    res = r.result or {}
    private = personal_columns()
    values: list[str] = []
    if not private.intersection(columns):
        for v in res.get("partial_unexpected_list") or []:
            text = str(v)
            if text not in values:
                values.append(text)
    keys: list[str] = []
    for row in res.get("partial_unexpected_index_list") or []:
        text = "/".join(str(row.get(k)) for k in key_columns if k in row)
        if text and text not in keys:
            keys.append(text)
    count = res.get("unexpected_count")
    if count is None and not r.success and "observed_value" in res:
        count = 0  # table-level expectation: there are no offending rows to count
    return ExpectationOutcome(
        r.expectation_config.type,
        columns,
        bool(r.success),
        count,
        tuple(values[:SAMPLE_SIZE]),
        tuple(keys[:SAMPLE_SIZE]),
    )


def _columns_of(kwargs: dict[str, Any]) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    return tuple(kwargs.get("column_list") or ())


def _suite_columns(suite: gx.ExpectationSuite) -> list[str]:
    cols: list[str] = []
    for e in suite.expectations:
        cols += [c for c in _columns_of(e.configuration.kwargs) if c not in cols]
    return cols


# --- the gates ----------------------------------------------------------------------------------


def validate_raw(
    con: duckdb.DuckDBPyConnection, batch_ids: list[str], table: str = "invoices"
) -> ValidationResult:
    """Validate the rows of `table` loaded from the given landing batches."""
    suite = raw_suite(table)
    spec = TABLES[table]
    where = f"{BATCH_COLUMN} in (select unnest($batches))"
    params: dict[str, Any] = {"batches": list(batch_ids)}
    rows = con.execute(f"select count(*) from {RAW}.{table} where {where}", params).fetchone()[0]
    if not rows:
        return ValidationResult(suite=suite.name, rows=0)
    # pandas holds ~1 GiB per million rows here, so a big (history) batch is validated in parts.
    # Parts split by a hash of the key, so duplicates of a key always meet in the same part.
    parts = -(-rows // CHUNK_ROWS)
    columns = ", ".join([*spec.column_names, BATCH_COLUMN])
    key_hash = f"hash({', '.join(spec.key)}) % {parts}"
    results = []
    for part in range(parts):
        frame = con.execute(
            f"select {columns} from {RAW}.{table} where {where} and {key_hash} = {part}", params
        ).df()
        results.append(run_suite(suite, frame, key_columns=[*spec.key, BATCH_COLUMN]))
    return results[0] if parts == 1 else _merge(results)


def _merge(results: list[ValidationResult]) -> ValidationResult:
    merged = ValidationResult(suite=results[0].suite, rows=sum(r.rows for r in results))
    for per_part in zip(*(r.outcomes for r in results), strict=True):
        counts = [o.unexpected_count for o in per_part]
        first = per_part[0]
        merged.outcomes.append(
            ExpectationOutcome(
                first.expectation,
                first.columns,
                all(o.success for o in per_part),
                None if None in counts else sum(counts),
                _first_distinct(v for o in per_part for v in o.sample_values),
                _first_distinct(k for o in per_part for k in o.sample_keys),
                next((o.error for o in per_part if o.error), None),
            )
        )
    return merged


def _first_distinct(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))[:SAMPLE_SIZE]


def validate_raw_all(
    con: duckdb.DuckDBPyConnection, batch_ids: list[str]
) -> list[ValidationResult]:
    return [validate_raw(con, batch_ids, table) for table in TABLES]


def validate_marts(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: Settings | None = None
) -> ValidationResult:
    """Validate marts.debtor_features against the run's as_of with the hand-written suite."""
    suite = load_suite("debtor_features", settings)
    wanted = ["debtor_id", *(c for c in _suite_columns(suite) if c != "debtor_id")]
    present = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'debtor_features'"
        ).fetchall()
    }
    # A missing column must fail its expectation, not the query.
    select = ", ".join(c if c in present else f"null as {c}" for c in wanted)
    frame = con.execute(f"select {select} from {MART_SUITES['debtor_features']}").df()
    return run_suite(
        suite, frame, key_columns=["debtor_id"], parameters={"as_of": pd.Timestamp(as_of)}
    )


# --- reporting ----------------------------------------------------------------------------------


def _as_list(results: ValidationResult | list[ValidationResult]) -> list[ValidationResult]:
    return [results] if isinstance(results, ValidationResult) else list(results)


def failure_lines(results: ValidationResult | list[ValidationResult]) -> list[str]:
    lines = []
    for res in _as_list(results):
        for o in res.failed:
            what = o.error or f"{o.unexpected_count} unexpected rows"
            keys = f"; sample keys: {', '.join(o.sample_keys)}" if o.sample_keys else ""
            lines.append(f"suite {res.suite}: {o.label} failed: {what}{keys}")
    return lines


def raise_if_failed(results: ValidationResult | list[ValidationResult]) -> None:
    lines = failure_lines(results)
    if lines:
        raise ValidationFailed("data validation failed:\n" + "\n".join(lines))


def summary_markdown(results: ValidationResult | list[ValidationResult]) -> str:
    """One table row per expectation, for a Prefect markdown artifact."""
    rows = [
        "| suite | rows | expectation | result | unexpected | sample values | sample keys |",
        "| --- | ---: | --- | --- | ---: | --- | --- |",
    ]
    for res in _as_list(results):
        if not res.outcomes:
            rows.append(f"| {res.suite} | {res.rows} | (no rows to validate) | pass | 0 | | |")
        for o in res.outcomes:
            status = "pass" if o.success else ("error: " + o.error if o.error else "**FAIL**")
            count = "" if o.unexpected_count is None else str(o.unexpected_count)
            cells = [
                res.suite,
                str(res.rows),
                f"`{o.label}`",
                status,
                count,
                ", ".join(o.sample_values),
                ", ".join(o.sample_keys),
            ]
            rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
