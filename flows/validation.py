"""Data-quality gates with Great Expectations: raw batches after ingest, marts after dbt.

Raw suites are generated from the landing contract; mart suites are hand-written and live in
`expectations/expectations/<name>.json` (GX 1.x suite format). Frames are read from DuckDB and
validated by GX's pandas engine (its SQL datasource does not work on DuckDB), each through a
ValidationDefinition and a Checkpoint whose UpdateDataDocsAction adds the result to the data docs
site in `settings.data_docs_dir`. The validation results behind the site are kept as JSON in
`settings.validation_results_dir`, so the site keeps every run's page, not only this process's.

Severity is GX's own expectation field: `critical` expectations block the run, `warning` ones
(e.g. e-mail addresses that do not parse) are counted and shown but do not block.

Results never carry personal data: a suite that checks a column the contract marks personal is
run with GX's `exclude_unexpected_values`, so neither the result, the data docs nor our summary
holds its values; offending rows are named by their key columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations import expectations as gxe
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.data_context.context_factory import set_context
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from debtflow.flows.contract import TABLES, Table, personal_columns
from debtflow.flows.errors import DebtflowError
from debtflow.flows.landing import BATCH_ID
from debtflow.flows.settings import Settings, get_settings
from debtflow.flows.warehouse import RAW

SAMPLE_SIZE = 5
CHUNK_ROWS = 1_000_000
MART_SUITES = ("debtor_features", "fct_invoices", "ar_aging")
DOCS_SITE = "debtflow"
BLOCKING, WARNING = "critical", "warning"
# Suite parameter of the raw suites: the latest event time a validated batch may carry.
LATEST_EVENT_TIME = "latest_event_time"

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
    severity: str = BLOCKING

    @property
    def label(self) -> str:
        return (
            f"{self.expectation}({', '.join(self.columns)})" if self.columns else self.expectation
        )

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING


@dataclass
class ValidationResult:
    suite: str
    rows: int
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    docs_pages: list[str] = field(default_factory=list)  # this run's data docs pages (file paths)
    docs_index: str | None = None

    @property
    def success(self) -> bool:
        """No blocking expectation failed; warnings do not count."""
        return not self.failed

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.blocking]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and not o.blocking]


# --- suites -------------------------------------------------------------------------------------


def raw_suite(table: str, settings: Settings | None = None) -> gx.ExpectationSuite:
    """The suite for one raw table, derived from its contract entry."""
    spec: Table = TABLES[table]
    _context(settings)  # GX binds suites to the active context, even unsaved ones
    suite = gx.ExpectationSuite(
        name=f"raw_{table}",
        meta={"table": f"{RAW}.{table}", "key": list(spec.key), "notes": spec.doc},
    )
    add = suite.add_expectation
    for col in spec.columns:
        if col.required:
            add(gxe.ExpectColumnValuesToNotBeNull(column=col.name))
        if col.accepted:
            add(gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.accepted)))
        if col.positive:
            add(gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=0, strict_min=True))
        if col.warn_pattern:
            add(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=col.name,
                    regex=col.warn_pattern,
                    severity=WARNING,
                    meta={"why": f"{col.name} values that do not parse cannot be used to contact"},
                )
            )
    for rule in spec.rules:
        add(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=rule.column,
                column_B=rule.at_least,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                meta={"why": rule.reason},
            )
        )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column=spec.event_time,
            max_value={"$PARAMETER": LATEST_EVENT_TIME},
            meta={
                "why": "an event after the batch's business date (plus tolerance) is a bad clock"
            },
        )
    )
    add(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=_unique_columns(spec),
            meta={"why": "a key repeated within one batch and version is a duplicate delivery"},
        )
    )
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
    _context(settings)
    return gx.ExpectationSuite(
        name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta", {})
    )


# --- the GX context -----------------------------------------------------------------------------


def _context(settings: Settings | None = None) -> Any:
    """This home's GX context, made the active one (suites and checkpoints bind to it)."""
    settings = settings or get_settings()
    context = _context_for(
        settings.data_docs_dir, settings.validation_results_dir, settings.data_docs_index_limit
    )
    set_context(context)
    return context


@cache
def _context_for(docs_dir: Path, results_dir: Path, index_limit: int) -> Any:
    # One per process and home: creating a context and its datasource is the expensive part.
    # Suites, definitions and checkpoints live in memory (they are rebuilt from code and JSON);
    # validation results go to files, because the site index drops pages it has no result for.
    defaults = InMemoryStoreBackendDefaults()
    defaults.stores[defaults.validation_results_store_name]["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(results_dir),
    }
    defaults.data_docs_sites = {
        DOCS_SITE: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            # The index reads every result it lists: list the newest only, so a year of daily
            # runs does not make each run's docs update slower.
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": index_limit,
            },
        }
    }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.data_sources.add_pandas("debtflow")
    return context


