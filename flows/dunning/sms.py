"""A dunning message as SMS: amount, deadline and how to pay, in at most a few parts.

A text of GSM-7 characters takes 160 per SMS alone, or 153 per part when concatenated (the
concatenation header takes the rest); the extension characters (€, [, ], {, }, ...) take two. One
character outside GSM-7 makes the whole text UCS-2: 70 UTF-16 units alone, 67 per part. Every
part is paid for, so the text is shortened to fit rather than split further.
"""

from __future__ import annotations

from decimal import Decimal

from debtflow.flows.dunning.messages import Message, PaymentLink
from debtflow.flows.dunning.wording import NBSP, fill, money, short_date, variant_texts

GSM7 = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"


def sms_parts(text: str) -> int:
    """How many SMS parts `text` is sent as."""
    if all(c in GSM7 or c in GSM7_EXTENSION for c in text):
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        single, per_part = 160, 153
    else:
        units = [len(c.encode("utf-16-le")) // 2 for c in text]
        single, per_part = 70, 67
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for n in units:  # an escape or surrogate pair is never split over two parts
        if used + n > per_part:
            parts, used = parts + 1, 0
        used += n
    return parts


def render_sms(msg: Message, max_parts: int = 3) -> str:
    """The text in at most `max_parts` parts: the invoice numbers go first, then the contact line.

    Raises ValueError if even amount, deadline and payment details do not fit: a payment
    reference cut short would be worse than another channel.
    """
    t = variant_texts(msg.language, msg.wording)["sms"]
    lang, cur = msg.language, msg.currency
    headline = fill(
        t[msg.kind],
        {
            "creditor": msg.creditor.name,
            "agency": msg.agency.name if msg.agency else "",
            "total": money(msg.total_due, cur, lang),
            "deadline": short_date(msg.deadline, lang),
            "costs": money(sum((f.amount for f in msg.costs_if_unpaid), Decimal(0)), cur, lang),
        },
    )
    numbers = ", ".join(i.number for i in msg.invoices)
    invoices = t["invoices_one" if len(msg.invoices) == 1 else "invoices_other"]
    p = msg.payment
    if isinstance(p, PaymentLink):
        pay = t["link"].format(url=p.url)
    else:
        pay = t["transfer"].format(iban=p.iban.replace(" ", ""), reference=p.reference)
    contact = t["contact"].format(phone=msg.contact.phone)
    # a lapsed plan's line and a plan offer's go before the invoice numbers and the contact
    lapsed, offer = _plans(msg, t)
    candidates = (
        (*lapsed, headline, *offer, invoices.format(numbers=numbers), pay, contact),
        (*lapsed, headline, *offer, pay, contact),
        (*lapsed, headline, *offer, pay),
        (headline, pay),
    )
    for pieces in candidates:
        # a no-break space is not in GSM-7: it alone would make the text UCS-2
        text = " ".join(pieces).replace(NBSP, " ")
        if sms_parts(text) <= max_parts:
            return text
    raise ValueError(
        f"message {msg.idempotency_key}: the shortest SMS takes {sms_parts(text)} parts,"
        f" more than {max_parts}"
    )


def _plans(msg: Message, t: dict) -> tuple[list[str], list[str]]:
    """The lapsed plan's line (before the headline) and the offer's (after it), if any."""
    lang, before, after = msg.language, [], []
    if msg.lapsed_plan:
        lapsed = msg.lapsed_plan
        before.append(t["lapsed"].format(plan_date=short_date(lapsed.started, lang),
                                         instalment=lapsed.instalment))  # fmt: skip
    if msg.plan_offer:
        offer = msg.plan_offer
        first, last = offer.amounts[0], offer.amounts[-1]
        # equal instalments but the last, which carries the cents left over (plan_offers.split)
        after.append(
            t["offer" if last == first else "offer_last"].format(
                count=len(offer.amounts),
                amount=money(first, msg.currency, lang),
                last=money(last, msg.currency, lang),
                deadline=short_date(msg.deadline, lang),
                reference=offer.reference,
            )
        )
    return before, after
