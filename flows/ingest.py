"""Load landing batches into `raw.*`: check each row against the contract, keep every row.

Every row read is either appended to its raw table or written to `raw.quarantine` with the column
and the reason; `raw.load_log` records the counts per file. One batch is one transaction, so a
crash or a rejected file never leaves a batch half-loaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import duckdb

from debtflow.flows.contract import TABLES, Column, Table
from debtflow.flows.errors import DebtflowError
from debtflow.flows.landing import Batch, LandingFile, list_batches
from debtflow.flows.settings import Settings, get_settings
from debtflow.flows.warehouse import LOAD_LOG, QUARANTINE, RAW, session

log = logging.getLogger(__name__)


class BatchRejected(DebtflowError):
    """A batch that cannot be loaded as a whole (unreadable file, missing column, conflict)."""


@dataclass
class FileResult:
    file_name: str
    table: str | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    status: str = "loaded"
    message: str = ""


@dataclass
class BatchResult:
    batch_id: str
    status: str  # loaded | skipped
    files: list[FileResult] = field(default_factory=list)


def _reader(f: LandingFile) -> str:
    path = str(f.path).replace("'", "''")
    if f.file_format == "csv":
        return f"read_csv('{path}', all_varchar=true, header=true, delim=',', quote='\"')"
    if f.file_format == "parquet":
        return f"read_parquet('{path}')"
    return f"read_json('{path}', format='newline_delimited')"


def _text(col: str) -> str:
    return f"nullif(trim(cast({col} as varchar)), '')"


def _typed(c: Column) -> str:
    return f"try_cast({_text(c.name)} as {c.sql_type})"


def _problem(spec: Table) -> str:
    """SQL yielding the first (column, reason) a staged row breaks, or NULL for a good row."""
    whens = []
    for c in spec.columns:
        v, col = _text(c.name), c.name
        if c.required:
            whens.append((f"{v} is null", col, "required value is missing"))
        if c.type != "text":
            whens.append((f"{v} is not null and {_typed(c)} is null", col, f"not a valid {c.type}"))
        if c.accepted:
            values = ", ".join(f"'{a}'" for a in c.accepted)
            reason = f"not one of the accepted values ({', '.join(c.accepted)})"
            whens.append((f"{v} not in ({values})", col, reason))
        if c.positive:
            whens.append((f"{_typed(c)} <= 0", col, "must be greater than 0"))
    for rule in spec.rules:
        typed = rule.predicate
        for c in spec.columns:
            typed = typed.replace(c.name, _typed(c))
        whens.append((f"not ({typed})", rule.column, rule.reason))
    cases = " ".join(
        f"when {cond} then {{'column': '{col}', 'reason': '{why}'}}" for cond, col, why in whens
    )
    return f"case {cases} else null end"


def _load_file(con: duckdb.DuckDBPyConnection, batch: Batch, f: LandingFile, now: datetime):
    spec = TABLES[f.table]
    try:
        con.execute(
            f"create or replace temp table _staged as "
            f"select row_number() over () as _row, * from {_reader(f)}"
        )
    except duckdb.Error as exc:
        raise BatchRejected(
            f"batch {batch.batch_id}, file {f.name}: cannot be read: {exc}"
        ) from exc
    present = {
        r[0] for r in con.execute("select name from pragma_table_info('_staged')").fetchall()
    }
    missing = [c for c in spec.required if c not in present]
    if missing:
        raise BatchRejected(
            f"batch {batch.batch_id}, file {f.name}: required column(s) missing: {', '.join(missing)}"
        )
    extra = sorted(present - set(spec.column_names) - {"_row"})
    for c in spec.columns:  # absent optional columns load as NULL
        if c.name not in present:
            con.execute(f"alter table _staged add column {c.name} varchar")
    originals = ", ".join(f"'{n}': {n}" for n in spec.column_names + extra)
    con.execute(
        f"create or replace temp table _checked as select _row, {_problem(spec)} as _problem, "
        f"to_json({{{originals}}}) as _record, * exclude (_row) from _staged"
    )
    params = [batch.batch_id, f.name, now]
    cols = ", ".join(spec.column_names)
    values = ", ".join(_typed(c) for c in spec.columns)
    con.execute(
        f"insert into {RAW}.{f.table} ({cols}, _batch_id, _source_file, _loaded_at) "
        f"select {values}, ?, ?, ? from _checked where _problem is null order by _row",
        params,
    )
    con.execute(
        f"insert into {QUARANTINE} select ?, ?, '{f.table}', _row, _problem.column, "
        f"_problem.reason, _record, ? from _checked where _problem is not null order by _row",
        [batch.batch_id, f.name, now],
    )
    read, bad = con.execute(
        "select count(*), count(*) filter (where _problem is not null) from _checked"
    ).fetchone()
    result = FileResult(f.name, f.table, read, read - bad, bad)
    if extra:
        result.message = f"unknown column(s) ignored: {', '.join(extra)}"
    return result


def _loaded_hashes(con: duckdb.DuckDBPyConnection, batch_id: str) -> dict[str, str] | None:
    rows = con.execute(
        f"select file_name, content_sha256 from {LOAD_LOG} where batch_id = ? and status <> 'rejected'",
        [batch_id],
    ).fetchall()
    return dict(rows) if rows else None


def load_batch(con: duckdb.DuckDBPyConnection, batch: Batch) -> BatchResult:
    files = batch.files()
    hashes = {f.name: f.sha256() for f in files}
    loaded = _loaded_hashes(con, batch.batch_id)
    if loaded is not None:
        if loaded == hashes:
            return BatchResult(batch.batch_id, "skipped")
        raise BatchRejected(
            f"batch {batch.batch_id} was already loaded with different content; "
            "a correction must come as a new batch with newer updated_at"
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    result = BatchResult(batch.batch_id, "loaded")
    con.execute("begin")
    try:
        for f in files:
            if f.table is None:
                fr = FileResult(f.name, None, status="ignored", message="not a contract file name")
                log.warning("batch %s: ignored unexpected file %s", batch.batch_id, f.name)
            else:
                fr = _load_file(con, batch, f, now)
                assert fr.rows_read == fr.rows_loaded + fr.rows_quarantined
            con.execute(
                f"insert into {LOAD_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    batch.batch_id,
                    f.name,
                    f.table,
                    f.file_format,
                    hashes[f.name],
                    fr.rows_read,
                    fr.rows_loaded,
                    fr.rows_quarantined,
                    fr.status,
                    fr.message,
                    now,
                ],
            )
            result.files.append(fr)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def ingest(settings: Settings | None = None, as_of: date | None = None) -> list[BatchResult]:
    """Load every batch not yet loaded whose business date is <= as_of, in batch-id order."""
    settings = settings or get_settings()
    results = []
    with session(settings) as con:
        for batch in list_batches(settings.landing_dir, up_to=as_of):
            result = load_batch(con, batch)
            if result.status == "loaded":
                rows = sum(f.rows_loaded for f in result.files)
                bad = sum(f.rows_quarantined for f in result.files)
                log.info("batch %s: %d rows loaded, %d quarantined", batch.batch_id, rows, bad)
            results.append(result)
    return results
