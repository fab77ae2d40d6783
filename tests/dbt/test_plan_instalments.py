"""Payment-plan adherence (marts/dunning/plan_instalments.sql, plan_adherence.sql) on hand-made
plans and payments, against a direct computation: the instalment split, due dates, which
payments count and when each instalment was paid. Only the two models are built, on staging
tables written by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate

import pytest
from dateutil.relativedelta import relativedelta

from debtflow.flows.build import transform
from debtflow.flows.core import warehouse
from debtflow.flows.core.settings import Settings
from debtflow.flows.dunning.plan_offers import split

AS_OF = date(2026, 6, 1)
GRACE = 14  # dbt_project.yml var plan_broken_after_days
# plan_id, debtor, created, total, instalments, frequency, status, updated
PLANS = [
    ("P1", "D1", "2026-01-31", "100.00", 3, "monthly", "active", "2026-01-31"),  # paid, one late
    ("P2", "D2", "2026-03-31", "250.00", 4, "monthly", "active", "2026-03-31"),  # kept, one late
    ("P2", "D2", "2026-03-31", "250.00", 4, "monthly", "cancelled", "2026-06-05"),  # after as_of
    ("P3", "D3", "2026-04-01", "10.00", 3, "weekly", "active", "2026-04-01"),  # missed
    ("P5", "D5", "2026-05-01", "90.00", 3, None, "active", "2026-05-01"),
    ("P5", "D5", "2026-05-01", "90.00", 3, None, "broken", "2026-05-10"),  # so says the landing
]
# offer_reference, debtor, currency, accepted_on, total, instalments, frequency
ACCEPTED = [("PO-X", "D4", "EUR", "2026-05-01", "60.00", 2, "monthly")]
# payment_id, debtor, paid_at, amount, currency
PAYMENTS = [
    ("A", "D1", "2026-01-20", "500.00", "EUR"),  # before the plan started: not counted
    ("B", "D1", "2026-02-27", "33.33", "EUR"),
    ("C", "D1", "2026-04-03", "40.00", "EUR"),  # the 2nd instalment, 3 days late
    ("D", "D1", "2026-04-30", "26.67", "EUR"),
    ("E", "D2", "2026-04-29", "62.50", "EUR"),
    ("F", "D3", "2026-04-08", "3.33", "EUR"),
    ("G", "D3", "2026-04-10", "50.00", "NOK"),  # another currency: not counted
    ("H", "D4", "2026-05-20", "30.00", "EUR"),  # early
    ("I", "D2", "2026-06-01", "500.00", "EUR"),  # on as_of: not yet seen
]


def direct(start: date, total: str, n: int, frequency: str | None, payments: list) -> list:
    """(instalment, due date, amount, paid on, state) computed by hand."""
    amounts = split(Decimal(total), n)
    step = timedelta(weeks=1) if frequency == "weekly" else relativedelta(months=1)
    dues = [start + step * k for k in range(1, n + 1)]
    paid = [(day, amount) for day, amount in sorted(payments) if start <= day < AS_OF]
    running = list(accumulate(amount for _, amount in paid))
    rows = []
    for k, (due, cumulative) in enumerate(zip(dues, accumulate(amounts), strict=True), 1):
        pairs = zip(paid, running, strict=True)
        on = next((day for (day, _), total in pairs if total >= cumulative), None)
        if on is not None:
            state = "paid" if on <= due else "paid_late"
        elif due >= AS_OF:
            state = "upcoming"
        else:
            state = "missed" if (AS_OF - due).days > GRACE else "late"
        rows.append((k, due, amounts[k - 1], on, state))
    return rows


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("plans-home"))
    with warehouse.connect(settings) as con:
        warehouse.ensure_schema(con)
        con.execute("create schema staging")
        con.execute(
            "create table staging.stg_billing__payment_plan_versions as select plan_id, debtor_id,"
            " cast(created as timestamp) as created_at, cast(total as decimal(18,2)) as "
            "total_amount, n as installments, frequency, status, cast(updated as timestamp) as "
            "updated_at, 'b' as batch_id from (values "
            + ", ".join("(?, ?, ?, ?, ?, ?, ?, ?)" for _ in PLANS)
            + ") t(plan_id, debtor_id, created, total, n, frequency, status, updated)",
            [v for row in PLANS for v in row],
        )
        con.execute(
            "create table staging.stg_billing__invoices as select debtor_id, "
            "date '2026-01-01' as issue_date, 'EUR' as currency from "
            "(values ('D1'), ('D2'), ('D3'), ('D5')) t(debtor_id)"
        )
        con.execute(
            "create table staging.stg_billing__payments as select payment_id, debtor_id, "
            "cast(paid as timestamp) as paid_at, cast(paid as date) as paid_date, "
            "cast(amount as decimal(18,2)) as amount, currency from (values "
            + ", ".join("(?, ?, ?, ?, ?)" for _ in PAYMENTS)
            + ") t(payment_id, debtor_id, paid, amount, currency)",
            [v for row in PAYMENTS for v in row],
        )
        con.executemany(
            "insert into dunning.plan_acceptances values (?, ?, ?, ?, ?, ?, ?, 'f.csv', 2, null)",
            ACCEPTED,
        )
    transform.build(settings, AS_OF, select="plan_instalments plan_adherence")
    return settings


def query(settings: Settings, sql: str) -> list[tuple]:
    with warehouse.connect(settings) as con:
        return con.execute(sql).fetchall()


def test_instalments_and_their_payments_equal_a_direct_computation(built):
    got = {}
    for plan_id, *row in query(
        built,
        "select plan_id, instalment, due_date, amount, paid_on, state from "
        "marts.plan_instalments order by plan_id, instalment",
    ):
        got.setdefault(plan_id, []).append(tuple(row))
    pays = {}
    for _, debtor, paid, amount, currency in PAYMENTS:
        if currency == "EUR":
            pays.setdefault(debtor, []).append((date.fromisoformat(paid), Decimal(amount)))
    plans = {p[0]: p for p in PLANS if p[7] < AS_OF.isoformat()}  # the newest version by as_of
    expected = {
        plan_id: direct(date.fromisoformat(created), total, n, freq, pays.get(debtor, []))
        for plan_id, debtor, created, total, n, freq, *_ in plans.values()
    }
    for ref, debtor, _, accepted_on, total, n, freq in ACCEPTED:
        expected[ref] = direct(date.fromisoformat(accepted_on), total, n, freq, pays[debtor])
    assert got == expected
    # the split: 100.00 in three is 33.33, 33.33, 33.34; a month after 31 January is 28 February
    assert [(r[1], r[2]) for r in got["P1"]] == [
        (date(2026, 2, 28), Decimal("33.33")),
        (date(2026, 3, 31), Decimal("33.33")),
        (date(2026, 4, 30), Decimal("33.34")),
    ]
    assert [r[4] for r in got["P1"]] == ["paid", "paid_late", "paid"]
    assert [r[4] for r in got["P3"]] == ["paid", "missed", "missed"]


def test_a_plan_is_kept_broken_or_completed(built):
    rows = query(
        built,
        "select plan_id, status, broken_instalment, broken_on, n_paid from marts.plan_adherence "
        "order by plan_id",
    )
    assert rows == [
        ("P1", "completed", None, None, 3),
        ("P2", "kept", None, None, 1),  # the 2nd instalment is 1 day late, within the grace
        ("P3", "broken", 2, date(2026, 4, 15) + timedelta(days=GRACE + 1), 1),
        ("P5", "broken", 1, date(2026, 5, 10), 0),
        ("PO-X", "kept", None, None, 1),
    ]
