"""The receivables ledger (flows/build/ledger.py) on hand-made books: the worked examples of
the allocation rule, the cases where it differs from re-allocating within each cut-off (the rule
before the ledger), and that streaming in batches changes nothing."""

from __future__ import annotations

import random
from decimal import Decimal

import duckdb
import pytest

from debtflow.flows.build import ledger

INVOICES = """
create table invoices (
    invoice_id varchar, debtor_id varchar, document_type varchar, issue_date date,
    due_date date, amount decimal(18, 2), currency varchar
)"""
PAYMENTS = """
create table payments (
    payment_id varchar, debtor_id varchar, invoice_id varchar, reference varchar,
    paid_at timestamp, paid_date date, amount decimal(18, 2), currency varchar
)"""


def _book(invoices: list[tuple], payments: list[tuple], debtors=None) -> list[tuple]:
    """(payment_id, invoice_id, amount, method, applied_date) per share, in booking order.

    invoices: (invoice_id, debtor_id, document_type, issue_date, due_date, amount);
    payments: (payment_id, debtor_id, invoice_id, reference, paid_at, amount)."""
    con = duckdb.connect()
    con.execute(INVOICES)
    con.execute(PAYMENTS)
    for row in invoices:
        con.execute("insert into invoices values (?, ?, ?, ?, ?, ?, ?)", [*row[:6], row[6]])
    for p in payments:
        con.execute(
            "insert into payments values (?, ?, ?, ?, ?, cast(? as timestamp)::date, ?, ?)",
            [*p[:5], p[4], p[5], p[6]],
        )
    shares = ledger.book(con, "select * from invoices", "select * from payments", debtors)
    return [
        (pid, iid, amount, method, str(applied))
        for pid, iid, amount, method, applied in shares.project(
            "payment_id, invoice_id, allocated_amount, allocation_method, applied_date"
        ).fetchall()
    ]


def _i(invoice_id, issued, due, amount, debtor="D1", kind="invoice", currency="EUR"):
    return (invoice_id, debtor, kind, issued, due, Decimal(amount), currency)


def _p(payment_id, paid_at, amount, invoice_id=None, reference=None, debtor="D1", currency="EUR"):
    return (payment_id, debtor, invoice_id, reference, paid_at, Decimal(amount), currency)


def test_money_pays_invoices_of_its_own_currency_only():
    """D1 owes EUR (I1, older) and NOK (I2). An unnamed NOK payment pays the NOK invoice, not
    the older EUR one; a EUR payment naming the NOK invoice counts as unnamed and pays I1; a NOK
    credit note with nothing NOK left open stays NOK credit, and the next NOK invoice takes it."""
    invoices = [
        _i("I1", "2026-01-01", "2026-01-15", 100),
        _i("I2", "2026-01-05", "2026-01-20", 900, currency="NOK"),
        _i("C1", "2026-02-10", "2026-02-10", 50, kind="credit_note", currency="NOK"),
        _i("I3", "2026-03-01", "2026-03-15", 300, currency="NOK"),
    ]
    payments = [
        _p("P1", "2026-01-25 09:00", 900, currency="NOK"),
        _p("P2", "2026-02-01 09:00", 60, invoice_id="I2"),
    ]
    assert _book(invoices, payments) == [  # in booking order: the EUR account, then NOK
        ("P2", "I1", Decimal("60.00"), "oldest_first", "2026-02-01"),
        ("P1", "I2", Decimal("900.00"), "oldest_first", "2026-01-25"),
        ("C1", "I3", Decimal("50.00"), "oldest_first", "2026-03-01"),
    ]


