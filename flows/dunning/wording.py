"""The words of a dunning message: texts from templates/<language>.yml, with amounts and dates
written the way that language writes them. E-mail, SMS and letter all render from one Wording,
so they never disagree on an amount, a date or a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import NamedTuple

import yaml

from debtflow.flows.dunning.messages import Fee, Invoice, Message, PaymentLink

TEMPLATES = Path(__file__).with_name("templates")
# Between a currency sign and its number (and fr/nb thousands): an amount never breaks a line.
NBSP = "\u00a0"
CENT = Decimal("0.01")


@cache
def texts(language: str) -> dict:
    """The parsed templates/<language>.yml, read once per process."""
    return yaml.safe_load((TEMPLATES / f"{language}.yml").read_text(encoding="utf-8"))


@cache
def variant_texts(language: str, variant: str) -> dict:
    """The language's texts with a wording variant's subjects, sentences per kind and SMS
    texts in place of the standard ones ('' is the standard wording)."""
    t = texts(language)
    if not variant:
        return t
    v = t["variants"][variant]
    kinds = {k: {**s, **v.get("kinds", {}).get(k, {})} for k, s in t["kinds"].items()}
    return {**t, "subjects": {**t["subjects"], **v.get("subjects", {})}, "kinds": kinds,
            "sms": {**t["sms"], **v.get("sms", {})}}  # fmt: skip


def variants() -> dict[str, set[str]]:
    """Per language, the wording variants its templates define."""
    return {p.stem: set(texts(p.stem).get("variants") or {}) for p in TEMPLATES.glob("*.yml")}


def fill(template: str, values: Mapping[str, object]) -> str:
    """The template with its placeholders filled, without the doubled full stop that a name
    ending in one ('Incasso Noord B.V.') leaves at the end of a sentence."""
    return re.sub(r"(?<!\.)\.\.(?!\.)", ".", template.format_map(values))


def money(amount: Decimal, currency: str, language: str) -> str:
    """nl € 1.234,56, fr 1 234,56 €, nb kr 1 234,56, en €1,234.56; a currency without a sign
    in that language is written as its ISO code (en NOK 1,234.56)."""
    fmt = texts(language)["money"]
    units, cents = f"{amount.quantize(CENT, ROUND_HALF_UP):,.2f}".split(".")
    number = units.replace(",", fmt["group"]) + fmt["decimal"] + cents
    sign = fmt["symbols"].get(currency, currency)
    gap = NBSP if fmt["space"] or sign[-1].isalpha() else ""
    return f"{sign}{gap}{number}" if fmt["symbol_first"] else f"{number}{gap}{sign}"


def long_date(day: date, language: str) -> str:
    """4 december 2026, 1er décembre 2026, 4. desember 2026, 4 December 2026."""
    return _date(day, language, "long")


def short_date(day: date, language: str) -> str:
    """04-12-2026, 04/12/2026, 04.12.2026, 4 Dec 2026 (en: no day/month order to misread)."""
    return _date(day, language, "short")


def _date(day: date, language: str, form: str) -> str:
    fmt = texts(language)["dates"]
    month = fmt["months"][day.month - 1]
    first = fmt.get("first_day", "1") if day.day == 1 else str(day.day)
    return fmt[form].format(
        day=first, d=day.day, m=day.month, y=day.year, month=month, mon=month[:3]
    )


def iban_groups(iban: str) -> str:
    """An IBAN in the groups of four it is printed in: NL91 ABNA 0417 1643 00."""
    compact = iban.replace(" ", "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


class InvoiceRow(NamedTuple):
    number: str
    issued: str
    due: str
    amount: str


class FeeRow(NamedTuple):
    label: str
    legal_basis: str
    amount: str


@dataclass(frozen=True)
class Wording:
    """Every string a channel shows for one Message. Sentences that do not apply are ''."""

    language: str
    colon: str
    subject: str
    greeting: str
    intro: str
    request: str
    costs: str
    disputed: str
    contact: str
    closing: str
    creditor: str
    customer_number: str
    date: str
    deadline: str
    total: str
    label: dict[str, str]
    invoices: tuple[InvoiceRow, ...]
    disputed_invoices: tuple[InvoiceRow, ...]
    fees: tuple[FeeRow, ...]
    costs_if_unpaid: tuple[FeeRow, ...]
    payment: tuple[tuple[str, str], ...]
    pay_url: str
    lapsed: str = ""  # the payment plan that lapsed, when the ladder resumed after one
    offer: str = ""  # a payment plan offered: the sentence, its instalments, how to accept
    offer_rows: tuple[tuple[str, str], ...] = ()
    offer_accept: str = ""


def wording(msg: Message) -> Wording:
    """The Message in its language and wording variant, amounts in its currency."""
    t = variant_texts(msg.language, msg.wording)
    kind = t["kinds"][msg.kind]
    deadline = long_date(msg.deadline, msg.language)
    values = {
        "creditor": msg.creditor.name,
        "agency": msg.agency.name if msg.agency else "",
        "name": msg.debtor_name,
        "total": money(msg.total_due, msg.currency, msg.language),
        "deadline": deadline,
        "phone": msg.contact.phone,
        "email": msg.contact.email,
    }
    return Wording(
        language=msg.language,
        colon=t["colon"],
        subject=fill(t["subjects"][msg.step], values),
        greeting=fill(kind["greeting"], values),
        intro=fill(kind["intro"], values),
        request=fill(kind["request"], values),
        costs=fill(kind.get("costs", t["costs"]), values) if msg.costs_if_unpaid else "",
        disputed=t["disputed"] if msg.disputed else "",
        contact=fill(t["agency_contact" if msg.kind == "agency" else "contact"], values),
        closing=kind["closing"],
        creditor=msg.creditor.name,
        customer_number=msg.customer_number,
        date=long_date(msg.as_of, msg.language),
        deadline=deadline,
        total=values["total"],
        label=t["labels"],
        invoices=tuple(_invoice_row(i, msg) for i in msg.invoices),
        disputed_invoices=tuple(_invoice_row(i, msg) for i in msg.disputed),
        fees=tuple(_fee_row(f, msg) for f in msg.fees),
        costs_if_unpaid=tuple(_fee_row(f, msg) for f in msg.costs_if_unpaid),
        payment=_payment_rows(msg, t["labels"]),
        pay_url=msg.payment.url if isinstance(msg.payment, PaymentLink) else "",
        **_plans(msg, t["plans"], deadline),
    )


def _plans(msg: Message, t: dict, deadline: str) -> dict:
    """The sentences on a lapsed payment plan and on a plan offered, in the message's language."""
    out = {}
    lang, lapsed, offer = msg.language, msg.lapsed_plan, msg.plan_offer
    if lapsed:
        values = {"plan_date": long_date(lapsed.started, lang), "instalment": lapsed.instalment}
        out["lapsed"] = fill(t["lapsed"], values)
    if offer:
        total = money(sum(offer.amounts, Decimal(0)), msg.currency, lang)
        out["offer"] = fill(t["offer"], {"plan_total": total, "count": len(offer.amounts)})
        out["offer_rows"] = tuple(
            (t["instalment"].format(n=n), money(amount, msg.currency, lang))
            for n, amount in enumerate(offer.amounts, 1)
        )
        accept = fill(t["accept"], {"deadline": deadline, "reference": offer.reference})
        out["offer_accept"] = f"{t['schedule'][offer.frequency]} {accept}"
    return out


def _invoice_row(invoice: Invoice, msg: Message) -> InvoiceRow:
    return InvoiceRow(
        invoice.number,
        short_date(invoice.issue_date, msg.language),
        short_date(invoice.due_date, msg.language),
        money(invoice.open_amount, msg.currency, msg.language),
    )


def _fee_row(fee: Fee, msg: Message) -> FeeRow:
    label = texts(msg.language)["fees"][fee.kind]
    return FeeRow(label, fee.legal_basis, money(fee.amount, msg.currency, msg.language))


def _payment_rows(msg: Message, label: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Label and value of each transfer detail; none when the debtor pays by link."""
    p = msg.payment
    if isinstance(p, PaymentLink):
        return ()
    rows = [(label["beneficiary"], p.beneficiary), (label["iban"], iban_groups(p.iban))]
    if p.bic:
        rows.append((label["bic"], p.bic))
    rows.append((label["reference"], p.reference))
    return tuple(rows)
