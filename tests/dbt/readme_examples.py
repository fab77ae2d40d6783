"""The SQL examples of README.md and dbt_project/README.md, and each one's answer computed another
way: from the rows of fct_invoices, fct_payments, dim_debtors, the labelled snapshots and the
scores, summed in Python, or from the landing files (the payers after a contact).

Each example is a fenced ```sql block whose first line is `-- example: <name>`; it reads the
published Parquet files ('<mart>.parquet', in the published folder). tests/dbt/
test_simulated_world.py runs each on a simulated book and compares it with EXPECTED[name].
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
READMES = (ROOT / "README.md", ROOT / "dbt_project" / "README.md")
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.S | re.M)
NAME = re.compile(r"--\s*example:\s*([\w-]+)\s*\n")
PARQUET = re.compile(r"'(\w+)\.parquet'")
SCORE_FILES = {"debtor_scores", "invoice_late_scores"}
ZERO = Decimal(0)


def examples() -> dict[str, str | None]:
    """name -> SQL of every sql block; a block without its name line maps `file:line` to None."""
    found: dict[str, str | None] = {}
    for path in READMES:
        text = path.read_text()
        for block in SQL_BLOCK.finditer(text):
            named = NAME.match(block.group(1))
            if named is None:
                line = text.count("\n", 0, block.start()) + 1
                found[f"{path.relative_to(ROOT)}:{line}"] = None
                continue
            name = named.group(1)
            assert name not in found, f"two SQL examples are named {name}"
            found[name] = block.group(1)
    return found


def on_warehouse(sql: str) -> str:
    """The example on the live warehouse, as the README says: 'x.parquet' -> marts.x (ml.x)."""
    return PARQUET.sub(lambda m: f"{'ml' if m[1] in SCORE_FILES else 'marts'}.{m[1]}", sql)


@dataclass
class Book:
    """What the computations read: the warehouse (read-only), its as_of, and per channel, step
    and variant the debtors contacted and those who paid within 7 and 14 days, from the landing
    files."""

    con: duckdb.DuckDBPyConnection
    as_of: date
    payers: list[tuple]

    def rows(self, sql: str) -> list[dict]:
        cursor = self.con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    @cached_property
    def invoices(self) -> list[dict]:
        return self.rows(
            "select invoice_id, debtor_id, document_type, issue_date, due_date, amount, currency, "
            "open_amount, status, paid_date from marts.fct_invoices"
        )

    @cached_property
    def payments(self) -> list[dict]:
        return self.rows("select debtor_id, paid_date, amount, currency from marts.fct_payments")


@dataclass
class Rounded:
    """A figure the example rounds to `digits` decimals: it must be the exact value, rounded."""

    value: float | None
    digits: int

    def matches(self, actual: object) -> bool:
        if self.value is None or actual is None:
            return self.value is None and actual is None
        return abs(float(actual) - self.value) <= 0.5 * 10**-self.digits + 1e-9


def _ratio(numerator, denominator) -> float | None:
    return None if not denominator else float(numerator) / float(denominator)


def _month(day: date) -> date:
    return day.replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _currency_of_debtors(book: Book) -> dict[str, str]:
    """Each debtor's currency, from its documents and payments (a debtor bills in one)."""
    currencies: dict[str, set[str]] = defaultdict(set)
    for row in book.invoices + book.payments:
        currencies[row["debtor_id"]].add(row["currency"])
    assert all(len(c) == 1 for c in currencies.values()), "a debtor with two currencies"
    return {debtor: c.pop() for debtor, c in currencies.items()}


def _receivables_at(book: Book, boundary: date) -> dict[str, Decimal]:
    """Open invoice amount per currency at the start of `boundary`: per debtor, invoiced less
    credited less paid before it, when positive. The ledger applies every payment and credit
    note to the open invoices and a debtor's credit to each new invoice, so a debtor has open
    invoices or credit, never both."""
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in book.invoices:
        if row["issue_date"] < boundary:
            sign = 1 if row["document_type"] == "invoice" else -1
            net[row["debtor_id"], row["currency"]] += sign * row["amount"]
    for row in book.payments:
        if row["paid_date"] < boundary:
            net[row["debtor_id"], row["currency"]] -= row["amount"]
    out: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), amount in net.items():
        out[currency] += max(amount, ZERO)
    return out


def aging(book: Book) -> list[dict]:
    segment = {
        r["debtor_id"]: r["segment_payer"]
        for r in book.rows("select debtor_id, segment_payer from marts.dim_debtors")
    }
    groups: dict[tuple, dict] = {}
    for row in book.invoices:
        if row["document_type"] != "invoice" or row["open_amount"] <= 0:
            continue
        key = (row["currency"], segment.get(row["debtor_id"]) or "unknown")
        g = groups.setdefault(key, {"open": ZERO, "overdue": ZERO, "over_90_days": ZERO})
        if row["status"] == "sold":  # the buyer's: out of the aging
            continue
        days = (book.as_of - row["due_date"]).days
        g["open"] += row["open_amount"]
        g["overdue"] += row["open_amount"] if days > 0 else ZERO
        g["over_90_days"] += row["open_amount"] if days > 90 else ZERO
    return [
        {
            "currency": currency,
            "segment_payer": payer,
            **g,
            "pct_over_90_days": Rounded(_ratio(100 * g["over_90_days"], g["open"]), 1),
        }
        for (currency, payer), g in groups.items()
    ]


