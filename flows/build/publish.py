"""Publish every dbt mart, and the day's scores, as Parquet files, so analysts never wait on the
warehouse lock.

DuckDB lets one process write a database file at a time; while a flow runs, an analyst's
connection to warehouse.duckdb would be refused. After each run the marts are copied to
`<target>/<mart>.parquet` (target: `DEBTFLOW_PUBLISH_URL`, a folder or s3://bucket/prefix;
default HOME/published), and the scores of the as_of (ml.debtor_scores, ml.invoice_late_scores;
a day not scored yet gives an empty file) to `<target>/debtor_scores.parquet` and
`<target>/invoice_late_scores.parquet`. Each is written to a temporary name and renamed (an S3
object appears whole), then `_manifest.json` with the as_of and row counts - written last, so it
never names a file that is not there yet.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.storage import LocalStore, Store, open_store
from debtflow.flows.core.warehouse import (
    DEBTOR_SCORES,
    INVOICE_LATE_SCORES,
    built_as_of,
    connect,
    require_built,
    table_columns,
)

MARTS = "marts"
MANIFEST = "_manifest.json"
# the day's rows of the tables Python's scoring writes, published as <name>.parquet
SCORES = (DEBTOR_SCORES, INVOICE_LATE_SCORES)


def target_url(settings: Settings) -> str:
    return settings.publish_url or str(settings.root / "published")


def mart_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1",
        [MARTS],
    ).fetchall()
    return [name for (name,) in rows]


def _copy_to_parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    # COPY returns the rows it wrote: no second pass over a view
    (rows,) = con.execute(
        f"copy ({query}) to '{path}' (format parquet, compression zstd)"
    ).fetchone()
    return rows


def _publish_one(
    con: duckdb.DuckDBPyConnection, store: Store, tmp: str, name: str, query: str
) -> int:
    """Write the query's rows to <name>.parquet at the target, whole or not at all."""
    file_name = f"{name}.parquet"
    if isinstance(store, LocalStore):
        # write beside the destination and rename: same file system, atomic
        store.root.mkdir(parents=True, exist_ok=True)
        staged = store.root / f".{file_name}.tmp"
        rows = _copy_to_parquet(con, query, staged)
        os.replace(staged, store.root / file_name)
    else:
        staged = Path(tmp) / file_name
        rows = _copy_to_parquet(con, query, staged)
        store.put(staged, file_name)
    return rows


def publish(settings: Settings, as_of: date | None = None) -> dict:
    """Write every mart, and the scores of as_of (default: the date the marts were built for),
    as Parquet to the publish target; returns {target, as_of, marts: rows, scores: rows}."""
    store = open_store(target_url(settings), settings)
    rows: dict[str, int] = {}
    scores: dict[str, int] = {}
    with connect(settings) as con, tempfile.TemporaryDirectory(dir=settings.root) as tmp:
        marts = mart_names(con)
        if not marts:  # never replace what analysts read with nothing
            raise DebtflowError(
                f"the warehouse {settings.warehouse_path} holds no marts: run `debtflow "
                f"transform` first; the published marts at {target_url(settings)} are untouched"
            )
        if as_of is not None:
            require_built(con, as_of)
        for mart in marts:
            rows[mart] = _publish_one(con, store, tmp, mart, f'select * from {MARTS}."{mart}"')
        day = as_of or built_as_of(con)
        for table in SCORES:
            if day is None or not table_columns(con, table):
                continue  # never scored: no file rather than one of another day
            name = table.split(".")[1]
            query = f"select * from {table} where as_of = date '{day.isoformat()}'"
            scores[name] = _publish_one(con, store, tmp, name, query)
        manifest = {
            "as_of": day.isoformat() if day else None,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "marts": rows,
            "scores": scores,
        }
        path = Path(tmp) / MANIFEST
        path.write_text(json.dumps(manifest, indent=2))
        store.put(path, MANIFEST)
    return {"target": target_url(settings), **manifest}