def test_named_then_reference_then_oldest_first_with_credit_notes_and_credit():
    """The contract's worked example, where both rules agree. D1: C1 (a credit note) pays the
    oldest invoice, I1; P2's reference names I2; P3 names another debtor's invoice, so it is
    unnamed and pays I1, then part of I2 (oldest due date first, whatever the issue order: I4 was
    issued before I2 but falls due later); P1 names I3; P4 pays what is left of I2 and I4 and
    keeps 15 as credit. D2: P5 over-pays the invoice it names; the excess pays I6 when issued."""
    invoices = [
        _i("I1", "2026-01-01", "2026-01-15", 100),
        _i("C1", "2026-01-02", "2026-01-02", 10, kind="credit_note"),
        _i("I4", "2026-01-20", "2026-04-15", 30),
        _i("I2", "2026-02-01", "2026-02-15", 50),
        _i("I3", "2026-03-01", "2026-03-15", 70),
        _i("I5", "2026-01-01", "2026-01-31", 40, debtor="D2"),
        _i("I6", "2026-02-01", "2026-02-28", 40, debtor="D2"),
    ]
    payments = [
        _p("P2", "2026-02-10 09:00", 20, reference="I2"),
        _p("P3", "2026-02-20 09:00", 110, reference="I5"),
        _p("P1", "2026-03-10 09:00", 70, invoice_id="I3"),
        _p("P4", "2026-03-20 09:00", 55),
        _p("P5", "2026-01-25 09:00", 50, invoice_id="I5", debtor="D2"),
    ]
    assert sorted(_book(invoices, payments), key=str) == sorted(
        [
            ("C1", "I1", Decimal("10.00"), "oldest_first", "2026-01-02"),
            ("P2", "I2", Decimal("20.00"), "reference", "2026-02-10"),
            ("P3", "I1", Decimal("90.00"), "oldest_first", "2026-02-20"),
            ("P3", "I2", Decimal("20.00"), "oldest_first", "2026-02-20"),
            ("P1", "I3", Decimal("70.00"), "invoice_id", "2026-03-10"),
            ("P4", "I2", Decimal("10.00"), "oldest_first", "2026-03-20"),
            ("P4", "I4", Decimal("30.00"), "oldest_first", "2026-03-20"),
            ("P4", None, Decimal("15.00"), "credit", "2026-03-20"),
            ("P5", "I5", Decimal("40.00"), "invoice_id", "2026-01-25"),
            ("P5", "I6", Decimal("10.00"), "oldest_first", "2026-02-01"),
        ],
        key=str,
    )


def test_a_partial_payment_leaves_the_rest_open():
    shares = _book([_i("I1", "2026-01-01", "2026-01-31", 100)], [_p("P1", "2026-02-01", 40, "I1")])
    assert shares == [("P1", "I1", Decimal("40.00"), "invoice_id", "2026-02-01")]


def test_a_payment_naming_a_paid_invoice_pays_what_is_open_and_keeps_the_rest_as_credit():
    """Where the rules differ: P1 (unnamed) paid I1 in January. Re-allocating within a later
    cut-off, P2 (naming I1) took I1 back and P1's money moved to I2, so I1's paid date moved and
    I2 was paid in January although nobody paid it then. In the ledger P1's money stays on I1; P2
    pays I2 (the open invoice) and the rest is credit."""
    invoices = [_i("I1", "2026-01-01", "2026-01-15", 100), _i("I2", "2026-01-02", "2026-02-15", 60)]
    payments = [_p("P1", "2026-01-20 09:00", 100), _p("P2", "2026-04-10 09:00", 100, "I1")]
    assert _book(invoices, payments) == [
        ("P1", "I1", Decimal("100.00"), "oldest_first", "2026-01-20"),
        ("P2", "I2", Decimal("60.00"), "oldest_first", "2026-04-10"),
        ("P2", None, Decimal("40.00"), "credit", "2026-04-10"),
    ]


def test_credit_is_applied_when_the_next_invoice_is_issued():
    """A credit balance pays the next invoice on its issue date (not its due date), oldest money
    first. A credit note pays the oldest open invoice (the rest of I2), then the invoice issued
    the same day."""
    invoices = [
        _i("I1", "2026-01-01", "2026-01-31", 50),
        _i("I2", "2026-03-01", "2026-03-31", 70),
        _i("C1", "2026-04-01", "2026-04-01", 20, kind="credit_note"),
        _i("I3", "2026-04-01", "2026-04-30", 30),
    ]
    payments = [_p("P1", "2026-01-10 09:00", 80), _p("P2", "2026-02-10 09:00", 30)]
    assert _book(invoices, payments) == [
        ("P1", "I1", Decimal("50.00"), "oldest_first", "2026-01-10"),
        ("P1", "I2", Decimal("30.00"), "oldest_first", "2026-03-01"),
        ("P2", "I2", Decimal("30.00"), "oldest_first", "2026-03-01"),
        ("C1", "I2", Decimal("10.00"), "oldest_first", "2026-04-01"),
        ("C1", "I3", Decimal("10.00"), "oldest_first", "2026-04-01"),
    ]


