"""Friendly reminders before the due date (flows/dunning/pre_due.py) on a hand-made
marts.pre_due_candidates: a likely-late invoice gets one reminder, a low score or an early day
none, a rerun nothing new; the message, the law's answer, and no second message on a ladder day.
Direct debit and suppressed debtors never reach the mart (its dbt unit test)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest
from dunning_world import AS_OF, candidates

from debtflow.flows.dunning import compose, law, policy
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning.letter import render_letter_pdf
from debtflow.flows.dunning.mail import render_email
from debtflow.flows.dunning.messages import LANGUAGES
from debtflow.flows.dunning.send import pending
from debtflow.flows.dunning.sms import render_sms
from debtflow.flows.dunning.wording import wording

PRE_DUE_DDL = """
    as_of DATE, invoice_id VARCHAR, debtor_id VARCHAR, currency VARCHAR, debtor_type VARCHAR,
    country VARCHAR, language VARCHAR, issue_date DATE, due_date DATE, days_to_due INTEGER,
    amount_due DECIMAL(18,2), p_late DOUBLE, late_model_version VARCHAR, email_ok BOOLEAN,
    sms_ok BOOLEAN, phone_ok BOOLEAN"""


@pytest.fixture
def con(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The dunning warehouse with the pre-due candidates beside."""
    con.execute(f"create table marts.pre_due_candidates ({PRE_DUE_DDL})")
    return con


def pre_due(con, as_of: date, invoices: dict[str, tuple[str, float, date]]) -> None:
    """The mart for as_of: invoice -> (debtor, p_late, due date), EUR 80 each, NL consumers
    with e-mail and a mobile; the invoices are open in the settlement the sender reads."""
    con.execute("delete from marts.pre_due_candidates")
    for invoice_id, (debtor_id, p_late, due) in invoices.items():
        con.execute(
            "insert into marts.pre_due_candidates values (?, ?, ?, 'EUR', 'consumer', 'NL', "
            "'nl', ?, ?, ?, 80, ?, 'v1', true, true, true)",
            [as_of, invoice_id, debtor_id, due - timedelta(days=14), due, (due - as_of).days,
             p_late],
        )  # fmt: skip
        con.execute(
            "insert into intermediate.int_invoices_settled select ?, ?, 'invoice', ?, ?, 80, "
            "'EUR', null where ? not in (select invoice_id from intermediate.int_invoices_settled)",
            [invoice_id, debtor_id, due - timedelta(days=14), due, invoice_id],
        )
        con.execute(
            "insert into staging.stg_billing__customer_versions select ?, 'Customer', "
            "'c@example.nl', '+31612345678', 'Kerkstraat 1', '1011 AA', 'Amsterdam', 'NL', 'nl', "
            "timestamp '2020-01-01' where ? not in (select debtor_id from "
            "staging.stg_billing__customer_versions)",
            [debtor_id, debtor_id],
        )


def early(con) -> list[tuple]:
    return con.execute(
        "select debtor_id, invoice_id, channel, fee_amount, deadline, state, state_reason "
        "from dunning.ledger where step = 'pre_due' order by debtor_id, as_of"
    ).fetchall()


DUE = AS_OF + timedelta(days=3)


def test_a_likely_late_invoice_gets_one_friendly_reminder_days_before_due(con, settings):
    """p_late 0.8 three days before the due date (policy: 0.6, 3 days): one free reminder to pay
    by the due date. A score of 0.3, or a due date 5 days away, gets none. Planning again, and
    the next day, plans nothing new; the reminder not sent is dropped once the invoice is paid."""
    candidates(con, AS_OF, {})
    pre_due(con, AS_OF, {"I1": ("D1", 0.8, DUE), "I2": ("D2", 0.3, DUE),
                         "I3": ("D3", 0.9, AS_OF + timedelta(days=5))})  # fmt: skip
    result = planner.plan(con, settings, AS_OF)
    assert result["planned"] == {"pre_due": {"email": 1}}
    assert early(con) == [("D1", "I1", "email", None, DUE, "planned", None)]
    cost = con.execute("select channel_cost from dunning.ledger where step = 'pre_due'").fetchall()
    assert cost == [(policy.policy(settings).channel_cost["email"],)]  # EUR, the policy's currency
    assert planner.plan(con, settings, AS_OF)["planned_total"] == 0
    day2 = AS_OF + timedelta(days=1)
    pre_due(con, day2, {"I1": ("D1", 0.8, DUE), "I2": ("D2", 0.3, DUE)})
    again = planner.plan(con, settings, day2)
    assert again["planned_total"] == 0 and again["carried_over"] == 1
    day3 = AS_OF + timedelta(days=2)
    pre_due(con, day3, {})  # I1 paid
    assert planner.plan(con, settings, day3)["superseded"] == {"no_longer_pre_due": 1}
    assert [row[-2:] for row in early(con)] == [("superseded", "no_longer_pre_due")]


def test_no_pre_due_reminder_on_a_day_a_ladder_step_goes_out(con, settings):
    candidates(con, AS_OF, {"D1": {}})
    pre_due(con, AS_OF, {"I1": ("D1", 0.9, DUE)})
    result = planner.plan(con, settings, AS_OF)
    assert result["planned"] == {"reminder_1": {"email": 1}}


def test_the_pre_due_message_asks_to_pay_the_invoice_by_its_due_date(con, settings):
    candidates(con, AS_OF, {})
    pre_due(con, AS_OF, {"I1": ("D1", 0.8, DUE)})
    planner.plan(con, settings, AS_OF)
    (action,) = pending(con, AS_OF)
    msg = compose.messages(con, [action], policy.policy(settings), AS_OF)[action["idempotency_key"]]
    assert (msg.kind, [i.number for i in msg.invoices], msg.fees) == ("pre_due", ["I1"], ())
    assert msg.total_due == Decimal("80.00") and msg.deadline == DUE
    words = wording(msg)
    assert words.subject.startswith("Vriendelijke herinnering van") and words.costs == ""
    assert "23 november 2026" in words.request
    assert render_sms(msg).startswith("Debtflow Demo B.V.: vriendelijke herinnering, € 80,00")
    for lang in LANGUAGES:  # every language words it, on every channel
        other = dataclasses.replace(msg, language=lang)
        assert wording(other).intro and render_email(other).text and render_sms(other)
        assert render_letter_pdf(other).startswith(b"%PDF")
    due_passed = compose.messages(con, [action], policy.policy(settings), DUE + timedelta(days=1))
    assert due_passed[action["idempotency_key"]] == "paid, disputed or due since the plan"


def test_the_law_allows_a_pre_due_reminder_free_and_only_before_the_due_date():
    ask = {"debtor_type": "consumer", "step_kind": "pre_due", "principal": Decimal("80"),
           "currency": "EUR", "channel": "email", "history": law.History(due_date=DUE)}  # fmt: skip
    for country in ("NL", "BE", "NO", "DE"):
        currency = "NOK" if country == "NO" else "EUR"
        terms = law.terms(country, **{**ask, "currency": currency}, sent_on=AS_OF)
        assert (terms.allowed, terms.fee, terms.costs_if_unpaid) == (True, None, None)
        assert terms.deadline == DUE
    late = law.terms("NL", **ask, sent_on=DUE + timedelta(days=1))
    assert not late.allowed and "no pre-due reminder" in late.reason
