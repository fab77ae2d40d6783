"""A tiny hand-made billing world for the dbt tests (loaded into raw.* by SQL).

Four debtors, as_of 2026-03-01, three monthly snapshots (2025-12-01, 2026-01-01, 2026-02-01):
- D1 pays late twice (oldest-first and by reference), has one invoice not yet due; a newer
  customer version (2026-02-15) drops the e-mail address.
- D2 (business) pays part of I5 by invoice_id; I6 is a credit note; I7 is disputed; it has
  contact events, a credit report and an active payment plan, and an accepted
  plan offer it broke before.
- D1 accepted a weekly plan offer on 2026-01-01 and paid it off, partly late.
- D3 over-pays I8: the excess stays a credit row.
- D4 is a customer without invoices.
"""

from __future__ import annotations

from datetime import date

import duckdb

from debtflow.flows.core import warehouse
from debtflow.flows.core.settings import Settings

AS_OF = date(2026, 3, 1)
BATCH, LOADED = "2026-03-01T0600", "2026-03-01 06:00:00"

CUSTOMERS = [
    # debtor_id, type, country, email, mobile, since, channel, updated_at, batch
    (
        "D1",
        "consumer",
        "NL",
        "d1@example.com",
        "+31600000001",
        "2024-01-01",
        "online",
        "2024-01-01 00:00:00",
        "2026-01-01T0600",
    ),
    (
        "D1",
        "consumer",
        "NL",
        None,
        "+31600000001",
        "2024-01-01",
        "online",
        "2026-02-15 00:00:00",
        BATCH,
    ),
    ("D2", "business", "BE", None, None, "2025-06-01", "offline", "2025-06-01 00:00:00", BATCH),
    (
        "D3",
        "consumer",
        "NL",
        "d3@example.com",
        None,
        "2025-01-01",
        "partner",
        "2025-01-01 00:00:00",
        BATCH,
    ),
    (
        "D4",
        "consumer",
        "NO",
        None,
        "+4790000000",
        "2026-01-20",
        "online",
        "2026-02-01 00:00:00",
        BATCH,
    ),
]
INVOICES = [
    # invoice_id, debtor, type, issue, due, amount, disputed, dispute_opened_at, updated_at
    ("I1", "D1", None, "2025-11-01", "2025-11-15", 100, None, None, "2025-11-01 00:00:00"),
    ("I2", "D1", "invoice", "2025-12-01", "2025-12-15", 50, None, None, "2025-12-01 00:00:00"),
    ("I3", "D1", None, "2026-01-01", "2026-01-15", 80, False, None, "2026-01-01 00:00:00"),
    ("I4", "D1", None, "2026-02-01", "2026-03-15", 40, None, None, "2026-02-01 00:00:00"),
    ("I5", "D2", None, "2025-10-01", "2025-10-31", 999, None, None, "2025-09-30 00:00:00"),
    ("I5", "D2", None, "2025-10-01", "2025-10-31", 200, None, None, "2025-10-01 00:00:00"),
    ("I6", "D2", "credit_note", "2025-11-01", "2025-11-01", 20, None, None, "2025-11-01 00:00:00"),
    (
        "I7",
        "D2",
        None,
        "2026-01-05",
        "2026-02-04",
        300,
        True,
        "2026-02-10 09:00:00",
        "2026-02-10 09:00:00",
    ),
    ("I8", "D3", None, "2026-01-01", "2026-01-31", 60, None, None, "2026-01-01 00:00:00"),
]
PAYMENTS = [
    # payment_id, debtor, invoice_id, paid_at, amount, reference
    ("P1", "D1", None, "2025-12-20 10:00:00", 120, None),
    ("P2", "D1", None, "2026-01-10 10:00:00", 80, "I3"),
    ("P3", "D1", "", "2026-01-25 10:00:00", 30, "no match"),
    ("P4", "D2", "I5", "2026-01-20 10:00:00", 50, None),
    ("P5", "D3", None, "2026-01-15 10:00:00", 100, None),
]
CONTACT_EVENTS = [
    # event_id, debtor, channel, event_type, occurred_at, step, variant
    ("E1", "D2", "email", "sent", "2025-11-05 08:00:00", "reminder_1", "A"),
    ("E2", "D2", "email", "bounced", "2025-11-05 08:01:00", "reminder_1", "A"),
    ("E3", "D2", "sms", "sent", "2026-01-18 08:00:00", "reminder_2", "B"),
    ("E4", "D2", "sms", "delivered", "2026-01-18 08:00:05", "reminder_2", "B"),
    ("E5", "D2", "sms", "clicked", "2026-01-19 12:00:00", "reminder_2", "B"),
]
CREDIT_REPORTS = [("D2", "2025-12-15 00:00:00", 550, 2, False, False, False)]
PAYMENT_PLANS = [
    ("PL1", "D2", "2026-02-10 00:00:00", 150, 3, "monthly", "active", "2026-02-10 00:00:00"),
]
PLAN_ACCEPTANCES = [
    # offer_reference, debtor, currency, accepted_on, total, instalments, frequency
    ("PO-D1", "D1", "EUR", "2026-01-01", 100, 3, "weekly"),
    ("PO-D2", "D2", "EUR", "2026-01-05", 300, 3, "weekly"),
]


