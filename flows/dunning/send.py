"""Send the planned dunning actions, each exactly once.

An action moves planned -> sending -> sent | failed (or back to planned when its channel was
unavailable: it waits for the next run). The move to 'sending' is committed before the message
leaves and the move to 'sent' right after, so a run killed at any point leaves at most the one
message in flight undecided; the next run sends it again with the same Message-ID (derived from
the idempotency key), and everything else exactly once. Actions wait while the debtor's country
is outside its sending window (weekends, public holidays, contact hours: hours.py), checked
against `at` (now, or --at for back-fills and tests).

The agents' call list and the agency's placement file are one file per day, rewritten whole from
the ledger each run; letters get a print-batch manifest per day. What was sent or bounced goes
back into raw.contact_events, which the next day's build reads (channel_performance, features,
and the mart's ladder history).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime

import duckdb
import pandas as pd

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import LEDGER, LOAD_LOG, RAW
from debtflow.flows.dunning import channels, compose, hours
from debtflow.flows.dunning.channels import Rejected, Transient
from debtflow.flows.dunning.policy import policy
from debtflow.flows.dunning.statutes import default_statutes

FILE_CHANNELS = ("phone", "agency")  # one list per day, not one message per action
LOOPBACK_BATCH = "debtflow-dunning"
# the contract's contact-event channels: a hand-over is a letter to the debtor
EVENT_CHANNEL = {"agency": "letter"}


def _now() -> datetime:
    return datetime.now(UTC)


def pending(con: duckdb.DuckDBPyConnection, as_of: date) -> list[dict]:
    """Actions to send: planned on or before as_of, those a crash left 'sending' first."""
    cursor = con.execute(
        f"select * from {LEDGER} where state in ('planned', 'sending') and as_of <= ? "
        "order by state = 'sending' desc, as_of, idempotency_key",
        [as_of],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def send(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    at: datetime | None = None,
    dry_run: bool = False,
) -> dict:
    """Send what is pending and may go out at `at`; return what happened, per channel."""
    at = at or _now()
    pol = policy(settings)
    statutes = default_statutes()
    actions = pending(con, as_of)
    senders = channels.configured(settings)
    result = Counter()
    waiting, failed, by_channel = Counter(), Counter(), Counter()
    per_message = [a for a in actions if a["channel"] not in FILE_CHANNELS]
    messages = compose.messages(con, per_message, pol, as_of)
    events: list[dict] = []
    down: set[str] = set()
    try:
        for action in per_message:
            key, channel = action["idempotency_key"], action["channel"]
            msg = messages[key]
            if isinstance(msg, str):
                _move(con, key, "superseded", reason=msg)
                result["superseded"] += 1
                continue
            country = action["country"] or ""
            # a clock without a zone (--at) reads as the time in the debtor's own zone
            moment = at if at.tzinfo else at.replace(tzinfo=statutes.timezone(country))
            allowed, why = hours.may_contact(country, channel, moment)
            if not allowed:
                waiting[why] += 1
                continue
            if channel in down:
                waiting["channel_unavailable"] += 1
                continue
            if dry_run:
                result["would_send"] += 1
                continue
            _move(con, key, "sending", sending=True)
            try:
                provider_id = channels.with_retries(
                    lambda s=senders[channel], m=msg: s.send(m, as_of),
                    backoff=settings.send_retry_backoff,
                )
            except Rejected as exc:
                _move(con, key, "failed", reason=str(exc))
                failed[channel] += 1
                events.append(_event(action, "bounced", at))
            except Transient as exc:
                # the channel is down: this and the rest of its actions wait for the next run
                _move(con, key, "planned", reason=str(exc))
                down.add(channel)
                waiting["channel_unavailable"] += 1
            else:
                _move(con, key, "sent", provider_id=provider_id)
                by_channel[channel] += 1
                events.append(_event(action, "sent", at))
        if not dry_run:
            for channel in FILE_CHANNELS:
                sent = _send_list(con, settings, channel, as_of, actions)
                if sent:
                    by_channel[channel] += len(sent)
                    events += [_event(a, "sent", at) for a in sent]
            _letter_manifest(con, senders["letter"], as_of)
    finally:
        for sender in senders.values():
            sender.close()
    _record_contacts(con, events, as_of)
    return {
        "as_of": as_of.isoformat(),
        "at": at.isoformat(timespec="minutes") + ("" if at.tzinfo else " (debtor's time zone)"),
        "sent": sum(by_channel.values()),
        "by_channel": dict(by_channel),
        "failed": dict(failed),
        "waiting": dict(waiting),
        **dict(result),
        "outbox_only": sorted(c for c, s in senders.items() if not s.configured),
    }


def _move(
    con,
    key: str,
    state: str,
    reason: str | None = None,
    provider_id: str | None = None,
    sending: bool = False,
) -> None:
    """One committed state change (autocommit: each statement is its own transaction)."""
    now = _now().replace(tzinfo=None)
    if sending:
        con.execute(
            f"update {LEDGER} set state = 'sending', sending_at = ?, "
            "attempts = coalesce(attempts, 0) + 1 where idempotency_key = ?",
            [now, key],
        )
    elif state == "sent":
        con.execute(
            f"update {LEDGER} set state = 'sent', sent_at = ?, provider_id = ?, "
            "state_reason = null where idempotency_key = ?",
            [now, provider_id, key],
        )
    else:
        con.execute(
            f"update {LEDGER} set state = ?, state_reason = ? where idempotency_key = ?",
            [state, reason, key],
        )


def _send_list(
    con, settings: Settings, channel: str, as_of: date, actions: list[dict]
) -> list[dict]:
    """The day's call list or placement file: every action of the channel planned for the day or
    carried over, best expected value first, written whole; then those actions are sent."""
    todo = [a for a in actions if a["channel"] == channel]
    if not todo:
        return []
    for a in todo:
        _move(con, a["idempotency_key"], "sending", sending=True)
    name = "call_list.csv" if channel == "phone" else "placement.csv"
    path = settings.outbox_dir / as_of.isoformat() / channel / name
    rows = con.execute(
        f"select debtor_id, step, currency, amount_due, invoice_id, grade, p_collect, "
        f"reason_codes, idempotency_key from {LEDGER} where channel = ? and "
        "(state = 'sending' or (state = 'sent' and provider_id = ?)) "
        "order by coalesce(p_collect, 0) * amount_due desc, idempotency_key",
        [channel, str(path)],
    ).df()
    out = io.StringIO()
    rows.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    channels._write(path, out.getvalue().encode())
    for a in todo:
        _move(con, a["idempotency_key"], "sent", provider_id=str(path))
    return todo


def _letter_manifest(con, sender, as_of: date) -> None:
    """The print batch: every letter of the business date's folder, for the print house."""
    if not isinstance(sender, channels.Letters):
        return
    rows = con.execute(
        f"select provider_id as file, idempotency_key, step, currency, amount_due from {LEDGER} "
        "where channel = 'letter' and state = 'sent' and starts_with(provider_id, ?) order by 1",
        [f"{as_of.isoformat()}/"],
    ).df()
    if len(rows):
        sender.manifest(as_of, rows.to_dict("records"))


