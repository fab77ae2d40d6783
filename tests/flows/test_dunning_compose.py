"""What a planned message says of the law (flows/dunning/compose.py on the planner's ledger rows):
the costs under the name the debtor's country gives them, and their legal basis in the language
the message is written in."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from dunning_world import AS_OF, candidates

from debtflow.flows.dunning import compose, send
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning.mail import render_email
from debtflow.flows.dunning.policy import policy

NBSP = "\u00a0"
# a consumer 10 days overdue with EUR 1,000: Book XIX damages 65 + 5% of 500 = 90
BE = {"country": "BE", "amount_due": Decimal("1000.00"), "days_past_due": 10}
NO = {"country": "NO", "currency": "NOK", "language": "nb", "amount_due": Decimal("1500.00")}
NOTICE = {"steps_taken": ["reminder_1", "reminder_2"], "days_past_due": 40}


def text(con, settings, debtor: dict, as_of: date = AS_OF) -> str:
    """The e-mail text of the one message the planner plans for D1 on as_of."""
    candidates(con, as_of, {"D1": debtor})
    planner.plan(con, settings, as_of)
    (msg,) = compose.messages(con, send.pending(con, as_of), policy(settings), as_of).values()
    return render_email(msg).text


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("nl", "- Schadevergoeding: € 90,00 (art. XIX.4 Wetboek van economisch recht)"),
        ("fr", "- Indemnité forfaitaire : 90,00 € (art. XIX.4 du Code de droit économique)"),
    ],
)
def test_a_belgian_first_reminder_states_the_book_xix_damages(con, settings, language, line):
    """The free first reminder states the damages owed if it is not paid in time, under the
    name Book XIX gives them and its article in the debtor's language: not the Dutch
    incassokosten, nor the Dutch name of the code in French."""
    body = text(con, settings, {**BE, "language": language}).replace(NBSP, " ")
    assert line in body
    assert "incassokosten" not in body.lower() and "Frais de recouvrement" not in body
    assert {"nl": "Code de droit", "fr": "Wetboek"}[language] not in body


def test_belgian_damages_charged_after_the_deadline_are_called_damages(con, settings):
    """The next step after the first reminder's deadline charges the damages it stated: as
    damages, not as a reminder fee."""
    text(con, settings, {**BE, "language": "nl"})
    con.execute("update dunning.ledger set state = 'sent'")
    later = AS_OF + timedelta(days=15)
    body = text(con, settings, {**BE, "language": "nl", "days_past_due": 25}, later)
    assert "\nSchadevergoeding: € 90,00 (" in body.replace(NBSP, " ")
    assert "Aanmaningskosten" not in body and "incassokosten" not in body.lower()


def test_a_dutch_final_notice_still_states_incassokosten(con, settings):
    """The veertiendagenbrief on EUR 100: the WIK minimum of 40."""
    body = text(con, settings, {**NOTICE, "last_step_date": AS_OF - timedelta(days=15)})
    line = "- Incassokosten: € 40,00 (art. 2 Besluit vergoeding voor buitengerechtelijke"
    assert line in body.replace(NBSP, " ")


def test_a_norwegian_reminder_gives_its_legal_basis_in_norwegian(con, settings):
    """The reminder fee (purregebyr) with its basis as Norwegian cites it, not the English
    commentary of statutes.yml."""
    body = text(con, settings, {**NO, "days_past_due": 14}).replace(NBSP, " ")
    assert "Purregebyr: kr 35,00 (inkassoforskriften § 1-2)" in body
    assert "fee halved" not in body and "claims due from" not in body


def test_a_norwegian_inkassovarsel_states_the_inkassosalaer_in_norwegian(con, settings):
    """The inkassovarsel states the agency's light fee (inkassosalær) the debtor will owe."""
    debtor = {**NO, **NOTICE, "last_step_date": AS_OF - timedelta(days=15)}
    body = text(con, settings, debtor).replace(NBSP, " ")
    assert "- Inkassosalær: kr 280,00 (inkassoforskriften § 2-2)" in body
    assert "Purregebyr: kr 35,00 (inkassoforskriften § 1-2)" in body and "fee halved" not in body
