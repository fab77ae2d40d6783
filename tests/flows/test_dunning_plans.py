"""Payment plans in the planner: a broken plan resumes the ladder at its next step with a
message saying the arrangement lapsed; a plan offer within the policy's limits, stated in the
message; and the reply file through which offers are accepted (flows/dunning/plan_offers.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from dunning_world import AS_OF, candidates

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import get_settings
from debtflow.flows.dunning import compose, plan_offers, send
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning.mail import render_email
from debtflow.flows.dunning.policy import DEFAULT_POLICY, load, policy
from debtflow.flows.dunning.sms import render_sms
from debtflow.flows.dunning.wording import money

NBSP = "\u00a0"
# reminders 1 and 2 taken long ago; the plan agreed then broke; the ladder resumes
RESUMED = {
    "steps_taken": ["reminder_1", "reminder_2"],
    "last_step_date": AS_OF - timedelta(days=120),
    "days_past_due": 150,
    "broken_plan": ("PL9", date(2026, 8, 3), 2),
}


def email(con, settings, debtor: dict, grade: int | None = None) -> str:
    """The e-mail or letter text of the one action the planner plans for D1."""
    candidates(con, AS_OF, {"D1": debtor})
    if grade is not None:
        con.execute("insert into ml.debtor_scores (debtor_id, as_of, grade) values ('D1', ?, ?)",
                    [AS_OF, grade])  # fmt: skip
    planner.plan(con, settings, AS_OF)
    (msg,) = compose.messages(con, send.pending(con, AS_OF), policy(settings), AS_OF).values()
    return render_email(msg).text.replace(NBSP, " ")


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "Your payment arrangement of 3 August 2026 has lapsed because instalment 2 was not paid."),
        ("nl", "Uw betalingsregeling van 3 augustus 2026 is vervallen omdat termijn 2 niet is betaald."),
        ("fr", "Votre plan de paiement du 3 août 2026 est devenu caduc, car l'échéance 2 n'a pas été payée."),
        ("nb", "Betalingsavtalen din av 3. august 2026 har falt bort fordi avdrag 2 ikke ble betalt."),
    ],
)  # fmt: skip
def test_a_broken_plan_resumes_at_the_next_step_and_says_it_lapsed(con, settings, language, line):
    """After reminders 1 and 2 and a plan that broke, the final notice: not reminder_1 again,
    nor the phone call or hand-over its days past due would reach."""
    text = email(con, settings, {**RESUMED, "language": language})
    (row,) = con.execute(
        "select step, broken_plan_id, broken_instalment from dunning.ledger"
    ).fetchall()
    assert row == ("final_notice", "PL9", 2)
    assert line in " ".join(text.split())


def test_no_line_on_a_plan_when_none_broke(con, settings):
    text = email(con, settings, {**RESUMED, "broken_plan": None, "language": "en"})
    assert "arrangement" not in text and "payment plan for" not in text


def test_an_offer_keeps_to_the_policys_limits():
    """Every balance and grade: at least two instalments, no more than the grade's maximum, none
    below the minimum, summing to the balance; none for other grades, small balances, other
    steps, or after a broken plan."""
    pol = policy(get_settings())
    limits = pol.payment_plans
    for grade in range(1, 11):
        for cents in range(0, 200_000, 777):
            balance = Decimal(cents) / 100
            action = {"step": "reminder_2", "amount_due": balance, "currency": "EUR",
                      "idempotency_key": "abc", "broken_plan_id": None}  # fmt: skip
            o = plan_offers.offer(action, grade, pol)
            if grade not in limits.offer_grades or balance < limits.min_balance["default"]:
                assert o is None
                continue
            assert o is not None and o.reference == "PO-ABC"
            amounts = o.amounts
            assert 2 <= len(amounts) <= limits.max_installments[grade]
            assert min(amounts) >= limits.min_installment["default"]
            assert sum(amounts) == balance and len(set(amounts[:-1])) == 1
            # as many as allowed: one more would fall below the minimum, or past the maximum
            more = len(amounts) + 1
            assert more > limits.max_installments[grade] or balance / more < Decimal(25)
    action = {"step": "reminder_1", "amount_due": Decimal(1000), "currency": "EUR",
              "idempotency_key": "abc", "broken_plan_id": None}  # fmt: skip
    assert plan_offers.offer(action, 5, pol) is None
    assert (
        plan_offers.offer({**action, "step": "reminder_2", "broken_plan_id": "P"}, 5, pol) is None
    )
    nok = {**action, "step": "reminder_2", "currency": "NOK", "amount_due": Decimal(1500)}
    assert plan_offers.offer(nok, 4, pol).installments == 3  # NOK's own limits: 1500 / 250 = 6
    assert plan_offers.offer({**nok, "amount_due": Decimal(1499)}, 4, pol) is None


def test_the_offer_is_stored_with_the_action_and_stated_in_its_message(con, settings):
    """Grade 5 owes EUR 1,000.01 at reminder_2: four monthly instalments, the cent on the last."""
    debtor = {"steps_taken": ["reminder_1"], "last_step_date": AS_OF - timedelta(days=20),
              "days_past_due": 30, "amount_due": Decimal("1000.01"), "language": "en"}  # fmt: skip
    text = email(con, settings, debtor, grade=5)
    ref, n, frequency, total = con.execute(
        "select plan_offer_ref, plan_offer_installments, plan_offer_frequency, plan_offer_total "
        "from dunning.ledger"
    ).fetchone()
    assert (n, frequency, total) == (4, "monthly", Decimal("1000.01"))
    flat = " ".join(text.split())
    assert "a payment plan for €1,000.01 in 4 instalments:" in flat
    assert "- Instalment 3: €250.00 - Instalment 4: €250.01" in flat
    assert f"quoting offer reference {ref}" in flat


def reply(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "replies.csv"
    path.write_text(text)
    return path


def test_a_reply_file_with_a_bad_line_loads_nothing_and_a_good_one_loads_once(
    con, settings, tmp_path
):
    for debtor in ("D1", "D2"):
        con.execute(
            "insert into dunning.ledger (idempotency_key, as_of, debtor_id, currency, state, "
            "plan_offer_ref, plan_offer_installments, plan_offer_frequency, plan_offer_total) "
            "values (?, ?, ?, 'EUR', 'sent', ?, 3, 'monthly', 300)",
            [debtor, AS_OF, debtor, f"PO-{debtor}"],
        )
    bad = reply(
        tmp_path, "offer_reference,debtor_id,accepted_on\nPO-D1,,2026-11-21\n,D2,21-11-2026\n"
    )
    with pytest.raises(
        DebtflowError, match=r"replies.csv, line 3, column accepted_on: '21-11-2026'"
    ):
        plan_offers.accept(con, bad)
    unknown = reply(tmp_path, "offer_reference,accepted_on\nPO-D1,2026-11-21\nPO-D9,2026-11-21\n")
    with pytest.raises(DebtflowError, match=r"line 3, column offer_reference: no offer 'PO-D9'"):
        plan_offers.accept(con, unknown)
    assert con.execute("select count(*) from dunning.plan_acceptances").fetchone() == (0,)
    good = reply(
        tmp_path, "offer_reference,debtor_id,accepted_on\nPO-D1,,2026-11-21\n,D2,2026-11-22\n"
    )
    assert plan_offers.accept(con, good)["accepted"] == 2
    again = plan_offers.accept(con, good)
    assert (again["accepted"], again["already_accepted"]) == (0, 2)
    rows = con.execute(
        "select offer_reference, debtor_id, accepted_on, total_amount, installments "
        "from dunning.plan_acceptances order by 1"
    ).fetchall()
    assert rows == [("PO-D1", "D1", date(2026, 11, 21), Decimal("300.00"), 3),
                    ("PO-D2", "D2", date(2026, 11, 22), Decimal("300.00"), 3)]  # fmt: skip


def test_an_sms_says_the_plan_lapsed_and_states_an_offer(con, settings):
    """Reminder 2 by SMS (no e-mail address): first after a broken plan, then, for another
    debtor of grade 5 and EUR 300, with an offer of four instalments (the grade's most)."""
    debtor = {"steps_taken": ["reminder_1"], "last_step_date": AS_OF - timedelta(days=20),
              "days_past_due": 30, "email_ok": False, "language": "en",
              "amount_due": Decimal("300.00")}  # fmt: skip
    candidates(con, AS_OF, {"D1": {**debtor, "broken_plan": ("PL9", date(2026, 8, 3), 2)},
                            "D2": dict(debtor)})  # fmt: skip
    con.execute(
        "insert into ml.debtor_scores (debtor_id, as_of, grade) values ('D2', ?, 5)", [AS_OF]
    )
    planner.plan(con, settings, AS_OF)
    actions = send.pending(con, AS_OF)
    msgs = compose.messages(con, actions, policy(settings), AS_OF)
    texts = {a["debtor_id"]: render_sms(msgs[a["idempotency_key"]]) for a in actions}
    assert texts["D1"].startswith(
        "Your payment arrangement of 3 Aug 2026 has lapsed: instalment 2 was not paid."
    )
    assert "Or pay in 4 instalments of €75.00: reply by " in texts["D2"]
    assert "quoting PO-" in texts["D2"] and "arrangement" not in texts["D2"]


@pytest.mark.parametrize(
    ("language", "even", "uneven"),
    [
        ("en", "Or pay in 4 instalments of {amount}: reply by ",
         "Or pay in 4 instalments of {amount}, the last of {last}: reply by "),
        ("nl", "Of betaal in 4 termijnen van {amount}: reageer voor ",
         "Of betaal in 4 termijnen van {amount}, de laatste van {last}: reageer voor "),
        ("fr", "Ou payez en 4 échéances de {amount} : répondez avant le ",
         "Ou payez en 4 échéances de {amount}, la dernière de {last} : répondez avant le "),
        ("nb", "Eller betal i 4 avdrag på {amount}: svar innen ",
         "Eller betal i 4 avdrag på {amount}, det siste på {last}: svar innen "),
    ],
)  # fmt: skip
def test_an_sms_offer_names_the_last_instalment_when_the_total_does_not_divide(
    con, settings, language, even, uneven
):
    """Grade 5 (four instalments) by SMS: EUR 300.00 is four of 75.00; EUR 300.03 is three of
    75.00 and a last one carrying the 3 cents left over, which the text must name."""
    debtor = {"steps_taken": ["reminder_1"], "last_step_date": AS_OF - timedelta(days=20),
              "days_past_due": 30, "email_ok": False, "language": language}  # fmt: skip
    totals = {"D1": Decimal("300.00"), "D2": Decimal("300.03")}
    candidates(con, AS_OF, {d: {**debtor, "amount_due": t} for d, t in totals.items()})
    for debtor_id in totals:
        con.execute(
            "insert into ml.debtor_scores (debtor_id, as_of, grade) values (?, ?, 5)",
            [debtor_id, AS_OF],
        )
    planner.plan(con, settings, AS_OF)
    actions = send.pending(con, AS_OF)
    msgs = compose.messages(con, actions, policy(settings), AS_OF)
    texts = {a["debtor_id"]: render_sms(msgs[a["idempotency_key"]]) for a in actions}

    def eur(amount: Decimal) -> str:
        return money(amount, "EUR", language).replace(NBSP, " ")

    each = {d: (t / 4).quantize(Decimal("0.01"), ROUND_DOWN) for d, t in totals.items()}
    last = {d: t - 3 * each[d] for d, t in totals.items()}
    assert last == {"D1": each["D1"], "D2": Decimal("75.03")}
    assert even.format(amount=eur(each["D1"])) in texts["D1"]
    assert uneven.format(amount=eur(each["D2"]), last=eur(last["D2"])) in texts["D2"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("offer_at_step: reminder_2", "offer_at_step: phone"), "must be a reminder or final"),
        (("offer_at_step: reminder_2", "offer_at_step: reminder_9"), "is no ladder step"),
        (("{4: 3, 5: 4, 6: 6, 7: 6}", "{4: 3, 5: 4, 6: 6}"), "no entry for offer grades [7]"),
        (("{4: 3, 5: 4,", "{4: 1, 5: 4,"), "must be at least 2"),
    ],
)
def test_a_bad_payment_plans_section_names_the_problem(tmp_path, change, error):
    bad = tmp_path / "policy.yml"
    bad.write_text(DEFAULT_POLICY.read_text().replace(*change))
    with pytest.raises(DebtflowError, match=re.escape(error)):
        load(bad)
