"""Feature frames for the collectability model, read from the dbt marts.

The mart is the feature spec: every column except the keys, the label and two descriptive columns
is a feature, so a column added in dbt becomes a feature at the next training with no code here.
Types come from the warehouse (not from pandas guessing): VARCHAR -> category with the categories
frozen at training time, BOOLEAN -> 0/1, numbers -> float, DATE -> days before as_of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.warehouse import FEATURES, table_columns

SNAPSHOTS = "marts.debtor_feature_snapshots"
CURRENT = FEATURES
# Long-memory behaviour (episode durations, direct debit, lifetime responses) at the same dates,
# from the ML folder of the marts; joined on (debtor_id, as_of) when the warehouse has it.
HISTORY = "marts.debtor_history_snapshots"
LABEL = "label_collected_30d"
LABEL_DAYS = 30
NOT_FEATURES = frozenset({"debtor_id", "as_of", "oldest_overdue_invoice_id", "currency", LABEL})

CATEGORICAL, BOOLEAN, NUMERIC, DATE = "categorical", "boolean", "numeric", "date"
NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
    "DECIMAL",
)


class FeatureError(DebtflowError, ValueError):
    """The marts do not hold what the model needs (missing table, column, date or type)."""


@dataclass
class FeatureSpec:
    """What a model was trained on; stored in its metadata and applied unchanged at scoring."""

    columns: list[str]
    kinds: dict[str, str]
    categories: dict[str, list[str]]

    def to_dict(self) -> dict:
        return {"columns": self.columns, "kinds": self.kinds, "categories": self.categories}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureSpec:
        return cls(
            list(d["columns"]), dict(d["kinds"]), {k: list(v) for k, v in d["categories"].items()}
        )


def kind_of(sql_type: str) -> str:
    t = sql_type.upper()
    if t == "VARCHAR" or t.startswith("ENUM"):
        return CATEGORICAL
    if t == "BOOLEAN":
        return BOOLEAN
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return DATE
    if t.split("(")[0] in NUMERIC_TYPES:
        return NUMERIC
    raise FeatureError(f"unsupported feature column type {sql_type}")


def column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    try:
        rows = con.execute(f"describe {table}").fetchall()
    except duckdb.CatalogException as exc:
        raise FeatureError(f"{table} does not exist: run `debtflow transform` first") from exc
    return {r[0]: r[1] for r in rows}


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(table_columns(con, table))


def feature_kinds(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Feature column -> kind, in the mart's column order (then the history mart's, if any)."""
    kinds = {}
    types = column_types(con, table)
    if table in (SNAPSHOTS, CURRENT) and has_table(con, HISTORY):
        types |= {k: v for k, v in column_types(con, HISTORY).items() if k not in types}
    for name, sql_type in types.items():
        if name in NOT_FEATURES:
            continue
        try:
            kinds[name] = kind_of(sql_type)
        except FeatureError as exc:
            raise FeatureError(f"{table}.{name}: {exc}") from None
    return kinds


def read_training(con: duckdb.DuckDBPyConnection, as_of: date, months: int) -> pd.DataFrame:
    """Labelled snapshot rows of the last `months` months whose 30-day outcome window had
    closed before as_of.

    The mart already nulls unobserved labels; the date filter keeps training point-in-time even
    when the mart was built for a later date than the one we train for.
    """
    column_types(con, SNAPSHOTS)
    return con.execute(
        f"select * from {_with_history(con, SNAPSHOTS)} where {LABEL} is not null "
        f"and overdue_balance > 0 and as_of + {LABEL_DAYS} <= ?::date "
        "and as_of >= ?::date - to_months(?) order by as_of, debtor_id",
        [as_of, as_of, months],
    ).df()


MIN_TRAINING_DATES = 2  # an out-of-time split needs an earlier and a later snapshot date


