"""Skip a daily-run stage that already finished on the same inputs, so a retry resumes.

A stage's cache key hashes its business date and everything it reads: the loaded batches and
their checksums, quarantine releases, the dbt project's files and, for scoring, the champion
model versions. `ops.stage_log` keeps one row per stage, its latest run. The record lives in the
warehouse beside the stage's output, so the two cannot disagree (a restored or wiped warehouse
brings its own record), and a stage run for another date, or one that crashed half-way, leaves
a row that no longer matches: the next run does the work again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import LOAD_LOG, QUARANTINE, STAGE_LOG, session

SKIPPED_DIRS = {"target", "logs", "dbt_packages"}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def project_digest(settings: Settings) -> str:
    """Hash of the dbt project's own files: a changed model invalidates built marts."""
    h = hashlib.sha256()
    root = settings.dbt_project_dir
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIPPED_DIRS & set(rel.parts):
            h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def transform_key(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> str:
    loads = con.execute(
        f"select batch_id, file_name, content_sha256, status, rows_loaded, rows_held "
        f"from {LOAD_LOG} order by batch_id, file_name"
    ).fetchall()
    quarantine = con.execute(
        f"select status, count(*) from {QUARANTINE} group by 1 order by 1"
    ).fetchall()
    return _digest([as_of, settings.training_months, loads, quarantine, project_digest(settings)])


def score_key(transform: str, champions: dict[str, str | None]) -> str:
    return _digest([transform, sorted(champions.items())])


def lookup(con: duckdb.DuckDBPyConnection, stage: str, as_of: date, key: str) -> dict | None:
    """The stored result of `stage` if its latest run completed for this as_of and key."""
    row = con.execute(
        f"select result from {STAGE_LOG} where stage = ? and as_of = ? and input_key = ? "
        "and status = 'completed'",
        [stage, as_of, key],
    ).fetchone()
    return None if row is None else json.loads(row[0])


def record(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    as_of: date,
    key: str | None,
    status: str,
    result: Any = None,
) -> None:
    con.execute(
        f"insert or replace into {STAGE_LOG} values (?, ?, ?, ?, ?, ?)",
        [stage, as_of, key, status, _now(), json.dumps(result, default=str)],
    )


def run(
    settings: Settings,
    stage: str,
    as_of: date,
    key: str,
    work: Callable[[], Any],
    force: bool = False,
) -> tuple[Any, bool]:
    """Return (result, cached): the stored result on a hit, else run `work` and store it."""
    with session(settings) as con:
        hit = None if force else lookup(con, stage, as_of, key)
        if hit is not None:
            return hit, True
        record(con, stage, as_of, key, "running")
    result = work()
    with session(settings) as con:
        record(con, stage, as_of, key, "completed", result)
    return json.loads(json.dumps(result, default=str)), False


def forget(settings: Settings, stage: str) -> None:
    """Called as a stage starts by any route (CLI, backfill, flow): its old record is void."""
    with session(settings) as con:
        con.execute(f"delete from {STAGE_LOG} where stage = ?", [stage])
