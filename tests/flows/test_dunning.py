"""The dunning planner (flows/dunning/plan.py) on a hand-made marts.dunning_candidates: steps in
order with the episode's history, channels and their fallbacks, disputes, currencies, carried-over
actions, caps, every suppression reason, the law's fees and refusals, and the policy file."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from dunning_world import AS_OF, candidates, ledger

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import SOURCE_ROOT, get_settings
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning import policy

STEPS = ["reminder_1", "reminder_2", "final_notice", "phone", "agency"]


def plan(con, settings, as_of=AS_OF) -> dict:
    return planner.plan(con, settings, as_of)


def test_the_hand_made_mart_has_the_columns_dbt_documents(con):
    """dunning_mart.py, which the dunning and scoring tests fill by hand, keeps to the mart dbt
    builds: the columns _dunning__models.yml lists for dunning_candidates, in that order."""
    models = SOURCE_ROOT / "dbt_project" / "models" / "marts" / "dunning" / "_dunning__models.yml"
    (mart,) = [m for m in yaml.safe_load(models.read_text())["models"]
               if m["name"] == "dunning_candidates"]  # fmt: skip
    made = con.execute("select * from marts.dunning_candidates limit 0").description
    assert [c[0] for c in made] == [c["name"] for c in mart["columns"]]


def test_a_debtor_never_reminded_gets_the_first_step_not_the_agency(con, settings):
    """85 days overdue and never reminded: the first reminder, not the hand-over its days past
    due would reach. Steps are never skipped."""
    candidates(con, AS_OF, {"D1": {"days_past_due": 85}})
    result = plan(con, settings)
    assert ledger(con) == {"D1": [("reminder_1", "email", "EUR", Decimal("100.00"), "planned")]}
    assert result["planned"] == {"reminder_1": {"email": 1}}


@pytest.mark.parametrize(
    "taken, last_days_ago, days_past_due, expected",
    [
        pytest.param(["reminder_1"], 20, 30, "reminder_2", id="continues-after-reminder_1"),
        pytest.param(["reminder_1", "reminder_2"], 15, 40, "final_notice", id="then-final-notice"),
        pytest.param(["reminder_1", "reminder_2"], 5, 40, None, id="gap-not-passed"),
        pytest.param(["reminder_1"], 20, 15, None, id="not-due-for-reminder_2"),
        pytest.param(["final_notice"], 30, 60, "phone", id="history-from-the-landing-data"),
        pytest.param(STEPS, 30, 120, None, id="ladder-complete"),
    ],
)
def test_the_ladder_continues_where_the_episode_stands(
    con, settings, taken, last_days_ago, days_past_due, expected
):
    """The contact history of the current episode (from the landing data) counts: going live
    continues each debtor's ladder where it stands, after the step's minimum gap."""
    last = AS_OF - timedelta(days=last_days_ago)
    candidates(
        con,
        AS_OF,
        {"D1": {"steps_taken": taken, "last_step_date": last, "days_past_due": days_past_due}},
    )
    result = plan(con, settings)
    steps = [step for step, *_ in ledger(con).get("D1", [])]
    assert steps == ([expected] if expected else [])
    if expected is None:
        assert sum(result["waiting"].values()) == 1


def test_a_phone_step_without_a_mobile_number_is_no_letter_saying_phone_call(
    con, settings, tmp_path, monkeypatch
):
    """The phone step has no fallback in the default policy: nothing is sent and the reason is
    kept. A policy may fall back to a letter, which is then the step's own letter."""
    taken = {"steps_taken": ["reminder_1", "reminder_2", "final_notice"], "days_past_due": 60,
             "last_step_date": AS_OF - timedelta(days=20), "phone_ok": False}  # fmt: skip
    candidates(con, AS_OF, {"D1": dict(taken)})
    assert plan(con, settings)["suppressed"] == {"no_channel": 1}
    assert ledger(con) == {}
    assert con.execute("select step, reason from dunning.suppressed").fetchall() == [
        ("phone", "no_channel")
    ]
    custom = tmp_path / "policy.yml"
    text = policy.DEFAULT_POLICY.read_text().replace("fallback: none", "fallback: letter")
    custom.write_text(text)
    monkeypatch.setenv("DEBTFLOW_DUNNING_POLICY", str(custom))
    plan(con, get_settings())
    (action,) = con.execute("select step, channel, why_channel from dunning.ledger").fetchall()
    assert action == ("phone", "letter", "fallback: no usable phone contact")


