"""The gates: the raw tables of the day's batches after ingest, the marts after dbt."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import pandas as pd

from debtflow.flows.build.validation.results import ExpectationOutcome, ValidationResult
from debtflow.flows.build.validation.runs import validate_relation
from debtflow.flows.build.validation.suites import (
    BATCH_COLUMN,
    LATEST_EVENT_TIME,
    MART_SUITES,
    load_suite,
    raw_suite,
    suite_columns,
)
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import LOAD_LOG, RAW, session, table_columns
from debtflow.flows.ingest.contract import TABLES
from debtflow.flows.ingest.landing import BATCH_ID


def latest_event_time(batch_ids: list[str], settings: Settings) -> datetime:
    """The latest event time the batches may carry: the newest batch's business date (a batch
    dated D holds events before D) plus `future_tolerance_days`."""
    dates = [date.fromisoformat(m.group(1)) for b in batch_ids if (m := BATCH_ID.match(b))]
    business_date = max(dates) if dates else settings.today()
    return datetime.combine(business_date, time()) + timedelta(days=settings.future_tolerance_days)


def validate_raw(
    con: duckdb.DuckDBPyConnection,
    batch_ids: list[str],
    table: str,
    settings: Settings,
) -> ValidationResult:
    """Validate the rows of `table` loaded from the given landing batches."""
    suite = raw_suite(table, settings)
    spec = TABLES[table]
    where = f"{BATCH_COLUMN} in (select unnest($batches))"
    params: dict[str, Any] = {"batches": list(batch_ids)}
    relation = f"{RAW}.{table}"
    rows = con.execute(f"select count(*) from {relation} where {where}", params).fetchone()[0]
    if not rows:
        return ValidationResult(suite=suite.name, rows=0)
    key_columns = [*spec.key, BATCH_COLUMN]
    columns = list(dict.fromkeys([*key_columns, *suite_columns(suite)]))
    parameters = {LATEST_EVENT_TIME: pd.Timestamp(latest_event_time(batch_ids, settings))}
    newest = max(batch_ids)
    run_name = (
        f"raw-{newest}" if len(batch_ids) == 1 else f"raw-{len(batch_ids)}-batches-to-{newest}"
    )
    return validate_relation(
        con, suite, relation, columns, key_columns, parameters, run_name, settings, where, params
    )


def validate_raw_all(
    con: duckdb.DuckDBPyConnection, batch_ids: list[str], settings: Settings
) -> list[ValidationResult]:
    return [validate_raw(con, batch_ids, table, settings) for table in TABLES]


def validate_day(settings: Settings, as_of: date) -> list[ValidationResult]:
    """The raw suites on the batches of `as_of` and the mart suites, as `debtflow validate`
    runs them outside the daily flow."""
    with session(settings) as con:
        batches = [
            b
            for (b,) in con.execute(
                f"select distinct batch_id from {LOAD_LOG} where batch_id like ? || '%'",
                [as_of.isoformat()],
            ).fetchall()
        ]
        return [*validate_raw_all(con, batches, settings), *validate_marts(con, as_of, settings)]


def validate_mart(
    con: duckdb.DuckDBPyConnection,
    name: str,
    as_of: date,
    settings: Settings,
) -> ValidationResult:
    """Validate one mart against the run's as_of with its hand-written suite."""
    suite = load_suite(name, settings)
    relation = suite.meta["table"]
    present = table_columns(con, relation)
    if not present:
        missing = ExpectationOutcome(
            "table_exists", (), False, None, error=f"{relation} is missing"
        )
        return ValidationResult(suite=suite.name, rows=0, outcomes=[missing])
    key_columns = list(suite.meta["key"])
    # A missing column is left out of the frame, so its expectations fail (GX reports it).
    wanted = dict.fromkeys([*key_columns, *suite_columns(suite)])
    columns = [c for c in wanted if c in present]
    parameters = {"as_of": pd.Timestamp(as_of)}
    run_name = f"marts-{as_of.isoformat()}"
    return validate_relation(
        con, suite, relation, columns, key_columns, parameters, run_name, settings
    )


def validate_marts(
    con: duckdb.DuckDBPyConnection, as_of: date, settings: Settings
) -> list[ValidationResult]:
    """Validate every hand-written mart suite (MART_SUITES) for the run's as_of."""
    return [validate_mart(con, name, as_of, settings) for name in MART_SUITES]