def data_docs_index(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).data_docs_dir / "index.html"


def _checkpoint(
    context: Any, suite: gx.ExpectationSuite, key_columns: list[str], exclude_values: bool
) -> Any:
    """The suite's checkpoint, (re)registered so it always runs the suite as given."""
    source = context.data_sources.get("debtflow")
    try:
        asset = source.get_asset(suite.name)
    except LookupError:
        asset = source.add_dataframe_asset(suite.name)
    try:
        batch = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        batch = asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
    )
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": 20,
        "unexpected_index_column_names": key_columns,
        "exclude_unexpected_values": exclude_values,
    }
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])],
            result_format=result_format,
        )
    )


# --- running ------------------------------------------------------------------------------------


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
    context = _context(settings)
    columns = _suite_columns(suite)
    exclude_values = bool(personal_columns().intersection(columns))
    checkpoint = _checkpoint(context, suite, key_columns, exclude_values)
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    checkpoint_result = checkpoint.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters or {},
        run_id=run_id,
    )
    ((key, gx_result),) = checkpoint_result.run_results.items()
    order = {e.id: i for i, e in enumerate(context.suites.get(suite.name).expectations)}
    in_suite_order = sorted(
        gx_result.results, key=lambda r: order.get(r.expectation_config.id, len(order))
    )
    urls = context.get_docs_sites_urls(resource_identifier=key, site_name=DOCS_SITE)
    return ValidationResult(
        suite=suite.name,
        rows=len(frame),
        outcomes=[_outcome(r, key_columns) for r in in_suite_order],
        docs_pages=[unquote(urlparse(u["site_url"]).path) for u in urls if u.get("site_url")],
        docs_index=str(data_docs_index(settings)),
    )


def _outcome(r: Any, key_columns: list[str]) -> ExpectationOutcome:
    config = r.expectation_config
    columns = _columns_of(config.kwargs)
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
        _first_distinct(values),
        _first_distinct(_keys(res.get("partial_unexpected_index_list"), key_columns)),
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


def _validate_relation(
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
    return results[0] if len(results) == 1 else _merge(results)


def _is_view(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? "
        "and table_name = ?",
        [schema, table],
    ).fetchone()
    return row is not None and row[0] == "VIEW"


def _merge(results: list[ValidationResult]) -> ValidationResult:
    merged = ValidationResult(
        suite=results[0].suite,
        rows=sum(r.rows for r in results),
        docs_pages=[p for r in results for p in r.docs_pages],
        docs_index=results[0].docs_index,
    )
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
                first.severity,
            )
        )
    return merged


def _first_distinct(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))[:SAMPLE_SIZE]


# --- the gates ----------------------------------------------------------------------------------


def latest_event_time(batch_ids: list[str], settings: Settings | None = None) -> datetime:
    """The latest event time the batches may carry: the newest batch's business date (a batch
    dated D holds events before D) plus `future_tolerance_days`."""
    settings = settings or get_settings()
    dates = [date.fromisoformat(m.group(1)) for b in batch_ids if (m := BATCH_ID.match(b))]
    business_date = max(dates) if dates else settings.today()
    return datetime.combine(business_date, time()) + timedelta(days=settings.future_tolerance_days)


def validate_raw(
    con: duckdb.DuckDBPyConnection,
    batch_ids: list[str],
    table: str = "invoices",
    settings: Settings | None = None,
) -> ValidationResult:
    """Validate the rows of `table` loaded from the given landing batches."""
    settings = settings or get_settings()
    suite = raw_suite(table, settings)
    spec = TABLES[table]
    where = f"{BATCH_COLUMN} in (select unnest($batches))"
    params: dict[str, Any] = {"batches": list(batch_ids)}
    relation = f"{RAW}.{table}"
    rows = con.execute(f"select count(*) from {relation} where {where}", params).fetchone()[0]
    if not rows:
        return ValidationResult(suite=suite.name, rows=0)
    key_columns = [*spec.key, BATCH_COLUMN]
    columns = list(dict.fromkeys([*key_columns, *_suite_columns(suite)]))
    parameters = {LATEST_EVENT_TIME: pd.Timestamp(latest_event_time(batch_ids, settings))}
    newest = max(batch_ids)
    run_name = (
        f"raw-{newest}" if len(batch_ids) == 1 else f"raw-{len(batch_ids)}-batches-to-{newest}"
    )
    return _validate_relation(
        con, suite, relation, columns, key_columns, parameters, run_name, settings, where, params
    )


