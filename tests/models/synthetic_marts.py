"""A small synthetic warehouse for the model tests: the two feature marts, built by SQL, with a
label drawn from a known logistic function of the features (so there is a signal to learn)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import connect

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


# --- at scale: the real mart's width, for the training benchmark -------------------------------

# The feature columns of marts.debtor_feature_snapshots joined to marts.debtor_history_snapshots
# on the demo world (names and warehouse types), so the benchmark reads, types and bins as many
# columns as a real training does.
SCALE_FEATURES = (
    [("max_days_past_due", "INTEGER"), ("n_overdue_invoices", "INTEGER")]
    + [(c, "BOOLEAN") for c in ("has_email", "has_mobile", "email_bounced", "sms_bounced")]
    + [("disputed_open_amount", "DECIMAL(18,2)"), ("credit_balance", "DECIMAL(18,2)")]
    + [(c, "BOOLEAN") for c in ("active_plan", "debt_restructuring", "bankrupt", "deceased")]
    + [(c, "VARCHAR") for c in ("debtor_type", "country", "acquisition_channel")]
    + [("paperless", "BOOLEAN"), ("tenure_days", "INTEGER"), ("n_invoices_12m", "INTEGER")]
    + [(f"amount_feature_{i}", "DOUBLE") for i in range(4)]
    + [(f"count_feature_{i}", "INTEGER") for i in range(22)]
    + [(f"rate_feature_{i}", "DOUBLE") for i in range(22)]
    + [("bureau_score", "INTEGER"), ("registered_debts", "INTEGER")]
)
SCALE_CATEGORIES = {
    "debtor_type": ("consumer", "business"),
    "country": ("NL", "BE", "NO"),
    "acquisition_channel": ("online", "offline", "partner"),
}


def scale_snapshot(as_of: date, seed: int, debtors: int) -> pd.DataFrame:
    """One snapshot of the scale world: ~70 typed features, a few carrying a noisy signal of a
    latent propensity (some through thresholds and an interaction), most only noise and nulls;
    the label is drawn from the true probability (p_true), as in the simulator's truth."""
    rng = np.random.default_rng([seed, 7])
    z = rng.normal(0, 1, debtors)  # the latent propensity
    u = rng.normal(0, 1, debtors)  # a second latent, read through an interaction
    logit = -0.3 + 1.2 * z + 0.6 * np.tanh(2 * u) * (z > 0)
    p = 1 / (1 + np.exp(-logit))
    out: dict[str, object] = {
        "debtor_id": np.char.add("D", np.arange(debtors).astype(str)),
        "as_of": as_of,
        "overdue_balance": np.round(rng.gamma(2, 150, debtors), 2),
        "open_balance": np.round(rng.gamma(2, 200, debtors), 2),
        "currency": "EUR",
        "oldest_overdue_invoice_id": np.char.add(f"I{seed}-", np.arange(debtors).astype(str)),
    }
    for j, (name, sql_type) in enumerate(SCALE_FEATURES):
        weight = (0.9, 0.6, 0.4, 0.0, 0.0)[j % 5]  # two in five are pure noise
        latent = u if j % 7 == 3 else z
        x = weight * latent + rng.normal(0, 1, debtors)
        if sql_type == "VARCHAR":
            cats = np.asarray(SCALE_CATEGORIES[name])
            out[name] = cats[np.digitize(x, np.linspace(-1, 1, len(cats) - 1))]
        elif sql_type == "BOOLEAN":
            out[name] = x > 1.0
        elif sql_type == "INTEGER":
            out[name] = np.floor(np.abs(x) * 7).astype(np.int64)
        elif sql_type.startswith("DECIMAL"):
            out[name] = np.round(np.exp(x + 4), 2)
        else:
            out[name] = np.where(rng.random(debtors) < 0.1, np.nan, x)
    out["p_true"] = p
    out["label_collected_30d"] = (rng.random(debtors) < p).astype(np.int64)
    return pd.DataFrame(out)


def build_scale_warehouse(
    settings: Settings, rows: int, dates: list[date], truth_path=None, ceil: bool = False
) -> int:
    """marts.debtor_feature_snapshots with `rows` rows spread evenly over `dates` (written one
    date at a time, so memory stays at one snapshot; `ceil`: at least `rows` in all); the truth
    parquet when a path is given. Returns the rows written."""
    per_date = -(-rows // len(dates)) if ceil else rows // len(dates)
    columns = ", ".join(f"{n} {t}" for n, t in SCALE_FEATURES)
    con = connect(settings)
    truths = []
    try:
        con.execute("create schema if not exists marts")
        con.execute("drop table if exists marts.debtor_feature_snapshots")
        con.execute("drop table if exists marts.debtor_history_snapshots")
        con.execute(
            "create table marts.debtor_feature_snapshots (debtor_id VARCHAR, as_of DATE, "
            "overdue_balance DECIMAL(18,2), open_balance DECIMAL(18,2), currency VARCHAR, "
            f"oldest_overdue_invoice_id VARCHAR, {columns}, label_collected_30d INTEGER)"
        )
        for i, d in enumerate(dates):
            snap = scale_snapshot(d, seed=i, debtors=per_date)
            con.register("snap", snap.drop(columns=["p_true"]))
            con.execute("insert into marts.debtor_feature_snapshots by name select * from snap")
            con.unregister("snap")
            if truth_path is not None:
                truths.append(
                    snap[["debtor_id", "as_of", "p_true", "label_collected_30d"]].rename(
                        columns={"label_collected_30d": "label"}
                    )
                )
    finally:
        con.close()
    if truth_path is not None:
        pd.concat(truths, ignore_index=True).to_parquet(truth_path)
    return per_date * len(dates)
