"""Failure alerts reach a real SMTP server and a webhook, name the stage, and carry no personal data."""

from __future__ import annotations

import json
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.controller import Controller

from debtflow.flows.core import notify
from debtflow.flows.core.settings import get_settings

REASON = "TransformError: dbt build failed for debtor jan.jansen@example.nl, tel +31 6 1234 5678"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self) -> None:
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("DEBTFLOW_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEBTFLOW_ALERT_SMTP_PORT", str(port))
    monkeypatch.setenv("DEBTFLOW_ALERT_SMTP_TO", "oncall@example.com, ops@example.com")
    yield inbox
    controller.stop()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch):
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DEBTFLOW_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/alert")
    yield received
    server.shutdown()


def test_redact_masks_contact_data_but_keeps_dates_and_batches() -> None:
    text = "batch 2026-11-20T0600 row 7: a.b@x.nl, +31 6 1234 5678, 0612345678, NL91ABNA0417164300"
    assert notify.redact(text) == "batch 2026-11-20T0600 row 7: <email>, <phone>, <number>, <iban>"


def test_alert_by_email_names_flow_date_and_stage(home, smtp) -> None:
    alert = notify.compose("daily", "2026-11-20", "transform", REASON)
    assert notify.send(get_settings(), alert) == ["email"]
    (msg,) = smtp.messages
    assert msg["Subject"] == "[debtflow] daily failed for 2026-11-20 at stage transform"
    assert msg["To"] == "oncall@example.com, ops@example.com"
    body = msg.get_payload()
    assert "stage:   transform" in body and "TransformError: dbt build failed" in body
    assert "jansen" not in body and "1234 5678" not in body


def test_alert_by_webhook_posts_json(home, webhook) -> None:
    alert = notify.compose("daily", "2026-11-20", "ingest", REASON)
    assert notify.send(get_settings(), alert) == ["webhook"]
    (hit,) = webhook
    assert hit["path"] == "/alert"
    assert hit["json"]["stage"] == "ingest" and hit["json"]["as_of"] == "2026-11-20"
    assert "<email>" in hit["json"]["text"] and "jansen" not in json.dumps(hit["json"])


def test_an_unreachable_channel_does_not_stop_the_other(home, webhook, monkeypatch) -> None:
    monkeypatch.setenv("DEBTFLOW_ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DEBTFLOW_ALERT_SMTP_PORT", "1")  # nothing listens there
    monkeypatch.setenv("DEBTFLOW_ALERT_SMTP_TO", "oncall@example.com")
    alert = notify.compose("daily", None, "score", "boom")
    assert notify.send(get_settings(), alert) == ["webhook"]


@pytest.mark.slow
def test_a_failing_flow_alerts_with_its_failed_stage(home, smtp) -> None:
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    @task(name="transform")
    def transform_stage() -> None:
        raise RuntimeError(REASON)

    @flow(name="daily", on_failure=[notify.on_flow_failure])
    def failing(as_of: str | None = None) -> None:
        transform_stage()

    with prefect_test_harness(server_startup_timeout=90):
        state = failing("2026-11-20", return_state=True)
    assert state.is_failed()
    (msg,) = smtp.messages
    assert msg["Subject"] == "[debtflow] daily failed for 2026-11-20 at stage transform"
    assert "jansen" not in msg.get_payload()
