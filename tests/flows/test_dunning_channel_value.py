"""The channel of a `preferred` step by expected net value (flows/dunning/channel_value.py): a
higher observed pay rate wins at equal cost, a small sample is shrunk towards the step's rate,
no data keeps the old order; and the planner stores the reason with the action."""

from __future__ import annotations

from decimal import Decimal

import pytest
from dunning_world import AS_OF, candidates

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning import policy
from debtflow.flows.dunning.channel_value import PayRates, choose

COSTS = {"email": Decimal("0.05"), "sms": Decimal("0.05"), "letter": Decimal("1.20")}


def test_a_higher_observed_pay_rate_wins_at_equal_cost():
    """E-mail 20% of 400, SMS 40% of 400 in the debtor's segment: SMS, though e-mail comes first
    in the old order; both shrink a little towards the step's 30%."""
    rates = PayRates(
        "payer", 50, {("reminder_1", "email", "slow"): (400, 80),
                      ("reminder_1", "sms", "slow"): (400, 160)}
    )  # fmt: skip
    channel, why = choose(rates, "reminder_1", ["email", "sms"], "slow", Decimal(100), COSTS)
    assert channel == "sms"
    assert why.startswith("SMS: highest expected net value")
    assert "SMS 39% paid within 7 days in segment payer=slow (n=400, observed 40%)" in why


def test_a_small_sample_is_shrunk_towards_the_steps_rate():
    """5 of 5 e-mailed debtors in a segment paid: with a prior worth 50 debtors at the step's
    rate over every channel and segment, P is (5 + 50 m) / (5 + 50), far from 100%."""
    cells = {
        ("reminder_1", "email", "new"): (5, 5),
        ("reminder_1", "email", "old"): (300, 60),
        ("reminder_1", "letter", "old"): (95, 35),
        ("reminder_2", "email", "new"): (1000, 900),  # another step: not in its prior
    }
    rates = PayRates("tenure", 50, cells)
    m = (5 + 60 + 35) / (5 + 300 + 95)
    assert rates.rate("reminder_1", "email", "new").p == pytest.approx((5 + 50 * m) / 55)
    assert rates.rate("reminder_1", "email", "new").p == pytest.approx(0.3181818)
    # never contacted by SMS in the segment: the step's rate; an unknown segment pools all
    assert rates.rate("reminder_1", "sms", "new").p == pytest.approx(m)
    assert rates.rate("reminder_1", "email", None).p == pytest.approx((65 + 50 * m) / 355)
    # without a prior the sample speaks for itself
    assert PayRates("tenure", 0, cells).rate("reminder_1", "email", "new").p == 1.0


@pytest.mark.parametrize(
    "options, expected",
    [(["email", "sms", "letter"], "email"), (["sms", "letter"], "sms"), (["letter"], "letter")],
)
def test_no_data_keeps_the_old_order(options, expected):
    """No contacts at the step: every channel has the same P, so the cheapest wins (e-mail,
    else SMS, else a letter); equal costs too go to the earlier channel of that order."""
    costs = {"email": Decimal("0.01"), "sms": Decimal("0.08"), "letter": Decimal("1.20")}
    empty = PayRates("payer", 50, {("reminder_2", "sms", "slow"): (100, 90)})
    channel, why = choose(empty, "reminder_1", options, "slow", Decimal(500), costs)
    assert channel == expected
    assert "no pay rates for reminder_1 yet, the cheapest" in why
    same = {c: Decimal("0.05") for c in costs}
    assert choose(empty, "reminder_1", options, "slow", Decimal(500), same)[0] == expected


def _performance(con, as_of, rows) -> None:
    """marts.channel_performance as dbt builds it (the columns the planner reads), and the
    debtors' segments in marts.dim_debtors."""
    con.execute(
        "create or replace table marts.channel_performance (channel VARCHAR, step VARCHAR, "
        "variant VARCHAR, segment_dimension VARCHAR, segment VARCHAR, observed_7d_debtors "
        "INTEGER, paid_7d_observed_debtors INTEGER, as_of DATE)"
    )
    con.executemany(
        "insert into marts.channel_performance values (?, ?, null, ?, ?, ?, ?, ?)",
        [(*row, as_of) for row in rows],
    )
    con.execute(
        "create or replace table marts.dim_debtors as select * from (values "
        "('D1', 'frequent_late'), ('D2', 'punctual')) t(debtor_id, segment_payer)"
    )


