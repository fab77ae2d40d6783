"""Failure alerts: which flow, which business date, which stage, and why, by e-mail or webhook.

An alert goes to people and chat rooms outside the platform's access control, so it carries no
personal data: the reason is the error's first lines with e-mail addresses, phone and account
numbers masked. `on_flow_failure` is the Prefect hook; the rest knows nothing of Prefect.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import urllib.request
from email.message import EmailMessage

from debtflow.flows.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_REASON = 600
PERSONAL = [  # (pattern, replacement), applied in order
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b"), "<iban>"),
    (re.compile(r"(?<![\w-])(\+|00)\d[\d ]{7,14}\d\b"), "<phone>"),  # +31 6 1234 5678
    (re.compile(r"\b\d{9,}\b"), "<number>"),  # national phone, account or citizen numbers
]


def redact(text: str) -> str:
    """The first lines of an error message, with anything that may identify a person masked."""
    short = "\n".join(text.strip().splitlines()[:8])[:MAX_REASON]
    for pattern, replacement in PERSONAL:
        short = pattern.sub(replacement, short)
    return short


def compose(flow: str, as_of: str | None, stage: str, reason: str, run: str = "") -> dict:
    subject = f"[debtflow] {flow} failed for {as_of or 'today'} at stage {stage}"
    body = "\n".join(
        [
            f"flow:    {flow}",
            f"as_of:   {as_of or 'today'}",
            f"stage:   {stage}",
            f"run:     {run}",
            "",
            "reason:",
            redact(reason),
            "",
            "Fix the cause, then re-run the date: debtflow run daily --as-of <date>",
            "(every stage is idempotent for its date; a backfill skips dates already complete).",
        ]
    )
    return {"subject": subject, "body": body, "flow": flow, "as_of": as_of, "stage": stage}


def send_email(settings: Settings, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["Subject"], msg["From"] = subject, settings.smtp_from
    msg["To"] = ", ".join(a.strip() for a in (settings.alert_email_to or "").split(","))
    msg.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(msg)


def post_webhook(url: str, alert: dict) -> None:
    # `text` is what Slack and Teams incoming webhooks display; the rest is for machines
    payload = {"text": f"{alert['subject']}\n{alert['body']}", **alert}
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as resp:
        resp.read()


def send(settings: Settings, alert: dict) -> list[str]:
    """Deliver on every configured channel; one failing channel does not stop the other."""
    delivered = []
    if settings.smtp_host and settings.alert_email_to:
        try:
            send_email(settings, alert["subject"], alert["body"])
            delivered.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            log.error("failure alert by e-mail not delivered: %s", exc)
    if settings.alert_webhook_url:
        try:
            post_webhook(settings.alert_webhook_url, alert)
            delivered.append("webhook")
        except OSError as exc:
            log.error("failure alert by webhook not delivered: %s", exc)
    if not delivered:
        log.warning("no alert channel delivered: %s", alert["subject"])
    return delivered


def failed_stage(flow_run_id) -> str:
    """Names of the flow run's failed task runs (the stages), from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    try:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
    except Exception as exc:  # the alert matters more than the stage name
        log.warning("could not read the failed stage: %s", exc)
        return "unknown"
    # a task run is named "<task>-<n>": the task is the stage
    failed = {r.name.rsplit("-", 1)[0] for r in runs if r.state and r.state.is_failed()}
    return ", ".join(sorted(set(failed))) or "flow"


def on_flow_failure(flow, flow_run, state) -> None:
    """Prefect `on_failure` hook: alert with the failing stage and the reason."""
    as_of = flow_run.parameters.get("as_of")
    alert = compose(
        flow.name,
        str(as_of) if as_of else None,
        failed_stage(flow_run.id),
        state.message or str(state.type),
        run=f"{flow_run.name} ({flow_run.id})",
    )
    send(get_settings(), alert)
