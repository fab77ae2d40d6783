"""Access to the DuckDB warehouse and the tables that Python (not dbt) owns.

dbt owns `staging`, `intermediate` and `marts`; Python owns `raw`, `ml`, `dunning` and `ops`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.ingest.contract import LINEAGE_COLUMNS, TABLES

log = logging.getLogger(__name__)
LOCK_ERROR = re.compile(r"Could not set lock on file .*Conflicting lock is held in .*\(PID (\d+)\)")
LOCK_POLL_SECONDS = 1.0


class WarehouseBusy(DebtflowError):
    """Another process held the warehouse for longer than we were willing to wait."""


RAW, ML, DUNNING, OPS, SALE = "raw", "ml", "dunning", "ops", "sale"
LOAD_LOG = f"{RAW}.load_log"
QUARANTINE = f"{RAW}.quarantine"
DEBTOR_SCORES = f"{ML}.debtor_scores"
INVOICE_LATE_SCORES = f"{ML}.invoice_late_scores"
LEDGER = f"{DUNNING}.ledger"
SUPPRESSED = f"{DUNNING}.suppressed"
PLAN_ACCEPTANCES = f"{DUNNING}.plan_acceptances"
TAPES = f"{SALE}.tapes"
TAPE_RECEIVABLES = f"{SALE}.tape_receivables"
SOLD = f"{SALE}.sold_receivables"
BUYER_FEEDBACK = f"{SALE}.buyer_feedback"
PORTFOLIO_VALUATION = f"{SALE}.portfolio_valuation"
RUN_LOG = f"{OPS}.run_log"
STAGE_LOG = f"{OPS}.stage_log"
# dbt's marts that Python reads: the day's features per debtor, and who must be neither dunned
# nor sold (marts/debtor_suppressions.sql)
FEATURES = "marts.debtor_features"
SUPPRESSIONS = "marts.debtor_suppressions"
DUNNING_CANDIDATES = "marts.dunning_candidates"

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
    # one row per action (one message): a ladder step for one currency position of a debtor's
    # overdue episode (flows/dunning/plan.py), and how sending it went (send.py); fee_basis and
    # costs_basis are the legal basis as the message states it, in the debtor's language;
    # experiment and variant the debtor's A/B arm (flows/dunning/experiments.py), channel_cost the
    # policy's cost of the channel when planned, in the action's currency (NULL without a rate;
    # marts.experiment_results reads these), wording
    # the step's wording variant (templates/<language>.yml)
    LEDGER: """
        idempotency_key VARCHAR PRIMARY KEY, as_of DATE NOT NULL, debtor_id VARCHAR NOT NULL,
        invoice_id VARCHAR, step VARCHAR, channel VARCHAR, amount_due DECIMAL(18,2),
        currency VARCHAR, grade INTEGER, state VARCHAR, planned_at TIMESTAMP,
        sent_at TIMESTAMP, outbox_path VARCHAR, episode_start DATE, country VARCHAR,
        step_kind VARCHAR, ladder VARCHAR, policy_version VARCHAR, why_channel VARCHAR,
        p_collect DOUBLE, reason_codes VARCHAR, excluded_invoices VARCHAR,
        fee_kind VARCHAR, fee_amount DECIMAL(18,2), fee_basis VARCHAR, costs_if_unpaid DECIMAL(18,2),
        costs_kind VARCHAR, costs_basis VARCHAR, deadline DATE, state_reason VARCHAR,
        sending_at TIMESTAMP, attempts INTEGER, provider_id VARCHAR, experiment VARCHAR,
        variant VARCHAR, channel_cost DECIMAL(18,2), wording VARCHAR,
        broken_plan_id VARCHAR, broken_plan_date DATE, broken_instalment INTEGER,
        plan_offer_ref VARCHAR, plan_offer_installments INTEGER,
        plan_offer_frequency VARCHAR, plan_offer_total DECIMAL(18,2)""",
    # what the planner decided not to do, and why, per day (replaced when the day is re-planned)
    SUPPRESSED: """
        as_of DATE NOT NULL, debtor_id VARCHAR NOT NULL, currency VARCHAR, step VARCHAR,
        reason VARCHAR NOT NULL, policy_version VARCHAR""",
    # payment-plan offers accepted through a reply file (`debtflow plans accept`), with the
    # offer's terms; dbt reads it as a source (models/staging/dunning) beside landing plans
    PLAN_ACCEPTANCES: """
        offer_reference VARCHAR PRIMARY KEY, debtor_id VARCHAR NOT NULL, currency VARCHAR NOT NULL,
        accepted_on DATE NOT NULL, total_amount DECIMAL(18,2) NOT NULL,
        installments INTEGER NOT NULL, frequency VARCHAR NOT NULL, source_file VARCHAR,
        line_number BIGINT, loaded_at TIMESTAMP""",
    # every tape made (a tape id is never reused), what is on it, and what was sold to whom (at
    # what price, when agreed: a forward flow's percentage of the balance and the amount);
    # dbt reads the last three (sources in models/staging/sale)
    TAPES: """
        tape_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, as_of DATE NOT NULL, pool VARCHAR,
        buyer VARCHAR, state VARCHAR NOT NULL, offered_until DATE, receivables BIGINT,
        manifest VARCHAR, created_at TIMESTAMP, published_at TIMESTAMP, url VARCHAR""",
    TAPE_RECEIVABLES: """
        tape_id VARCHAR NOT NULL, invoice_id VARCHAR NOT NULL, debtor_id VARCHAR NOT NULL,
        pool VARCHAR, currency VARCHAR, total_balance DECIMAL(18,2),
        PRIMARY KEY (tape_id, invoice_id)""",
    SOLD: """
        invoice_id VARCHAR PRIMARY KEY, debtor_id VARCHAR NOT NULL, tape_id VARCHAR NOT NULL,
        pool VARCHAR, buyer VARCHAR NOT NULL, currency VARCHAR, total_balance DECIMAL(18,2),
        sold_on DATE NOT NULL, recorded_at TIMESTAMP, price_pct DECIMAL(7,4),
        price DECIMAL(18,2)""",
    BUYER_FEEDBACK: """
        file_name VARCHAR NOT NULL, line_number BIGINT NOT NULL, buyer VARCHAR,
        debtor_id VARCHAR NOT NULL, invoice_id VARCHAR, reported_on DATE, email VARCHAR,
        phone_mobile VARCHAR, email_invalid BOOLEAN, phone_invalid BOOLEAN, outcome VARCHAR,
        amount DECIMAL(18,2), loaded_at TIMESTAMP, PRIMARY KEY (file_name, line_number)""",
    # what each pool is worth kept, placed or sold per as_of (`debtflow value`; flows/value)
    PORTFOLIO_VALUATION: """
        as_of DATE NOT NULL, pool VARCHAR NOT NULL, currency VARCHAR, receivables BIGINT,
        face_value DECIMAL(18,2), expected_recovery_12m DECIMAL(18,2),
        expected_recovery_36m DECIMAL(18,2), price DECIMAL(18,2), price_share DOUBLE,
        price_share_low DOUBLE, price_share_high DOUBLE, npv_keep DECIMAL(18,2),
        npv_place DECIMAL(18,2), npv_sell DECIMAL(18,2), reserve_price DECIMAL(18,2),
        reserve_share DOUBLE, recommendation VARCHAR, material BOOLEAN, sensitivity VARCHAR,
        buyer_discount_rate DOUBLE, seller_discount_rate DOUBLE, terms_version VARCHAR,
        valued_at TIMESTAMP, PRIMARY KEY (as_of, pool)""",
    # summary: the run's record as JSON (stage digests, seconds, the failed stage): counts only
    RUN_LOG: """
        as_of DATE NOT NULL, flow VARCHAR NOT NULL, status VARCHAR NOT NULL,
        started_at TIMESTAMP, finished_at TIMESTAMP, message VARCHAR, summary VARCHAR,
        PRIMARY KEY (as_of, flow)""",
    STAGE_LOG: """
        stage VARCHAR PRIMARY KEY, as_of DATE, input_key VARCHAR, status VARCHAR,
        recorded_at TIMESTAMP, result VARCHAR""",
}


def connect(
    settings: Settings, read_only: bool = False, wait_seconds: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; while another process holds it, wait up to `wait_seconds` (default:
    the setting `lock_wait_seconds`)."""
    wait = settings.lock_wait_seconds if wait_seconds is None else wait_seconds
    path: Path = settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    spill = settings.root / "tmp" / "duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    # dbt's profile sets the same two options (see flows/build/transform.py): DuckDB refuses a second
    # connection to a file in one process when its configuration differs.
    config = {"memory_limit": settings.duckdb_memory_limit, "temp_directory": str(spill)}
    deadline, announced = time.monotonic() + wait, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            holder = lock_holder(str(exc))
            if holder is None:
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {path} is in use by {holder}; gave up after waiting "
                    f"{wait} s (DEBTFLOW_LOCK_WAIT_SECONDS). Run again when it has finished."
                ) from None
            if not announced:
                log.warning(
                    "the warehouse %s is in use by %s: waiting up to %d s for it",
                    path,
                    holder,
                    wait,
                )
                announced = True
            time.sleep(LOCK_POLL_SECONDS)