def training_readiness(con: duckdb.DuckDBPyConnection, as_of: date, months: int) -> dict:
    """Whether the snapshots hold enough labelled history to train for as_of, and if not, the
    first date they will: a month start with overdue debtors is labelled 30 days after it, and a
    young book is assumed to have overdue debtors at every month start still to come."""
    query = (
        f"select distinct as_of from {SNAPSHOTS} where overdue_balance > 0 "
        "and as_of < ?::date and as_of >= ?::date - to_months(?) order by 1"
    )
    built = (
        con.execute(query, [as_of, as_of, months]).fetchall() if has_table(con, SNAPSHOTS) else []
    )
    dates = [d for (d,) in built]
    labelled = [d for d in dates if d + timedelta(days=LABEL_DAYS) <= as_of]
    if len(labelled) >= MIN_TRAINING_DATES:
        return {"ready": True, "labelled_dates": len(labelled), "ready_on": as_of}
    month = date(as_of.year, as_of.month, 1)
    if month < as_of:
        month = (month + timedelta(days=32)).replace(day=1)
    while len(dates) < MIN_TRAINING_DATES:
        dates.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    ready_on = dates[MIN_TRAINING_DATES - 1] + timedelta(days=LABEL_DAYS)
    return {"ready": False, "labelled_dates": len(labelled), "ready_on": max(ready_on, as_of)}


def _with_history(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The mart, or (when built) the mart left-joined to the history mart on its keys."""
    if not has_table(con, HISTORY):
        return table
    return f"(select * from {table} left join {HISTORY} using (debtor_id, as_of))"


def read_scoring(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Debtors with an overdue balance at as_of, from the mart built for that date."""
    column_types(con, CURRENT)
    built = [
        r[0] for r in con.execute(f"select distinct as_of from {CURRENT} order by 1").fetchall()
    ]
    if built and as_of not in built:
        shown = ", ".join(str(d) for d in built[:3])
        raise FeatureError(
            f"{CURRENT} is built for {shown}, not {as_of}: run `debtflow transform` for {as_of}"
        )
    if (
        has_table(con, HISTORY)
        and built
        and not con.execute(
            f"select count(*) from {HISTORY} where as_of = ?::date", [as_of]
        ).fetchone()[0]
        and con.execute(
            f"select count(*) from {CURRENT} where as_of = ?::date and overdue_balance > 0", [as_of]
        ).fetchone()[0]
    ):
        raise FeatureError(f"{HISTORY} has no rows for {as_of}: run `debtflow transform` for it")
    return con.execute(
        f"select * from {_with_history(con, CURRENT)} where as_of = ?::date "
        "and overdue_balance > 0 order by debtor_id",
        [as_of],
    ).df()


def fit_spec(frame: pd.DataFrame, kinds: dict[str, str]) -> FeatureSpec:
    """Freeze the feature list and the categories seen in the training rows."""
    columns = [c for c in kinds if c in frame.columns]
    categories = {
        c: sorted(str(v) for v in frame[c].dropna().unique())
        for c in columns
        if kinds[c] == CATEGORICAL
    }
    return FeatureSpec(columns, {c: kinds[c] for c in columns}, categories)


def to_matrix(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The model's input: exactly the spec's columns, typed as at training.

    Categories unseen at training become missing (LightGBM routes them like nulls).
    """
    missing = [c for c in spec.columns if c not in frame.columns]
    if missing:
        raise FeatureError(
            f"feature column(s) missing from the input: {', '.join(missing)} "
            "(the model was trained with them; rebuild the marts or retrain)"
        )
    out: dict[str, object] = {}
    for c in spec.columns:
        s, kind = frame[c], spec.kinds[c]
        if kind == CATEGORICAL:
            text = s.astype(object).where(s.notna(), None).map(str, na_action="ignore")
            values = text.where(text.isin(spec.categories[c]), None)
            out[c] = pd.Categorical(values, categories=spec.categories[c])
        elif kind == BOOLEAN:
            out[c] = s.astype("boolean").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        elif kind == DATE:
            days = pd.to_datetime(frame["as_of"]) - pd.to_datetime(s)
            out[c] = (days.dt.days).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        else:
            out[c] = pd.to_numeric(s).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=frame.index)
