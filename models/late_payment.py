"""The late-payment propensity model: will an invoice be paid after its due date?

Unit: an invoice at its issue date; features: marts.invoice_late_snapshots (the debtor's history
before the issue date and the invoice's own attributes); label: not fully paid by the end of its
due date. Out of time by issue month: the latest two fully labelled months validate, the month
before calibrates, the one before that stops the boosting, the rest fit the trees (train.split).
Scores go to ml.invoice_late_scores for invoices issued and not yet due at as_of: they drive the
pre-due reminder and the payment-terms advice.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import INVOICE_LATE_SCORES, connect, ensure_schema
from debtflow.models import drift, features, predict, registry, train

NAME = registry.LATE_PAYMENT
SNAPSHOTS = "marts.invoice_late_snapshots"
LABEL = "label_paid_late"
PERIOD = "issue_month"
NOT_FEATURES = frozenset(
    {
        "invoice_id",
        "debtor_id",
        "as_of",
        "issue_date",
        "due_date",
        PERIOD,
        "currency",
        "open_at_as_of",
        LABEL,
    }
)
TRUTH_FILE = "late_payment.parquet"


def feature_kinds(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    types = features.column_types(con, SNAPSHOTS)
    return {c: features.kind_of(t) for c, t in types.items() if c not in NOT_FEATURES}


def read_training(con: duckdb.DuckDBPyConnection, as_of: date, months: int) -> pd.DataFrame:
    """Labelled invoices of the issue months whose every invoice is labelled (a half-observed
    month would hold only its early, short-term invoices), issued in the last `months` months."""
    features.column_types(con, SNAPSHOTS)
    return con.execute(
        f"""
        with months as (
            select {PERIOD} from {SNAPSHOTS}
            where issue_date < ?::date
            group by 1 having count(*) = count(*) filter (where due_date < ?::date)
        )
        select s.* from {SNAPSHOTS} as s inner join months using ({PERIOD})
        where s.{LABEL} is not null and s.{PERIOD} >= ?::date - to_months(?)
        order by s.{PERIOD}, s.invoice_id
        """,
        [as_of, as_of, as_of, months],
    ).df()


def read_scoring(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Invoices issued before as_of, not yet due and still open at as_of."""
    features.column_types(con, SNAPSHOTS)
    # one as_of per build (a view): the first row says which
    built = con.execute(f"select as_of from {SNAPSHOTS} limit 1").fetchall()
    if built and built[0][0] != as_of:
        raise features.FeatureError(
            f"{SNAPSHOTS} is built for {built[0][0]}, not {as_of}: run `debtflow transform`"
        )
    return con.execute(
        f"select * from {SNAPSHOTS} where issue_date < ?::date and due_date >= ?::date "
        "and open_at_as_of order by invoice_id",
        [as_of, as_of],
    ).df()


def read_truth(path: Path) -> pd.DataFrame:
    truth = pd.read_parquet(path, columns=["invoice_id", "p_late", "label"])
    return truth.rename(columns={"p_late": "p_true"}).assign(
        invoice_id=truth["invoice_id"].astype(str)
    )


def train_model(settings: Settings, as_of: date, truth_dir: Path | None = None) -> dict:
    """Train, backtest and register the late-payment model (champion through the gate)."""
    started = time.perf_counter()
    con = connect(settings)
    try:
        kinds = feature_kinds(con)
        frame = read_training(con, as_of, settings.training_months)
    finally:
        con.close()
    if frame.empty:
        raise DebtflowError(
            f"no fully labelled issue months before {as_of} in {SNAPSHOTS}: "
            "load more history or run `debtflow transform`"
        )
    s = train.split(frame, PERIOD)
    y = frame[LABEL].astype(int).to_numpy()
    spec = features.fit_spec(frame[~s.valid], kinds)
    X = features.to_matrix(frame.assign(as_of=frame["issue_date"]), spec)
    f = train.fit(X, y, s)
    metrics = train.backtest(X, y, s, spec, f)
    if truth_dir is not None:
        p_valid = predict.calibrate(f.raw[s.valid], f.calibrator)
        keys = frame.loc[s.valid, ["invoice_id"]]
        metrics.update(
            train.oracle_metrics(truth_dir, keys, y[s.valid], p_valid, TRUTH_FILE, read_truth)
        )
    metadata = {
        "target": f"{LABEL}: invoice not fully paid by the end of its due date (at issue)",
        "as_of": str(as_of),
        "period_column": PERIOD,
    }
    result = train.register(
        settings,
        NAME,
        frame,
        [PERIOD, "invoice_id"],
        X,
        y,
        s,
        spec,
        f,
        metrics,
        metadata,
        date_column="issue_date",  # an invoice's features are as of its issue date
    )
    return {**result, "seconds": round(time.perf_counter() - started, 1)}


def score(settings: Settings, as_of: date, con: duckdb.DuckDBPyConnection | None = None) -> dict:
    """Replace ml.invoice_late_scores for as_of with the champion's p_late (one transaction)."""
    started = time.perf_counter()
    model = registry.load(settings, name=NAME)
    own = con is None
    con = con or connect(settings)
    try:
        ensure_schema(con)
        frame = read_scoring(con, as_of)
        X = features.to_matrix(frame.assign(as_of=frame["issue_date"]), model.spec)
        p = predict.predict_proba(model, X) if len(X) else np.zeros(0)
        scored_at = datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None)
        rows = pd.DataFrame(
            {
                "invoice_id": frame["invoice_id"].astype(str).to_numpy(),
                "debtor_id": frame["debtor_id"].astype(str).to_numpy(),
                "issue_date": pd.to_datetime(frame["issue_date"]).dt.date,
                "due_date": pd.to_datetime(frame["due_date"]).dt.date,
                "amount": frame["amount"].to_numpy(dtype=float),
                "p_late": p,
            }
        )
        predict.replace_rows(
            con,
            INVOICE_LATE_SCORES,
            rows,
            as_of,
            "invoice_id, debtor_id, issue_date, due_date, amount, p_late",
            model.version,
            scored_at,
        )
    finally:
        if own:
            con.close()
    return {
        "model": NAME,
        "as_of": str(as_of),
        "model_version": model.version,
        "rows": len(rows),
        "mean_p_late": float(p.mean()) if len(p) else None,
        "drift": drift.report(model.metadata.get("drift_reference"), X, p),
        "seconds": round(time.perf_counter() - started, 2),
    }
