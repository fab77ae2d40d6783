"""Publish every dbt mart as a Parquet file, so analysts never wait on the warehouse lock.

DuckDB lets one process write a database file at a time; while a flow runs, an analyst's
`duckdb warehouse.duckdb` would be refused. After each run the marts are copied to
`<target>/<mart>.parquet` (target: `DEBTFLOW_PUBLISH_URL`, a folder or s3://bucket/prefix;
default HOME/published), each written to a temporary name and renamed (an S3 object appears
whole), then `_manifest.json` with the as_of and row counts - written last, so it never names a
file that is not there yet.
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
from debtflow.flows.core.storage import LocalStore, open_store
from debtflow.flows.core.warehouse import connect, require_built

MARTS = "marts"
MANIFEST = "_manifest.json"


def target_url(settings: Settings) -> str:
    return settings.publish_url or str(settings.root / "published")


def mart_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1",
        [MARTS],
    ).fetchall()
    return [name for (name,) in rows]


def _copy_to_parquet(con: duckdb.DuckDBPyConnection, mart: str, path: Path) -> int:
    # COPY returns the rows it wrote: no second pass over a view
    (rows,) = con.execute(
        f"copy (select * from {MARTS}.\"{mart}\") to '{path}' (format parquet, compression zstd)"
    ).fetchone()
    return rows


def publish(settings: Settings, as_of: date | None = None) -> dict:
    """Write every mart as Parquet to the publish target; returns {target, as_of, marts: rows}."""
    store = open_store(target_url(settings), settings)
    rows: dict[str, int] = {}
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
            name = f"{mart}.parquet"
            if isinstance(store, LocalStore):
                # write beside the destination and rename: same file system, atomic
                store.root.mkdir(parents=True, exist_ok=True)
                staged = store.root / f".{name}.tmp"
                rows[mart] = _copy_to_parquet(con, mart, staged)
                os.replace(staged, store.root / name)
            else:
                staged = Path(tmp) / name
                rows[mart] = _copy_to_parquet(con, mart, staged)
                store.put(staged, name)
        manifest = {
            "as_of": as_of.isoformat() if as_of else None,
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "marts": rows,
        }
        path = Path(tmp) / MANIFEST
        path.write_text(json.dumps(manifest, indent=2))
        store.put(path, MANIFEST)
    return {"target": target_url(settings), **manifest}
