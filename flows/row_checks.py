"""SQL that checks staged text rows against the contract and casts them to their raw types.

Each check yields the first broken (column, reason) of a row; a row with none is loaded.
"""

from __future__ import annotations

from debtflow.flows.contract import Column, Table
from debtflow.flows.landing import Dialect

HELD_REASON = "debtor not known yet: held until a batch brings the customer"


def text(col: str) -> str:
    return f"nullif(trim(cast(\"{col}\" as varchar)), '')"


def typed(c: Column, dialect: Dialect) -> str:
    value = text(c.name)
    if c.type == "decimal" and dialect.decimal_separator == ",":
        value = f"replace(replace({value}, '.', ''), ',', '.')"
    if c.type == "date" and dialect.date_format:
        return f"try_strptime({value}, '{dialect.date_format}')::date"
    if c.type == "timestamp" and dialect.timestamp_format:
        return f"try_strptime({value}, '{dialect.timestamp_format}')::timestamp"
    return f"try_cast({value} as {c.sql_type})"


def _quote(s: str) -> str:
    return s.replace("'", "''")


def problem(spec: Table, dialect: Dialect) -> str:
    """A CASE expression: NULL for a good row, else {'column': ..., 'reason': ...}."""
    whens = []
    for c in spec.columns:
        value = text(c.name)
        if c.required:
            whens.append((f"{value} is null", c.name, "required value is missing"))
        if c.type != "text":
            expected = f"not a valid {c.type}"
            fmt = {"date": dialect.date_format, "timestamp": dialect.timestamp_format}.get(c.type)
            if fmt:
                expected += f" ({fmt})"
            whens.append((f"{value} is not null and {typed(c, dialect)} is null", c.name, expected))
        if c.accepted:
            values = ", ".join(f"'{a}'" for a in c.accepted)
            reason = f"not one of the accepted values ({', '.join(c.accepted)})"
            whens.append((f"{value} not in ({values})", c.name, reason))
        if c.positive:
            whens.append((f"{typed(c, dialect)} <= 0", c.name, "must be greater than 0"))
    for rule in spec.rules:
        predicate = rule.predicate
        for c in spec.columns:
            predicate = predicate.replace(c.name, typed(c, dialect))
        whens.append((f"not ({predicate})", rule.column, rule.reason))
    cases = " ".join(
        f"when {cond} then {{'column': '{col}', 'reason': '{_quote(why)}'}}"
        for cond, col, why in whens
    )
    return f"case {cases} else null end"


def duplicate(spec: Table) -> str:
    """For good rows: the same key (and version) seen earlier in the same file."""
    version = ["updated_at"] if "updated_at" in spec.column_names else []
    partition = ", ".join(text(c) for c in (*spec.key, *version))
    first = f"min(case when _problem is null then _row end) over (partition by {partition})"
    reason = "'duplicate key in this file: same as row ' || " + first
    return (
        f"case when _problem is null and _row <> {first} "
        f"then {{'column': '{spec.key[0]}', 'reason': {reason}}} else _problem end"
    )


def unknown_debtor(spec: Table, batch_table: str = "_checked") -> str | None:
    """Rows referring to a debtor that no loaded batch has brought yet (held, not rejected)."""
    if "debtor_id" not in spec.references:
        return None
    return (
        f"update {batch_table} set _problem = {{'column': 'debtor_id', 'reason': '{HELD_REASON}'}} "
        f"where _problem is null and {text('debtor_id')} not in "
        "(select debtor_id from raw.customers)"
    )
