"""Forward flow: fresh receivables sold to one buyer under the standing agreement
(agreement.py, forward_flow.yml), usually monthly.

The receivables of `sale_candidates` without any exclusion that reached the agreed days past due
in the run's window go on one forward-flow tape per pool with an agreed price (tape.py's files,
pseudonymised, with strats, report and reconciliation); each tape is sold at once to the buyer at
the pool's price (sale.mark_sold: sale.sold_receivables, so the debtors leave the ladder from the
next build) and the buyer gets its full tape with the identities (sale.full_tape, which is made
from a published tape). A pool without a price stays in house. The window of a run as of D starts
where the previous run left off - after the latest earlier as_of of a forward-flow tape, or at
the agreement's start when there is none - and ends at D, within the agreement's dates: a month
skipped or run late is caught up by the next run, not lost. Run again for the same as_of, it
returns what was made and sells nothing more; a run cut short is finished (publish, sale, full
tape) by the rerun, or by the next run as of its own date.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import SOLD, TAPES, require_built
from debtflow.flows.tape import pseudonym, sale, tape
from debtflow.flows.tape.agreement import Agreement, agreement
from debtflow.flows.tape.selection import selection

KIND = "forward_flow"


def run(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> dict:
    """Make, sell and hand over the forward-flow tapes for the window up to `as_of`."""
    require_built(con, as_of)
    deal = agreement(settings)
    pseudonym.key(settings)  # refuse before any work
    # the tape's bands, the agreement's pools
    sel = selection(settings).model_copy(update={"pool_by": deal.pool_by})
    # an earlier run cut short between making and handing over: finish it first, as of its date
    # (the window below starts after it, so nothing else would)
    finished = [
        _sell(con, settings, deal, made, earlier)
        for earlier, pool in _unfinished(con, as_of)
        for made in tape.make_tapes(
            con, settings, earlier, tape.Offer(KIND, deal.facts(), None), [pool]
        )  # fmt: skip
    ]
    first, last = window(con, deal, as_of)
    span = {"from": first.isoformat(), "to": last.isoformat()}  # told to the user, kept on tapes
    con.execute(
        f"create or replace temp table tape_rows as {tape.receivables_sql(sel, forward_flow=True)}",
        {
            "as_of": as_of,
            "days": deal.days_past_due,
            "first": first,
            "last": last,
        },
    )
    try:
        found = dict(con.execute("select pool, count(*) from tape_rows group by 1").fetchall())
        made = {
            pool
            for (pool,) in con.execute(
                f"select distinct pool from {TAPES} where kind = ? and as_of = ?"
                " and state in ('built', 'published', 'sold')",
                [KIND, as_of],
            ).fetchall()
        }
        pools = sorted((set(found) & set(deal.prices_pct)) | made)
        offer = tape.Offer(KIND, {**deal.facts(), "window": span}, None)
        tapes = tape.make_tapes(con, settings, as_of, offer, pools)
    finally:
        con.execute("drop table if exists tape_rows")
    return {
        "as_of": as_of.isoformat(),
        "buyer": deal.buyer,
        "agreement": deal.label,
        "window": span,
        "finished": finished,
        "tapes": [_sell(con, settings, deal, t, as_of) for t in tapes],
        "unpriced": {p: n for p, n in sorted(found.items()) if p not in deal.prices_pct},
    }


def window(con: duckdb.DuckDBPyConnection, deal: Agreement, as_of: date) -> tuple[date, date]:
    """The first and last day on which a receivable reaching the days past due is sold by the run
    as of `as_of`: from the day after the previous run's as_of (the agreement's start for the
    first run) to as_of, within the agreement's dates. A rerun for as_of sees the same window."""
    (previous,) = con.execute(
        f"select max(as_of) from {TAPES} where kind = ? and as_of < ?"
        " and state in ('built', 'published', 'sold')",
        [KIND, as_of],
    ).fetchone()
    first = max(previous + timedelta(days=1), deal.start) if previous else deal.start
    return first, min(as_of, deal.end or date.max)


def _unfinished(con, as_of: date) -> list[tuple[date, str]]:
    """(as_of, pool) of the earlier forward-flow tapes not sold, or sold without the buyer's
    full tape."""
    return con.execute(
        f"select t.as_of, t.pool from {TAPES} t where t.kind = ? and t.as_of < ?"
        " and (t.state in ('built', 'published') or (t.state = 'sold' and not exists ("
        f"  select 1 from {TAPES} f where f.kind = 'full' and f.tape_id like t.tape_id || '-full-%'"
        "))) order by 1, 2",
        [KIND, as_of],
    ).fetchall()


def _sell(con, settings: Settings, deal: Agreement, made: tape.Tape, as_of: date) -> dict:
    """Sell a published tape at the pool's price, then make the buyer's full tape (each once)."""
    if made.state == "published" and made.pool not in deal.prices_pct:
        raise DebtflowError(
            f"forward-flow tape {made.tape_id} was published but not sold, and the agreement "
            f"{deal.label} has no price for pool {made.pool} any more: put back the price agreed "
            "then and run again"
        )
    if made.state == "published":
        sale.mark_sold(
            con, made.tape_id, deal.buyer, sold_on=as_of, price_pct=deal.prices_pct[made.pool]
        )
    full = con.execute(
        f"select tape_id, url from {TAPES} where kind = 'full' and tape_id like ? || '-full-%'"
        " order by created_at desc limit 1",
        [made.tape_id],
    ).fetchone()
    if full is None:
        handed = sale.full_tape(con, settings, made.tape_id, deal.buyer)
        full = (handed["tape_id"], handed["url"])
    sold = con.execute(
        f"select currency, any_value(price_pct), count(*), sum(total_balance), sum(price)"
        f" from {SOLD} where tape_id = ? group by 1 order by 1",
        [made.tape_id],
    ).fetchall()
    return {
        "tape_id": made.tape_id,
        "pool": made.pool,
        "full_tape_id": full[0],
        "url": full[1],
        "sold_by_currency": {
            c: {"price_pct": str(pct), "receivables": n, "total_balance": str(t), "price": str(p)}
            for c, pct, n, t, p in sold
        },
    }