def lock_holder(message: str) -> str | None:
    """'PID 123 (debtflow transform --as-of ...)' from DuckDB's lock error, or None for another
    error. DuckDB names the holder's PID; /proc says what it runs (when it runs on this host)."""
    match = LOCK_ERROR.search(message)
    if match is None:
        return None
    pid = match.group(1)
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"PID {pid}"
    words = [Path(argv[0].decode()).name] + [a.decode() for a in argv[1:] if a]
    if len(words) > 1 and words[0].startswith("python") and words[1].endswith("debtflow"):
        words = ["debtflow", *words[2:]]  # the console script runs as `python .../debtflow`
    return f"PID {pid} ({' '.join(words)})"


def require(settings: Settings) -> None:
    """Refuse a home without a warehouse: a mistyped DEBTFLOW_HOME (or a relative one, run from
    another folder) would otherwise look like an empty installation."""
    if settings.warehouse_path.exists():
        return
    home = settings.home
    where = "" if home.is_absolute() else f" (DEBTFLOW_HOME={home}, relative to {Path.cwd()})"
    raise DebtflowError(
        f"no warehouse at {settings.warehouse_path}{where}: set DEBTFLOW_HOME to the folder that "
        "holds warehouse.duckdb, or load a first batch with `debtflow ingest`"
    )