def test_the_planner_chooses_by_the_days_rates_and_stores_why(con, settings):
    """Frequent late payers answer SMS (45% of 600 paid within 7 days) more than e-mail (10%
    of 800); punctual ones e-mail. A debtor without a mobile number gets e-mail whatever the
    rates; a final notice stays a letter."""
    _performance(con, AS_OF, [
        ("email", "reminder_1", "payer", "frequent_late", 800, 80),
        ("sms", "reminder_1", "payer", "frequent_late", 600, 270),
        ("email", "reminder_1", "payer", "punctual", 900, 630),
        ("sms", "reminder_1", "payer", "punctual", 100, 60),
        ("letter", "reminder_1", "payer", "punctual", 100, 10),
        ("letter", "final_notice", "payer", "frequent_late", 50, 40),
        ("email", "reminder_1", "all", "all", 1, 1),  # another dimension: not read
    ])  # fmt: skip
    candidates(con, AS_OF, {"D1": {}, "D2": {}, "D3": {"sms_ok": False}})
    plan = planner.plan(con, settings, AS_OF)
    assert plan["planned"] == {"reminder_1": {"sms": 1, "email": 2}}
    why = dict(con.execute("select debtor_id, why_channel from dunning.ledger").fetchall())
    assert why["D1"].startswith("SMS: highest expected net value; e-mail 12% paid within 7 ")
    assert "in segment payer=frequent_late (n=800, observed 10%), cost 0.01" in why["D1"]
    assert "@" not in why["D1"] and "Customer" not in why["D1"]
    assert why["D2"].startswith("e-mail: highest expected net value")
    assert "over all segments" in why["D3"]  # not in dim_debtors


def test_rates_built_for_another_day_are_refused(con, settings):
    _performance(con, AS_OF, [("email", "reminder_1", "payer", "punctual", 9, 3)])
    candidates(con, AS_OF, {"D1": {}})
    con.execute("update marts.channel_performance set as_of = as_of - 1")
    with pytest.raises(DebtflowError, match="channel_performance is built for 2026-11-19"):
        planner.plan(con, settings, AS_OF)


def test_a_final_notice_stays_a_letter(tmp_path):
    """`preferred` may not pick the final notice's channel: the law wants a letter."""
    text = policy.DEFAULT_POLICY.read_text()
    bad = tmp_path / "policy.yml"
    bad.write_text(text.replace("kind: final_notice\n        channel: letter",
                                "kind: final_notice\n        channel: preferred"))  # fmt: skip
    assert bad.read_text() != text
    with pytest.raises(DebtflowError, match="final_notice is the legally required letter"):
        policy.load(bad)


def test_an_action_stores_its_channel_cost_in_its_own_currency(con, settings):
    """The policy's costs are in EUR: a NOK action stores the EUR cost / 0.085 in cents, an EUR
    action the EUR cost, an action in a currency without a rate NULL (unknown, not the EUR
    figure)."""
    pol = policy.policy(settings)
    assert pol.channel_choice.exchange_rates["NOK"] == Decimal("0.085")
    assert pol.channel_cost["email"] == Decimal("0.01")
    candidates(con, AS_OF, {"D1": {}, "D2": {"currency": "NOK"}, "D3": {"currency": "CHF"}})
    planner.plan(con, settings, AS_OF)
    stored = con.execute(
        "select debtor_id, currency, channel, channel_cost from dunning.ledger order by 1"
    ).fetchall()
    assert stored == [
        ("D1", "EUR", "email", Decimal("0.01")),
        ("D2", "NOK", "email", Decimal("0.12")),  # 0.01 / 0.085 = 0.1176
        ("D3", "CHF", "email", None),
    ]


def test_the_cost_in_another_currency_is_rounded_to_cents():
    choice = policy.ChannelChoice(cost_currency="EUR", exchange_rates={"nok": Decimal("0.085")})
    assert choice.from_cost_currency(Decimal("1.20"), "NOK") == Decimal("14.12")  # 14.1176
    assert choice.from_cost_currency(Decimal("2.50"), "nok") == Decimal("29.41")  # 29.4118
    assert choice.from_cost_currency(Decimal("0.08"), "EUR") == Decimal("0.08")
    assert choice.from_cost_currency(Decimal("0.08"), "SEK") is None
    with pytest.raises(ValueError, match=r"exchange_rates must be positive: \['NOK'\]"):
        policy.ChannelChoice(exchange_rates={"NOK": Decimal("0")})
