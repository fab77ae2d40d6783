"""Inspect and re-process quarantined rows (`debtflow quarantine list|show|release`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import LOAD_LOG, QUARANTINE, session
from debtflow.flows.ingest.contract import personal_columns
from debtflow.flows.ingest.ingest import release_held

MASK = "***"


@contextmanager
def session_for(settings: Settings, batch_id: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse session for the quarantine commands; a named batch must have been loaded."""
    with session(settings) as con:
        if batch_id:
            require_batch(con, batch_id)
        yield con


def require_batch(con: duckdb.DuckDBPyConnection, batch_id: str) -> None:
    """A batch id that was never loaded (a typo) must not look like a batch with no bad rows."""
    if con.execute(f"select count(*) from {LOAD_LOG} where batch_id = ?", [batch_id]).fetchone()[0]:
        return
    recent = [
        b
        for (b,) in con.execute(
            f"select distinct batch_id from {LOAD_LOG} order by 1 desc limit 3"
        ).fetchall()
    ]
    raise DebtflowError(
        f"batch {batch_id} was never loaded"
        + (f"; the latest loaded: {', '.join(recent)}" if recent else "; no batch is loaded yet")
    )


def summary(con: duckdb.DuckDBPyConnection, batch_id: str | None = None) -> list[tuple]:
    """(batch, file, column, reason, status, rows) for every group of quarantined rows."""
    return con.execute(
        f"select batch_id, file_name, coalesce(column_name, '(line)'), reason, status, count(*) "
        f"from {QUARANTINE} where ? is null or batch_id = ? group by all order by all",
        [batch_id, batch_id],
    ).fetchall()


def rows(con, batch_id: str, file_name: str | None = None, limit: int = 20) -> list[dict]:
    """Quarantined rows with their original text; personal data is masked."""
    found = con.execute(
        f"select file_name, row_number, line_number, column_name, reason, status, record "
        f"from {QUARANTINE} where batch_id = ? and (? is null or file_name = ?) "
        "order by file_name, coalesce(row_number, line_number) limit ?",
        [batch_id, file_name, file_name, limit],
    ).fetchall()
    personal = personal_columns()
    out = []
    for file, row, line, column, reason, status, record in found:
        values = json.loads(record)
        masked = {k: (MASK if k in personal and v is not None else v) for k, v in values.items()}
        out.append(
            {
                "file": file,
                "row": row,
                "line": line,
                "column": column,
                "reason": reason,
                "status": status,
                "record": masked,
            }
        )
    return out


def release(con: duckdb.DuckDBPyConnection, batch_id: str, file_name: str | None = None) -> int:
    """Re-check a batch's quarantined rows (after a fix upstream or in the contract); load the good."""
    where = f"batch_id = '{batch_id.replace(chr(39), '')}'"
    if file_name:
        where += f" and file_name = '{file_name.replace(chr(39), '')}'"
    con.execute("begin")
    try:
        released = release_held(con, where)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return released
