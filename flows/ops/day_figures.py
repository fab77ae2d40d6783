"""The figures of one business day, read from the warehouse for the daily report.

This module owns the report's queries: the day's landing batches (raw.load_log), its dunning
actions, their states and the suppressions (dunning.ledger, dunning.suppressed), the sale tapes
made that day (sale.tapes), the debtors scored (ml.*), and from the marts the open receivables
and their history: aging by bucket at each month end, DSO and CEI per month (marts.ar_monthly),
collections per week (marts.fct_payments) and results per channel (marts.channel_performance).
Every query aggregates, amounts per currency and never across currencies; no name, contact
detail or debtor id leaves it. A relation that does not exist yet (a first day that stopped
before the build) gives an empty frame, so a report can always be written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from debtflow.flows.core.warehouse import (
    DEBTOR_SCORES,
    INVOICE_LATE_SCORES,
    LEDGER,
    LOAD_LOG,
    SUPPRESSED,
    TAPES,
    built_as_of,
    table_columns,
)
from debtflow.flows.ingest.contract import STEPS

BUCKETS = ("current", "1-30", "31-60", "61-90", "91-180", "181-365", ">365")  # days past due
STATES = ("planned", "sending", "sent", "failed", "superseded", "expired", "recalled")
AGING_MONTHS = 12  # month ends shown before the day itself
COLLECTION_WEEKS = 26
# the relations ar_monthly reads: invoices by issue and due date, and every payment or credit-note
# share applied to an invoice, so a month end's total equals ar_monthly's closing receivables
INVOICES_SETTLED = "intermediate.int_invoices_settled"
PAYMENTS_ALLOCATED = "intermediate.int_payments_allocated"


def exists(con: duckdb.DuckDBPyConnection, *relations: str) -> bool:
    return all(table_columns(con, r) for r in relations)


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


# --- the day's data in --------------------------------------------------------------------------


def day_batches(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The landing batches of the business date (batch ids YYYY-MM-DDTHHMM), one row each:
    files, rows read, loaded, quarantined and held (waiting for their debtor), as loaded."""
    return _frame(
        con,
        f"""
        select batch_id,
            count(*) filter (where table_name is not null) as files,
            cast(coalesce(sum(rows_read), 0) as bigint) as rows_read,
            cast(coalesce(sum(rows_loaded), 0) as bigint) as rows_loaded,
            cast(coalesce(sum(rows_quarantined), 0) as bigint) as rows_quarantined,
            cast(coalesce(sum(rows_held), 0) as bigint) as rows_held,
            min(loaded_at) as loaded_at
        from {LOAD_LOG}
        where batch_id like ? || 'T%'
        group by batch_id
        order by batch_id
        """,
        [as_of.isoformat()],
    )


# --- the day's dunning --------------------------------------------------------------------------


