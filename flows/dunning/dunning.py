"""The dunning policy: plan the day's messages into dunning.ledger, then render them to the outbox.

Planning is one DuckDB statement over marts.debtor_features (plus the day's grades), so it costs
the same for a thousand debtors as for a million. Each intended message has an idempotency key,
sha256(debtor_id | oldest overdue invoice | step): an overdue episode gets each step once, however
often or late the planner runs. Sending renders only 'planned' rows, to files named by that key,
so a crash between writing a file and marking it sent rewrites the same file, never a second one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import DEBTOR_SCORES, FEATURES, LEDGER, SUPPRESSIONS, session

DEFAULT_LADDER = Path(__file__).with_name("dunning_ladder.yml")
CHANNEL_RULES = ("preferred", "letter", "phone", "agency")
# Reasons a debtor with an overdue balance is not dunned, in the order they are checked: the
# standing ones from marts.debtor_suppressions, then the ladder's amount rules.
SUPPRESSION_REASONS = (
    "deceased",
    "bankrupt",
    "debt_restructuring",
    "active_plan",
    "disputed",
    "below_min_amount",
)
UPDATE_CHUNK = 2000


@dataclass(frozen=True)
class Step:
    name: str
    min_days_past_due: int
    channel: str
    label: str


@dataclass(frozen=True)
class Ladder:
    steps: tuple[Step, ...]
    min_amount: Decimal
    min_amount_by_currency: dict[str, Decimal]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


def load_ladder(settings: Settings) -> Ladder:
    path = settings.dunning_ladder or DEFAULT_LADDER
    spec = yaml.safe_load(Path(path).read_text())
    steps = tuple(
        sorted(
            (
                Step(s["name"], int(s["min_days_past_due"]), s["channel"], s.get("label", ""))
                for s in spec["steps"]
            ),
            key=lambda s: s.min_days_past_due,
        )
    )
    for s in steps:
        if s.channel not in CHANNEL_RULES:
            raise DebtflowError(f"ladder {path}: step {s.name} has unknown channel {s.channel!r}")
    return Ladder(
        steps=steps,
        min_amount=Decimal(str(spec.get("min_amount", "0"))),
        min_amount_by_currency={
            k: Decimal(str(v)) for k, v in (spec.get("min_amount_by_currency") or {}).items()
        },
    )


def idempotency_key(debtor_id: str, oldest_overdue_invoice_id: str | None, step: str) -> str:
    """The same key as the planner's SQL computes."""
    text = f"{debtor_id}|{oldest_overdue_invoice_id or ''}|{step}"
    return hashlib.sha256(text.encode()).hexdigest()


# --- planning -----------------------------------------------------------------------------------


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _step_sql(ladder: Ladder) -> str:
    whens = " ".join(
        f"when dpd >= {s.min_days_past_due} then {_sql_literal(s.name)}"
        for s in sorted(ladder.steps, key=lambda s: -s.min_days_past_due)
    )
    return f"case {whens} end"


def _channel_sql(ladder: Ladder) -> str:
    preferred = (
        "case when has_email and not email_bounced then 'email'"
        " when has_mobile and not sms_bounced then 'sms' else 'letter' end"
    )
    by_rule = {
        "preferred": preferred,
        "letter": "'letter'",
        "phone": "case when has_mobile then 'phone' else 'letter' end",
        "agency": "'agency'",
    }
    whens = " ".join(f"when {_sql_literal(s.name)} then {by_rule[s.channel]}" for s in ladder.steps)
    return f"case step {whens} end"


def _min_amount_sql(ladder: Ladder) -> str:
    whens = " ".join(
        f"when {_sql_literal(cur)} then {amount}"
        for cur, amount in ladder.min_amount_by_currency.items()
    )
    return (
        f"case currency {whens} else {ladder.min_amount} end" if whens else str(ladder.min_amount)
    )


