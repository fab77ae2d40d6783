"""Access to the DuckDB warehouse and the tables that Python (not dbt) owns.

dbt owns `staging`, `intermediate` and `marts`; Python owns `raw`, `ml`, `dunning` and `ops`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from debtflow.flows.contract import LINEAGE_COLUMNS, TABLES
from debtflow.flows.settings import Settings, get_settings

RAW, ML, DUNNING, OPS = "raw", "ml", "dunning", "ops"
LOAD_LOG = f"{RAW}.load_log"
QUARANTINE = f"{RAW}.quarantine"
DEBTOR_SCORES = f"{ML}.debtor_scores"
INVOICE_LATE_SCORES = f"{ML}.invoice_late_scores"
LEDGER = f"{DUNNING}.ledger"
RUN_LOG = f"{OPS}.run_log"
STAGE_LOG = f"{OPS}.stage_log"

OWN_TABLES = {
    LOAD_LOG: """
        batch_id VARCHAR NOT NULL, file_name VARCHAR NOT NULL, table_name VARCHAR,
        file_format VARCHAR, content_sha256 VARCHAR, etag VARCHAR, dialect VARCHAR,
        rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, rows_held BIGINT,
        status VARCHAR, message VARCHAR, loaded_at TIMESTAMP,
        PRIMARY KEY (batch_id, file_name)""",
    QUARANTINE: """
        batch_id VARCHAR, file_name VARCHAR, table_name VARCHAR, row_number BIGINT,
        line_number BIGINT, column_name VARCHAR, reason VARCHAR, record VARCHAR,
        status VARCHAR, quarantined_at TIMESTAMP, released_at TIMESTAMP""",
    DEBTOR_SCORES: """
        debtor_id VARCHAR NOT NULL, as_of DATE NOT NULL, p_collect_30d DOUBLE, grade INTEGER,
        reason_codes VARCHAR, model_version VARCHAR, scored_at TIMESTAMP,
        PRIMARY KEY (debtor_id, as_of)""",
    INVOICE_LATE_SCORES: """
        invoice_id VARCHAR NOT NULL, as_of DATE NOT NULL, debtor_id VARCHAR NOT NULL,
        issue_date DATE, due_date DATE, amount DOUBLE, p_late DOUBLE, model_version VARCHAR,
        scored_at TIMESTAMP, PRIMARY KEY (invoice_id, as_of)""",
    LEDGER: """
        idempotency_key VARCHAR PRIMARY KEY, as_of DATE NOT NULL, debtor_id VARCHAR NOT NULL,
        invoice_id VARCHAR, step VARCHAR, channel VARCHAR, amount_due DECIMAL(18,2),
        currency VARCHAR, grade INTEGER, state VARCHAR, planned_at TIMESTAMP,
        sent_at TIMESTAMP, outbox_path VARCHAR""",
    RUN_LOG: """
        as_of DATE NOT NULL, flow VARCHAR NOT NULL, status VARCHAR NOT NULL,
        started_at TIMESTAMP, finished_at TIMESTAMP, message VARCHAR,
        PRIMARY KEY (as_of, flow)""",
    STAGE_LOG: """
        stage VARCHAR PRIMARY KEY, as_of DATE, input_key VARCHAR, status VARCHAR,
        recorded_at TIMESTAMP, result VARCHAR""",
}


def connect(settings: Settings | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    settings = settings or get_settings()
    path: Path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    spill = settings.root / "tmp" / "duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    # dbt's profile sets the same two options (see flows/transform.py): DuckDB refuses a second
    # connection to a file in one process when its configuration differs.
    config = {"memory_limit": settings.duckdb_memory_limit, "temp_directory": str(spill)}
    return duckdb.connect(str(path), read_only=read_only, config=config)


@contextmanager
def session(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(settings)
    try:
        ensure_schema(con)
        yield con
    finally:
        con.close()


def raw_table_ddl(table: str) -> str:
    spec = TABLES[table]
    cols = [f"{c.name} {c.sql_type}" for c in spec.columns]
    cols += [f"{name} {sql_type}" for name, sql_type in LINEAGE_COLUMNS.items()]
    return f"CREATE TABLE IF NOT EXISTS {RAW}.{table} ({', '.join(cols)})"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for schema in (RAW, ML, DUNNING, OPS):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in TABLES:
        con.execute(raw_table_ddl(table))
    for name, ddl in OWN_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({ddl})")


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per base table in every schema, for summaries and idempotency checks."""
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() order by 1, 2"
    ).fetchall()
    return {
        f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
        for s, t in tables
    }
