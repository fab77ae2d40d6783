"""Load landing batches into `raw.*`: check every row against the contract and lose none.

Every row read is appended to its raw table or written to `raw.quarantine` with the batch, file,
row, column and reason; `raw.load_log` records the counts per file. One batch is one transaction,
so a crash or an unreadable file never leaves a batch half-loaded. Rows that only wait for their
debtor (late-arriving customers) are held and loaded when a later batch brings the debtor.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from debtflow.flows.core import progress
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.storage import Store, open_store
from debtflow.flows.core.warehouse import LOAD_LOG, QUARANTINE, RAW, session
from debtflow.flows.ingest import row_checks
from debtflow.flows.ingest.contract import TABLES
from debtflow.flows.ingest.file_readers import expose, stage
from debtflow.flows.ingest.landing import Batch, DataFile, Dialect, survey

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
    rows_held: int = 0
    status: str = "loaded"
    message: str = ""


@dataclass
class BatchResult:
    batch_id: str
    status: str  # loaded | skipped
    files: list[FileResult] = field(default_factory=list)
    released: int = 0  # held rows of earlier batches loaded because this batch brought the debtor


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def staged_types(con: duckdb.DuckDBPyConnection) -> row_checks.Staged:
    return {name: kind for name, kind, *_ in con.execute("describe _staged").fetchall()}


def check_and_load(con, table: str, dialect: Dialect, lineage: list) -> frozenset[str]:
    """Check `_staged` rows, insert the good ones into raw.<table>; leaves `_checked` behind.

    `_checked` holds only the flagged rows (`_row`, `_problem` and the staged columns): the good
    rows go from `_staged` straight into raw, so a large clean file is never copied into a
    temporary table. Checks run in order: the contract, duplicates among the rows that pass it,
    then debtors not known yet. `lineage` is (_batch_id, _source_file, _loaded_at). Returns
    the text columns that held a control character.
    """
    spec, staged = TABLES[table], staged_types(con)
    dirty = control_columns(con, spec, staged)
    con.execute(
        "create or replace temp table _checked as select * from (select _row, "
        f"{row_checks.problem(spec, dialect, staged, dirty)} as _problem, * exclude (_row) "
        "from _staged) where _problem is not null"
    )
    if con.execute(row_checks.has_duplicates(spec, staged)).fetchone()[0]:
        con.execute(f"insert into _checked by name {row_checks.duplicates(spec, staged)}")
    held = row_checks.unknown_debtor(spec, staged)
    if held:
        con.execute(f"insert into _checked by name {held}")
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    clean = dirty - set(spec.identifiers)
    values = ", ".join(row_checks.typed(c, dialect, staged, c.name in clean) for c in spec.columns)
    con.execute(
        f"insert into {RAW}.{table} ({cols}, _batch_id, _source_file, _loaded_at) "
        f"select {values}, ?, ?, ? from {row_checks.GOOD}",
        lineage,
    )
    return dirty


def control_columns(con, spec, staged: row_checks.Staged) -> frozenset[str]:
    """The staged text columns holding a control character (none, in a clean file: one pass)."""
    probe = row_checks.any_control(spec, staged)
    if probe is None or not con.execute(probe).fetchone()[0]:
        return frozenset()
    rel = con.execute(row_checks.control_columns(spec, staged))
    return frozenset(d[0] for d, hit in zip(rel.description, rel.fetchone(), strict=True) if hit)


def _record_sql(names: list[str]) -> str:
    return "to_json({" + ", ".join(f"'{n}': \"{n}\"::varchar" for n in names) + "})"


def _load_file(con, batch: Batch, f: DataFile, path: Path, dialect: Dialect, workdir: Path, now):
    where = f"batch {batch.batch_id}, file {f.name}"
    spec = TABLES[f.table]
    present, source = stage(con, path, f.file_format, dialect, where, workdir)
    result = FileResult(f.name, f.table)
    if not present and not con.execute("select count(*) from _unreadable").fetchone()[0]:
        result.status, result.message = "empty", "empty file: no header and no rows"
        return result
    missing = [c for c in spec.required if c not in present]
    if missing:
        raise BatchRejected(f"{where}: required column(s) missing: {', '.join(missing)}")
    extra = [c for c in present if c not in spec.column_names]
    expose(con, source, [c.name for c in spec.columns if c.name not in present])
    dirty = check_and_load(con, f.table, dialect, [batch.batch_id, f.name, now])
    con.execute(
        f"insert into {QUARANTINE} select ?, ?, ?, _row, null, _problem.column, _problem.reason, "
        f"{_record_sql(spec.column_names + extra)}, "
        f"case when _problem.reason = ? then 'held' else 'quarantined' end, ?, null "
        "from _checked order by _row",
        [batch.batch_id, f.name, f.table, row_checks.HELD_REASON, now],
    )
    con.execute(
        f"insert into {QUARANTINE} select ?, ?, ?, null, line, null, reason, to_json({{'line': text}}), "
        "'quarantined', ?, null from _unreadable order by line",
        [batch.batch_id, f.name, f.table, now],
    )
    bad, held = con.execute(
        "select count(*), count(*) filter (where _problem.reason = ?) from _checked",
        [row_checks.HELD_REASON],
    ).fetchone()
    good = con.execute("select count(*) from _staged").fetchone()[0] - bad
    unreadable = con.execute("select count(*) from _unreadable").fetchone()[0]
    result.rows_read = good + bad + unreadable
    result.rows_loaded, result.rows_quarantined, result.rows_held = good, bad + unreadable, held
    notes = [f"unknown column(s) ignored: {', '.join(extra)}"] if extra else []
    notes += _cleaned(con, spec, dirty)
    if notes:
        result.message = "; ".join(notes)
        log.warning("%s: %s", where, result.message)
    return result


def _cleaned(con: duckdb.DuckDBPyConnection, spec, dirty: frozenset[str]) -> list[str]:
    """What the load cleaned in the loaded rows: control characters in free text."""
    sql = row_checks.cleaned_counts(spec, staged_types(con), dirty)
    if sql is None:
        return []
    rel = con.execute(sql)
    counts = [
        f"{d[0]} ({n} rows)" for d, n in zip(rel.description, rel.fetchone(), strict=True) if n
    ]
    return [f"control characters replaced by spaces in {', '.join(counts)}"] if counts else []


def release_held(con: duckdb.DuckDBPyConnection, where: str = "status = 'held'") -> int:
    """Re-check quarantined rows (by default those held for their debtor) and load those now good."""
    now, released = _now(), 0
    groups = con.execute(
        f"select distinct batch_id, file_name, table_name from {QUARANTINE} "
        f"where row_number is not null and status <> 'released' and ({where}) order by 1, 2"
    ).fetchall()
    for batch_id, file_name, table in groups:
        (dialect_json,) = con.execute(
            f"select dialect from {LOAD_LOG} where batch_id = ? and file_name = ?",
            [batch_id, file_name],
        ).fetchone()
        spec = TABLES[table]
        picks = ", ".join(f"record->>'{c}' as \"{c}\"" for c in spec.column_names)
        con.execute(
            f"create or replace temp table _read_table as select row_number as _row, {picks} "
            f"from {QUARANTINE} where batch_id = ? and file_name = ? and row_number is not null "
            f"and status <> 'released' and ({where})",
            [batch_id, file_name],
        )
        expose(con, "_read_table")
        dialect = Dialect(**json.loads(dialect_json))
        check_and_load(con, table, dialect, [batch_id, file_name, now])
        released += con.execute(
            f"update {QUARANTINE} q set status = 'released', released_at = ? "
            f"from (select _row from {row_checks.GOOD}) g "
            "where q.batch_id = ? and q.file_name = ? and q.row_number = g._row",
            [now, batch_id, file_name],
        ).fetchone()[0]
        con.execute(
            f"update {QUARANTINE} q set column_name = c._problem.column, reason = c._problem.reason, "
            "status = case when c._problem.reason = ? then 'held' else 'quarantined' end "
            "from _checked c where q.batch_id = ? and q.file_name = ? and q.row_number = c._row",
            [row_checks.HELD_REASON, batch_id, file_name],
        )
    return released


def _identity(store: Store, batch: Batch, cache: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Materialise the batch's files locally and fingerprint them (SHA-256 of the bytes)."""
    paths = {f.name: store.local_path(f.key, cache) for f in batch.files}
    return paths, {name: _sha256(path) for name, path in paths.items()}


