"""A real company's first extract, as an export writes it: a young book of a few dozen debtors with
six months of history, in one batch whose customers are all stamped at the extract time (06:00 on
the run's date). The shape that broke the first day: customers dated on the run's date, less
history than the snapshot window, no model yet."""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_initial_extract(
    landing: Path, as_of: date, debtors: int = 40, months: int = 6, seed: int = 7
) -> dict[str, int]:
    """Write batch `<as_of>T0600` with customers, monthly invoices and payments; return counts.

    About a third of the debtors pay late or not at all, so the run has overdue debtors to dun."""
    rng = random.Random(seed)
    extract_time = datetime.combine(as_of, time(6, 0))
    batch = landing / f"{as_of.isoformat()}T0600"
    batch.mkdir(parents=True)
    start = date(as_of.year, as_of.month, 1) - timedelta(days=1)
    for _ in range(months - 1):
        start = start.replace(day=1) - timedelta(days=1)
    start = start.replace(day=1)
    customers, invoices, payments = [], [], []
    for d in range(1, debtors + 1):
        debtor_id = f"C{d:04d}"
        since = start - timedelta(days=rng.randint(0, 400))
        customers.append(
            {
                "debtor_id": debtor_id,
                "debtor_type": "business" if d % 7 == 0 else "consumer",
                "name": f"Customer {d}",
                "email": f"customer{d}@example.nl" if d % 5 else "",
                "phone_mobile": f"+316{d:08d}" if d % 3 else "",
                "country": "NL",
                "language": "nl",
                "customer_since": since.isoformat(),
                "acquisition_channel": rng.choice(["online", "offline", "partner"]),
                "paperless": str(d % 2 == 0).lower(),
                "updated_at": extract_time.isoformat(sep=" "),
            }
        )
        habit = rng.random()  # < 0.65 pays on time, < 0.85 pays late, else stops paying
        issue = start + timedelta(days=rng.randint(0, 10))
        n = 0
        while issue < as_of:
            n += 1
            invoice_id = f"I{d:04d}-{n:02d}"
            due = issue + timedelta(days=14)
            amount = f"{rng.randint(2000, 30000) / 100:.2f}"
            invoices.append(
                {
                    "invoice_id": invoice_id,
                    "debtor_id": debtor_id,
                    "issue_date": issue.isoformat(),
                    "due_date": due.isoformat(),
                    "amount": amount,
                    "currency": "EUR",
                    "updated_at": datetime.combine(issue, time(8)).isoformat(sep=" "),
                }
            )
            stops = habit >= 0.85 and issue > as_of - timedelta(days=75)
            paid = due - timedelta(days=rng.randint(0, 10))
            if habit >= 0.65:
                paid = due + timedelta(days=rng.randint(5, 45))
            if not stops and paid < as_of:
                payments.append(
                    {
                        "payment_id": f"P{d:04d}-{n:02d}",
                        "debtor_id": debtor_id,
                        "invoice_id": invoice_id if rng.random() < 0.8 else "",
                        "paid_at": datetime.combine(paid, time(12)).isoformat(sep=" "),
                        "amount": amount,
                        "currency": "EUR",
                        "method": rng.choice(["bank_transfer", "ideal", "direct_debit"]),
                    }
                )
            issue = (issue.replace(day=1) + timedelta(days=32)).replace(day=issue.day)
    _write(batch / "customers.csv", customers)
    _write(batch / "invoices.csv", invoices)
    _write(batch / "payments.csv", payments)
    return {"customers": len(customers), "invoices": len(invoices), "payments": len(payments)}
