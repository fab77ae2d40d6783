"""Payment-plan offers: what the policy's payment_plans section offers a debtor at its step, and
the reply file through which debtors accept (`debtflow plans accept FILE`).

An accepted offer is written to dunning.plan_acceptances with the terms the offer stated; dbt
reads it beside the landing plans (marts/dunning/plan_instalments.sql), so from the day after
acceptance it is a plan like any other: kept, it suppresses the ladder; broken, the ladder
resumes. How a plan's total splits into instalments is stated here for the message and in
plan_instalments.sql for adherence: total / n rounded down to the cent, the rest on the last.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import duckdb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.warehouse import LEDGER, PLAN_ACCEPTANCES
from debtflow.flows.dunning.policy import Policy

CENT = Decimal("0.01")
OFFER_COLUMNS = ("plan_offer_ref", "plan_offer_installments", "plan_offer_frequency",
                 "plan_offer_total")  # fmt: skip
REPLY_COLUMNS = ("debtor_id", "offer_reference", "accepted_on")


@dataclass(frozen=True)
class Offer:
    reference: str
    total: Decimal
    installments: int
    frequency: str

    @property
    def amounts(self) -> list[Decimal]:
        return split(self.total, self.installments)


def split(total: Decimal, n: int) -> list[Decimal]:
    """`total` in `n` instalments: each total / n rounded down to the cent, the rest on the last."""
    cents = int(Decimal(total) / CENT)
    each = cents // n
    return [Decimal(each) * CENT] * (n - 1) + [Decimal(cents - each * (n - 1)) * CENT]


def offer(action: dict, grade: int | None, pol: Policy) -> Offer | None:
    """The plan offered with this action, if the policy makes one: at its step, for a grade it
    names, on a balance of at least min_balance; as many instalments as the grade allows but
    none below min_installment (at least two, or no offer). Not after a broken plan."""
    plans = pol.payment_plans
    if plans is None or action["step"] != plans.offer_at_step or action.get("broken_plan_id"):
        return None
    if grade is None or grade not in plans.offer_grades:
        return None
    balance = Decimal(action["amount_due"])
    if balance < plans.amount(plans.min_balance, action["currency"]):
        return None
    floor = plans.amount(plans.min_installment, action["currency"])
    n = min(plans.max_installments[grade], int(balance // floor))
    if n < 2:
        return None
    ref = "PO-" + action["idempotency_key"][:10].upper()
    return Offer(ref, balance, n, plans.frequency)


def attach(actions: list[dict], grades: dict[str, int], pol: Policy) -> None:
    """Give each action its offer's columns (None without one)."""
    for action in actions:
        o = offer(action, grades.get(action["debtor_id"]), pol)
        values = (o.reference, o.installments, o.frequency, o.total) if o else (None,) * 4
        action.update(zip(OFFER_COLUMNS, values, strict=True))


def accept(con: duckdb.DuckDBPyConnection, path: Path) -> dict:
    """Record the acceptances in the reply file `path` (CSV: offer_reference or debtor_id, and
    accepted_on). Every line is checked first: one bad line loads nothing, and the error names
    the file, the line and the column. An offer accepted before (this file loaded again) is
    left as it was."""
    rows = _read(path)
    offers = _sent_offers(con)
    by_debtor: dict[str, list[tuple]] = {}
    for o in offers.values():
        by_debtor.setdefault(o[0], []).append(o)
    accepted: list[tuple] = []
    for line, row in rows:
        ref = (row.get("offer_reference") or "").strip()
        debtor = (row.get("debtor_id") or "").strip()
        if ref:
            if ref not in offers:
                _bad(path, line, "offer_reference", f"no offer {ref!r} was sent")
            terms = offers[ref]
            if debtor and debtor != terms[0]:
                _bad(path, line, "debtor_id", f"offer {ref} was made to another debtor")
        elif debtor:
            mine = by_debtor.get(debtor, [])
            if len(mine) != 1:
                why = "no offer was sent to" if not mine else f"{len(mine)} offers were sent to"
                _bad(path, line, "debtor_id", f"{why} debtor {debtor!r}: name the offer_reference")
            terms = mine[0]
        else:
            _bad(path, line, "offer_reference", "give an offer_reference or a debtor_id")
        on = _date(path, line, row.get("accepted_on"))
        if on < terms[2]:
            _bad(path, line, "accepted_on", f"{on} is before the offer was made ({terms[2]})")
        debtor_id, currency, _, total, n, frequency, reference = terms
        accepted.append((reference, debtor_id, currency, on, total, n, frequency, line))
    refs = [a[0] for a in accepted]
    if len(set(refs)) != len(refs):
        dup = next(r for r in refs if refs.count(r) > 1)
        line = [a[-1] for a in accepted if a[0] == dup][1]
        _bad(path, line, "offer_reference", f"offer {dup} is accepted twice in the file")
    known = {
        r for (r,) in con.execute(f"select offer_reference from {PLAN_ACCEPTANCES}").fetchall()
    }
    new = [a for a in accepted if a[0] not in known]
    now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC, as the ledger's timestamps
    if new:
        con.executemany(
            f"insert into {PLAN_ACCEPTANCES} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*a[:7], str(path), a[7], now) for a in new],
        )
    return {"file": str(path), "lines": len(rows), "accepted": len(new),
            "already_accepted": len(accepted) - len(new)}  # fmt: skip


def _read(path: Path) -> list[tuple[int, dict]]:
    """(line number, row) per data line; the header needs accepted_on and a way to name the offer."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DebtflowError(f"{path}: cannot read the reply file: {exc}") from None
    unknown = [h for h in header if h not in REPLY_COLUMNS]
    if unknown or "accepted_on" not in header or not {"debtor_id", "offer_reference"} & set(header):
        raise DebtflowError(
            f"{path}, line 1: the header must hold accepted_on and offer_reference or debtor_id "
            f"(columns {', '.join(REPLY_COLUMNS)}); it has {', '.join(header) or 'nothing'}"
        )
    for line, row in rows:
        if None in row:  # more cells than the header names
            raise DebtflowError(f"{path}, line {line}: more values than the header has columns")
    return rows


def _sent_offers(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """Per offer reference, the terms of an offer that went out: (debtor, currency, offered on,
    total, instalments, frequency, reference)."""
    return {
        row[-1]: row
        for row in con.execute(
            f"select debtor_id, currency, as_of, plan_offer_total, plan_offer_installments, "
            f"plan_offer_frequency, plan_offer_ref from {LEDGER} "
            "where plan_offer_ref is not null and state = 'sent'"
        ).fetchall()
    }


def _date(path: Path, line: int, value: str | None) -> date:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        _bad(path, line, "accepted_on", f"{value!r} is not a date (YYYY-MM-DD)")


def _bad(path: Path, line: int, column: str, why: str) -> NoReturn:
    raise DebtflowError(f"{path}, line {line}, column {column}: {why}; nothing was loaded")
