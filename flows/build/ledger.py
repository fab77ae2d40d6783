"""The receivables ledger: every payment and credit note booked to invoices once, for good.

Events are booked per account, a debtor's money in one currency (a payment or credit note pays
invoices of its own currency only), in time order (a day's invoices, then its credit notes, then
its payments by time), and money once applied never moves:

1. An invoice, when issued, takes the debtor's credit (money left over earlier), oldest money
   first, as a billing system applies an account's credit balance to its next invoice.
2. A payment naming an open invoice of the same account (invoice_id, else a reference equal to
   an invoice id) pays it first. A payment naming an invoice issued after it counts as unnamed.
3. The rest of it, every unnamed payment and every credit note, pays the open invoices oldest
   due date first (then issue date, then invoice id).
4. What is left is credit on the account: a share with no invoice.

Each share carries the day it was applied, so the allocation as of any date is a filter on the
ledger (macro `allocations_as_of`): the shares applied before it, plus, per payment or credit
note received before it, what was not yet given away as credit. Nothing is re-allocated per
cut-off. The dbt model `int_ledger` calls `book`; it books every loaded event, whatever the
run's as_of, and a daily build re-books only the debtors with rows loaded since the last one
(a restated or back-dated event re-books its debtor whole, which by the rules above leaves every
share dated before the event as it was).

DuckDB sorts the events and streams them in Arrow batches through a loop compiled with numba;
a batch ends on a debtor boundary.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

INVOICE, CREDIT_NOTE, PAYMENT = 0, 1, 2
# allocation_method codes, in the order of METHODS
NAMED_ID, NAMED_REFERENCE, OLDEST_FIRST, CREDIT = 0, 1, 2, 3
METHODS = ("invoice_id", "reference", "oldest_first", "credit")
BATCH_ROWS = 200_000  # events per Arrow batch: larger ones only cost memory outside DuckDB
MONEY = pa.decimal128(18, 2)

SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("payment_id", pa.string()),
        ("debtor_id", pa.string()),
        ("invoice_id", pa.string()),
        ("allocated_amount", MONEY),
        ("paid_at", pa.timestamp("us")),
        ("paid_date", pa.date32()),
        ("applied_date", pa.date32()),
        ("invoice_due_date", pa.date32()),
        ("invoice_currency", pa.string()),
        ("allocation_method", pa.string()),
        ("share_number", pa.int64()),
    ]
)

# One row per event, sorted for booking. rank: an invoice's place in its debtor's oldest-first
# order; for a payment, the rank of the invoice it names (-1: none).
EVENTS_SQL = """
with invoices as (
    select invoice_id, debtor_id, document_type, issue_date, due_date, amount, currency
    from ({invoices}) {scope}
),

ranked as (
    select
        *,
        cast(row_number() over (
            partition by debtor_id, currency order by due_date, issue_date, invoice_id
        ) - 1 as integer) as rank
    from invoices
    where document_type = 'invoice'
),

payments as (
    select payment_id, debtor_id, invoice_id, reference, paid_at, paid_date, amount, currency
    from ({payments}) {scope}
)