def test_a_payment_naming_an_invoice_issued_after_it_counts_as_unnamed():
    """P1 names I2 before I2 exists: it pays the open I1 and its rest is credit, which I2 takes
    when it is issued (so I2's share is applied on its issue date, by the oldest-first rule)."""
    invoices = [_i("I1", "2026-01-01", "2026-01-31", 40), _i("I2", "2026-02-01", "2026-02-28", 60)]
    assert _book(invoices, [_p("P1", "2026-01-15 09:00", 100, "I2")]) == [
        ("P1", "I1", Decimal("40.00"), "oldest_first", "2026-01-15"),
        ("P1", "I2", Decimal("60.00"), "oldest_first", "2026-02-01"),
    ]


def test_only_the_named_debtors_are_booked():
    invoices = [
        _i("I1", "2026-01-01", "2026-01-31", 40),
        _i("I2", "2026-01-01", "2026-01-31", 60, "D2"),
    ]
    payments = [_p("P1", "2026-01-15", 40), _p("P2", "2026-01-15", 60, debtor="D2")]
    assert [s[0] for s in _book(invoices, payments, ["D2"])] == ["P2"]
    assert _book(invoices, payments, []) == []


def _random_book(seed: int, debtors: int) -> tuple[list, list]:
    rng = random.Random(seed)
    invoices, payments = [], []
    for d in range(debtors):
        for k in range(rng.randint(0, 6)):
            day = rng.randint(1, 28)
            kind = "credit_note" if rng.random() < 0.15 else "invoice"
            invoices.append(
                _i(
                    f"I{d}-{k}",
                    f"2026-0{rng.randint(1, 6)}-{day:02d}",
                    f"2026-0{rng.randint(7, 9)}-{day:02d}",
                    rng.randint(1, 300),
                    f"D{d:03d}",
                    kind,
                )
            )
        for k in range(rng.randint(0, 6)):
            named = f"I{d}-{rng.randint(0, 5)}" if rng.random() < 0.5 else None
            payments.append(
                _p(
                    f"P{d}-{k}",
                    f"2026-0{rng.randint(1, 9)}-{rng.randint(1, 28):02d} 10:00",
                    rng.randint(1, 300),
                    named,
                    None,
                    f"D{d:03d}",
                )
            )
    return invoices, payments


def test_streamed_in_small_batches_the_ledger_is_the_same(monkeypatch):
    """Batches are re-cut on debtor boundaries: booking 60 debtors three events at a time gives
    the shares that one batch gives."""
    invoices, payments = _random_book(7, 60)
    whole = _book(invoices, payments)
    monkeypatch.setattr(ledger, "BATCH_ROWS", 3)
    assert _book(invoices, payments) == whole


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nothing_is_created_or_lost(seed):
    """On random books: a payment's or credit note's shares add up to its amount, no invoice gets
    more than its amount, and a debtor keeps credit only when none of its invoices is open."""
    invoices, payments = _random_book(seed, 80)
    shares = _book(invoices, payments)
    money = {p[0]: p[5] for p in payments} | {i[0]: i[5] for i in invoices if i[2] == "credit_note"}
    booked: dict[str, Decimal] = {}
    paid: dict[str, Decimal] = {}
    for payment_id, invoice_id, amount, _, _ in shares:
        assert amount > 0
        booked[payment_id] = booked.get(payment_id, Decimal(0)) + amount
        if invoice_id:
            paid[invoice_id] = paid.get(invoice_id, Decimal(0)) + amount
    assert booked == money
    amounts = {i[0]: i[5] for i in invoices if i[2] == "invoice"}
    assert all(paid[i] <= amounts[i] for i in paid)
    in_credit = {p[1] for p in payments if any(s[0] == p[0] and s[1] is None for s in shares)}
    open_invoices = {i[1] for i in invoices if i[2] == "invoice" and paid.get(i[0], 0) < i[5]}
    assert in_credit and not in_credit & open_invoices


def test_the_worked_example_of_the_dbt_readme():
    """dbt_project/README.md, "Allocation is a ledger": P2 names I1, paid already by P1."""
    invoices = [
        _i("I1", "2026-01-01", "2026-01-15", 100),
        _i("I2", "2026-01-02", "2026-02-15", 60),
        _i("I3", "2026-05-01", "2026-05-31", 50),
    ]
    payments = [_p("P1", "2026-01-20 09:00", 100), _p("P2", "2026-04-10 09:00", 100, "I1")]
    assert _book(invoices, payments) == [
        ("P1", "I1", Decimal("100.00"), "oldest_first", "2026-01-20"),
        ("P2", "I2", Decimal("60.00"), "oldest_first", "2026-04-10"),
        ("P2", "I3", Decimal("40.00"), "oldest_first", "2026-05-01"),
    ]
