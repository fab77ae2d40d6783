"""Read one landing file as a temporary relation `_staged`, losing no line.

`_staged` has `_row` (the record's 1-based position among the records the parser could read;
for JSON Lines, the line number) and one column per column found in the file: VARCHAR for CSV
and JSON Lines, the file's own types for Parquet (checked and cast later). Lines the
parser cannot read at all (too few or too many fields, bytes that do not decode, a broken JSON
line) go to `_unreadable` with their line number and the reason, to be quarantined.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import duckdb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.ingest.landing import Dialect

UNREADABLE = "create or replace temp table _unreadable (line BIGINT, reason VARCHAR, text VARCHAR)"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _transcode(path: Path, dialect: Dialect, where: str, workdir: Path) -> Path:
    """Re-encode a non-UTF-8 CSV as UTF-8 beside it (streaming); undecodable bytes reject it."""
    if codecs.lookup(dialect.encoding).name == "utf-8":
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / (path.name + ".utf8")
    number = 0
    try:
        with (
            path.open(encoding=dialect.encoding, newline="") as src,
            out.open("w", encoding="utf-8", newline="") as dst,
        ):
            for number, line in enumerate(src, 1):  # noqa: B007 (number names the bad line)
                dst.write(line)
    except UnicodeDecodeError as exc:
        raise DebtflowError(
            f"{where}: line {number + 1} has bytes that are not {dialect.encoding}: {exc.reason}"
        ) from exc
    return out


def _header(path: Path, dialect: Dialect, where: str) -> list[str] | None:
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    if not first.strip():
        return None
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DebtflowError(f"{where}: header line is not {dialect.encoding}: {exc}") from exc
    names = next(
        csv.reader(io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quote)
    )
    names = [n.strip() for n in names]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise DebtflowError(f"{where}: header has empty or repeated column names: {names}")
    return names


def stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, dialect: Dialect, where: str, workdir: Path
) -> list[str]:
    path = _transcode(path, dialect, where, workdir)
    names = _header(path, dialect, where)
    con.execute(UNREADABLE)
    if names is None:  # an empty file: no header, no rows
        con.execute("create or replace temp table _read_table (_row BIGINT)")
        return []
    columns = "{" + ", ".join(f"'{n.replace(chr(39), '')}': 'VARCHAR'" for n in names) + "}"
    quote = dialect.quote.replace("'", "''")
    delim = dialect.delimiter.replace("'", "''")
    con.execute("drop table if exists _rejects_errors; drop table if exists _rejects_scans")
    con.execute(
        f"create or replace temp table _read_table as select row_number() over () as _row, * "
        f"from read_csv('{_sql_path(path)}', columns={columns}, header=true, auto_detect=false, "
        f"delim='{delim}', quote='{quote}', escape='{quote}', strict_mode=true, "
        f"store_rejects=true, rejects_table='_rejects_errors', rejects_scan='_rejects_scans')"
    )
    con.execute(
        "insert into _unreadable select line, arg_min(lower(replace(error_type, '_', ' ')) || ': ' "
        "|| error_message, column_idx), arg_min(trim(csv_line, chr(10) || chr(13)), column_idx) "
        "from _rejects_errors group by line order by line"  # one row per line, first error
    )
    return names


def stage_jsonl(con: duckdb.DuckDBPyConnection, path: Path, where: str) -> list[str]:
    con.execute(
        "create or replace temp table _lines as select row_number() over () as _line, line "
        f"from read_csv('{_sql_path(path)}', columns={{'line': 'VARCHAR'}}, header=false, "
        "auto_detect=false, delim=chr(1), quote='', escape='', strict_mode=false)"
    )
    con.execute(UNREADABLE)
    con.execute(
        "insert into _unreadable select _line, 'malformed JSON line: not one JSON object', line "
        "from _lines where nullif(trim(line), '') is not null "
        "and (not coalesce(json_valid(line), false) or json_type(line) <> 'OBJECT')"
    )
    names = [
        r[0]
        for r in con.execute(
            "select distinct unnest(json_keys(line)) from _lines "
            "where json_valid(line) and json_type(line) = 'OBJECT' order by 1"
        ).fetchall()
    ]
    picks = "".join(f', json_extract_string(line, \'$."{n}"\') as "{n}"' for n in names)
    con.execute(
        f"create or replace temp table _read_table as select _line as _row{picks} from _lines "
        "where json_valid(line) and json_type(line) = 'OBJECT'"
    )
    return names


def stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, where: str) -> list[str]:
    con.execute(UNREADABLE)
    con.execute(
        # a view, not a copy: a large Parquet history streams straight into the checks
        "create or replace temp view _read_view as select file_row_number + 1 as _row, "
        f"* exclude (file_row_number) from read_parquet('{_sql_path(path)}', file_row_number=true)"
    )
    return [r[0] for r in con.execute("describe _read_view").fetchall()][1:]


def expose(con: duckdb.DuckDBPyConnection, source: str, null_columns: list[str] = ()) -> None:
    """Make `source` (plus NULL text columns for absent optional ones) the view `_staged`."""
    nulls = "".join(f', null::varchar as "{name}"' for name in null_columns)
    con.execute(f"create or replace temp view _staged as select *{nulls} from {source}")


def stage(
    con, path: Path, file_format: str, dialect: Dialect, where: str, workdir: Path
) -> tuple[list[str], str]:
    """Read a file; return its column names and the relation holding it.

    Raises DebtflowError naming the file when it cannot be parsed at all.
    """
    try:
        if file_format == "csv":
            return stage_csv(con, path, dialect, where, workdir), "_read_table"
        if file_format == "jsonl":
            return stage_jsonl(con, path, where), "_read_table"
        return stage_parquet(con, path, where), "_read_view"
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0]
        raise DebtflowError(f"{where}: cannot be read as {file_format}: {reason}") from exc