def load_world(con: duckdb.DuckDBPyConnection, optional: bool = True) -> None:
    """Insert the world into raw.*; without `optional`, contact events, plans and reports stay empty."""
    warehouse.ensure_schema(con)
    for row in CUSTOMERS:
        *values, updated_at, batch = row
        debtor_id, debtor_type, country, email, mobile, since, channel = values
        con.execute(
            "insert into raw.customers (debtor_id, debtor_type, country, email, phone_mobile, "
            "customer_since, acquisition_channel, updated_at, _batch_id, _loaded_at) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [debtor_id, debtor_type, country, email, mobile, since, channel, updated_at, batch,
             LOADED],
        )  # fmt: skip
    con.executemany(
        "insert into raw.invoices (invoice_id, debtor_id, document_type, issue_date, due_date, "
        "amount, currency, disputed, dispute_opened_at, updated_at, _batch_id, _loaded_at) "
        f"values (?, ?, ?, ?, ?, ?, 'EUR', ?, ?, ?, '{BATCH}', '{LOADED}')",
        INVOICES,
    )
    con.executemany(
        "insert into raw.payments (payment_id, debtor_id, invoice_id, paid_at, amount, currency, "
        f"reference, _batch_id, _loaded_at) values (?, ?, ?, ?, ?, 'EUR', ?, '{BATCH}', '{LOADED}')",
        PAYMENTS,
    )
    if not optional:
        return
    con.executemany(
        "insert into raw.contact_events (event_id, debtor_id, channel, event_type, occurred_at, "
        f"step, variant, _batch_id, _loaded_at) values (?, ?, ?, ?, ?, ?, ?, '{BATCH}', '{LOADED}')",
        CONTACT_EVENTS,
    )
    con.executemany(
        "insert into raw.credit_reports (debtor_id, reported_at, bureau_score, registered_debts, "
        "debt_restructuring, bankrupt, deceased, _batch_id, _loaded_at) "
        f"values (?, ?, ?, ?, ?, ?, ?, '{BATCH}', '{LOADED}')",
        CREDIT_REPORTS,
    )
    con.executemany(
        "insert into raw.payment_plans (plan_id, debtor_id, created_at, total_amount, "
        "installments, frequency, status, updated_at, _batch_id, _loaded_at) "
        f"values (?, ?, ?, ?, ?, ?, ?, ?, '{BATCH}', '{LOADED}')",
        PAYMENT_PLANS,
    )
    con.executemany(
        "insert into dunning.plan_acceptances (offer_reference, debtor_id, currency, accepted_on, "
        "total_amount, installments, frequency) values (?, ?, ?, ?, ?, ?, ?)",
        PLAN_ACCEPTANCES,
    )


def query(settings: Settings, sql: str) -> list[tuple]:
    # read-write on purpose: dbt ran in this process with a read-write connection
    with warehouse.connect(settings) as con:
        return con.execute(sql).fetchall()