def _months(book: Book) -> list[dict]:
    """Per currency and complete month: invoiced, collected, closing receivables, DSO."""
    invoices, payments = book.invoices, book.payments
    first = _month(min(r["issue_date"] for r in invoices))
    months = []
    month = first
    while _next_month(month) <= _month(book.as_of):
        months.append(month)
        month = _next_month(month)
    currencies = {r["currency"] for r in invoices}
    invoiced: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in invoices:
        if row["document_type"] == "invoice":
            invoiced[row["currency"], _month(row["issue_date"])] += row["amount"]
    collected: dict[tuple, Decimal] = defaultdict(Decimal)
    for row in payments:
        collected[row["currency"], _month(row["paid_date"])] += row["amount"]
    closing = {month: _receivables_at(book, _next_month(month)) for month in months}
    out = []
    for currency in currencies:
        for i, month in enumerate(months):
            receivables = closing[month][currency]
            dso, covered = None, ZERO
            for earlier in reversed(months[: i + 1]):  # count back through the invoicing
                amount = invoiced[currency, earlier]
                if amount <= 0:
                    continue
                dso = dso or 0.0
                if covered < receivables:
                    days = (_next_month(earlier) - earlier).days
                    dso += days * float(min(amount, receivables - covered)) / float(amount)
                covered += amount
            out.append(
                {
                    "currency": currency,
                    "month": month,
                    "invoiced": invoiced[currency, month],
                    "collected": collected[currency, month],
                    "closing_receivables": receivables,
                    "dso_count_back": Rounded(dso, 1),
                }
            )
    return out


def dso(book: Book) -> list[dict]:
    every = _months(book)
    months = sorted({r["month"] for r in every})[-6:]
    return [r for r in every if r["month"] in months]


def cei(book: Book) -> list[dict]:
    """The last complete month; the book's as_of is a month start, so the month's close is the
    state at as_of and its current part the open invoices not yet due."""
    last = _month(_month(book.as_of) - timedelta(days=1))
    assert _next_month(last) == book.as_of, "the book must be built as of a month start"
    opening = _receivables_at(book, last)
    out = []
    for row in (r for r in _months(book) if r["month"] == last):
        currency = row["currency"]
        invoices = [
            r
            for r in book.invoices
            if r["currency"] == currency and r["document_type"] == "invoice"
        ]
        closing = sum((r["open_amount"] for r in invoices), ZERO)
        assert closing == row["closing_receivables"]
        current = sum((r["open_amount"] for r in invoices if r["due_date"] >= book.as_of), ZERO)
        invoiced = row["invoiced"]
        out.append(
            {
                "currency": currency,
                "month": last,
                "opening_receivables": opening[currency],
                "invoiced": invoiced,
                "closing_receivables": closing,
                "closing_current_receivables": current,
                "cei": Rounded(
                    _ratio(
                        100 * (opening[currency] + invoiced - closing),
                        opening[currency] + invoiced - current,
                    ),
                    2,
                ),
            }
        )
    return out


def _wilson(successes: int, trials: int, side: int, z: float = 1.96) -> float:
    p = successes / trials
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (p + z * z / (2 * trials) + side * spread) / (1 + z * z / trials)


def channels(book: Book) -> list[dict]:
    return [
        {
            "channel": channel,
            "variant": variant,
            "contacted_debtors": contacted,
            "rate": Rounded(paid_14d / contacted, 3),
            "low": Rounded(_wilson(paid_14d, contacted, -1), 3),
            "high": Rounded(_wilson(paid_14d, contacted, 1), 3),
        }
        for channel, step, variant, contacted, _, paid_14d in book.payers
        if step == "reminder_1"
    ]


def _valid(present: bool | None, bounced: bool | None) -> bool | None:
    """`present and not bounced` as SQL says it (null when unknown)."""
    if present is False or bounced is True:
        return False
    if present is None or bounced is None:
        return None
    return True


def contact_value(book: Book) -> list[dict]:
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in book.rows(
        "select debtor_type, has_email, email_bounced, has_mobile, sms_bounced, "
        "label_collected_30d from marts.debtor_feature_snapshots "
        "where label_collected_30d is not null"
    ):
        segment = row["debtor_type"] or "unknown"
        for contact, valid in (
            ("email", _valid(row["has_email"], row["email_bounced"])),
            ("mobile", _valid(row["has_mobile"], row["sms_bounced"])),
        ):
            c = counts[segment, contact]
            if valid is not None:
                c[0 if valid else 2] += 1
                c[1 if valid else 3] += row["label_collected_30d"] == 1
    out = []
    for (segment, contact), (with_, paid_with, without, paid_without) in counts.items():
        rate_with, rate_without = _ratio(paid_with, with_), _ratio(paid_without, without)
        uplift = None if None in (rate_with, rate_without) else rate_with - rate_without
        out.append(
            {
                "segment": segment,
                "contact_type": contact,
                "debtor_months_with": with_,
                "with_valid": Rounded(rate_with, 3),
                "debtor_months_without": without,
                "without": Rounded(rate_without, 3),
                "uplift": Rounded(uplift, 3),
            }
        )
    return out


