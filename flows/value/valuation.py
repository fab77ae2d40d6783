"""`debtflow value`: the receivables a sale would hold (the tape selection, pooled as the tapes
are), valued per pool from the book's recovery curves and the collectability model, with the
decision keep, place or sell and its reserve price; written to sale.portfolio_valuation.

Per receivable: its segment's monthly recovery rates (curves.py) from its month after default
on, in house and at the agency, times its collectability tilt - p_collect_30d over the segment's
rate for the coming month, within terms.score_tilt_bounds. The face value is the principal
balance (the ledger's open amount; fees are not on the curves). Pools never mix currencies.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import PORTFOLIO_VALUATION, require_built
from debtflow.flows.tape.report import write_valuation_report
from debtflow.flows.tape.selection import selection
from debtflow.flows.tape.tape import select_receivables
from debtflow.flows.value import appraise, curves
from debtflow.flows.value.terms import Terms, monthly, terms

RECEIVABLES = """
    select pool, invoice_id, debtor_id, currency, legal_type as debtor_type, country,
        coalesce(grade, 0) as grade, collection_type = 'external' as placed_with_agency,
        months_since_default, cast(principal_balance as double) as face, p_collect_30d
    from tape_rows where principal_balance > 0 order by pool, invoice_id
"""


def receivables(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> pd.DataFrame:
    """One row per receivable the sale selection puts on a tape as of `as_of`, with its pool."""
    select_receivables(con, selection(settings), as_of)
    try:
        return con.execute(RECEIVABLES).df()
    finally:
        con.execute("drop table if exists tape_rows")


def value(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    pool: str | None = None,
    report: bool = False,
) -> dict:
    """Value every pool (or `pool`) as of `as_of`, record it in sale.portfolio_valuation (the
    rows of the date and pool are replaced) and return it; `report` also writes the seller's
    valuation report (HTML and PDF) to the reports folder."""
    require_built(con, as_of)
    book = receivables(con, settings, as_of)
    if pool is not None:
        if pool not in set(book["pool"]):
            raise DebtflowError(
                f"no receivables in pool {pool!r} as of {as_of}; the pools are: "
                + (", ".join(sorted(set(book["pool"]))) or "none (nothing meets the selection)")
            )
        book = book[book["pool"] == pool]
    t = terms(settings)
    pools = appraise_book(book, curves.read(con, as_of), t)
    record(con, as_of, pools, t, pool)
    result = {"as_of": as_of.isoformat(), "terms": t.label, "pools": pools}
    if report and pools:
        written = write_valuation_report(result, settings.reports_dir)
        result["report"] = [str(path) for path in written]
    return result


def appraise_book(book: pd.DataFrame, history: pd.DataFrame, t: Terms) -> list[dict]:
    """Each pool of `book` (receivables) valued from `history` (recovery_curves rows)."""
    if book.empty:
        return []
    pools = pools_of(book, history, t)
    levels = curves.level_draws(history, t.bootstrap_samples, t.bootstrap_seed)
    out = []
    for name, frame in book.groupby("pool", sort=True):
        currency = frame["currency"].iat[0]  # a pool never mixes currencies
        out.append(summary(name, frame, pools[name], costs(t, currency), t, levels.get(currency)))
    return out


def pools_of(book: pd.DataFrame, history: pd.DataFrame, t: Terms) -> dict[str, appraise.Pool]:
    """The receivables of each pool as appraise.Pool: rates from their month after default on."""
    months = int(book["months_since_default"].max()) + t.horizon_months
    book = book.reset_index(drop=True)
    out = {}
    rates = {}
    for placed in (False, True):
        segments = book[list(curves.KEYS)].assign(placed_with_agency=placed).drop_duplicates()
        table = curves.rates(
            history, segments, months, t.min_support, t.min_vintages, t.tail_months
        )
        rates[placed] = dict(zip(segments.itertuples(index=False), table, strict=True))
    ahead = book["months_since_default"].to_numpy()[:, None] + np.arange(t.horizon_months)

    def matrix(placed: bool) -> np.ndarray:
        keys = book[list(curves.KEYS)].assign(placed_with_agency=placed)
        full = np.stack([rates[placed][k] for k in keys.itertuples(index=False)])
        return np.take_along_axis(full, ahead, axis=1)

    in_house, agency = matrix(False), matrix(True)
    placed = book["placed_with_agency"].to_numpy(bool)
    own_next = np.where(placed, agency[:, 0], in_house[:, 0])
    tilt = np.ones(len(book))
    scored = book["p_collect_30d"].notna().to_numpy() & (own_next > 0)
    tilt[scored] = book["p_collect_30d"].to_numpy(float)[scored] / own_next[scored]
    tilt = np.clip(tilt, *t.score_tilt_bounds)[:, None]
    face = book["face"].to_numpy(float)
    for name, index in book.groupby("pool").indices.items():
        out[name] = appraise.Pool(
            face=face[index],
            in_house=np.clip(in_house[index] * tilt[index], 0, 1),
            agency=np.clip(agency[index] * tilt[index], 0, 1),
            placed=placed[index],
        )
    return out


def costs(t: Terms, currency: str) -> appraise.Costs:
    return appraise.Costs(
        in_house_per_month=t.amount(t.in_house_cost_per_account_month, currency),
        agency_fee_share=t.agency_fee_share,
        agency_per_account=t.amount(t.agency_cost_per_account, currency),
        buyer_per_month=t.amount(t.buyer_cost_per_account_month, currency),
        seller_share=t.seller_cost_share,
        seller_per_pool=t.amount(t.seller_cost_per_pool, currency),
        buyer_rate=monthly(t.buyer_discount_rate),
        seller_rate=monthly(t.seller_discount_rate),
    )


def summary(name: str, frame: pd.DataFrame, pool: appraise.Pool, c: appraise.Costs, t: Terms,
            levels: np.ndarray | None = None) -> dict:  # fmt: skip
    face = float(pool.face.sum())
    cash, _ = appraise.keeping_cash(pool)
    values = appraise.npv(pool, c)
    price = appraise.price(pool, c)
    reserve = appraise.reserve_price(values, c)
    low, high = appraise.bootstrap(
        pool, c, t.bootstrap_samples, t.bootstrap_level, t.bootstrap_seed, levels
    )
    best = appraise.recommend(values)
    runner_up = sorted(values.values())[-2]
    return {
        "pool": name,
        "currency": frame["currency"].iat[0],
        "receivables": len(frame),
        "face_value": _money(face),
        "expected_recovery_12m": _money(cash[:, :12].sum()),
        "expected_recovery_36m": _money(cash[:, :36].sum()),
        "price": _money(price),
        "price_share": round(price / face, 4),
        "price_share_low": round(low, 4),
        "price_share_high": round(high, 4),
        "npv_keep": _money(values["keep"]),
        "npv_place": _money(values["place"]),
        "npv_sell": _money(values["sell"]),
        "reserve_price": _money(max(reserve, 0.0)),
        "reserve_share": round(max(reserve, 0.0) / face, 4),
        "recommendation": best,
        "material": values[best] - runner_up >= t.material_share * face,
        "curve": [round(float(v), 2) for v in cash.sum(axis=0)],
        "sensitivity": [
            {**row, "price_share": round(row["price_share"], 4)}
            for row in appraise.sensitivity(
                pool, c, t.sensitivity_discount_rates, t.sensitivity_haircuts
            )
        ],
    }


def _money(value: float) -> Decimal:
    return Decimal(str(round(float(value), 2))).quantize(Decimal("0.01"))


COLUMNS = ("pool", "currency", "receivables", "face_value", "expected_recovery_12m",
           "expected_recovery_36m", "price", "price_share", "price_share_low", "price_share_high",
           "npv_keep", "npv_place", "npv_sell", "reserve_price", "reserve_share",
           "recommendation", "material")  # fmt: skip


def record(con, as_of: date, pools: list[dict], t: Terms, pool: str | None) -> None:
    """Replace the date's rows (of `pool`, or all) in sale.portfolio_valuation."""
    frame = pd.DataFrame([{k: p[k] for k in COLUMNS} for p in pools], columns=list(COLUMNS))
    frame["sensitivity"] = [json.dumps(p["sensitivity"]) for p in pools]
    con.register("valued", frame)
    con.execute("begin")
    try:
        con.execute(
            f"delete from {PORTFOLIO_VALUATION} where as_of = ? and (? is null or pool = ?)",
            [as_of, pool, pool],
        )
        con.execute(
            f"insert into {PORTFOLIO_VALUATION} select ?, {', '.join(COLUMNS)}, sensitivity,"
            " ?, ?, ?, ? from valued",
            [
                as_of,
                t.buyer_discount_rate,
                t.seller_discount_rate,
                t.label,
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("valued")
