"""Converter: UCI "Default of Credit Card Clients" (Taiwan, April-September 2005; CC BY 4.0,
tests/data/real/uci_credit_card/SOURCE.md) -> one landing batch in the contract.

Each card holder is a consumer debtor; each monthly statement is a billing period:
- the April statement balance (BILL_AMT6) opens the book as one invoice (a credit balance as a
  credit note), issued on 30 April;
- each later month's new charges, BILL_AMT(m) - BILL_AMT(m-1) + PAY_AMT(m), are that month's
  invoice (negative: a credit note, e.g. a refund), issued on the month's last day;
- statements are due on the 25th of the next month; PAY_AMT(m), the amount paid in month m, is a
  payment on the 15th of m, named to no invoice (allocated oldest first, as a card's is).
So the open balance after each statement is the statement balance. Amounts are converted from NT$
at 40 TWD per EUR (about the 2005 average; the contract's currencies have no TWD), to the cent.
The data hold no names, contact data or dates of birth: none are invented.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

TWD_PER_EUR = Decimal(40)
# column suffix -> statement month (1 = September 2005 ... 6 = April 2005)
MONTHS = {1: date(2005, 9, 30), 2: date(2005, 8, 31), 3: date(2005, 7, 31),
          4: date(2005, 6, 30), 5: date(2005, 5, 31), 6: date(2005, 4, 30)}  # fmt: skip
CUSTOMER_SINCE = date(2005, 4, 1)  # the data start; the bank's own date is not published
BATCH = "2005-10-01T0600"  # the extract, the morning after the last statement month


def _eur(twd: Decimal) -> Decimal:
    return (twd / TWD_PER_EUR).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _due(issued: date) -> date:
    return date(issued.year + issued.month // 12, issued.month % 12 + 1, 25)


def convert(source: Path, landing: Path, limit: int | None = None) -> dict[str, int]:
    """Write batch BATCH under `landing` from the UCI CSV; return the rows per file."""
    customers, invoices, payments = [], [], []
    stamp = datetime.combine(date(2005, 10, 1), time(6)).isoformat(sep=" ")
    with source.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh)):
            if limit is not None and n >= limit:
                break
            debtor = f"TW{int(row['ID']):05d}"
            customers.append({"debtor_id": debtor, "debtor_type": "consumer", "country": "TW",
                              "customer_since": CUSTOMER_SINCE.isoformat(), "updated_at": stamp})  # fmt: skip
            bill = {m: Decimal(row[f"BILL_AMT{m}"]) for m in MONTHS}
            paid = {m: Decimal(row[f"PAY_AMT{m}"]) for m in MONTHS}
            for m in sorted(MONTHS, reverse=True):  # April first
                charge = bill[m] if m == 6 else bill[m] - bill[m + 1] + paid[m]
                amount, issued = _eur(abs(charge)), MONTHS[m]
                if amount > 0:
                    invoices.append({
                        "invoice_id": f"{debtor}-{issued:%Y%m}",
                        "debtor_id": debtor,
                        "document_type": "invoice" if charge > 0 else "credit_note",
                        "issue_date": issued.isoformat(),
                        "due_date": _due(issued).isoformat(),
                        "amount": str(amount),
                        "currency": "EUR",
                        "updated_at": datetime.combine(issued, time(23)).isoformat(sep=" "),
                    })  # fmt: skip
                if m < 6 and _eur(paid[m]) > 0:
                    payments.append({
                        "payment_id": f"{debtor}-P{issued:%Y%m}",
                        "debtor_id": debtor,
                        "paid_at": datetime.combine(issued.replace(day=15), time(12)).isoformat(sep=" "),
                        "amount": str(_eur(paid[m])),
                        "currency": "EUR",
                    })  # fmt: skip
    return _write(landing / BATCH, customers=customers, invoices=invoices, payments=payments)


def _write(batch: Path, **tables: list[dict]) -> dict[str, int]:
    batch.mkdir(parents=True)
    for name, rows in tables.items():
        with (batch / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return {name: len(rows) for name, rows in tables.items()}
