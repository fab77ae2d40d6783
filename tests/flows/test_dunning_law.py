"""The dunning law as worked examples: fees, damages and deadlines per country, and statutes.yml."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.dunning.law import (
    Contract,
    History,
    be_damages,
    deadline,
    nl_collection_costs,
    no_collection_fee,
    no_reminder_fee,
    terms,
)
from debtflow.flows.dunning.messages import LANGUAGES
from debtflow.flows.dunning.statutes import DEFAULT_STATUTES, Clause, load_statutes

D = Decimal
DUE = date(2026, 3, 1)  # a Sunday; the examples run in March 2026


def ask(country, step, principal, sent_on, *, debtor="consumer", channel="email", **history):
    currency = {"NO": "NOK"}.get(country, "EUR")
    contract = history.pop("contract", None)
    past = History(due_date=history.pop("due_date", DUE), **history)
    return terms(
        country, debtor, step, D(principal), currency, sent_on, channel, past, contract=contract
    )


def statutes_with(tmp_path, old: str, new: str):
    text = DEFAULT_STATUTES.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "statutes.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


# --- NL: the WIK scale ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "costs"),
    [
        pytest.param("100", "40.00", id="minimum-40"),
        pytest.param("266.66", "40.00", id="15-percent-below-40"),
        pytest.param("300", "45.00", id="15-percent"),
        pytest.param("1000", "150.00", id="1000"),
        pytest.param("2500", "375.00", id="first-band-full"),
        pytest.param("5000", "625.00", id="plus-10-percent"),
        pytest.param("10000", "875.00", id="plus-5-percent"),
        pytest.param("200000", "2775.00", id="plus-1-percent"),
        pytest.param("500000", "4275.00", id="plus-half-percent"),
        pytest.param("5000000", "6775.00", id="maximum-6775"),
        pytest.param("333.33", "50.00", id="rounded-half-up"),
    ],
)
def test_nl_collection_costs_follow_the_wik_scale(principal, costs):
    assert nl_collection_costs(D(principal)) == D(costs)


def test_nl_vat_goes_on_top_only_when_a_rate_is_given():
    assert nl_collection_costs(D("1000"), vat_rate=D("0.21")) == D("181.50")
    assert nl_collection_costs(D("100"), vat_rate=D("0.21")) == D("48.40")


@pytest.mark.parametrize(
    ("principal", "monthly", "so_far", "costs"),
    [
        pytest.param("100", "100", "0", "40.00", id="below-the-cap"),
        pytest.param("1000", "100", "0", "140.00", id="capped-at-140"),
        pytest.param("100", "100", "120", "20.00", id="what-six-months-leave"),
        pytest.param("100", "100", "140", "0.00", id="cap-used-up"),
        pytest.param("2000", "266.67", "200", "300.00", id="instalment-not-small"),
    ],
)
def test_nl_small_instalments_share_one_cap_per_six_months(principal, monthly, so_far, costs):
    result = nl_collection_costs(
        D(principal), monthly_amount=D(monthly), costs_so_far_in_six_months=D(so_far)
    )
    assert result == D(costs)


def test_nl_veertiendagenbrief_is_free_and_states_the_exact_costs():
    t = ask("NL", "final_notice", "1000", date(2026, 3, 2), channel="letter")
    assert t.allowed and t.fee is None
    assert t.costs_if_unpaid.kind == "collection_costs"
    assert (t.costs_if_unpaid.amount, t.costs_if_unpaid.currency) == (D("150.00"), "EUR")
    assert "Besluit vergoeding" in t.costs_if_unpaid.source.cite
    # Posted Monday, received Wednesday (two days' post), 14 days from Thursday.
    assert t.deadline == date(2026, 3, 18)


def test_nl_costs_are_charged_once_after_the_letters_deadline():
    notice = date(2026, 3, 18)
    early = ask("NL", "agency", "1000", date(2026, 3, 18), reminders=2, notice_deadline=notice)
    late = ask("NL", "agency", "1000", date(2026, 3, 19), reminders=2, notice_deadline=notice)
    again = ask(
        "NL", "reminder", "1000", date(2026, 3, 25), notice_deadline=notice, costs_charged=True
    )
    assert early.fee is None
    assert late.fee.amount == D("150.00") and late.deadline is None
    assert again.fee is None and again.costs_if_unpaid is None


def test_nl_reminder_without_a_veertiendagenbrief_charges_nothing():
    t = ask("NL", "reminder", "1000", date(2026, 3, 5))
    assert (t.allowed, t.fee, t.costs_if_unpaid) == (True, None, None)
    assert t.deadline == date(2026, 3, 19)


def test_nl_veertiendagenbrief_states_what_the_instalment_cap_leaves():
    small = Contract(instalment=D("100"))
    t = ask(
        "NL", "final_notice", "300", date(2026, 3, 2), contract=small, costs_in_six_months=D("120")
    )
    spent = ask(
        "NL", "final_notice", "300", date(2026, 3, 2), contract=small, costs_in_six_months=D("140")
    )
    assert t.costs_if_unpaid.amount == D("20.00")
    assert spent.costs_if_unpaid is None


def test_nl_business_owes_at_least_40_from_the_day_after_the_due_date():
    t = ask("NL", "reminder", "100", date(2026, 3, 2), debtor="business")
    assert t.fee.amount == D("40.00") and "6:96 lid 4" in t.fee.source.cite
    assert ask("NL", "reminder", "1000", date(2026, 3, 2), debtor="business").fee.amount == D(
        "150.00"
    )
    assert (
        ask("NL", "reminder", "100", date(2026, 3, 9), debtor="business", costs_charged=True).fee
        is None
    )


def test_no_step_before_the_invoice_is_overdue():
    t = ask("NL", "reminder", "100", DUE)
    assert not t.allowed and "not overdue" in t.reason and t.earliest == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("sent_on", "channel", "last_day"),
    [
        pytest.param(
            date(2026, 3, 2), "letter", date(2026, 3, 18), id="letter-from-day-after-receipt"
        ),
        pytest.param(date(2026, 3, 2), "email", date(2026, 3, 16), id="email-received-same-day"),
        pytest.param(date(2026, 3, 5), "letter", date(2026, 3, 23), id="saturday-runs-to-monday"),
        pytest.param(
            date(2026, 4, 13), "email", date(2026, 4, 28), id="kings-day-runs-to-next-day"
        ),
    ],
)
def test_nl_deadline(sent_on, channel, last_day):
    assert deadline("NL", channel, sent_on) == last_day


# --- BE: Book XIX --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("balance", "damages"),
    [
        pytest.param("100", "20.00", id="up-to-150"),
        pytest.param("150", "20.00", id="150"),
        pytest.param("150.01", "30.00", id="just-above-150"),
        pytest.param("400", "55.00", id="30-plus-10-percent-above-150"),
        pytest.param("500", "65.00", id="500"),
        pytest.param("1000", "90.00", id="65-plus-5-percent-above-500"),
        pytest.param("38200", "1950.00", id="below-the-cap"),
        pytest.param("100000", "2000.00", id="capped-at-2000"),
    ],
)
def test_be_damages(balance, damages):
    assert be_damages(D(balance)) == D(damages)


@pytest.mark.parametrize(
    ("sent_on", "channel", "last_day"),
    [
        # Friday; Monday is working day 1, Tuesday 21 July is National Day, so Thursday is day 3.
        pytest.param(date(2026, 7, 17), "letter", date(2026, 8, 5), id="weekend-and-holiday"),
        pytest.param(date(2026, 7, 3), "letter", date(2026, 7, 21), id="over-a-weekend"),
        pytest.param(date(2026, 7, 17), "email", date(2026, 7, 31), id="email-from-next-day"),
    ],
)
def test_be_deadline_starts_on_the_third_working_day_after_posting(sent_on, channel, last_day):
    assert deadline("BE", channel, sent_on) == last_day


def test_be_first_reminder_is_free_and_states_the_damages():
    t = ask("BE", "reminder", "1000", date(2026, 7, 17), channel="letter")
    assert t.fee is None
    assert (t.costs_if_unpaid.kind, t.costs_if_unpaid.amount) == ("damages", D("90.00"))
    assert "XIX.4" in t.costs_if_unpaid.source.cite
    assert t.deadline == date(2026, 8, 5)


def test_be_damages_are_charged_once_after_the_first_reminders_deadline():
    past = {"reminders": 1, "notice_deadline": date(2026, 8, 5)}
    within = ask("BE", "reminder", "1000", date(2026, 8, 5), **past)
    after = ask("BE", "reminder", "1000", date(2026, 8, 6), **past)
    assert within.fee is None and within.costs_if_unpaid is None
    assert after.fee.amount == D("90.00")


@pytest.mark.parametrize(
    ("this_year", "sector", "fee"),
    [
        pytest.param(2, None, None, id="third-due-date-free"),
        pytest.param(3, None, D("7.50"), id="fourth-due-date-costs"),
        pytest.param(5, "energy", None, id="energy-excepted"),
        pytest.param(5, "telecom", None, id="telecom-excepted"),
    ],
)
def test_be_periodic_supply_has_three_free_reminders_a_year(this_year, sector, fee):
    contract = Contract(instalment=D("30"), sector=sector)
    t = ask(
        "BE", "reminder", "30", date(2026, 7, 17), contract=contract, reminders_this_year=this_year
    )
    assert (t.fee.amount if t.fee else None) == fee
    assert t.costs_if_unpaid.amount == D("20.00")


def test_be_periodic_reminder_letter_adds_the_configured_postage(tmp_path):
    path = statutes_with(tmp_path, "postage_letter: 0.00", "postage_letter: 1.50")
    t = terms(
        "BE", "consumer", "reminder", D("30"), "EUR", date(2026, 7, 17), "letter",
        History(due_date=DUE, reminders_this_year=3),
        contract=Contract(instalment=D("30")), statutes=load_statutes(path),
    )  # fmt: skip
    assert t.fee.amount == D("9.00")


def test_be_business_owes_a_flat_40_without_notice():
    t = ask("BE", "reminder", "1000", date(2026, 3, 2), debtor="business")
    assert t.fee.amount == D("40.00") and t.costs_if_unpaid is None


# --- NO: inkassoloven ----------------------------------------------------------------------------


def test_no_reminder_fee_is_a_twentieth_of_the_inkassosats():
    assert no_reminder_fee() == D("35.00")


@pytest.mark.parametrize(
    ("principal", "fee"),
    [
        ("500", "175.00"),
        ("500.01", "245.00"),
        ("1000", "245.00"),
        ("1000.01", "280.00"),
        ("2500", "280.00"),
        ("10000", "560.00"),
        ("50000", "1120.00"),
        ("250000", "2520.00"),
        ("250000.01", "5040.00"),
    ],
)
def test_no_light_collection_fee_scale(principal, fee):
    assert no_collection_fee(D(principal)) == D(fee)


def test_no_reminder_is_refused_before_14_days_past_due():
    t = ask("NO", "reminder", "1500", date(2026, 3, 14))  # 13 days past due
    assert not t.allowed and t.fee is None
    assert "14 days after the due date" in t.reason and "inkassoforskriften" in t.reason
    assert t.earliest == date(2026, 3, 15)


def test_no_reminder_at_14_days_carries_the_fee():
    t = ask("NO", "reminder", "1500", date(2026, 3, 15))
    assert t.allowed
    assert (t.fee.kind, t.fee.amount, t.fee.currency) == ("reminder_fee", D("35.00"), "NOK")
    assert t.deadline == date(2026, 3, 29)


def test_no_inkassovarsel_gives_14_days_from_sending_and_states_the_agency_fee():
    t = ask(
        "NO",
        "final_notice",
        "1500",
        date(2026, 3, 30),
        channel="letter",
        reminders=1,
        fees_charged=1,
    )
    assert t.fee.amount == D("35.00")
    assert (t.costs_if_unpaid.kind, t.costs_if_unpaid.amount) == ("collection_fee", D("280.00"))
    assert t.deadline == date(2026, 4, 13)  # the weekday it was sent


def test_no_inkassovarsel_before_14_days_past_due_carries_no_fee():
    t = ask("NO", "final_notice", "1500", date(2026, 3, 10))
    assert t.allowed and t.fee is None and t.costs_if_unpaid.amount == D("280.00")


def test_no_third_fee_after_a_reminder_and_a_fee_bearing_inkassovarsel_is_refused():
    t = ask("NO", "reminder", "1500", date(2026, 4, 20), reminders=2, fees_charged=2)
    assert t.allowed and t.fee is None


def test_no_deadline_is_not_moved_off_a_holiday():
    assert deadline("NO", "letter", date(2027, 5, 3)) == date(2027, 5, 17)


def test_no_agency_only_after_the_inkassovarsels_deadline():
    varsel = date(2026, 4, 13)
    none_sent = ask("NO", "agency", "1500", date(2026, 4, 20))
    too_early = ask("NO", "agency", "1500", varsel, notice_deadline=varsel, fees_charged=2)
    after = ask("NO", "agency", "1500", date(2026, 4, 14), notice_deadline=varsel, fees_charged=2)
    assert not none_sent.allowed and none_sent.earliest is None
    assert not too_early.allowed and too_early.earliest == date(2026, 4, 14)
    assert "inkassoloven" in too_early.reason
    assert after.allowed and after.fee.amount == D("280.00") and after.deadline is None


def test_no_fees_in_another_currency_are_refused_loudly():
    with pytest.raises(DebtflowError, match="NOK"):
        terms(
            "NO", "consumer", "reminder", D("100"), "EUR", date(2026, 3, 20), "email", History(DUE)
        )


# --- elsewhere, and mistakes ---------------------------------------------------------------------


def test_a_country_without_rules_charges_nothing_and_gives_14_days():
    t = ask("DE", "final_notice", "1000", date(2026, 3, 2), channel="letter")
    assert (t.allowed, t.fee, t.costs_if_unpaid, t.deadline) == (
        True,
        None,
        None,
        date(2026, 3, 16),
    )


def test_an_unknown_step_kind_is_refused():
    with pytest.raises(DebtflowError, match="step_kind 'phone_call'"):
        ask("NL", "phone_call", "100", date(2026, 3, 2))


@pytest.mark.parametrize(
    ("old", "new", "key", "fix"),
    [
        pytest.param(
            "{up_to: 2500, rate: 0.15}", "{up_to: 2500, rate: fifteen}",
            "NL.collection_costs.scale[0].rate", "write a plain number", id="rate-not-a-number",
        ),
        pytest.param(
            "    maximum: 6775.00\n", "", "NL.collection_costs.maximum", "add this key", id="missing",
        ),
        pytest.param(
            "from: '09:00', to: '17:00'", "from: '09:00', to: 17:00",
            "sending_hours[0].to", "quotes", id="unquoted-time",
        ),
        pytest.param(
            "timezone: Europe/Oslo", "timezone: Europe/Olso", "NO.timezone", "IANA", id="bad-zone",
        ),
        pytest.param(
            "{up_to: 5000, rate: 0.10}", "{up_to: 1000, rate: 0.10}",
            "NL.collection_costs.scale", "order them", id="scale-not-rising",
        ),
        pytest.param(
            "    max_fees: 2\n", "    max_fees: 2\n    max_feez: 3\n",
            "NO.reminder.max_feez", "spelling", id="unknown-key",
        ),
        pytest.param(
            "'NO':  #", "NO:  #", "NO", "write 'NO'", id="unquoted-NO",
        ),
        pytest.param(
            "[email, sms, app, letter]", "[email, sms, letter]",
            "sending_hours", "add a window", id="channel-without-hours",
        ),
        pytest.param(
            "extra_holidays: ['05-05',", "extra_holidays: ['5 May',",
            "NL.extra_holidays[0]", "MM-DD", id="bad-holiday",
        ),
        pytest.param(
            "        nb: art. XIX.4 i belgisk", "        no: art. XIX.4 i belgisk",
            "BE.damages.source.clause.nb", "add this key", id="clause-without-a-language",
        ),
    ],
)  # fmt: skip
def test_invalid_statutes_name_the_file_the_key_and_the_fix(tmp_path, old, new, key, fix):
    path = statutes_with(tmp_path, old, new)
    with pytest.raises(DebtflowError) as caught:
        load_statutes(path)
    message = str(caught.value)
    assert str(path) in message and f": {key}:" in message
    assert "fix:" in message and fix in message


def test_a_fees_clause_is_written_in_every_language_of_the_messages():
    assert tuple(Clause.model_fields) == LANGUAGES


def test_a_missing_statutes_file_is_named(tmp_path):
    with pytest.raises(DebtflowError, match="nowhere.yml"):
        load_statutes(tmp_path / "nowhere.yml")