def validate_raw_all(
    con: duckdb.DuckDBPyConnection, batch_ids: list[str], settings: Settings | None = None
) -> list[ValidationResult]:
    return [validate_raw(con, batch_ids, table, settings) for table in TABLES]


def validate_mart(
    con: duckdb.DuckDBPyConnection,
    name: str,
    as_of: date,
    settings: Settings | None = None,
) -> ValidationResult:
    """Validate one mart against the run's as_of with its hand-written suite."""
    settings = settings or get_settings()
    suite = load_suite(name, settings)
    relation = suite.meta["table"]
    schema, table = relation.split(".")
    present = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
    if not present:
        missing = ExpectationOutcome(
            "table_exists", (), False, None, error=f"{relation} is missing"
        )
        return ValidationResult(suite=suite.name, rows=0, outcomes=[missing])
    key_columns = list(suite.meta["key"])
    # A missing column is left out of the frame, so its expectations fail (GX reports it).
    wanted = dict.fromkeys([*key_columns, *_suite_columns(suite)])
    columns = [c for c in wanted if c in present]
    parameters = {"as_of": pd.Timestamp(as_of)}
    run_name = f"marts-{as_of.isoformat()}"
    return _validate_relation(
        con, suite, relation, columns, key_columns, parameters, run_name, settings
    )


def validate_marts(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: Settings | None = None
) -> list[ValidationResult]:
    """Validate every hand-written mart suite (MART_SUITES) for the run's as_of."""
    return [validate_mart(con, name, as_of, settings) for name in MART_SUITES]


# --- reporting ----------------------------------------------------------------------------------


def _as_list(results: Any) -> list[ValidationResult]:
    """Results, flattened: a result, a list of them, or lists of lists (raw + marts)."""
    if isinstance(results, ValidationResult):
        return [results]
    return [r for item in results for r in _as_list(item)]


def _line(suite: str, o: ExpectationOutcome, verb: str) -> str:
    what = o.error or f"{o.unexpected_count} unexpected rows"
    values = f"; sample values: {', '.join(o.sample_values)}" if o.sample_values else ""
    keys = f"; sample keys: {', '.join(o.sample_keys)}" if o.sample_keys else ""
    return f"suite {suite}: {o.label} {verb}: {what}{values}{keys}"


def failure_lines(results: Any) -> list[str]:
    """One line per failed blocking expectation."""
    return [_line(r.suite, o, "failed") for r in _as_list(results) for o in r.failed]


def warning_lines(results: Any) -> list[str]:
    """One line per failed warning-level expectation (they do not stop the run)."""
    return [_line(r.suite, o, "warning") for r in _as_list(results) for o in r.warnings]


def raise_if_failed(results: Any) -> None:
    """Raise ValidationFailed if a blocking expectation failed; warnings never raise."""
    lines = failure_lines(results)
    if lines:
        raise ValidationFailed("data validation failed:\n" + "\n".join(lines))


def _status(o: ExpectationOutcome) -> str:
    if o.success:
        return "pass"
    if not o.blocking:
        return f"warn (error: {o.error})" if o.error else "warn"
    return f"error: {o.error}" if o.error else "**FAIL**"


def summary_markdown(results: Any, title: str = "Data validation") -> str:
    """A headline, the data docs link and one table row per expectation (a Prefect artifact)."""
    results = _as_list(results)
    failed = sum(len(r.failed) for r in results)
    warned = sum(len(r.warnings) for r in results)
    verdict = "FAILED" if failed else "passed"
    lines = [
        f"### {title}: {verdict}",
        "",
        f"Suites: {len(results)}, rows: {sum(r.rows for r in results):,}, "
        f"blocking failures: {failed}, warnings: {warned}.",
    ]
    index = next((r.docs_index for r in results if r.docs_index), None)
    if index:
        lines.append(f"Data docs: [{index}](file://{index})")
    lines += [
        "",
        "| suite | rows | expectation | severity | result | unexpected | sample values |"
        " sample keys |",
        "| --- | ---: | --- | --- | --- | ---: | --- | --- |",
    ]
    for res in results:
        if not res.outcomes:
            lines.append(f"| {res.suite} | 0 | (no rows to validate) | | pass | 0 | | |")
        for o in res.outcomes:
            count = "" if o.unexpected_count is None else str(o.unexpected_count)
            cells = [
                res.suite,
                str(res.rows),
                f"`{o.label}`",
                o.severity,
                _status(o),
                count,
                ", ".join(o.sample_values),
                ", ".join(o.sample_keys),
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
