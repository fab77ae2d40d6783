"""A small synthetic warehouse for the model tests: the two feature marts, built by SQL, with a
label drawn from a known logistic function of the features (so there is a signal to learn)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from debtflow.flows.settings import Settings
from debtflow.flows.warehouse import connect

SNAPSHOT_DATES = [date(2025, m, 1) for m in range(1, 9)]  # eight monthly snapshots
AS_OF = date(2025, 10, 1)  # every snapshot's 30-day window has closed
DEBTORS = 600

COLUMNS = """
    debtor_id VARCHAR, as_of DATE, overdue_balance DECIMAL(18,2), open_balance DECIMAL(18,2),
    currency VARCHAR, max_days_past_due INTEGER, oldest_overdue_invoice_id VARCHAR,
    n_overdue_invoices INTEGER, reminders_ignored INTEGER, email_bounced BOOLEAN,
    has_email BOOLEAN, debtor_type VARCHAR, bureau_score DOUBLE, on_time_rate DOUBLE"""


def world(as_of: date, seed: int, debtors: int = DEBTORS) -> pd.DataFrame:
    """One snapshot: features and the true probability of collection (label drawn from it)."""
    rng = np.random.default_rng(seed)
    dpd = rng.integers(1, 120, debtors)
    ignored = rng.poisson(1.5, debtors)
    bounced = rng.random(debtors) < 0.15
    business = rng.random(debtors) < 0.3
    bureau = np.where(rng.random(debtors) < 0.1, np.nan, rng.normal(600, 80, debtors))
    on_time = rng.beta(3, 2, debtors)
    logit = (
        1.0
        - 0.025 * dpd
        - 0.5 * ignored
        - 1.2 * bounced
        + 0.8 * business
        + 0.006 * np.nan_to_num(bureau - 600)
        + 2.0 * (on_time - 0.6)
    )
    p = 1 / (1 + np.exp(-logit))
    overdue = np.round(rng.gamma(2, 150, debtors), 2)
    return pd.DataFrame(
        {
            "debtor_id": [f"D{i:05d}" for i in range(debtors)],
            "as_of": as_of,
            "overdue_balance": overdue,
            "open_balance": overdue + np.round(rng.gamma(1, 50, debtors), 2),
            "currency": "EUR",
            "max_days_past_due": dpd,
            "oldest_overdue_invoice_id": [f"I{seed}-{i}" for i in range(debtors)],
            "n_overdue_invoices": rng.integers(1, 5, debtors),
            "reminders_ignored": ignored,
            "email_bounced": bounced,
            "has_email": rng.random(debtors) < 0.9,
            "debtor_type": np.where(business, "business", "consumer"),
            "bureau_score": bureau,
            "on_time_rate": on_time,
            "p_true": p,
            "label_collected_30d": (rng.random(debtors) < p).astype(int),
        }
    )


def build_warehouse(settings: Settings, shuffle_train_labels: bool = False) -> pd.DataFrame:
    """Create marts.debtor_feature_snapshots and marts.debtor_features; return the snapshots
    (with p_true) so tests can write a truth file."""
    snaps = pd.concat([world(d, seed=i) for i, d in enumerate(SNAPSHOT_DATES)], ignore_index=True)
    if shuffle_train_labels:  # a deliberately useless model: noise labels before validation
        train = snaps["as_of"] < SNAPSHOT_DATES[-2]
        rng = np.random.default_rng(99)
        snaps.loc[train, "label_collected_30d"] = rng.permutation(
            snaps.loc[train, "label_collected_30d"].to_numpy()
        )
    current = world(AS_OF, seed=1000).drop(columns=["label_collected_30d"])
    current.loc[current.index[:50], "overdue_balance"] = 0.0  # not overdue: not scored
    con = connect(settings)
    try:
        con.execute("create schema if not exists marts")
        con.execute("drop table if exists marts.debtor_feature_snapshots")
        con.execute("drop table if exists marts.debtor_features")
        con.execute(
            f"create table marts.debtor_feature_snapshots ({COLUMNS}, label_collected_30d INTEGER)"
        )
        con.execute(f"create table marts.debtor_features ({COLUMNS})")
        con.register("snaps", snaps.drop(columns=["p_true"]))
        con.register("cur", current.drop(columns=["p_true"]))
        con.execute("insert into marts.debtor_feature_snapshots by name select * from snaps")
        con.execute("insert into marts.debtor_features by name select * from cur")
    finally:
        con.close()
    return snaps