def load_batch(
    con: duckdb.DuckDBPyConnection, store: Store, batch: Batch, cache: Path
) -> BatchResult:
    paths, hashes = _identity(store, batch, cache)
    loaded = dict(
        con.execute(
            f"select file_name, content_sha256 from {LOAD_LOG} where batch_id = ?", [batch.batch_id]
        ).fetchall()
    )
    if loaded:
        if loaded == hashes:
            return BatchResult(batch.batch_id, "skipped")
        changed = sorted(n for n in set(loaded) | set(hashes) if loaded.get(n) != hashes.get(n))
        raise BatchRejected(
            f"batch {batch.batch_id} was already loaded with different content "
            f"(changed: {', '.join(changed)}); nothing was loaded. Send a correction as a new "
            "batch whose rows carry a newer updated_at."
        )
    dialect = Dialect()
    if batch.dialect_file:
        text = paths[batch.dialect_file.name].read_text(encoding="utf-8")
        dialect = Dialect.parse(text, f"batch {batch.batch_id}, file {batch.dialect_file.name}")
    etags = {f.name: f.etag for f in batch.files}
    now, workdir = _now(), cache / ".work" / batch.batch_id
    result = BatchResult(batch.batch_id, "loaded")
    con.execute("begin")
    try:
        for f in batch.data_files():
            if f.table is None:
                fr = FileResult(f.name, None, status="ignored", message="not a contract file name")
                log.warning("batch %s: ignored unexpected file %s", batch.batch_id, f.name)
            else:
                fr = _load_file(con, batch, f, paths[f.name], dialect, workdir, now)
                if fr.rows_read != fr.rows_loaded + fr.rows_quarantined:
                    raise AssertionError(f"row accounting broken for {f.name}: {fr}")
            con.execute(
                f"insert into {LOAD_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    batch.batch_id,
                    f.name,
                    f.table,
                    f.file_format,
                    hashes[f.name],
                    etags[f.name],
                    dialect.to_json(),
                    fr.rows_read,
                    fr.rows_loaded,
                    fr.rows_quarantined,
                    fr.rows_held,
                    fr.status,
                    fr.message,
                    now,
                ],
            )
            result.files.append(fr)
        if batch.dialect_file:
            name = batch.dialect_file.name
            con.execute(
                f"insert into {LOAD_LOG} values (?, ?, null, 'json', ?, ?, ?, 0, 0, 0, 0, 'dialect', '', ?)",
                [batch.batch_id, name, hashes[name], etags[name], dialect.to_json(), now],
            )
        result.released = release_held(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def ingest(settings: Settings, as_of: date | None = None) -> list[BatchResult]:
    """Load every batch not yet loaded whose business date is <= as_of, in batch-id order."""
    store = open_store(settings.landing, settings)
    cache = settings.cache_dir / "landing"
    results = []
    found = survey(store, up_to=as_of)
    if found.strays and not found.batches and not found.later:
        raise DebtflowError(
            f"landing {settings.landing} holds no batch: {', '.join(found.strays)} "
            "(a batch is a folder named YYYY-MM-DDTHHMM holding the contract's files, e.g. "
            "2026-11-21T0600/invoices.csv); nothing was loaded"
        )
    for line in found.describe(settings.landing, as_of):
        log.warning(line)
    with session(settings) as con:
        for i, batch in enumerate(found.batches, 1):
            progress.working(progress.counted(i, len(found.batches), f"batch {batch.batch_id} …"))
            started = time.perf_counter()
            result = load_batch(con, store, batch, cache)
            if result.status == "loaded":
                rows = sum(f.rows_loaded for f in result.files)
                bad = sum(f.rows_quarantined for f in result.files)
                log.debug(  # the command line shows it as progress; the result holds it
                    "batch %s: %d rows loaded, %d quarantined, %d held rows released",
                    batch.batch_id,
                    rows,
                    bad,
                    result.released,
                )
                what = f"batch {batch.batch_id}: {rows:,} rows loaded, {bad:,} quarantined"
                elapsed = time.perf_counter() - started
                progress.done(progress.counted(i, len(found.batches), what, elapsed))
            results.append(result)  # an already loaded batch is no news: no line for it
    progress.clear()
    shutil.rmtree(cache, ignore_errors=True)  # downloads of remote batches are done with
    return results
