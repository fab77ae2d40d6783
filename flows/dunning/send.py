"""Send the planned dunning actions, each exactly once.

An action moves planned -> sending -> sent | failed (or back to planned when its channel was
unavailable: it waits for the next run). The move to 'sending' is written to the run's journal
before the message leaves and the move to 'sent' right after (Journal), so a run killed at any
point leaves at most the one message in flight undecided; the next run applies the journal first
and sends that one again with the same Message-ID (derived from the idempotency key), and
everything else exactly once. Actions wait while the debtor's country
is outside its sending window (weekends, public holidays, contact hours: hours.py), checked
against `at` (now, or --at for back-fills and tests).

The agents' call list and the agency's placement file are one file per day, rewritten whole from
the ledger each run, and placed accounts that were paid or suppressed since go in the agency's
recall file; letters get a print-batch manifest per day. Each channel keeps the policy's rate. What was sent or bounced goes
back into raw.contact_events, which the next day's build reads (channel_performance, features,
and the mart's ladder history).
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import DUNNING_CANDIDATES, LEDGER, LOAD_LOG, RAW
from debtflow.flows.dunning import channels, compose, hours
from debtflow.flows.dunning.channels import Rejected, Transient
from debtflow.flows.dunning.policy import Policy, policy
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
    journal = Journal(con, settings.root / "dunning" / "send.journal")
    journal.recover()  # what a killed run sent, before anything is sent again
    actions = pending(con, as_of)
    senders = channels.configured(settings)
    result = Counter()
    waiting, failed, by_channel = Counter(), Counter(), Counter()
    per_message = [a for a in actions if a["channel"] not in FILE_CHANNELS]
    messages = compose.messages(con, per_message, pol, as_of)
    events: list[dict] = []
    down: set[str] = set()
    next_at: dict[str, float] = {}  # the channel's rate limit: when its next send may start
    try:
        for action in per_message:
            key, channel = action["idempotency_key"], action["channel"]
            msg = messages[key]
            if isinstance(msg, str):
                journal.note(key, "superseded", msg)
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
            rate = pol.rate_per_second.get(channel)
            if rate:
                time.sleep(max(0.0, next_at.get(channel, 0.0) - time.monotonic()))
                next_at[channel] = time.monotonic() + 1 / rate
            journal.note(key, "sending")
            try:
                provider_id = channels.with_retries(
                    lambda s=senders[channel], m=msg: s.send(m, as_of),
                    backoff=settings.send_retry_backoff,
                )
            except Rejected as exc:
                journal.note(key, "failed", str(exc))
                failed[channel] += 1
                events.append(_event(action, "bounced", at))
            except Transient as exc:
                # the channel is down: this and the rest of its actions wait for the next run
                journal.note(key, "planned", str(exc))
                down.add(channel)
                waiting["channel_unavailable"] += 1
            else:
                journal.note(key, "sent", provider_id)
                by_channel[channel] += 1
                events.append(_event(action, "sent", at))
        journal.apply()
        if not dry_run:
            recalled = _recall(con, settings, as_of)
            if recalled:
                result["recalled"] = recalled
            for channel in FILE_CHANNELS:
                sent = _send_list(con, settings, pol, channel, as_of, actions)
                if sent:
                    by_channel[channel] += len(sent)
                    events += [_event(a, "sent", at) for a in sent]
            _letter_manifest(con, senders["letter"], as_of)
    finally:
        journal.close()
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


class Journal:
    """A run's state changes, appended to a file and flushed before and after each message
    leaves, and written to the ledger every BATCH messages: two warehouse commits per message
    cost more than the SMTP exchange itself. The OS keeps what a killed process wrote, so the
    next run applies it first (`recover`); only a power cut could lose the last lines, and then
    at worst resend those messages, with their own Message-IDs."""

    BATCH = 500

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self.con, self.path, self.noted, self.fh = con, path, [], None

    def recover(self) -> None:
        if self.path.exists():
            lines = self.path.read_text(encoding="utf-8").splitlines()
            self._write([line.split("\t") for line in lines if line.count("\t") == 3])
            self.path.unlink()

    def note(self, key: str, state: str, detail: str | None = None) -> None:
        if self.fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        row = [
            key,
            state,
            _now().replace(tzinfo=None).isoformat(),
            (detail or "").replace("\t", " "),
        ]
        self.fh.write("\t".join(row).replace("\n", " ") + "\n")
        self.fh.flush()
        self.noted.append(row)
        if len(self.noted) >= self.BATCH:
            self.apply()

    def apply(self) -> None:
        """Write what was noted to the ledger, then forget it."""
        if self.noted:
            self._write(self.noted)
            self.noted = []
            self.fh.truncate(0)

    def close(self) -> None:
        if self.fh is not None:
            self.apply()
            self.fh.close()
            self.path.unlink(missing_ok=True)
            self.fh = None

    def _write(self, rows: list[list[str]]) -> None:
        """Per key the last state noted; 'sending' lines count the attempts."""
        frame = pd.DataFrame(rows, columns=["key", "state", "noted_at", "detail"])
        frame["noted_at"] = pd.to_datetime(frame["noted_at"])
        frame["attempts"] = frame["state"].eq("sending").groupby(frame["key"]).transform("sum")
        last = frame.groupby("key").tail(1)
        self.con.register("dunning_journal", last)
        try:
            self.con.execute(
                f"update {LEDGER} as l set state = j.state, "
                "sending_at = case when j.state = 'sending' then j.noted_at else l.sending_at end, "
                "sent_at = case when j.state = 'sent' then j.noted_at else l.sent_at end, "
                "provider_id = case when j.state = 'sent' then j.detail else l.provider_id end, "
                "state_reason = case when j.state = 'sent' then null else nullif(j.detail, '') end, "
                "attempts = coalesce(l.attempts, 0) + j.attempts "
                "from dunning_journal as j where l.idempotency_key = j.key"
            )
        finally:
            self.con.unregister("dunning_journal")


def _move(con, key: str, state: str, provider_id: str | None = None) -> None:
    """One committed state change, for the day's lists (a batch of actions, not one message)."""
    now = _now().replace(tzinfo=None)
    if state == "sending":
        con.execute(
            f"update {LEDGER} set state = 'sending', sending_at = ?, "
            "attempts = coalesce(attempts, 0) + 1 where idempotency_key = ?",
            [now, key],
        )
    else:
        con.execute(
            f"update {LEDGER} set state = 'sent', sent_at = ?, provider_id = ?, "
            "state_reason = null where idempotency_key = ?",
            [now, provider_id, key],
        )