select debtor_id, kind, day, event_at, event_id, rank, named_by, cents, due_date, currency
from (
    select debtor_id, {invoice} as kind, issue_date as day, cast(issue_date as timestamp) as event_at,
        invoice_id as event_id, rank, 0 as named_by, cast(amount * 100 as bigint) as cents,
        due_date, currency
    from ranked
    union all
    select debtor_id, {credit_note}, issue_date, cast(issue_date as timestamp), invoice_id, -1, 0,
        cast(amount * 100 as bigint), null, currency
    from invoices
    where document_type = 'credit_note'
    union all
    select payments.debtor_id, {payment}, payments.paid_date, payments.paid_at,
        payments.payment_id, coalesce(named.rank, referenced.rank, -1),
        case when named.rank is not null then {named_id}
            when referenced.rank is not null then {named_reference} else 0 end,
        cast(payments.amount * 100 as bigint), null, payments.currency
    from payments
    left join ranked as named
        on named.invoice_id = payments.invoice_id and named.debtor_id = payments.debtor_id
        and named.currency = payments.currency
    left join ranked as referenced
        on referenced.invoice_id = payments.reference
        and referenced.debtor_id = payments.debtor_id
        and referenced.currency = payments.currency
)
order by debtor_id, currency, day, kind, event_at, event_id
"""


@numba.njit(cache=True, nogil=True)
def _book(start, kind, rank, named_by, cents, day):  # pragma: no cover - compiled
    """Shares of one batch of whole debtors: (money event, invoice event or -1, cents, applied
    day, method, share number). Every share closes an invoice, uses up a payment or credit note,
    or is its final credit, so there are at most as many shares as events."""
    n = len(kind)
    money = np.empty(n, np.int64)
    invoice = np.empty(n, np.int64)
    amount = np.empty(n, np.int64)
    applied = np.empty(n, np.int32)
    method = np.empty(n, np.int8)
    number = np.empty(n, np.int32)
    shares_of = np.zeros(n, np.int32)
    invoice_at = np.full(n, -1, np.int64)  # by rank: the invoice's event, once issued
    still_open = np.zeros(n, np.int64)  # by rank: cents not yet paid
    credit_event = np.empty(n, np.int64)  # the debtor's credit, oldest money first
    credit_left = np.empty(n, np.int64)
    m = 0
    i = 0
    while i < n:
        j = i + 1
        while j < n and not start[j]:
            j += 1
        ranks = 0
        for e in range(i, j):
            if kind[e] == INVOICE and rank[e] + 1 > ranks:
                ranks = rank[e] + 1
        for r in range(ranks):
            invoice_at[r] = -1
            still_open[r] = 0
        head = 0
        tail = 0
        for e in range(i, j):
            if kind[e] == INVOICE:
                r = rank[e]
                invoice_at[r] = e
                still_open[r] = cents[e]
                while head < tail and still_open[r] > 0:
                    x = min(credit_left[head], still_open[r])
                    q = credit_event[head]
                    shares_of[q] += 1
                    money[m], invoice[m], amount[m], applied[m] = q, e, x, day[e]
                    method[m], number[m] = OLDEST_FIRST, shares_of[q]
                    m += 1
                    credit_left[head] -= x
                    still_open[r] -= x
                    if credit_left[head] == 0:
                        head += 1
                continue
            left = cents[e]
            r = rank[e]
            if kind[e] == PAYMENT and r >= 0 and invoice_at[r] >= 0 and still_open[r] > 0:
                x = min(left, still_open[r])
                shares_of[e] += 1
                money[m], invoice[m], amount[m], applied[m] = e, invoice_at[r], x, day[e]
                method[m], number[m] = named_by[e], shares_of[e]
                m += 1
                left -= x
                still_open[r] -= x
            r = 0
            while left > 0 and r < ranks:
                if still_open[r] > 0:
                    x = min(left, still_open[r])
                    shares_of[e] += 1
                    money[m], invoice[m], amount[m], applied[m] = e, invoice_at[r], x, day[e]
                    method[m], number[m] = OLDEST_FIRST, shares_of[e]
                    m += 1
                    left -= x
                    still_open[r] -= x
                r += 1
            if left > 0:
                credit_event[tail] = e
                credit_left[tail] = left
                tail += 1
        for c in range(head, tail):
            q = credit_event[c]
            shares_of[q] += 1
            money[m], invoice[m], amount[m], applied[m] = q, -1, credit_left[c], day[q]
            method[m], number[m] = CREDIT, shares_of[q]
            m += 1
        i = j
    return money[:m], invoice[:m], amount[:m], applied[:m], method[:m], number[:m]


def _decimal(cents: np.ndarray) -> pa.Array:
    """Cents as DECIMAL(18,2), exactly: the 128-bit little-endian integers Arrow stores."""
    words = np.zeros((len(cents), 2), np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(MONEY, len(cents), [None, pa.py_buffer(words)])


def _shares(events: pa.RecordBatch) -> pa.RecordBatch:
    debtor, currency = events.column("debtor_id"), events.column("currency")
    start = np.ones(len(debtor), np.bool_)
    if len(debtor) > 1:  # an account: a debtor's money in one currency
        start[1:] = pc.or_(
            pc.not_equal(debtor[1:], debtor[:-1]),
            pc.not_equal(currency[1:], currency[:-1]),
        ).to_numpy(zero_copy_only=False)
    col = {
        name: events.column(name).to_numpy(zero_copy_only=False)
        for name in ("kind", "rank", "named_by", "cents")
    }
    day = events.column("day").cast(pa.int32()).to_numpy(zero_copy_only=False)
    money, invoice, cents, applied, method, number = _book(
        start,
        col["kind"].astype(np.int8),
        col["rank"].astype(np.int64),
        col["named_by"].astype(np.int8),
        col["cents"].astype(np.int64),
        day,
    )
    on_invoice = pa.array(np.where(invoice < 0, 0, invoice), mask=invoice < 0)
    kind = pc.take(events.column("kind"), money)
    paid_at = pc.take(events.column("event_at"), money)
    return pa.RecordBatch.from_arrays(
        [
            pc.if_else(pc.equal(kind, CREDIT_NOTE), "credit_note", "payment"),
            pc.take(events.column("event_id"), money),
            pc.take(debtor, money),
            pc.take(events.column("event_id"), on_invoice),
            _decimal(cents),
            paid_at.cast(pa.timestamp("us")),
            pc.take(events.column("day"), money),
            pa.array(applied, pa.int32()).cast(pa.date32()),
            pc.take(events.column("due_date"), on_invoice),
            pc.take(events.column("currency"), on_invoice),
            pc.take(pa.array(METHODS), pa.array(method)),
            pa.array(number, pa.int64()),
        ],
        schema=SCHEMA,
    )


def _whole_debtors(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Re-cut sorted event batches so that each ends with a whole debtor."""
    carry: pa.RecordBatch | None = None
    for batch in batches:
        if carry is not None:
            batch = pa.Table.from_batches([carry, batch]).combine_chunks().to_batches()[0]
        if not len(batch):
            continue
        debtor = batch.column("debtor_id")
        last = debtor[len(batch) - 1]
        first_of_last = pc.index(debtor, last).as_py()
        carry = batch.slice(first_of_last)
        if first_of_last:
            yield batch.slice(0, first_of_last)
    if carry is not None and len(carry):
        yield carry


