"""The valuation against what happened: value the pools as of a past date (the marts built for
it), then compare with what the ledger applied to the same receivables in the months after - on
a simulated world, the simulator's debtors' own later payments, loaded with the rest.

Per pool: predicted and realised recovery over `months`, their relative error with its interval
(the pool's debtors resampled: a debtor's receivables are paid or not together, so a pool of a
few dozen debtors cannot be judged to 15% whatever the valuation does), and the buyer's
price predicted and realised (the months seen paid as they were, the months after predicted from
the balance actually left), and whether the price's interval (valuation's bootstrap) holds the
realised one. Keep-or-sell is right when selling at the predicted price beats the
better of keeping and placing both as predicted and as realised; it is judged where the realised
difference is material (terms.material_share of face).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import require_built
from debtflow.flows.simulation import recovery_truth
from debtflow.flows.value import appraise, curves, valuation
from debtflow.flows.value.terms import terms

TOLERANCE = 0.15  # the quality bar: predicted recovery within 15% of the realised, per pool
RESAMPLES, LEVEL, SEED = 2000, 0.90, 7  # the error's interval: debtors resampled
MIN_DEBTORS = 30  # below, resampling a handful of debtors says nothing: no interval


def realised(con: duckdb.DuckDBPyConnection, book: pd.DataFrame, as_of: date,
             months: int) -> pd.DataFrame:  # fmt: skip
    """Payments applied to each of `book`'s receivables per month after as_of (1..months)."""
    (latest,) = con.execute("select max(applied_date) from intermediate.int_ledger").fetchone()
    end = pd.Timestamp(as_of) + pd.DateOffset(months=months)
    if latest is None or pd.Timestamp(latest) < end - pd.Timedelta(days=7):
        raise DebtflowError(
            f"the ledger ends {latest}: a backtest of {months} months from {as_of} needs the "
            f"payments to {end.date()} loaded (ingest the later batches first)"
        )
    con.register("valued_ids", book[["invoice_id"]])
    try:
        return con.execute(
            "select l.invoice_id, date_diff('month', $as_of, l.applied_date)"
            " - case when day(l.applied_date) < day($as_of) then 1 else 0 end + 1 as month,"
            " sum(l.allocated_amount)::double as paid"
            " from intermediate.int_ledger l join valued_ids v using (invoice_id)"
            " where l.source = 'payment' and l.applied_date >= $as_of"
            " and l.applied_date < $as_of + to_months($months) group by all",
            {"as_of": as_of, "months": months},
        ).df()
    finally:
        con.unregister("valued_ids")


def backtest(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
             months: int = 12, truth: Path | None = None) -> dict:  # fmt: skip
    """Per pool, the valuation as of `as_of` against the `months` after it; with `truth` (a
    simulated world's truth folder) also the oracle's (recovery_truth)."""
    require_built(con, as_of)
    t = terms(settings)
    if months >= t.horizon_months:
        raise DebtflowError(f"backtest months ({months}) must be below horizon_months")
    book = valuation.receivables(con, settings, as_of)
    history = curves.read(con, as_of)
    pools = valuation.pools_of(book, history, t)
    levels = curves.level_draws(history, t.bootstrap_samples, t.bootstrap_seed)
    paid = realised(con, book, as_of, months)
    paid["pool"] = paid["invoice_id"].map(book.set_index("invoice_id")["pool"])
    rng = np.random.default_rng(SEED)
    rows = []
    for name, frame in book.groupby("pool", sort=True):
        monthly = np.zeros(months)
        seen = paid[paid["pool"] == name].groupby("month")["paid"].sum()
        monthly[seen.index.to_numpy(int) - 1] = seen.to_numpy(float)
        row = _compare(name, frame, pools[name], monthly, t)
        per = paid[paid["pool"] == name].groupby("invoice_id")["paid"].sum()
        frame = frame.assign(paid=frame["invoice_id"].map(per).fillna(0.0).to_numpy())
        cash, _ = appraise.keeping_cash(pools[name])
        frame["predicted"] = cash[:, :months].sum(axis=1)
        low, high = appraise.bootstrap(pools[name], valuation.costs(t, row["currency"]),
                                       t.bootstrap_samples, t.bootstrap_level, t.bootstrap_seed,
                                       levels.get(row["currency"]))  # fmt: skip
        covered = low * row["face_value"] <= row["realised_price"] <= high * row["face_value"]
        rows.append({**row, **_interval(frame, rng), "price_interval_covers": bool(covered)})
    oracle = _oracle(truth, book, as_of, months, rows) if truth is not None else {}
    judged = [r for r in rows if r["material"]]
    # a pool whose error interval spans more than the tolerance both ways is too small to judge
    sized = [r for r in rows if r["error_low"] is not None
             and r["error_high"] - r["error_low"] <= 2 * TOLERANCE]  # fmt: skip
    return {
        "as_of": as_of.isoformat(),
        "months": months,
        "pools": rows,
        "within_tolerance": sum(_within(r) for r in rows),
        "pools_large_enough": len(sized),
        "large_enough_within_tolerance": sum(_within(r) for r in sized),
        "price_interval_level": t.bootstrap_level,
        "price_intervals_covering": sum(r["price_interval_covers"] for r in rows),
        "decisions_judged": len(judged),
        "decisions_right": sum(r["decision_right"] for r in judged),
        **oracle,
    }


