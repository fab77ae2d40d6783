"""SQL that checks staged rows against the contract and casts them to their raw types.

Staged columns are text (CSV, JSON Lines) or already typed (Parquet); a typed column skips the
text parsing, which is what makes a large Parquet history cheap to load. Each check yields the
first broken (column, reason) of a row; a row with none is loaded.
"""

from __future__ import annotations

from debtflow.flows.ingest.contract import Column, Table
from debtflow.flows.ingest.landing import Dialect

HELD_REASON = "debtor not known yet: held until a batch brings the customer"
# C0 control characters and DEL: a NUL inside an id breaks every CSV and XLSX writer downstream.
# An id holds none of them; free text keeps tabs and line breaks (quoted multi-line addresses),
# which CSV and XLSX can carry, and has the others replaced.
CONTROL = r"[\x00-\x1f\x7f]"
CONTROL_IN_TEXT = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CONTROL_REASON = "contains a control character (tab, line break, NUL, ...)"
Staged = dict[str, str]  # column -> DuckDB type in the staged table


def _is_text(c: Column, staged: Staged) -> bool:
    return staged.get(c.name, "VARCHAR") == "VARCHAR"


def value(c: Column, staged: Staged) -> str:
    """The column's value, NULL when empty."""
    if _is_text(c, staged):
        return f"nullif(trim(\"{c.name}\"), '')"
    return f'"{c.name}"'


def typed(c: Column, dialect: Dialect, staged: Staged, clean: bool = False) -> str:
    """The column cast to its raw type; `clean`: free text whose control characters become
    spaces (identifiers with one are quarantined instead, see `problem`)."""
    v = value(c, staged)
    if not _is_text(c, staged):
        return f"try_cast({v} as {c.sql_type})"
    if c.type == "decimal" and dialect.decimal_separator == ",":
        v = f"replace(replace({v}, '.', ''), ',', '.')"
    if c.type == "date" and dialect.date_format:
        return f"try_strptime({v}, '{dialect.date_format}')::date"
    if c.type == "timestamp" and dialect.timestamp_format:
        return f"try_strptime({v}, '{dialect.timestamp_format}')::timestamp"
    if c.type == "text":
        return (
            f"nullif(trim(regexp_replace({v}, '{CONTROL_IN_TEXT}', ' ', 'g')), '')" if clean else v
        )
    return f"try_cast({v} as {c.sql_type})"


def _quote(s: str) -> str:
    return s.replace("'", "''")


def problem(
    spec: Table, dialect: Dialect, staged: Staged, dirty: frozenset[str] = frozenset()
) -> str:
    """A CASE expression: NULL for a good row, else {'column': ..., 'reason': ...}. `dirty`: the
    text columns holding a control character somewhere (see `control_columns`)."""
    whens = []
    for c in spec.columns:
        v, t = value(c, staged), typed(c, dialect, staged)
        if c.name in spec.identifiers and c.name in dirty:
            whens.append((f"regexp_matches({v}, '{CONTROL}')", c.name, CONTROL_REASON))
        if c.required:
            whens.append((f"{v} is null", c.name, "required value is missing"))
        if c.type != "text":
            expected = f"not a valid {c.type}"
            fmt = {"date": dialect.date_format, "timestamp": dialect.timestamp_format}.get(c.type)
            if fmt and _is_text(c, staged):
                expected += f" ({fmt})"
            whens.append((f"{v} is not null and {t} is null", c.name, expected))
        if c.accepted:
            values = ", ".join(f"'{a}'" for a in c.accepted)
            reason = f"not one of the accepted values ({', '.join(c.accepted)})"
            whens.append((f"{v}::varchar not in ({values})", c.name, reason))
        if c.positive:
            whens.append((f"{t} <= 0", c.name, "must be greater than 0"))
    for rule in spec.rules:
        a = typed(spec.column(rule.column), dialect, staged)
        b = typed(spec.column(rule.at_least), dialect, staged)
        whens.append((f"{a} < {b}", rule.column, rule.reason))
    cases = " ".join(
        f"when {cond} then {{'column': '{col}', 'reason': '{_quote(why)}'}}"
        for cond, col, why in whens
    )
    return f"case {cases} else null end"


def _identity(spec: Table, staged: Staged) -> list[str]:
    version = ["updated_at"] if "updated_at" in spec.column_names else []
    return [value(spec.column(c), staged) for c in (*spec.key, *version)]


# The staged rows that no check has flagged yet (`_checked` holds only the flagged ones); ends in
# a WHERE clause, so further conditions follow with AND.
GOOD = "_staged s where not exists (select 1 from _checked c where c._row = s._row)"


def has_duplicates(spec: Table, staged: Staged) -> str:
    """SQL: is any key (and version) repeated among the good rows of the file?"""
    ident = ", ".join(_identity(spec, staged))
    return f"select exists (select 1 from {GOOD} group by {ident} having count(*) > 1)"


def duplicates(spec: Table, staged: Staged) -> str:
    """SQL: the good rows whose key (and version) was seen earlier in the same file, flagged."""
    partition = ", ".join(_identity(spec, staged))
    reason = "'duplicate key in this file: same as row ' || _first"
    return (
        f"select _row, {{'column': '{spec.key[0]}', 'reason': {reason}}} as _problem, "
        f"* exclude (_row, _first) from (select *, min(_row) over (partition by {partition}) "
        f"as _first from {GOOD}) where _row <> _first"
    )


def unknown_debtor(spec: Table, staged: Staged) -> str | None:
    """SQL: good rows referring to a debtor that no loaded batch has brought yet (held, not
    rejected), flagged."""
    if "debtor_id" not in spec.references:
        return None
    debtor = value(spec.column("debtor_id"), staged)
    return (
        f"select _row, {{'column': 'debtor_id', 'reason': '{HELD_REASON}'}} as _problem, "
        f"* exclude (_row) from {GOOD} "
        f"and {debtor} not in (select debtor_id from raw.customers)"
    )


def _text_columns(spec: Table, staged: Staged) -> list[Column]:
    return [c for c in spec.columns if c.type == "text" and _is_text(c, staged)]


def any_control(spec: Table, staged: Staged) -> str | None:
    """SQL: does any text value of the staged rows hold a control character? One test per row
    over all its text as read (no trimming), stopping at the first hit: the tests per column run
    only for a file where it does (at 24M rows a test per value costs several seconds each)."""
    text = [f'"{c.name}"' for c in _text_columns(spec, staged)]
    if not text:
        return None
    return (
        "select exists (select 1 from _staged "
        f"where regexp_matches(concat({', '.join(text)}), '{CONTROL}'))"
    )


def control_columns(spec: Table, staged: Staged) -> str:
    """SQL: one row, a boolean per text column: does any value hold a control character?"""
    flags = ", ".join(
        f"bool_or(regexp_matches({value(c, staged)}, '{CONTROL}')) as \"{c.name}\""
        for c in _text_columns(spec, staged)
    )
    return f"select {flags} from _staged"


def cleaned_counts(spec: Table, staged: Staged, dirty: frozenset[str]) -> str | None:
    """SQL: per dirty free-text column, how many loaded values had control characters replaced."""
    free = [
        c for c in _text_columns(spec, staged) if c.name in dirty and c.name not in spec.identifiers
    ]
    if not free:
        return None
    counts = ", ".join(
        f"count(*) filter (where regexp_matches({value(c, staged)}, '{CONTROL_IN_TEXT}')) "
        f'as "{c.name}"'
        for c in free
    )
    return f"select {counts} from {GOOD}"
