"""`debtflow doctor`: check the configuration and every connection, one line each, and say what
to do about what is wrong. Nothing is written except a probe file in DEBTFLOW_HOME."""

from __future__ import annotations

import os
import smtplib
import socket
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import yaml

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings, get_settings

OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f" -> {self.fix}" if self.fix and self.status != OK else ""
        return f"{self.status:<4} {self.name:<12} {self.detail}{fix}"


def check_home(s: Settings) -> Check:
    if not s.root.exists():  # a typo here would otherwise start a second, empty installation
        relative = "" if s.home.is_absolute() else f" (relative to {os.getcwd()})"
        return Check("home", WARN, f"{s.root} does not exist{relative}",
                     "if debtflow runs here already, set DEBTFLOW_HOME to its folder; "
                     "otherwise the first `debtflow ingest` creates it")  # fmt: skip
    probe = s.root / f".doctor-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check("home", FAIL, f"{s.root} is not writable ({exc.strerror})",
                     "set DEBTFLOW_HOME to a folder this user can write")  # fmt: skip
    return Check("home", OK, f"{s.root} is writable")


def check_landing(s: Settings) -> Check:
    from debtflow.flows.core.storage import open_store
    from debtflow.flows.ingest.landing import survey

    try:
        found = survey(open_store(s.landing, s))
    except Exception as exc:
        fix = ("check the bucket name, DEBTFLOW_S3_ENDPOINT_URL and the AWS_* credentials"
               if s.landing.startswith("s3://")
               else "create the folder or set DEBTFLOW_LANDING_URL to the landing zone")  # fmt: skip
        return Check("landing", FAIL, f"{s.landing} is not reachable: {exc}", fix)
    if found.strays:
        return Check("landing", WARN if found.batches else FAIL,
                     f"{s.landing}: {len(found.batches)} batch folder(s); not batches: "
                     f"{', '.join(found.strays[:5])}",
                     "name each batch folder YYYY-MM-DDTHHMM (e.g. 2026-11-21T0600)")  # fmt: skip
    return Check("landing", OK, f"{s.landing} reachable, {len(found.batches)} batch folder(s)")


def check_warehouse(s: Settings) -> Check:
    from debtflow.flows.core.warehouse import connect

    if not s.warehouse_path.exists():
        return Check("warehouse", OK, f"{s.warehouse_path} not created yet (the first ingest does)")
    try:
        with connect(s, read_only=True, wait_seconds=0) as con:
            schemas = [r[0] for r in con.execute(
                "select distinct schema_name from information_schema.schemata "
                "where catalog_name = current_database() order by 1").fetchall()]  # fmt: skip
    except Exception as exc:
        return Check("warehouse", FAIL, f"{s.warehouse_path} does not open: {exc}",
                     "if a run holds it, wait for it; otherwise restore the file from a backup")  # fmt: skip
    return Check("warehouse", OK, f"{s.warehouse_path} opens; schemas {', '.join(schemas)}")


def check_dbt(s: Settings) -> Check:
    for name in ("dbt_project.yml", "profiles.yml"):
        path = s.dbt_project_dir / name
        try:
            yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            return Check("dbt", FAIL, f"{path} unreadable: {exc}",
                         "set DEBTFLOW_DBT_PROJECT_DIR to the dbt_project folder")  # fmt: skip
    return Check("dbt", OK, f"project and profile in {s.dbt_project_dir}")


def check_model(s: Settings) -> Check:
    from debtflow.models import registry

    version = registry.champion_version(s)
    if version is None:
        return Check("model", WARN, "no champion model yet: the daily run scores nothing and "
                     "dunning follows the rules alone",
                     "run `debtflow train` once the book has labelled history (the daily run "
                     "says when)")  # fmt: skip
    return Check("model", OK, f"champion {version}")


def check_tapes(s: Settings) -> Check:
    from debtflow.flows.core.errors import DebtflowError
    from debtflow.flows.tape import pseudonym

    try:
        pseudonym.key(s)
    except DebtflowError as exc:
        return Check("tapes", WARN, f"bidder tapes are refused: {exc}")
    return Check("tapes", OK, f"pseudonymisation key set; tapes publish to {s.tapes_store}")


def check_smtp(s: Settings) -> Check | None:
    if not s.smtp_host:
        return None
    where = f"{s.smtp_host}:{s.smtp_port}"
    try:
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
            smtp.noop()
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
    except (OSError, smtplib.SMTPException) as exc:
        return Check("smtp", FAIL, f"{where} not reachable: {exc}",
                     "check DEBTFLOW_SMTP_HOST/PORT and the login")  # fmt: skip
    if not s.alert_email_to:
        return Check("smtp", WARN, f"{where} reachable but no recipient",
                     "set DEBTFLOW_ALERT_EMAIL_TO")  # fmt: skip
    return Check("smtp", OK, f"{where} reachable")


def check_webhook(s: Settings) -> Check | None:
    if not s.alert_webhook_url:
        return None
    url = urlparse(s.alert_webhook_url)  # connect only: a test POST would page someone
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=10).close()
    except OSError as exc:
        return Check("webhook", FAIL, f"{url.hostname}:{port} not reachable: {exc}",
                     "check DEBTFLOW_ALERT_WEBHOOK_URL")  # fmt: skip
    return Check("webhook", OK, f"{url.hostname}:{port} accepts connections")


def check_prefect(s: Settings) -> Check | None:
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        return Check("prefect", OK, "no PREFECT_API_URL: flows run on an ephemeral server")
    try:
        with urllib.request.urlopen(f"{api.rstrip('/')}/health", timeout=10) as resp:
            resp.read()
    except OSError as exc:
        return Check("prefect", FAIL, f"{api} not reachable: {exc}",
                     "start the server (`prefect server start`) or fix PREFECT_API_URL")  # fmt: skip
    return Check("prefect", OK, f"{api} healthy")


CHECKS: list[Callable[[Settings], Check | None]] = [
    check_home, check_landing, check_warehouse, check_dbt, check_model, check_tapes,
    check_smtp, check_webhook, check_prefect,
]  # fmt: skip


def run_checks() -> list[Check]:
    """Every check; the first is that the environment's settings resolve at all (the doctor
    reads them itself so that a bad value is a finding, not a crash)."""
    try:
        settings = get_settings()
    except DebtflowError as exc:
        return [Check("settings", FAIL, str(exc).replace("\n", " "), "fix the DEBTFLOW_* value")]
    checks = [Check("settings", OK, f"home {settings.root}, landing {settings.landing}")]
    for check in CHECKS:
        try:
            result = check(settings)
        except Exception as exc:  # a broken check is a finding, not a crash
            result = Check(check.__name__.removeprefix("check_"), FAIL, f"check crashed: {exc}")
        if result is not None:
            checks.append(result)
    return checks