def test_disputed_invoices_neither_drive_nor_count(con, settings):
    """Only undisputed overdue invoices drive the step and the amount (the mart computes them);
    the disputed ones travel as excluded, and a debtor whose overdue invoices are all disputed
    is suppressed."""
    candidates(
        con,
        AS_OF,
        {
            "D1": {
                "amount_due": Decimal("60.00"),
                "disputed_amount": Decimal("900.00"),
                "disputed_invoice_ids": "INV-X",
            },  # fmt: skip
            "D2": {"amount_due": Decimal("0.00"), "suppression_reason": "disputed"},
        },
    )
    result = plan(con, settings)
    (row,) = con.execute("select amount_due, excluded_invoices from dunning.ledger").fetchall()
    assert row == (Decimal("60.00"), "INV-X")
    assert result["suppressed"] == {"disputed": 1}


def test_currencies_are_never_summed(con, settings):
    candidates(
        con,
        AS_OF,
        {"D1": {"positions": [{"currency": "EUR", "amount_due": Decimal("100.00")},
                              {"currency": "NOK", "amount_due": Decimal("900.00")}]}},
    )  # fmt: skip
    plan(con, settings)
    assert [(c, a) for _, _, c, a, _ in ledger(con)["D1"]] == [
        ("EUR", Decimal("100.00")),
        ("NOK", Decimal("900.00")),
    ]


def test_a_currency_all_disputed_leaves_the_others_dunned(con, settings):
    candidates(
        con,
        AS_OF,
        {"D1": {"positions": [
            {"currency": "EUR", "amount_due": Decimal("0"), "suppression_reason": "disputed"},
            {"currency": "NOK", "amount_due": Decimal("900.00")},
        ]}},
    )  # fmt: skip
    result = plan(con, settings)
    assert [(c, a) for _, _, c, a, _ in ledger(con)["D1"]] == [("NOK", Decimal("900.00"))]
    assert result["suppressed"] == {"disputed": 1}


def test_a_partial_payment_does_not_restart_the_ladder(con, settings):
    """The episode, not the oldest invoice, names the action: paying only the oldest invoice
    (a new reference invoice the next day) sends no second first reminder."""
    candidates(con, AS_OF, {"D1": {"days_past_due": 10, "episode_start": date(2026, 11, 10)}})
    plan(con, settings)
    con.execute("update dunning.ledger set state = 'sent'")
    later = AS_OF + timedelta(days=3)
    candidates(
        con,
        later,
        {"D1": {"days_past_due": 8, "episode_start": date(2026, 11, 10), "invoice": "INV-2"}},
    )
    result = plan(con, settings, later)
    assert result["planned_total"] == 0 and result["waiting"] == {"not_due_yet": 1}
    assert len(ledger(con)["D1"]) == 1


def test_planning_twice_plans_nothing_new(con, settings):
    candidates(con, AS_OF, {"D1": {}, "D2": {"days_past_due": 30}})
    assert plan(con, settings)["planned_total"] == 2
    again = plan(con, settings)
    assert again["planned_total"] == 0 and again["already_planned"] == 2
    assert con.execute("select count(*) from dunning.ledger").fetchone() == (2,)


def test_actions_not_sent_carry_over_until_superseded_or_expired(con, settings):
    """A failed day's actions are not stranded: they stay planned for the next run, are
    superseded when the debtor paid, disputed or reached the next step, and expire after the
    policy's days."""
    candidates(con, AS_OF, {"PAID": {}, "DISPUTES": {}, "WAITS": {}, "OLD": {}})
    plan(con, settings)
    day2 = AS_OF + timedelta(days=1)
    candidates(
        con,
        day2,
        {"DISPUTES": {"amount_due": Decimal("0"), "suppression_reason": "disputed"},
         "WAITS": {}, "OLD": {}},
    )  # fmt: skip
    result = plan(con, settings, day2)
    assert result["carried_over"] == 2
    assert result["superseded"] == {"paid": 1, "disputed": 1}
    states = dict(con.execute("select debtor_id, state from dunning.ledger").fetchall())
    assert states == {"PAID": "superseded", "DISPUTES": "superseded", "WAITS": "planned",
                      "OLD": "planned"}  # fmt: skip
    expire = AS_OF + timedelta(days=7)
    candidates(con, expire, {"WAITS": {}, "OLD": {}})
    assert plan(con, settings, expire)["expired"] == 2


def test_a_later_step_supersedes_one_still_waiting(con, settings):
    """The first reminder waited (no sending window); meanwhile the landing data shows one was
    sent by the billing system: the second reminder is due, and replaces the waiting one."""
    candidates(con, AS_OF, {"D1": {"days_past_due": 10}})
    plan(con, settings)
    later = AS_OF + timedelta(days=3)
    candidates(con, later, {"D1": {"days_past_due": 25, "steps_taken": ["reminder_1"],
                                   "last_step_date": AS_OF - timedelta(days=20)}})  # fmt: skip
    result = plan(con, settings, later)
    assert result["superseded"] == {"next_step": 1}
    assert [(s, st) for s, _, _, _, st in ledger(con)["D1"]] == [
        ("reminder_1", "superseded"),
        ("reminder_2", "planned"),
    ]