def actions(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The day's actions counted per step, channel, country, currency and state, with the
    amounts due and fees per currency."""
    return _frame(
        con,
        f"""
        select step, channel, coalesce(country, 'unknown') as country, currency, state,
            count(*) as actions, sum(amount_due) as amount_due,
            coalesce(sum(fee_amount), 0) as fees
        from {LEDGER}
        where as_of = ?
        group by all
        """,
        [as_of],
    )


def suppressions(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Positions (debtor and currency) the planner left alone that day, per reason (the text
    before ':' names it; the rest may name a debtor's case and stays in the warehouse)."""
    return _frame(
        con,
        f"""
        select split_part(reason, ':', 1) as reason, count(*) as positions
        from {SUPPRESSED}
        where as_of = ?
        group by 1
        order by positions desc, reason
        """,
        [as_of],
    )


def step_order(step: str) -> int:
    return STEPS.index(step) if step in STEPS else len(STEPS)


def state_order(state: str) -> int:
    return STATES.index(state) if state in STATES else len(STATES)


# --- models -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    debtors: int
    debtor_versions: tuple[str, ...]  # the model versions that scored the day
    invoices: int  # late-payment scores of open, not-yet-due invoices
    invoice_versions: tuple[str, ...]


def scored(con: duckdb.DuckDBPyConnection, as_of: date) -> Scored:
    def count(table: str) -> tuple[int, tuple[str, ...]]:
        n, versions = con.execute(
            f"select count(*), list(distinct model_version order by model_version) "
            f"from {table} where as_of = ?",
            [as_of],
        ).fetchone()
        return n, tuple(v for v in versions or [] if v)

    return Scored(*count(DEBTOR_SCORES), *count(INVOICE_LATE_SCORES))


# --- sale tapes ---------------------------------------------------------------------------------


def tapes(con: duckdb.DuckDBPyConnection, as_of: date) -> list[dict]:
    """Tapes made for the day: id, kind, pool, state, receivables, face value per currency and
    where it was published (the buyer of a sold tape is not shown)."""
    rows = con.execute(
        f"select tape_id, kind, pool, state, receivables, manifest, url from {TAPES} "
        "where as_of = ? order by created_at, tape_id",
        [as_of],
    ).fetchall()
    out = []
    for tape_id, kind, pool, state, receivables, manifest, url in rows:
        totals = (json.loads(manifest) if manifest else {}).get("totals_by_currency") or {}
        face = {cur: t.get("total_balance") for cur, t in sorted(totals.items())}
        out.append(
            {
                "tape_id": tape_id,
                "kind": kind,
                "pool": pool,
                "state": state,
                "receivables": receivables,
                "face_value": face,
                "url": url,
            }
        )
    return out


# --- receivables and their history (the marts) --------------------------------------------------


def marts_built(con: duckdb.DuckDBPyConnection) -> date | None:
    return built_as_of(con)


def receivables(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Open receivables per currency at the marts' as_of: open invoices, open balance (every
    invoice's open amount), overdue balance and open invoices with a buyer (sold)."""
    if not exists(con, "marts.fct_invoices"):
        return pd.DataFrame()
    return _frame(
        con,
        """
        select currency,
            count(*) filter (where open_amount > 0) as open_invoices,
            sum(open_amount) as open_balance,
            coalesce(sum(open_amount) filter (where days_past_due > 0), 0) as overdue_balance,
            coalesce(sum(open_amount) filter (where status = 'sold'), 0) as sold_balance
        from marts.fct_invoices
        where document_type = 'invoice'
        group by currency
        order by currency
        """,
    )


def aging_history(
    con: duckdb.DuckDBPyConnection, as_of: date, months: int = AGING_MONTHS
) -> pd.DataFrame:
    """Open receivables per currency and aging bucket at the start of each of the last `months`
    months (the balance the month before closed with) and at as_of: invoices issued before the
    point less the payment and credit-note shares applied to them before it, bucketed by days
    past their due date at that point. Computed on sums per currency and day, not per invoice."""
    if not exists(con, INVOICES_SETTLED, PAYMENTS_ALLOCATED):
        return pd.DataFrame(columns=["point", "currency", "bucket", "amount"])
    days = "datediff('day', changes.due_date, points.point)"
    bucket = (
        f"case when {days} <= 0 then 'current' when {days} <= 30 then '1-30' "
        f"when {days} <= 60 then '31-60' when {days} <= 90 then '61-90' "
        f"when {days} <= 180 then '91-180' when {days} <= 365 then '181-365' else '>365' end"
    )
    return _frame(
        con,
        f"""
        with changes as (
            select currency, issue_date as on_date, due_date, sum(amount) as amount
            from {INVOICES_SETTLED}
            where document_type = 'invoice'
            group by all
            union all
            select invoice_currency, applied_date, invoice_due_date, -sum(allocated_amount)
            from {PAYMENTS_ALLOCATED}
            where invoice_id is not null
            group by all
        ),
        points as (
            select cast(p as date) as point
            from range(
                cast(date_trunc('month', cast(? as date)) - to_months(?) as date),
                cast(? as date), interval 1 month
            ) as t (p)
            union
            select cast(? as date)
        )
        select points.point, changes.currency, {bucket} as bucket, sum(changes.amount) as amount
        from points
        inner join changes on changes.on_date < points.point
        group by all
        order by 1, 2
        """,
        [as_of, months - 1, as_of, as_of],
    )


def monthly(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.ar_monthly: per currency and month, DSO (count-back), CEI, collected, closing."""
    if not exists(con, "marts.ar_monthly"):
        return pd.DataFrame()
    return _frame(
        con,
        """
        select month, currency, dso_count_back as dso,
            collection_effectiveness_index as cei, collected, closing_receivables
        from marts.ar_monthly
        order by currency, month
        """,
    )


def weekly_collections(
    con: duckdb.DuckDBPyConnection, as_of: date, weeks: int = COLLECTION_WEEKS
) -> pd.DataFrame:
    """Amount received per currency and ISO week (Monday) over the last `weeks` weeks before
    as_of; the last week runs up to the day before as_of."""
    if not exists(con, "marts.fct_payments"):
        return pd.DataFrame()
    return _frame(
        con,
        """
        select cast(date_trunc('week', paid_date) as date) as week, currency,
            sum(amount) as collected, count(*) as payments
        from marts.fct_payments
        where paid_date < ?
            and paid_date >= cast(date_trunc('week', cast(? as date)) as date) - 7 * ?
        group by all
        order by currency, week
        """,
        [as_of, as_of, weeks - 1],
    )


def channel_results(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """marts.channel_performance over all debtors, per channel: contacts sent, debtors
    contacted, and the shares of them who paid within 7 and 14 days (pooled over steps and
    variants)."""
    if not exists(con, "marts.channel_performance"):
        return pd.DataFrame()
    return _frame(
        con,
        """
        select channel,
            cast(sum(sent) as bigint) as sent,
            cast(sum(contacted_debtors) as bigint) as contacted,
            sum(paid_7d_debtors) / nullif(sum(contacted_debtors), 0) as paid_7d_rate,
            sum(paid_14d_debtors) / nullif(sum(contacted_debtors), 0) as paid_14d_rate
        from marts.channel_performance
        where segment_dimension = 'all'
        group by channel
        order by sent desc, channel
        """,
    )
