"""Where a dunning message goes: e-mail over SMTP, SMS through an HTTP gateway, letters as PDF in
the object store, the agents' call list and the agency's placement file. A channel without
configuration writes to the outbox folder instead (the demo's default), and the run summary says
so.

A sender raises `Transient` for what a retry may cure (a connection refused, a 4xx SMTP reply, a
gateway 5xx or 429) and `Rejected` for what it cannot (an address the server refuses, a number
the gateway rejects). Everything a sender writes is named by the action's idempotency key and is
the same bytes when written again, so a resend after a crash replaces, never duplicates.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import smtplib
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.storage import open_store
from debtflow.flows.dunning import letter, mail, sms
from debtflow.flows.dunning.messages import Message


class Transient(Exception):
    """Worth another try: the server or gateway was unavailable or asked us to slow down."""


class Rejected(Exception):
    """Will not succeed: the recipient was refused. The contact counts as bounced."""


@dataclass
class Outbox:
    """E-mail, SMS or letters without configuration: the rendered message as a file per action
    (an .eml, a .txt or a .pdf)."""

    channel: str
    root: Path
    configured: bool = False

    def send(self, msg: Message, as_of: date) -> str:
        folder = self.root / as_of.isoformat() / self.channel
        if self.channel == "email":
            body = mail.to_mime(msg, "outbox@localhost", msg.email or "", "outbox.local")
            return write_atomic(folder / f"{msg.idempotency_key}.eml", bytes(body))
        if self.channel == "sms":
            return write_atomic(folder / f"{msg.idempotency_key}.txt", sms.render_sms(msg).encode())
        return write_atomic(folder / f"{msg.idempotency_key}.pdf", letter.render_letter_pdf(msg))

    def close(self) -> None:
        pass


class Smtp:
    """E-mail over one SMTP connection per run (STARTTLS and login as configured)."""

    channel, configured = "email", True

    def __init__(self, settings: Settings):
        self.settings, self.conn = settings, None
        self.domain = settings.smtp_from.rsplit("@", 1)[-1]

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
            if s.smtp_starttls:
                conn.starttls()
            if s.smtp_username and s.smtp_password:
                conn.login(s.smtp_username, s.smtp_password.get_secret_value())
        except (OSError, smtplib.SMTPException) as exc:
            raise Transient(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}") from None
        return conn

    def send(self, msg: Message, as_of: date) -> str:
        if not msg.email:
            raise Rejected("no e-mail address")
        mime = mail.to_mime(msg, self.settings.smtp_from, msg.email, self.domain)
        if self.conn is None:
            self.conn = self._connect()
        try:
            refused = self.conn.send_message(mime)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            if all(500 <= c < 600 for c in codes):
                raise Rejected(f"recipient refused ({sorted(codes)})") from None
            raise Transient(f"recipient deferred ({sorted(codes)})") from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
            self.close()
            code = getattr(exc, "smtp_code", 0)
            if 500 <= code < 600 and not isinstance(exc, smtplib.SMTPServerDisconnected):
                raise Rejected(f"SMTP {code}") from None
            raise Transient(f"SMTP: {type(exc).__name__} {code or ''}".strip()) from None
        if refused:
            raise Rejected("recipient refused")
        return mime["Message-ID"]

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self.conn = None


class SmsGateway:
    """SMS through an HTTP JSON gateway: POST {to, from, text, reference} with a bearer token;
    the gateway answers {"id": ...}. The reference is the idempotency key, for the gateway's own
    de-duplication of a retried request."""

    channel, configured = "sms", True

    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, msg: Message, as_of: date) -> str:
        if not msg.mobile:
            raise Rejected("no mobile number")
        s = self.settings
        body = json.dumps(
            {
                "to": msg.mobile,
                "from": s.sms_sender,
                "text": sms.render_sms(msg),
                "reference": msg.idempotency_key,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": msg.idempotency_key}
        if s.sms_token:
            headers["Authorization"] = f"Bearer {s.sms_token.get_secret_value()}"
        request = urllib.request.Request(s.sms_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return str(json.loads(response.read() or b"{}").get("id", ""))
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:
                raise Transient(f"SMS gateway HTTP {exc.code}") from None
            raise Rejected(f"SMS gateway HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise Transient(f"SMS gateway unreachable: {type(exc).__name__}") from None

    def close(self) -> None:
        pass


class Letters:
    """One PDF per letter in the object store (folder or s3://), under <day>/<key>.pdf; the
    print-batch manifest (<day>/manifest.csv) lists every letter of the day."""

    channel, configured = "letter", True

    def __init__(self, settings: Settings):
        self.store = open_store(settings.letters_url, settings)

    def send(self, msg: Message, as_of: date) -> str:
        key = f"{as_of.isoformat()}/{msg.idempotency_key}.pdf"
        _put(self.store, key, letter.render_letter_pdf(msg))
        return key

    def manifest(self, as_of: date, rows: list[dict]) -> str:
        key = f"{as_of.isoformat()}/manifest.csv"
        _put(self.store, key, _csv(rows).encode())
        return key

    def close(self) -> None:
        pass


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def write_atomic(path: Path, data: bytes) -> str:
    """Readers see the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as fh:
        fh.write(data)
    Path(fh.name).replace(path)
    return str(path)


def _put(store, key: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "file"
        src.write_bytes(data)
        store.put(src, key)


def configured(settings: Settings) -> dict[str, object]:
    """A sender per message channel: the configured ones, else the outbox folder. (The call list
    and the placement file are files of the day in the outbox folder: send.py writes them.)"""
    senders: dict[str, object] = {
        c: Outbox(c, settings.outbox_dir) for c in ("email", "sms", "letter")
    }
    if settings.smtp_host:
        senders["email"] = Smtp(settings)
    if settings.sms_url:
        senders["sms"] = SmsGateway(settings)
    if settings.letters_url:
        senders["letter"] = Letters(settings)
    return senders


def with_retries(send, attempts: int = 3, backoff: float = 0.5):
    """`send()` again after a Transient error, waiting backoff, 2x backoff, ...; the last
    Transient propagates."""
    for attempt in range(attempts):
        try:
            return send()
        except Transient:
            if attempt == attempts - 1:
                raise
            time.sleep(backoff * 2**attempt)