def _event(action: dict, event_type: str, at: datetime) -> dict:
    return {
        "event_id": f"dunning-{action['idempotency_key'][:32]}-{event_type}",
        "debtor_id": action["debtor_id"],
        "invoice_id": action["invoice_id"],
        "channel": EVENT_CHANNEL.get(action["channel"], action["channel"]),
        "event_type": event_type,
        "occurred_at": at.astimezone(UTC).replace(tzinfo=None),
        "step": action["step"],
        "campaign": "dunning",
        "variant": None,
    }


def _record_contacts(con, events: list[dict], as_of: date) -> None:
    """What was sent or bounced, as contact events the next build reads (the loop back)."""
    if not events:
        return
    now = _now().replace(tzinfo=None)
    batch, source = f"{LOOPBACK_BATCH}-{as_of.isoformat()}", f"dunning.send@{now.isoformat()}"
    frame = pd.DataFrame(events)
    frame["_batch_id"], frame["_source_file"], frame["_loaded_at"] = batch, source, now
    con.register("dunning_events", frame)
    try:
        con.execute("begin transaction")
        con.execute(f"insert into {RAW}.contact_events by name select * from dunning_events")
        # lineage like a landing file's, so every raw row is accounted for in the load log
        con.execute(
            f"insert into {LOAD_LOG} (batch_id, file_name, table_name, file_format, rows_read, "
            "rows_loaded, rows_quarantined, rows_held, status, message, loaded_at) "
            "values (?, ?, 'contact_events', 'ledger', ?, ?, 0, 0, 'loaded', ?, ?)",
            [batch, source, len(frame), len(frame), "sent and bounced dunning messages", now],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.unregister("dunning_events")
