"""A hand-made warehouse for the dunning tests: marts.dunning_candidates as dbt builds it, and
the customers, open invoices and payments the sender reads to write each message."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
from dunning_mart import create_candidates

from debtflow.flows.core.warehouse import ensure_schema

AS_OF = date(2026, 11, 20)  # a Friday
FRIDAY_10 = "2026-11-20T10:00"

CANDIDATE = {
    "currency": "EUR",
    "debtor_type": "consumer",
    "country": "NL",
    "language": "nl",
    "episode_start": None,  # default: the oldest due date
    "days_past_due": 10,
    "amount_due": Decimal("100.00"),
    "disputed_amount": Decimal("0.00"),
    "disputed_invoice_ids": None,
    "steps_taken": [],
    "last_step_date": None,
    "email_ok": True,
    "sms_ok": True,
    "phone_ok": True,
    "suppression_reason": None,
}


def create(con: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(con)
    for schema in ("marts", "staging", "intermediate"):
        con.execute(f"create schema if not exists {schema}")
    create_candidates(con)
    con.execute(
        "create or replace table staging.stg_billing__customer_versions (debtor_id VARCHAR, "
        "name VARCHAR, email VARCHAR, phone_mobile VARCHAR, street VARCHAR, postal_code VARCHAR, "
        "city VARCHAR, country VARCHAR, language VARCHAR, valid_from TIMESTAMP)"
    )
    con.execute(
        "create or replace table intermediate.int_invoices_settled (invoice_id VARCHAR, "
        "debtor_id VARCHAR, document_type VARCHAR, issue_date DATE, due_date DATE, "
        "open_amount DECIMAL(18,2), currency VARCHAR, dispute_date DATE)"
    )
    con.execute(
        "create or replace table staging.stg_billing__payments (payment_id VARCHAR, "
        "debtor_id VARCHAR, method VARCHAR)"
    )


def candidates(con: duckdb.DuckDBPyConnection, as_of: date, debtors: dict[str, dict]) -> None:
    """The mart for `as_of` (it holds one date): one position per debtor, or one per entry of
    `positions` (a list of overrides per currency). Also writes each debtor's customer record
    and its open invoices, so the sender can compose the message."""
    con.execute("delete from marts.dunning_candidates")
    for debtor_id, overrides in debtors.items():
        for n, position in enumerate(overrides.pop("positions", [{}]) if overrides else [{}]):
            row = {**CANDIDATE, **overrides, **position}
            due = as_of - timedelta(days=row["days_past_due"])
            row["episode_start"] = row["episode_start"] or due
            invoice = row.pop("invoice", f"INV-{debtor_id}-{n}")
            con.execute(
                "insert into marts.dunning_candidates by position values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, null, null, null)",
                [as_of, debtor_id, row["currency"], row["debtor_type"], row["country"],
                 row["language"], row["episode_start"], row["days_past_due"], row["amount_due"],
                 invoice, row["disputed_amount"], row["disputed_invoice_ids"],
                 row["steps_taken"], row["last_step_date"], row["email_ok"], row["sms_ok"],
                 row["phone_ok"], row["suppression_reason"]],
            )  # fmt: skip
            if row.get("broken_plan"):
                con.execute(
                    "update marts.dunning_candidates set broken_plan_id = ?, broken_plan_date = ?, "
                    "broken_instalment = ? where debtor_id = ? and currency = ?",
                    [*row["broken_plan"], debtor_id, row["currency"]],
                )
            con.execute(
                "delete from intermediate.int_invoices_settled where invoice_id = ?", [invoice]
            )
            if row["amount_due"] > 0:
                con.execute(
                    "insert into intermediate.int_invoices_settled values "
                    "(?, ?, 'invoice', ?, ?, ?, ?, null)",
                    [invoice, debtor_id, due - timedelta(days=14), due, row["amount_due"],
                     row["currency"]],
                )  # fmt: skip
        con.execute(
            "delete from staging.stg_billing__customer_versions where debtor_id = ?", [debtor_id]
        )
        con.execute(
            "insert into staging.stg_billing__customer_versions values "
            "(?, ?, ?, ?, 'Kerkstraat 1', '1011 AA', 'Amsterdam', ?, ?, timestamp '2020-01-01')",
            [debtor_id, f"Customer {debtor_id}", f"{debtor_id.lower()}@example.nl",
             "+31612345678", row["country"], row["language"]],
        )  # fmt: skip


def ledger(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """debtor -> [(step, channel, currency, amount_due, state)] in key order."""
    out: dict[str, list[tuple]] = {}
    for debtor_id, *rest in con.execute(
        "select debtor_id, step, channel, currency, amount_due, state from dunning.ledger "
        "order by debtor_id, currency, as_of"
    ).fetchall():
        out.setdefault(debtor_id, []).append(tuple(rest))
    return out