def built_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The business date the marts were last built for (None before the first build)."""
    if not table_columns(con, FEATURES):
        return None
    return con.execute(f"select max(as_of) from {FEATURES}").fetchone()[0]


def require_built(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Reading marts built for another day would report stale balances as today's."""
    built = built_as_of(con)
    if built is None:
        raise DebtflowError("the marts are not built yet: run `debtflow transform` first")
    if built != as_of:
        raise DebtflowError(
            f"the marts are built for {built}, not {as_of}: run `debtflow transform --as-of "
            f"{as_of}`, or ask for --as-of {built}"
        )


@contextmanager
def session(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
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
    for schema in (RAW, ML, DUNNING, OPS, SALE):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in TABLES:
        con.execute(raw_table_ddl(table))
    for name, ddl in OWN_TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({ddl})")
        _add_new_columns(con, name, ddl)


def _add_new_columns(con: duckdb.DuckDBPyConnection, name: str, ddl: str) -> None:
    """A table created by an earlier version gains the columns added since (nullable ones)."""
    have = table_columns(con, name)
    for column in re.split(r",(?![^(]*\))", ddl):  # not the comma of DECIMAL(18,2)
        words = column.split()
        if len(words) == 2 and words[0].lower() not in have:
            con.execute(f"ALTER TABLE {name} ADD COLUMN {words[0]} {words[1]}")


def table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """The column names of `schema.table` (empty when it does not exist)."""
    schema, table = relation.split(".")
    return {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? and table_catalog = current_database()",
            [schema, table],
        ).fetchall()
    }


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