def _balances(book: Book) -> dict[str, dict]:
    """Per debtor: overdue, and credit (= open - (invoiced - credited - paid))."""
    debtors: dict[str, dict] = defaultdict(lambda: {"open": ZERO, "overdue": ZERO, "net": ZERO})
    for row in book.invoices:
        d = debtors[row["debtor_id"]]
        if row["document_type"] == "invoice":
            d["net"] += row["amount"]
            d["open"] += row["open_amount"]
            if row["due_date"] < book.as_of:
                d["overdue"] += row["open_amount"]
        else:
            d["net"] -= row["amount"]
    for row in book.payments:
        debtors[row["debtor_id"]]["net"] -= row["amount"]
    for d in debtors.values():
        d["credit"] = d["open"] - d["net"]
    return debtors


def credit(book: Book) -> list[dict]:
    country = {
        r["debtor_id"]: r["country"]
        for r in book.rows("select debtor_id, country from marts.dim_debtors")
    }
    currency = _currency_of_debtors(book)
    groups: dict[tuple, dict] = {}
    for debtor, b in _balances(book).items():
        if b["overdue"] <= 0 and b["credit"] <= 0:
            continue
        g = groups.setdefault(
            (country[debtor], currency[debtor]),
            {"overdue_debtors": 0, "overdue": ZERO, "debtors_in_credit": 0, "credit": ZERO},
        )
        g["overdue_debtors"] += b["overdue"] > 0
        g["overdue"] += b["overdue"]
        g["debtors_in_credit"] += b["credit"] > 0
        g["credit"] += b["credit"]
    return [{"country": k[0], "currency": k[1], **g} for k, g in groups.items()]


def status(book: Book) -> list[dict]:
    groups: dict[tuple, dict] = {}
    for row in book.invoices:
        if row["document_type"] != "invoice":
            continue
        g = groups.setdefault((row["currency"], row["status"]), {"n": 0, "open": ZERO, "days": []})
        g["n"] += 1
        g["open"] += row["open_amount"]
        if row["paid_date"] is not None:
            g["days"].append((row["paid_date"] - row["issue_date"]).days)
    return [
        {
            "currency": currency,
            "status": status,
            "invoices": g["n"],
            "open": g["open"],
            "avg_days_to_settle": Rounded(_ratio(sum(g["days"]), len(g["days"])), 1),
        }
        for (currency, status), g in groups.items()
    ]


def grades(book: Book) -> list[dict]:
    balances, currency = _balances(book), _currency_of_debtors(book)
    groups: dict[tuple, dict] = {}
    for row in book.rows(
        f"select debtor_id, grade, p_collect_30d from ml.debtor_scores where as_of = '{book.as_of}'"
    ):
        debtor = row["debtor_id"]
        g = groups.setdefault((currency[debtor], row["grade"]), {"n": 0, "overdue": ZERO, "p": []})
        g["n"] += 1
        g["overdue"] += balances[debtor]["overdue"]
        g["p"].append(row["p_collect_30d"])
    return [
        {
            "currency": currency,
            "grade": grade,
            "debtors": g["n"],
            "overdue": g["overdue"],
            "mean_p_collect_30d": Rounded(sum(g["p"]) / len(g["p"]), 3),
        }
        for (currency, grade), g in groups.items()
    ]


# name -> (the computation, the columns that identify a row)
EXPECTED: dict[str, tuple[Callable[[Book], list[dict]], tuple[str, ...]]] = {
    "aging": (aging, ("currency", "segment_payer")),
    "dso": (dso, ("currency", "month")),
    "cei": (cei, ("currency",)),
    "channels": (channels, ("channel", "variant")),
    "contact-value": (contact_value, ("segment", "contact_type")),
    "credit": (credit, ("country", "currency")),
    "status": (status, ("currency", "status")),
    "grades": (grades, ("currency", "grade")),
}


def mismatches(actual: list[dict], expected: list[dict], keys: tuple[str, ...]) -> list[str]:
    """What differs between the example's rows and the expected ones, matched on `keys` in any
    order; a Rounded figure must be its value rounded."""
    if not expected:
        return ["nothing expected: the book does not exercise this example"]
    if actual and list(actual[0]) != list(expected[0]):
        return [f"columns {list(actual[0])}, expected {list(expected[0])}"]

    def key(row: dict) -> tuple:
        return tuple(row[k] for k in keys)

    def same(a: object, e: object) -> bool:
        return e.matches(a) if isinstance(e, Rounded) else a == e

    by_key = {key(e): e for e in expected}
    problems = [f"{len(actual)} rows, expected {len(expected)}"] * (len(actual) != len(expected))
    for row in actual:
        e = by_key.get(key(row))
        if e is None:
            problems.append(f"unexpected row {row}")
        elif not all(same(row[c], e[c]) for c in e):
            problems.append(f"row {row}, expected {e}")
    return problems
