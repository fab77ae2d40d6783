"""A dunning message as e-mail: subject, plain-text and HTML parts, and the MIME message.

The Message-ID follows from the ledger's idempotency key, so a resend after a crash carries the
same Message-ID: mail clients show it once, and bounces and replies match the one ledger row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from debtflow.flows.dunning.messages import Message
from debtflow.flows.dunning.wording import TEMPLATES, InvoiceRow, wording


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def _columns(rows: tuple[InvoiceRow, ...], label: dict[str, str]) -> str:
    """The invoice table as plain text: columns padded to their widest cell, amounts right."""
    head = (label["invoice"], label["issue_date"], label["due_date"], label["open_amount"])
    table = [head, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False))
        + "  "
        + r[-1].rjust(widths[-1])
        for r in table
    )


# Templates compile once per process; HTML autoescapes, so a name like "<Jan & Co>" stays text.
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["columns"] = _columns


def render_email(msg: Message) -> Email:
    """Subject, plain-text and HTML body of the message in its language."""
    w = wording(msg)
    return Email(
        subject=w.subject,
        text=_env.get_template("email.txt").render(w=w),
        html=_env.get_template("email.html").render(w=w),
    )


def message_id(key: str, domain: str) -> str:
    """An RFC 5322 Message-ID derived from the idempotency key alone: same key, same ID.

    The key is hashed so any key makes a valid id-left and the ledger key itself stays inside.
    """
    if not domain or any(c in domain for c in '<>@"\\ \t\r\n'):
        raise ValueError(f"not a Message-ID domain: {domain!r}")
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def to_mime(msg: Message, sender: str, recipient: str, domain: str) -> EmailMessage:
    """The e-mail as multipart/alternative (plain text, then HTML), ready for SMTP."""
    email = render_email(msg)
    mime = EmailMessage()
    mime["Subject"] = email.subject
    mime["From"] = sender
    mime["To"] = recipient
    mime["Date"] = format_datetime(datetime.now(UTC))
    mime["Message-ID"] = message_id(msg.idempotency_key, domain)
    mime["Content-Language"] = msg.language
    mime.set_content(email.text)
    mime.add_alternative(email.html, subtype="html")
    return mime