def _oracle(truth: Path, book: pd.DataFrame, as_of: date, months: int,
            rows: list[dict]) -> dict:  # fmt: skip
    """Adds the oracle recovery, its error and its chance of landing within the tolerance to
    `rows`; returns the summary: pools the oracle got within, and the expected number a perfect
    model gets within (the sum of the chances)."""
    oracle = recovery_truth.by_pool(truth, book, as_of, months, TOLERANCE)
    for r in rows:
        r["oracle_recovery"], r["oracle_chance_within"] = oracle[r["pool"]]
        r["oracle_error"] = _error(r["oracle_recovery"], r["realised_recovery"])
    return {
        "oracle_within_tolerance": sum(_within(r, "oracle_error") for r in rows),
        "perfect_expected_within": round(sum(r["oracle_chance_within"] for r in rows), 1),
    }


def _compare(name: str, frame: pd.DataFrame, pool: appraise.Pool, paid: np.ndarray,
             t) -> dict:  # fmt: skip
    c = valuation.costs(t, frame["currency"].iat[0])
    months = len(paid)
    cash, open_share = appraise.keeping_cash(pool)
    predicted = cash.sum(axis=0)
    face = float(pool.face.sum())
    left = face - predicted[:months].sum()
    after = (face - paid.sum()) / left if left > 0 else 1.0
    actual = np.concatenate([paid, predicted[months:] * after])  # seen, then the rest predicted
    opened = open_share.sum(axis=0)
    placed = bool(pool.placed.all())
    fee = c.agency_fee_share if placed else 0.0
    cost = 0.0 if placed else c.in_house_per_month
    seller = appraise.discount(len(actual), c.seller_rate)
    buyer = appraise.discount(len(actual), c.buyer_rate)
    values = appraise.npv(pool, c)
    keep_then = float((actual * (1 - fee) - cost * opened) @ seller)
    place_then = values["place"] * (actual.sum() / predicted.sum() if predicted.sum() else 1.0)
    price = appraise.price(pool, c)
    price_then = max(0.0, float((actual - c.buyer_per_month * opened) @ buyer))
    sell = values["sell"]
    hold, hold_then = max(values["keep"], values["place"]), max(keep_then, place_then)
    expected = float(predicted[:months].sum())
    return {
        "pool": name,
        "currency": frame["currency"].iat[0],
        "receivables": len(frame),
        "face_value": round(face, 2),
        "predicted_recovery": round(expected, 2),
        "realised_recovery": round(float(paid.sum()), 2),
        "recovery_error": _error(expected, float(paid.sum())),
        "price": round(price, 2),
        "realised_price": round(price_then, 2),
        "price_error": _error(price, price_then),
        "sell_predicted": bool(sell > hold),
        "sell_realised": bool(sell > hold_then),
        "decision_right": bool((sell > hold) == (sell > hold_then)),
        "material": bool(abs(sell - hold_then) >= t.material_share * face),
    }


def _within(row: dict, error: str = "recovery_error") -> bool:
    return row[error] is not None and abs(row[error]) <= TOLERANCE


def _interval(frame: pd.DataFrame, rng: np.random.Generator) -> dict:
    """The pool's debtors and the central LEVEL interval of its recovery error over pools of as
    many debtors drawn from its own with replacement (None for fewer than MIN_DEBTORS debtors or
    where no draw saw a payment)."""
    by_debtor = frame.groupby("debtor_id")[["predicted", "paid"]].sum()
    if len(by_debtor) < MIN_DEBTORS:
        return {"debtors": len(by_debtor), "error_low": None, "error_high": None}
    draws = rng.integers(0, len(by_debtor), size=(RESAMPLES, len(by_debtor)))
    predicted = by_debtor["predicted"].to_numpy()[draws].sum(axis=1)
    paid = by_debtor["paid"].to_numpy()[draws].sum(axis=1)
    errors = predicted[paid > 0] / paid[paid > 0] - 1
    low, high = (
        np.quantile(errors, [(1 - LEVEL) / 2, (1 + LEVEL) / 2]) if len(errors) else (None,) * 2
    )
    return {
        "debtors": len(by_debtor),
        "error_low": None if low is None else round(float(low), 4),
        "error_high": None if high is None else round(float(high), 4),
    }


def _error(predicted: float, actual: float) -> float | None:
    """predicted / actual - 1; None when nothing actually came in."""
    return round(predicted / actual - 1, 4) if actual else None
