"""Converter: UCI "Online Retail" (a UK online gift-ware wholesaler's invoice lines; CC BY 4.0,
tests/data/real/uci_online_retail/SOURCE.md) -> one landing batch in the contract.

Each CustomerID is a business debtor (most customers are wholesalers); each InvoiceNo is one
invoice, its amount the sum of Quantity x UnitPrice; an InvoiceNo starting with C (a
cancellation) is a credit note for the positive amount. Lines of one invoice whose total is not
positive (free samples, price corrections) stay in the file as they are: the contract quarantines
them. Invoices are due 30 days after issue (the data hold no terms). The data hold no payments, so
this book can be loaded, built, validated and dunned, but its collectability cannot be learned.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

COUNTRIES = {
    "United Kingdom": "GB", "Channel Islands": "GB", "Germany": "DE", "France": "FR",
    "EIRE": "IE", "Norway": "NO", "Portugal": "PT", "Belgium": "BE", "Cyprus": "CY",
    "Spain": "ES", "Netherlands": "NL", "Japan": "JP", "Switzerland": "CH", "Italy": "IT",
    "Australia": "AU", "Lithuania": "LT", "Iceland": "IS", "Sweden": "SE", "Denmark": "DK",
    "Finland": "FI", "Austria": "AT", "Poland": "PL", "Israel": "IL",
}  # fmt: skip
TERMS_DAYS = 30


def convert(source: Path, landing: Path, extract: datetime) -> dict[str, int]:
    """Write batch <extract:%Y-%m-%dT%H%M> under `landing`; return the rows per file."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    header: dict[str, dict] = {}
    first_seen: dict[str, date] = {}
    with source.open(newline="", encoding="utf-8") as fh:
        for line in csv.DictReader(fh):
            invoice, debtor = line["InvoiceNo"], f"UK{line['CustomerID']}"
            issued = datetime.fromisoformat(line["InvoiceDate"]).date()
            totals[invoice] += Decimal(line["Quantity"]) * Decimal(line["UnitPrice"])
            header.setdefault(
                invoice, {"debtor_id": debtor, "issued": issued, "country": line["Country"]}
            )
            first_seen[debtor] = min(first_seen.get(debtor, issued), issued)
    stamp = extract.isoformat(sep=" ")
    customers = {
        h["debtor_id"]: {"debtor_id": h["debtor_id"], "debtor_type": "business",
                         "country": COUNTRIES[h["country"]],
                         "customer_since": first_seen[h["debtor_id"]].isoformat(), "updated_at": stamp}
        for h in header.values()
    }  # fmt: skip
    invoices = []
    for invoice, h in header.items():
        credit = invoice.startswith("C")
        invoices.append({
            "invoice_id": invoice,
            "debtor_id": h["debtor_id"],
            "document_type": "credit_note" if credit else "invoice",
            "issue_date": h["issued"].isoformat(),
            "due_date": (h["issued"] + timedelta(days=TERMS_DAYS)).isoformat(),
            "amount": str((-totals[invoice] if credit else totals[invoice]).quantize(Decimal("0.01"))),
            "currency": "GBP",
            "updated_at": datetime.combine(h["issued"], datetime.min.time()).isoformat(sep=" "),
        })  # fmt: skip
    batch = landing / f"{extract:%Y-%m-%dT%H%M}"
    batch.mkdir(parents=True)
    for name, rows in (("customers", list(customers.values())), ("invoices", invoices)):
        with (batch / f"{name}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return {"customers": len(customers), "invoices": len(invoices)}
