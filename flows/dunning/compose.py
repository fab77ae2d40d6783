"""The Message of each action to send: the ledger row, the debtor's contact data and the open
invoices from the warehouse, the creditor and payment details from the policy.

Contact data is personal: it is read here, handed to the channel and never logged. The invoices
are those the last build left open and overdue in the action's currency; the undisputed ones are
demanded and the disputed ones named as excluded. A pre-due reminder is about its own invoice,
while it is open, undisputed and not due yet.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa

from debtflow.flows.dunning import pre_due
from debtflow.flows.dunning.messages import (
    STEP_KINDS,
    BankTransfer,
    Fee,
    Invoice,
    LapsedPlan,
    Message,
    Party,
    PaymentLink,
    PlanOffer,
    how_to_pay,
)
from debtflow.flows.dunning.plan_offers import split
from debtflow.flows.dunning.policy import Policy

CUSTOMERS = "staging.stg_billing__customer_versions"
SETTLED = "intermediate.int_invoices_settled"
PAYMENTS = "staging.stg_billing__payments"


def messages(
    con: duckdb.DuckDBPyConnection, actions: list[dict], pol: Policy, as_of: date
) -> dict[str, Message | str]:
    """Per idempotency key, the Message, or why there is none (e.g. the invoices were paid
    since the plan)."""
    debtors = sorted({a["debtor_id"] for a in actions})
    if not debtors:
        return {}
    con.register("dunning_send_debtors", _table(debtors))
    try:
        people = {
            row[0]: row[1:]
            for row in con.execute(
                f"select debtor_id, name, email, phone_mobile, street, postal_code, city, "
                f"country, language from {CUSTOMERS} semi join dunning_send_debtors using "
                "(debtor_id) qualify row_number() over (partition by debtor_id "
                "order by valid_from desc) = 1"
            ).fetchall()
        }
        open_invoices: dict[tuple, list] = defaultdict(list)
        for debtor_id, currency, *invoice in con.execute(
            f"select debtor_id, currency, invoice_id, issue_date, due_date, open_amount, "
            f"dispute_date is not null from {SETTLED} semi join dunning_send_debtors using "
            "(debtor_id) where document_type = 'invoice' and open_amount > 0 "
            "order by due_date, invoice_id",
        ).fetchall():
            open_invoices[debtor_id, currency].append(invoice)
        usual = dict(
            con.execute(
                f"select debtor_id, mode(method) from {PAYMENTS} semi join "
                "dunning_send_debtors using (debtor_id) group by debtor_id"
            ).fetchall()
        )
    finally:
        con.unregister("dunning_send_debtors")
    creditor = Party(
        name=pol.creditor.name,
        address=pol.creditor.address,
        phone=pol.creditor.phone,
        email=pol.creditor.email,
    )
    out: dict[str, Message | str] = {}
    for action in actions:
        person = people.get(action["debtor_id"])
        position = open_invoices.get((action["debtor_id"], action["currency"]), [])
        rows = _invoices(action, position, as_of)
        demanded = [
            Invoice(i, issued, due, Decimal(amt)) for i, issued, due, amt, d in rows if not d
        ]
        disputed = [Invoice(i, issued, due, Decimal(amt)) for i, issued, due, amt, d in rows if d]
        if person is None:
            out[action["idempotency_key"]] = "no customer record"
            continue
        if not demanded:
            out[action["idempotency_key"]] = (
                "paid, disputed or due since the plan"
                if action["step_kind"] == pre_due.STEP
                else "nothing overdue any more"
            )
            continue
        name, email, mobile, street, postal_code, city, country, lang = person
        reference = action["invoice_id"] or demanded[0].number
        transfer = BankTransfer(
            iban=pol.creditor.iban, reference=reference, beneficiary=pol.creditor.name
        )
        link = (
            PaymentLink(pol.creditor.payment_link.format(reference=reference))
            if pol.creditor.payment_link
            else None
        )
        out[action["idempotency_key"]] = Message(
            idempotency_key=action["idempotency_key"],
            as_of=action["as_of"],
            language=lang,
            step=action["step"] if action["step"] in STEP_KINDS else _step_for(action["step_kind"]),
            creditor=creditor,
            debtor_name=name or "",
            customer_number=action["debtor_id"],
            postal_address=tuple(
                p for p in (street, f"{postal_code or ''} {city or ''}".strip(), country) if p
            ),
            email=email,
            mobile=mobile,
            currency=action["currency"],
            invoices=tuple(demanded),
            disputed=tuple(disputed),
            fees=_fees(action["fee_kind"], action["fee_amount"], action["fee_basis"]),
            costs_if_unpaid=_fees(
                # the ledger kept no kind for costs planned before it had costs_kind
                action["costs_kind"] or "collection_costs",
                action["costs_if_unpaid"],
                action["costs_basis"],
            ),
            deadline=action["deadline"],
            payment=how_to_pay(usual.get(action["debtor_id"]), transfer, link),
            wording=action["wording"] or "",
            **_plans(action),
        )
    return out


def _plans(action: dict) -> dict:
    """The payment plan that lapsed, and the one offered, as the planner stored them."""
    out = {}
    if action.get("broken_plan_date") and action.get("broken_instalment"):
        out["lapsed_plan"] = LapsedPlan(action["broken_plan_date"], action["broken_instalment"])
    if action.get("plan_offer_ref"):
        amounts = split(Decimal(action["plan_offer_total"]), action["plan_offer_installments"])
        out["plan_offer"] = PlanOffer(
            action["plan_offer_ref"], action["plan_offer_frequency"], tuple(amounts)
        )
    return out


def _invoices(action: dict, rows: list, as_of: date) -> list:
    """A pre-due reminder is about its own invoice while it is not due yet; a ladder step
    demands the overdue invoices (the disputed ones named as excluded)."""
    if action["step_kind"] == pre_due.STEP:
        return [r for r in rows if r[0] == action["invoice_id"] and r[2] >= as_of]
    return [r for r in rows if r[2] < as_of]


def _fees(kind: str, amount, basis) -> tuple[Fee, ...]:
    if amount is None or Decimal(amount) <= 0:
        return ()
    return (Fee(kind, Decimal(amount), basis or ""),)


def _step_for(step_kind: str) -> str:
    """A policy's own step name, worded as the standard step of its kind."""
    return {"final_notice": "final_notice", "agency": "agency"}.get(step_kind, "reminder_1")


def _table(debtors: list[str]) -> pa.Table:
    return pa.table({"debtor_id": pa.array(debtors, pa.string())})