def book(
    con: duckdb.DuckDBPyConnection,
    invoices_sql: str,
    payments_sql: str,
    debtors: list[str] | None = None,
) -> duckdb.DuckDBPyRelation:
    """The ledger's shares for `debtors` (every debtor when None): a relation on `con` that
    streams them once.

    `invoices_sql` and `payments_sql` select the staged invoices (with credit notes) and
    payments. The events are read on a cursor of their own, so `con` can write the shares while
    they stream (dbt writes a Python model's relation through the model's own connection, inside
    the transaction its pre-hooks opened).
    """
    reader = con.cursor()
    scope = ""
    if debtors is not None:
        reader.register("ledger_scope", pa.table({"debtor_id": pa.array(debtors, pa.string())}))
        scope = "where debtor_id in (select debtor_id from ledger_scope)"
    sql = EVENTS_SQL.format(
        invoices=invoices_sql,
        payments=payments_sql,
        scope=scope,
        invoice=INVOICE,
        credit_note=CREDIT_NOTE,
        payment=PAYMENT,
        named_id=NAMED_ID,
        named_reference=NAMED_REFERENCE,
    )
    events = reader.execute(sql).to_arrow_reader(BATCH_ROWS)

    def shares() -> Iterator[pa.RecordBatch]:
        try:
            for batch in _whole_debtors(events):
                yield _shares(batch)
        finally:
            reader.close()

    return con.from_arrow(pa.RecordBatchReader.from_batches(SCHEMA, shares()))