CALL_LIST = "debtor_id, step, currency, amount_due, invoice_id, grade, p_collect, reason_codes"


def _send_list(
    con, settings: Settings, pol: Policy, channel: str, as_of: date, actions: list[dict]
) -> list[dict]:
    """The day's call list or placement file: every action of the channel planned for the day or
    carried over, best expected value first, written whole; then those actions are sent. The
    placement file has the columns agreed with the agency (policy.yml)."""
    todo = [a for a in actions if a["channel"] == channel]
    if not todo:
        return []
    for a in todo:
        _move(con, a["idempotency_key"], "sending")
    name = "call_list.csv" if channel == "phone" else "placement.csv"
    path = settings.outbox_dir / as_of.isoformat() / channel / name
    columns = CALL_LIST if channel == "phone" else ", ".join(pol.agency.fields)
    rows = con.execute(
        f"select {columns} from {LEDGER} where channel = ? and "
        "(state = 'sending' or (state = 'sent' and provider_id = ?)) "
        "order by coalesce(p_collect, 0) * amount_due desc, idempotency_key",
        [channel, str(path)],
    ).df()
    _write_csv(path, rows)
    if channel == "phone":  # the agents open it in a spreadsheet
        xlsx = io.BytesIO()
        rows.to_excel(xlsx, index=False, sheet_name=f"calls {as_of.isoformat()}")
        channels.write_atomic(path.with_suffix(".xlsx"), xlsx.getvalue())
    for a in todo:
        _move(con, a["idempotency_key"], "sent", provider_id=str(path))
    return todo


def _recall(con, settings: Settings, as_of: date) -> int:
    """Accounts placed with the agency that it must stop collecting: paid, or suppressed since
    (disputed, deceased, bankrupt, in debt restructuring, on a plan). They go in the day's recall
    file, and their placement becomes 'recalled' with the reason."""
    if con.execute(f"select max(as_of) from {DUNNING_CANDIDATES}").fetchone()[0] != as_of:
        return 0  # without the day's candidates there is no telling who paid
    rows = con.execute(
        f"select l.idempotency_key, l.debtor_id, l.currency, l.invoice_id, "
        f"coalesce(c.suppression_reason, 'paid') as reason from {LEDGER} as l "
        f"left join {DUNNING_CANDIDATES} as c on c.as_of = ? and c.debtor_id = l.debtor_id "
        "and c.currency = l.currency "
        "where l.channel = 'agency' and l.state = 'sent' "
        "and (c.debtor_id is null or c.suppression_reason <> 'placed_with_agency') "
        "order by l.debtor_id, l.currency",
        [as_of],
    ).df()
    if rows.empty:
        return 0
    path = settings.outbox_dir / as_of.isoformat() / "agency" / "recall.csv"
    _write_csv(path, rows.drop(columns="idempotency_key"))
    con.executemany(
        f"update {LEDGER} set state = 'recalled', state_reason = ? where idempotency_key = ?",
        [
            (reason, key)
            for key, reason in zip(rows["idempotency_key"], rows["reason"], strict=True)
        ],
    )
    return len(rows)


def _write_csv(path: Path, rows: pd.DataFrame) -> None:
    out = io.StringIO()
    rows.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    channels.write_atomic(path, out.getvalue().encode())


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
        # an A/B test's arm, as the landing contract carries one (channel_performance reads it)
        "campaign": action["experiment"] or "dunning",
        "variant": action["variant"],
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
