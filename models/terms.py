"""Payment-terms advice per customer from the late-payment model and bureau data.

For every debtor the freshest point-in-time view we have is their latest invoice in
marts.invoice_late_snapshots (history before its issue date, bureau report, customer data); a
debtor with no history is scored as such (the model has seen new customers). The advice:

  standard     p_late below SHORTER_AT and no bureau warning
  shorter      payment terms cut to SHORT_TERMS_DAYS (less is issued before lateness shows)
  deposit      one invoice's amount held as a deposit
  prepayment   pay before service (bankrupt, in debt restructuring, or p_late >= PREPAY_AT)

Expected loss of a term = p_late x loss rate of late invoices x exposure, where the exposure is
what is outstanding when a late payer is stopped: the invoice plus what is billed during its
terms (monthly billing: amount x (1 + terms / 30)), less a deposit; zero when prepaid. The loss
rate is measured on the book: the share of the amount of late invoices still unpaid 90 days
after their due date.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import connect, require_built
from debtflow.models import features, late_payment, predict, registry

SHORTER_AT, DEPOSIT_AT, PREPAY_AT = 0.35, 0.6, 0.85
LOW_BUREAU_SCORE = 550
SHORT_TERMS_DAYS = 7
LOSS_HORIZON_DAYS = 90
DEFAULT_LOSS_RATE = 0.3  # when the book has no late invoice 90 days past due yet
ADVICE = ("standard", "shorter", "deposit", "prepayment")


def loss_rate_given_late(con: duckdb.DuckDBPyConnection, as_of: date) -> float:
    """Share of the amount of late invoices (due 90+ days before as_of) unpaid 90 days after."""
    row = con.execute(
        f"""
        select sum(amount) filter (where paid_date is null or paid_date > due_date
                                   + {LOSS_HORIZON_DAYS}) / nullif(sum(amount), 0)
        from marts.fct_invoices
        where document_type = 'invoice' and paid_late
            and due_date + {LOSS_HORIZON_DAYS} < ?::date
        """,
        [as_of],
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else DEFAULT_LOSS_RATE


def latest_views(con: duckdb.DuckDBPyConnection, debtors: list[str] | None) -> pd.DataFrame:
    """Each debtor's latest invoice row (features as of its issue date)."""
    where = "where debtor_id in (select unnest(?::varchar[]))" if debtors else ""
    params = [debtors] if debtors else []
    frame = con.execute(
        f"select * from {late_payment.SNAPSHOTS} {where} "
        "qualify row_number() over (partition by debtor_id order by issue_date desc, "
        "invoice_id desc) = 1 order by debtor_id",
        params,
    ).df()
    flags = con.execute(
        "select debtor_id, coalesce(bankrupt, false) as bankrupt, "
        "coalesce(debt_restructuring, false) as debt_restructuring from marts.debtor_features"
    ).df()
    return frame.merge(flags, on="debtor_id", how="left")


def advise(frame: pd.DataFrame, p_late: np.ndarray, loss_rate: float) -> pd.DataFrame:
    """The advice and the expected loss under standard terms and under the advice."""
    p = np.asarray(p_late, dtype=float)
    amount = pd.to_numeric(frame["amount"]).fillna(0).to_numpy(dtype=float)
    terms = pd.to_numeric(frame["payment_terms_days"]).fillna(14).to_numpy(dtype=float)
    bureau = pd.to_numeric(frame.get("bureau_score"), errors="coerce").to_numpy(dtype=float)
    debts = pd.to_numeric(frame.get("registered_debts"), errors="coerce").fillna(0).to_numpy()
    stop = (
        frame.get("bankrupt", pd.Series(False, index=frame.index)).fillna(False).astype(bool)
        | frame.get("debt_restructuring", pd.Series(False, index=frame.index))
        .fillna(False)
        .astype(bool)
    ).to_numpy()
    warning = (bureau < LOW_BUREAU_SCORE) | (debts > 0)  # NaN bureau compares False
    advice = np.select(
        [stop | (p >= PREPAY_AT), p >= DEPOSIT_AT, (p >= SHORTER_AT) | warning],
        ["prepayment", "deposit", "shorter"],
        default="standard",
    )
    exposure_standard = amount * (1 + terms / 30)
    short = np.minimum(terms, SHORT_TERMS_DAYS)
    exposure = np.select(
        [advice == "prepayment", advice == "deposit", advice == "shorter"],
        [
            np.zeros_like(amount),
            np.maximum(exposure_standard - amount, 0),
            amount * (1 + short / 30),
        ],
        default=exposure_standard,
    )
    loss_standard = p * loss_rate * exposure_standard
    loss_advised = p * loss_rate * exposure
    return pd.DataFrame(
        {
            "debtor_id": frame["debtor_id"].astype(str).to_numpy(),
            "currency": frame["currency"].astype(str).to_numpy(),
            "p_late": p.round(4),
            "bureau_score": bureau,
            "current_terms_days": terms.astype(int),
            "advice": advice,
            "advised_terms_days": np.where(advice == "shorter", short, terms).astype(int),
            "deposit": np.where(advice == "deposit", amount, 0.0).round(2),
            "expected_loss_standard": loss_standard.round(2),
            "expected_loss_advised": loss_advised.round(2),
            "expected_loss_avoided": (loss_standard - loss_advised).round(2),
        }
    )


def advise_terms(
    settings: Settings, as_of: date, debtors: list[str] | None = None, out: Path | None = None
) -> dict:
    """Advice for every debtor (or the given ones) with the late-payment champion; CSV written
    to `out` (default HOME/reports/terms/<as_of>.csv)."""
    con = connect(settings)
    try:
        require_built(con, as_of)
        model = registry.load(settings, name=late_payment.NAME)
        frame = latest_views(con, debtors)
        rate = loss_rate_given_late(con, as_of)
    finally:
        con.close()
    X = features.to_matrix(frame.assign(as_of=frame["issue_date"]), model.spec)
    p = predict.predict_proba(model, X) if len(X) else np.zeros(0)
    table = advise(frame, p, rate)
    out = out or settings.reports_dir / "terms" / f"{as_of}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    money = ["expected_loss_standard", "expected_loss_advised", "expected_loss_avoided"]
    by_currency = table.groupby("currency")[money].sum().round(2)
    avoided = table.groupby(["currency", "advice"])["expected_loss_avoided"].sum().round(2)
    return {
        "as_of": str(as_of),
        "model_version": model.version,
        "debtors": len(table),
        "loss_rate_given_late": round(rate, 4),
        "advice": {a: int((table["advice"] == a).sum()) for a in ADVICE},
        "expected_loss_by_currency": {
            cur: {k: float(v) for k, v in row.items()} for cur, row in by_currency.iterrows()
        },
        "avoided_by_advice": {
            f"{cur} {a}": float(v) for (cur, a), v in avoided.items() if a != "standard"
        },
        "path": str(out),
    }
