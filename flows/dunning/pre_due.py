"""Friendly reminders before the due date (policy `pre_due`) for invoices the late-payment model
expects to be paid late.

marts.pre_due_candidates holds the invoices that may get one (not yet due, open, undisputed, of
debtors neither on direct debit nor suppressed) with their p_late; here the policy decides: a
score at or above the threshold, at most days_before_due days before the due date, the channel
(`preferred`: by expected net value, as for the ladder), the frequency cap, and no second message
to a debtor whose ladder step goes out today. One reminder per invoice: the idempotency key is
sha256(debtor | currency | invoice | pre_due). It costs nothing (law.py) and asks to pay by the
due date.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import date

import duckdb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.warehouse import table_columns
from debtflow.flows.dunning import law
from debtflow.flows.dunning.channel_value import PayRates, preferred
from debtflow.flows.dunning.policy import Policy
from debtflow.flows.dunning.statutes import default_statutes

PRE_DUE_CANDIDATES = "marts.pre_due_candidates"
STEP = "pre_due"  # the step name and kind in the ledger, and the step of its contact events


def candidates(con: duckdb.DuckDBPyConnection, pol: Policy, as_of: date) -> list[tuple]:
    """The mart's invoices for as_of that the policy reminds (named tuples), by debtor and due
    date; none when pre-due reminders are off or the mart is not built (a warehouse without it)."""
    rule = pol.pre_due
    if not rule.enabled or not table_columns(con, PRE_DUE_CANDIDATES):
        return []
    cursor = con.execute(
        f"select * from {PRE_DUE_CANDIDATES} where p_late >= ? and days_to_due <= ? "
        "order by debtor_id, due_date, invoice_id",
        [rule.threshold, rule.days_before_due],
    )
    Row = namedtuple("Row", [d[0] for d in cursor.description])  # noqa: PYI024
    rows = [Row(*values) for values in cursor.fetchall()]
    built = {row.as_of for row in rows}
    if built - {as_of}:
        raise DebtflowError(
            f"{PRE_DUE_CANDIDATES} is built for {max(built)}, not {as_of}: run `debtflow "
            f"transform --as-of {as_of}` first"
        )
    return rows


def decide(
    rows: list[tuple], taken: list[dict], pol: Policy, as_of: date, rates: PayRates, key
) -> tuple[list[dict], list[tuple[str, str | None, str]]]:
    """One debtor's pre-due reminder today (its earliest due invoice that qualifies; another
    waits for a later day) and why not, as (currency, step, reason). `taken` as in plan.decide;
    `key` makes the idempotency key."""
    rule = pol.pre_due
    row = next((r for r in rows if r.amount_due >= pol.minimum(r.currency)), None)
    if row is None:
        return [], []
    # a fixed channel is `preferred` among itself alone: its contact data and consent hold
    allowed = rule.channels if rule.channel == "preferred" else (rule.channel,)
    channel, why = preferred(STEP, allowed, row, [row], pol, rates)
    if channel is None:
        return [], [(row.currency, STEP, "no_channel")]
    cap = pol.frequency_cap_days
    if cap and any(t["channel"] == channel and (as_of - t["as_of"]).days < cap for t in taken):
        return [], [(row.currency, STEP, "frequency_cap")]
    terms = _terms(row, channel, as_of)
    if not terms.allowed:
        return [], [(row.currency, STEP, f"statutory: {terms.reason}")]
    action = {
        "idempotency_key": key(row.debtor_id, row.currency, row.invoice_id, STEP),
        "debtor_id": row.debtor_id,
        "country": row.country,
        "currency": row.currency,
        "episode_start": None,
        "step": STEP,
        "step_kind": STEP,
        "ladder": STEP,
        "channel": channel,
        "why_channel": f"{why} (p_late {row.p_late:.2f}, due in {row.days_to_due} days)",
        "invoice_id": row.invoice_id,
        "amount_due": row.amount_due,
        "excluded_invoices": None,
        "fee_kind": None,
        "fee_amount": None,
        "fee_basis": None,
        "costs_if_unpaid": None,
        "costs_kind": None,
        "costs_basis": None,
        "deadline": terms.deadline,
        "channel_cost": pol.cost_of(channel, row.currency),
    }
    return [action], []


def _terms(row, channel: str, as_of: date) -> law.Terms:
    """The law's answer: a pre-due reminder is free and asks to pay by the due date."""
    rules = default_statutes().country(row.country or "")
    country = row.country if rules and rules.currency == row.currency else ""
    return law.terms(
        country,
        row.debtor_type if row.debtor_type in law.DEBTOR_TYPES else "consumer",
        STEP,
        row.amount_due,
        row.currency,
        as_of,
        channel,
        law.History(due_date=row.due_date),
    )