def test_the_frequency_cap_holds_a_second_message_on_a_channel(con, settings):
    con.execute(
        "insert into dunning.ledger (idempotency_key, as_of, debtor_id, episode_start, step, "
        "channel, state) values ('k', ?, 'D1', date '2020-01-01', 'reminder_1', 'email', 'sent')",
        [AS_OF - timedelta(days=2)],
    )
    candidates(con, AS_OF, {"D1": {}})
    assert plan(con, settings)["suppressed"] == {"frequency_cap": 1}


@pytest.mark.parametrize(
    "overrides, reason",
    [
        ({"suppression_reason": "deceased"}, "deceased"),
        ({"suppression_reason": "bankrupt"}, "bankrupt"),
        ({"suppression_reason": "debt_restructuring"}, "debt_restructuring"),
        ({"suppression_reason": "active_plan"}, "active_plan"),
        ({"suppression_reason": "placed_with_agency"}, "placed_with_agency"),
        ({"suppression_reason": "disputed", "amount_due": Decimal("0")}, "disputed"),
        ({"amount_due": Decimal("4.99")}, "below_min_amount"),
        ({"currency": "NOK", "country": "NO", "amount_due": Decimal("49")}, "below_min_amount"),
        (
            {"country": "NO", "currency": "NOK", "amount_due": Decimal("900"), "days_past_due": 10},
            "statutory",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_suppression_reason_is_stored(con, settings, overrides, reason):
    candidates(con, AS_OF, {"D1": overrides})
    result = plan(con, settings)
    assert result["planned_total"] == 0
    (stored,) = con.execute(
        "select reason from dunning.suppressed where debtor_id = 'D1'"
    ).fetchall()
    assert stored[0].split(":")[0] == reason
    assert sum(result["suppressed"].values()) == 1


def test_a_final_notice_states_the_statutory_costs_and_the_deadline(con, settings):
    """NL consumer, EUR 1,000 overdue: the veertiendagenbrief is free and states the WIK costs
    (15% of 1,000 = 150) with their legal basis, and 14 days from the day after receipt."""
    candidates(
        con,
        AS_OF,
        {"D1": {"amount_due": Decimal("1000.00"), "days_past_due": 40,
                "steps_taken": ["reminder_1", "reminder_2"],
                "last_step_date": AS_OF - timedelta(days=15)}},
    )  # fmt: skip
    plan(con, settings)
    row = con.execute(
        "select step, channel, fee_amount, costs_if_unpaid, costs_basis, deadline, "
        "policy_version from dunning.ledger"
    ).fetchone()
    step, channel, fee, costs, basis, deadline, version = row
    assert (step, channel, fee, costs) == ("final_notice", "letter", None, Decimal("150.00"))
    assert "Besluit vergoeding voor buitengerechtelijke incassokosten" in basis
    assert deadline > AS_OF + timedelta(days=14)  # post delay and the day after receipt
    assert version == policy.policy(settings).label


def test_a_norwegian_reminder_waits_for_14_days_past_due(con, settings):
    debtor = {"country": "NO", "currency": "NOK", "amount_due": Decimal("900.00")}
    candidates(con, AS_OF, {"D1": {**debtor, "days_past_due": 13}})
    assert plan(con, settings)["planned_total"] == 0
    later = AS_OF + timedelta(days=1)
    candidates(con, later, {"D1": {**debtor, "days_past_due": 14}})
    plan(con, settings, later)
    assert con.execute("select step, fee_amount from dunning.ledger").fetchall() == [
        ("reminder_1", Decimal("35.00"))
    ]


def test_planning_refuses_a_mart_built_for_another_day(con, settings):
    candidates(con, AS_OF, {"D1": {}})
    with pytest.raises(DebtflowError, match="built for 2026-11-20, not 2026-11-21"):
        plan(con, settings, AS_OF + timedelta(days=1))


def test_a_bad_policy_names_the_key_and_the_fix(tmp_path):
    bad = tmp_path / "policy.yml"
    bad.write_text(
        policy.DEFAULT_POLICY.read_text()
        .replace("min_days_past_due: 21", "min_days_past_due: 2")
        .replace("kind: call", "kind: ring")
    )
    with pytest.raises(DebtflowError) as error:
        policy.load(bad)
    assert str(bad) in str(error.value)
    assert "ladders.0.steps.3.kind: Input should be 'reminder'" in str(error.value)
    done = subprocess.run(
        [sys.executable, "-m", "debtflow.flows.cli", "dunning", "check-policy", str(bad)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "ladders.0.steps.3.kind" in done.stderr
    ok = policy.DEFAULT_POLICY.read_text().replace("kind: call", "kind: reminder")
    bad.write_text(ok.replace("min_days_past_due: 21", "min_days_past_due: 2"))
    with pytest.raises(DebtflowError, match="min_days_past_due must not decrease"):
        policy.load(bad)