def _candidates_sql(ladder: Ladder) -> str:
    flags = ("has_email", "has_mobile", "email_bounced", "sms_bounced")
    flag_cols = ", ".join(f"coalesce(f.{c}, false) as {c}" for c in flags)
    return f"""
        with features as (
            select f.debtor_id, f.oldest_overdue_invoice_id as invoice_id, f.currency,
                   f.overdue_balance, coalesce(f.disputed_open_amount, 0) as disputed_amount,
                   coalesce(f.max_days_past_due, 0) as dpd, {flag_cols}, s.grade,
                   sup.reason as standing_reason
            from {FEATURES} f
            left join {DEBTOR_SCORES} s on s.debtor_id = f.debtor_id and s.as_of = $as_of
            left join {SUPPRESSIONS} sup on sup.debtor_id = f.debtor_id and sup.as_of = $as_of
            where f.as_of = $as_of and f.overdue_balance > 0
        ),
        stepped as (
            select *, overdue_balance - disputed_amount as amount_due,
                   {_min_amount_sql(ladder)} as min_amount, {_step_sql(ladder)} as step
            from features
        ),
        classified as (
            select *,
                case
                    when standing_reason is not null then standing_reason
                    when disputed_amount > 0 and amount_due < min_amount then 'disputed'
                    when amount_due < min_amount then 'below_min_amount'
                end as suppressed_reason
            from stepped
        ),
        final as (
            select *, {_channel_sql(ladder)} as channel,
                   sha256(debtor_id || '|' || coalesce(invoice_id, '') || '|' || step) as key
            from classified
        )
        select * from final
    """


