"""Sending dunning messages for real: an SMTP server (aiosmtpd) and an HTTP SMS gateway on
127.0.0.1 count what they receive. Each planned message arrives once; a run killed halfway
(SIGKILL) and run again sends the rest and nothing twice but the one in flight, with the same
Message-ID; a second run sends nothing; nothing goes out on a weekend or public holiday."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from dunning_world import AS_OF, candidates, create

from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect
from debtflow.flows.dunning import dunning, plan, send
from debtflow.flows.dunning.mail import message_id

FRIDAY_10 = datetime(2026, 11, 20, 10, 0)  # in each debtor's own time zone


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """What the SMTP server accepted; refuses REFUSED with 550 and can take its time."""

    REFUSED = "refused@example.nl"

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list = []
        self.delay = delay

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address == self.REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            time.sleep(self.delay)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DEBTFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEBTFLOW_SMTP_PORT", str(port))
    monkeypatch.setenv("DEBTFLOW_SMTP_FROM", "invoices@debtflow.test")
    yield inbox
    controller.stop()


@pytest.fixture
def gateway(monkeypatch):
    """An SMS gateway: POST JSON with a bearer token; the first request for a key gets a 503."""
    received: list[dict] = []
    failed_once: set[str] = set()

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.headers["Authorization"] == "Bearer s3cret"
            if body["reference"] not in failed_once:
                failed_once.add(body["reference"])
                self.send_response(503)
                self.end_headers()
                return
            received.append(body)
            answer = json.dumps({"id": f"gw-{len(received)}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DEBTFLOW_SMS_URL", f"http://127.0.0.1:{server.server_port}/sms")
    monkeypatch.setenv("DEBTFLOW_SMS_TOKEN", "s3cret")
    monkeypatch.setenv("DEBTFLOW_SEND_RETRY_BACKOFF", "0.01")
    yield received
    server.shutdown()


def planned(con, n: int, **overrides) -> list[str]:
    """n debtors due for a first reminder, planned; their idempotency keys."""
    candidates(con, AS_OF, {f"D{i:04d}": dict(overrides) for i in range(n)})
    plan.plan(con, get_settings(), AS_OF)
    return [
        k
        for (k,) in con.execute("select idempotency_key from dunning.ledger order by 1").fetchall()
    ]


def states(con) -> Counter:
    return Counter(s for (s,) in con.execute("select state from dunning.ledger").fetchall())


def test_each_planned_e_mail_arrives_once_with_its_message_id(con, smtp):
    keys = planned(con, 30)
    result = send.send(con, get_settings(), AS_OF, at=FRIDAY_10)
    assert result["sent"] == 30 and result["by_channel"] == {"email": 30}
    assert "email" not in result["outbox_only"]
    ids = sorted(m["Message-ID"] for m in smtp.messages)
    assert ids == sorted(message_id(k, "debtflow.test") for k in keys)
    first = smtp.messages[0]
    assert first["To"].endswith("@example.nl") and first.is_multipart()
    text = first.get_body(("plain",)).get_content()
    assert "100,00" in text and "NL91 ABNA 0417 1643 00" in text  # amount and how to pay
    assert states(con) == {"sent": 30}
    assert send.send(con, get_settings(), AS_OF, at=FRIDAY_10)["sent"] == 0  # nothing twice
    assert len(smtp.messages) == 30
    sent_events = con.execute(
        "select count(*) from raw.contact_events where event_type = 'sent' and channel = 'email'"
    ).fetchone()
    assert sent_events == (30,)  # the loop back: tomorrow's build reads them


@pytest.mark.parametrize(
    "at, country, why",
    [
        (datetime(2026, 11, 21, 10, 0), "NL", "weekend"),
        (datetime(2026, 11, 20, 8, 30), "NL", "outside_hours"),
        (datetime(2026, 11, 20, 17, 0), "NL", "outside_hours"),
        (datetime(2026, 4, 27, 10, 0), "NL", "public_holiday"),  # King's Day
        (datetime(2026, 11, 21, 10, 0), "NO", "weekend"),
        (datetime(2027, 5, 17, 10, 0), "NO", "public_holiday"),  # Constitution Day, a Monday
    ],
)
def test_nothing_goes_out_outside_the_debtors_sending_window(con, smtp, at, country, why):
    currency = "NOK" if country == "NO" else "EUR"
    planned(con, 3, country=country, currency=currency, days_past_due=20)
    result = send.send(con, get_settings(), AS_OF, at=at)
    assert result["sent"] == 0 and result["waiting"] == {why: 3}
    assert smtp.messages == [] and states(con) == {"planned": 3}


def test_a_refused_address_fails_and_counts_as_bounced(con, smtp):
    planned(con, 3)
    con.execute(
        "update staging.stg_billing__customer_versions set email = ? where debtor_id = 'D0001'",
        [Inbox.REFUSED],
    )
    result = send.send(con, get_settings(), AS_OF, at=FRIDAY_10)
    assert result["sent"] == 2 and result["failed"] == {"email": 1}
    assert states(con) == {"sent": 2, "failed": 1}
    bounced = con.execute(
        "select debtor_id from raw.contact_events where event_type = 'bounced'"
    ).fetchall()
    assert bounced == [("D0001",)]


def test_an_unreachable_server_leaves_the_messages_for_the_next_run(con, monkeypatch):
    planned(con, 4)
    monkeypatch.setenv("DEBTFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEBTFLOW_SMTP_PORT", str(free_port()))  # nothing listens
    monkeypatch.setenv("DEBTFLOW_SEND_RETRY_BACKOFF", "0.01")
    result = send.send(con, get_settings(), AS_OF, at=FRIDAY_10)
    assert result["sent"] == 0 and result["waiting"] == {"channel_unavailable": 4}
    assert states(con) == {"planned": 4}


def test_texts_go_through_the_gateway_retried_and_recorded(con, gateway):
    keys = planned(con, 3, email_ok=False)
    result = send.send(con, get_settings(), AS_OF, at=FRIDAY_10)
    assert result["by_channel"] == {"sms": 3}
    assert sorted(r["reference"] for r in gateway) == keys  # once each, after one 503
    assert all("100,00" in r["text"] and len(r["text"]) <= 3 * 153 for r in gateway)
    ids = {i for (i,) in con.execute("select provider_id from dunning.ledger").fetchall()}
    assert ids == {"gw-1", "gw-2", "gw-3"}


def test_letters_are_pdfs_in_the_store_with_a_print_manifest(con, tmp_path, monkeypatch):
    monkeypatch.setenv("DEBTFLOW_LETTERS_URL", str(tmp_path / "letters"))
    keys = planned(con, 3, email_ok=False, sms_ok=False)
    assert send.send(con, get_settings(), AS_OF, at=FRIDAY_10)["by_channel"] == {"letter": 3}
    day = tmp_path / "letters" / AS_OF.isoformat()
    assert sorted(p.stem for p in day.glob("*.pdf")) == keys
    assert all(p.read_bytes().startswith(b"%PDF") for p in day.glob("*.pdf"))
    manifest = (day / "manifest.csv").read_text().splitlines()
    assert len(manifest) == 4 and manifest[0].startswith("file,idempotency_key")


def test_the_call_list_is_one_file_a_day_best_expected_value_first(con):
    taken = {"steps_taken": ["reminder_1", "reminder_2", "final_notice"], "days_past_due": 60}
    candidates(
        con,
        AS_OF,
        {"SMALL": {**taken, "amount_due": 50}, "LARGE": {**taken, "amount_due": 5000}},
    )
    plan.plan(con, get_settings(), AS_OF)
    result = send.send(con, get_settings(), AS_OF, at=datetime(2026, 11, 22, 12, 0))  # Sunday
    assert result["by_channel"] == {"phone": 2}  # a list for the agents, not a message
    path = get_settings().outbox_dir / AS_OF.isoformat() / "phone" / "call_list.csv"
    rows = path.read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["LARGE", "SMALL"]
    sheet = pd.read_excel(path.with_suffix(".xlsx"))
    assert list(sheet["debtor_id"]) == ["LARGE", "SMALL"]


# A run killed halfway: the sender runs in a process of its own against a slow server.
KILLED = """
import sys
from datetime import datetime
from debtflow.flows.core.settings import get_settings
from debtflow.flows.dunning import dunning
dunning.send(get_settings(), datetime.fromisoformat(sys.argv[1]).date(), at=datetime(2026, 11, 20, 10, 0))
"""


def test_a_run_killed_halfway_sends_the_rest_and_nothing_twice(home, monkeypatch):
    n = 40
    with connect(get_settings()) as con:
        create(con)
        keys = planned(con, n)
    inbox = Inbox(delay=0.05)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {**os.environ, "DEBTFLOW_SMTP_HOST": "127.0.0.1", "DEBTFLOW_SMTP_PORT": str(port)}
    try:
        proc = subprocess.Popen([sys.executable, "-c", KILLED, AS_OF.isoformat()], env=env)
        deadline = time.monotonic() + 60
        while len(inbox.messages) < n // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        delivered_before = len(inbox.messages)
        assert 0 < delivered_before < n
        done = subprocess.run([sys.executable, "-c", KILLED, AS_OF.isoformat()], env=env)
        assert done.returncode == 0
    finally:
        controller.stop()
    ids = Counter(m["Message-ID"] for m in inbox.messages)
    assert set(ids) == {message_id(k, "localhost") for k in keys}  # every message arrived
    twice = [i for i, c in ids.items() if c > 1]
    assert len(twice) <= 1  # only the one in flight at the kill, with its own Message-ID
    with connect(get_settings()) as con:
        assert states(con) == {"sent": n}
    assert dunning.send(get_settings(), AS_OF, at=FRIDAY_10)["sent"] == 0


def test_a_dry_run_changes_nothing_and_show_tells_a_debtors_history(con, smtp):
    candidates(con, AS_OF, {"D1": {"amount_due": 1000, "days_past_due": 40,
                                   "steps_taken": ["reminder_1", "reminder_2"],
                                   "last_step_date": AS_OF.replace(day=1)},
                            "D2": {"suppression_reason": "bankrupt"}})  # fmt: skip
    con.close()
    dry = dunning.plan_and_send(get_settings(), AS_OF, at=FRIDAY_10, dry_run=True)
    assert dry["planned"] == {"would_plan": 1} and dry["sent"]["sent"] == 0
    assert smtp.messages == []
    dunning.plan_and_send(get_settings(), AS_OF, at=FRIDAY_10)
    shown = dunning.history(get_settings(), "D1")
    (action,) = shown["actions"]
    assert action["step"] == "final_notice" and action["state"] == "sent"
    assert action["why_channel"] == "the step's channel (letter)"
    assert dunning.history(get_settings(), "D2")["suppressed"][0]["reason"] == "bankrupt"
    text = str(dunning.history(get_settings(), "D1"))
    assert "@" not in text and "Kerkstraat" not in text  # no contact data in the history


def test_placed_accounts_are_recalled_once_paid_or_disputed(con):
    """The placement file has the columns agreed with the agency (policy.yml); the next day the
    accounts that were paid or disputed since go in the recall file, and only those."""
    ready = {"steps_taken": ["reminder_1", "reminder_2", "final_notice", "phone"],
             "days_past_due": 90, "last_step_date": AS_OF.replace(day=1)}  # fmt: skip
    candidates(con, AS_OF, {"PAID": dict(ready), "DISPUTES": dict(ready), "STAYS": dict(ready)})
    plan.plan(con, get_settings(), AS_OF)
    assert send.send(con, get_settings(), AS_OF, at=FRIDAY_10)["by_channel"] == {"agency": 3}
    folder = get_settings().outbox_dir / AS_OF.isoformat() / "agency"
    placement = (folder / "placement.csv").read_text().splitlines()
    assert (
        placement[0]
        == "debtor_id,country,currency,amount_due,invoice_id,episode_start,grade,idempotency_key"
    )
    assert len(placement) == 4
    day2 = AS_OF.replace(day=23)
    candidates(
        con,
        day2,
        {"DISPUTES": {"suppression_reason": "disputed", "amount_due": 0},
         "STAYS": {"suppression_reason": "placed_with_agency"}},
    )  # fmt: skip
    result = send.send(con, get_settings(), day2, at=datetime(2026, 11, 23, 10, 0))
    assert result["recalled"] == 2
    recall = (get_settings().outbox_dir / day2.isoformat() / "agency" / "recall.csv").read_text()
    assert [line.split(",")[0] for line in recall.splitlines()[1:]] == ["DISPUTES", "PAID"]
    assert "disputed" in recall and "paid" in recall
    assert dict(con.execute("select debtor_id, state from dunning.ledger").fetchall()) == {
        "PAID": "recalled", "DISPUTES": "recalled", "STAYS": "sent"
    }  # fmt: skip
    assert (
        send.send(con, get_settings(), day2, at=datetime(2026, 11, 23, 11, 0)).get("recalled")
        is None
    )