def plan(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> dict:
    """Plan the day's dunning messages into the ledger; return what was planned and why not."""
    ladder = load_ladder(settings)
    _require_features(con, as_of)
    con.execute("begin transaction")
    try:
        con.execute(
            f"create or replace temp table dunning_candidates as {_candidates_sql(ladder)}",
            {"as_of": as_of},
        )
        suppressed = dict.fromkeys(SUPPRESSION_REASONS, 0)
        for reason, n in con.execute(
            "select suppressed_reason, count(*) from dunning_candidates "
            "where suppressed_reason is not null group by 1"
        ).fetchall():
            suppressed[reason] = n
        below_first_step = con.execute(
            "select count(*) from dunning_candidates where suppressed_reason is null and step is null"
        ).fetchone()[0]
        con.execute(
            "create or replace temp table dunning_new as "
            "select c.* from dunning_candidates c "
            "where c.suppressed_reason is null and c.step is not null "
            f"and not exists (select 1 from {LEDGER} l where l.idempotency_key = c.key)"
        )
        skipped = con.execute(
            "select count(*) from dunning_candidates c where c.suppressed_reason is null "
            f"and c.step is not null and exists (select 1 from {LEDGER} l "
            "where l.idempotency_key = c.key)"
        ).fetchone()[0]
        con.execute(
            f"insert into {LEDGER} (idempotency_key, as_of, debtor_id, invoice_id, step, channel,"
            " amount_due, currency, grade, state, planned_at)"
            " select key, $as_of, debtor_id, invoice_id, step, channel, amount_due, currency,"
            " grade, 'planned', $now from dunning_new"
            " on conflict do nothing",
            {"as_of": as_of, "now": _utcnow()},
        )
        planned: dict[str, dict[str, int]] = defaultdict(dict)
        for step, channel, n in con.execute(
            "select step, channel, count(*) from dunning_new group by 1, 2 order by 1, 2"
        ).fetchall():
            planned[step][channel] = n
        con.execute("drop table dunning_candidates")
        con.execute("drop table dunning_new")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return {
        "as_of": as_of.isoformat(),
        "planned": dict(planned),
        "planned_total": sum(sum(c.values()) for c in planned.values()),
        "suppressed": suppressed,
        "below_first_step": below_first_step,
        "skipped_already_in_ledger": skipped,
    }


def acted_on(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Per row of `frame` (debtor_id, oldest_overdue_invoice_id, max_days_past_due): will the
    day's run plan a message for it (before suppression rules)? A step reached whose message
    for this episode is not in the ledger yet. The scorer gives these rows exact reasons."""
    rows = pd.DataFrame(
        {
            "i": np.arange(len(frame)),
            "debtor_id": frame["debtor_id"].astype(str).to_numpy(),
            "invoice_id": frame.get("oldest_overdue_invoice_id", pd.Series([None] * len(frame)))
            .astype(object)
            .to_numpy(),
            "dpd": pd.to_numeric(frame["max_days_past_due"]).fillna(0).to_numpy(),
        }
    )
    con.register("_debtflow_reason_rows", rows)
    try:
        acting = con.execute(
            f"with stepped as (select *, {_step_sql(load_ladder(settings))} as step "
            "from _debtflow_reason_rows) "
            "select i from stepped r where step is not null and not exists ("
            f"select 1 from {LEDGER} l where l.debtor_id = r.debtor_id and l.step = r.step "
            "and coalesce(l.invoice_id, '') = coalesce(r.invoice_id, ''))"
        ).fetchnumpy()["i"]
    finally:
        con.unregister("_debtflow_reason_rows")
    needs = np.zeros(len(frame), dtype=bool)
    needs[np.asarray(acting, dtype=np.int64)] = True
    return needs


def _require_features(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Planning from a mart built for another day would dun on stale balances."""
    total, today = con.execute(
        f"select count(*), count(*) filter (where as_of = ?) from {FEATURES}", [as_of]
    ).fetchone()
    if total and not today:
        raise DebtflowError(f"{FEATURES} holds no rows for as_of {as_of}; rebuild the marts first")


# --- sending ------------------------------------------------------------------------------------


def render(row: dict, ladder: Ladder) -> str:
    """The message body the channel adapter turns into an e-mail, SMS, letter or work item.

    Deterministic (no clock), so re-rendering after a crash produces the identical file.
    """
    label = ladder.step(row["step"]).label if row["step"] in _names(ladder) else row["step"]
    return (
        f"key: {row['idempotency_key']}\n"
        f"as_of: {row['as_of']}\n"
        f"channel: {row['channel']}\n"
        f"step: {row['step']}\n"
        f"step_text: {label}\n"
        f"debtor_id: {row['debtor_id']}\n"
        f"invoice_reference: {row['invoice_id'] or ''}\n"
        f"amount_due: {row['amount_due']}\n"
        f"currency: {row['currency']}\n"
    )


def _names(ladder: Ladder) -> set[str]:
    return {s.name for s in ladder.steps}


def write_atomic(path: Path, text: str) -> None:
    """Readers see the whole file or none. Durability comes from one sync per chunk (see send)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def outbox_path(settings: Settings, as_of: date, channel: str, key: str) -> Path:
    return settings.outbox_dir / as_of.isoformat() / channel / f"{key}.txt"


def send_outbox(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> dict:
    """Render every 'planned' ledger row of as_of to the outbox, then mark it 'sent'."""
    ladder = load_ladder(settings)
    rows = con.execute(
        f"select idempotency_key, as_of, debtor_id, invoice_id, step, channel, amount_due, currency"
        f" from {LEDGER} where as_of = ? and state = 'planned' order by idempotency_key",
        [as_of],
    ).fetchall()
    names = ("idempotency_key", "as_of", "debtor_id", "invoice_id", "step", "channel")
    names += ("amount_due", "currency")
    by_channel: dict[str, int] = defaultdict(int)
    done: list[tuple[str, str]] = []
    for values in rows:
        row = dict(zip(names, values, strict=True))
        path = outbox_path(settings, as_of, row["channel"], row["idempotency_key"])
        write_atomic(path, render(row, ladder))
        done.append((row["idempotency_key"], str(path)))
        by_channel[row["channel"]] += 1
        if len(done) >= UPDATE_CHUNK:
            _mark_sent(con, done)
            done = []
    _mark_sent(con, done)
    return {
        "as_of": as_of.isoformat(),
        "sent": len(rows),
        "by_channel": dict(by_channel),
        "outbox_dir": str(settings.outbox_dir / as_of.isoformat()),
    }


def plan_and_send(settings: Settings, as_of: date) -> dict:
    """The day's dunning: plan into the ledger, then send what is planned (both idempotent)."""
    with session(settings) as con:
        planned = plan(con, settings, as_of)
        sent = send_outbox(con, settings, as_of)
    return {"planned": planned, "sent": sent}


def _utcnow() -> datetime:
    """Ledger timestamps are naive UTC, whatever the machine's zone."""
    return datetime.now(UTC).replace(tzinfo=None)


def _mark_sent(con: duckdb.DuckDBPyConnection, done: list[tuple[str, str]]) -> None:
    if not done:
        return
    # A row becomes 'sent' only once its file is on disk: one sync per chunk instead of one fsync
    # per file (4 ms each here). A crash before it leaves the rows 'planned', to be rewritten.
    os.sync()
    sent = pd.DataFrame(done, columns=["idempotency_key", "outbox_path"])
    sent["sent_at"] = _utcnow()
    con.register("sent_rows", sent)
    try:
        con.execute(
            f"update {LEDGER} l set state = 'sent', sent_at = s.sent_at, outbox_path = s.outbox_path"
            " from sent_rows s where l.idempotency_key = s.idempotency_key and l.state = 'planned'"
        )
    finally:
        con.unregister("sent_rows")
