"""Plan the day's dunning actions into dunning.ledger from marts.dunning_candidates.

Per debtor: the next step of its ladder after the last one taken in its current overdue episode
(debtflow's own actions, and the contact history in the landing data that the mart carries),
once the oldest undisputed overdue invoice is old enough and the step's gap since the last one
has passed; never a skipped or repeated step. One action per currency position (amounts are never
summed across currencies), and one message per action. The idempotency key is sha256(debtor | currency | episode start | step), so an episode
gets each step once however often the planner runs, and a partial payment (the episode goes on)
does not restart it. A `preferred` step takes the channel of highest expected net value
(channel_value.py); invoices not yet due may get a friendly reminder first (pre_due.py).

Actions planned earlier and not sent yet carry over until they are sent, superseded (paid,
disputed or otherwise suppressed, or a later step) or expired, with the reason. What the planner
decides not to do is kept per day in dunning.suppressed, with the reason.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict, namedtuple
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import groupby

import duckdb
import numpy as np
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import (
    DEBTOR_SCORES,
    DUNNING_CANDIDATES,
    LEDGER,
    SUPPRESSED,
    table_columns,
)
from debtflow.flows.dunning import channel_value, law, plan_offers, pre_due
from debtflow.flows.dunning.channel_value import PayRates, preferred
from debtflow.flows.dunning.messages import language
from debtflow.flows.dunning.policy import Policy, Step, policy
from debtflow.flows.dunning.statutes import default_statutes

# the states in which an action counts as taken (send.py moves them on); an action still
# 'planned' is decided again each day: the same step keeps it, another supersedes it
TAKEN = ("sending", "sent", "recalled")
DEFAULT_DEADLINE_DAYS = 14  # where no law sets one (a call, a hand-over)


@dataclass
class Decision:
    """What the planner does for one debtor today: actions (one per currency position) or why
    not (suppressed positions, or waiting for the next step's day)."""

    actions: list[dict] = field(default_factory=list)
    suppressed: list[tuple[str, str | None, str]] = field(
        default_factory=list
    )  # currency, step, reason
    waiting: str | None = None
    pre_due: list[dict] = field(default_factory=list)  # a reminder before a due date (pre_due.py)


def key(*parts: object) -> str:
    return hashlib.sha256("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def _candidates(con: duckdb.DuckDBPyConnection, as_of: date) -> list[tuple]:
    """The mart's rows for as_of (named tuples), ordered by debtor."""
    if not table_columns(con, DUNNING_CANDIDATES):
        raise DebtflowError(f"{DUNNING_CANDIDATES} is not built: run `debtflow transform` first")
    built = con.execute(f"select max(as_of) from {DUNNING_CANDIDATES}").fetchone()[0]
    if built is not None and built != as_of:
        raise DebtflowError(
            f"{DUNNING_CANDIDATES} is built for {built}, not {as_of}: run `debtflow transform "
            f"--as-of {as_of}` first (planning on another day's balances would dun wrongly)"
        )
    cursor = con.execute(
        f"select * from {DUNNING_CANDIDATES} where as_of = ? order by debtor_id, currency", [as_of]
    )
    Row = namedtuple("Row", [d[0] for d in cursor.description])  # noqa: PYI024
    return [Row(*values) for values in cursor.fetchall()]


def _ledger_history(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, list[dict]]:
    """Per debtor, debtflow's own actions that count as taken, oldest first."""
    cursor = con.execute(
        f"select debtor_id, episode_start, step, step_kind, as_of, channel, fee_kind, deadline, "
        f"costs_if_unpaid is not null as stated_costs from {LEDGER} "
        f"where state in {TAKEN} and as_of <= ? order by as_of",
        [as_of],
    )
    names = [d[0] for d in cursor.description]
    history: dict[str, list[dict]] = defaultdict(list)
    for values in cursor.fetchall():
        history[values[0]].append(dict(zip(names, values, strict=True)))
    return history


def _channel(
    step: Step, pos: tuple, payable: list[tuple], pol: Policy, rates: PayRates
) -> tuple[str | None, str]:
    """The channel for this step and debtor, and why (stored with the action)."""
    if step.channel == "preferred":
        return preferred(step.name, step.channels, pos, payable, pol, rates)
    usable = {"email": pos.email_ok, "sms": pos.sms_ok, "phone": pos.phone_ok}
    if usable.get(step.channel, True):
        return step.channel, f"the step's channel ({step.channel})"
    if step.fallback == "letter":
        return "letter", f"fallback: no usable {step.channel} contact"
    return None, f"no usable {step.channel} contact and no fallback"


def decide(
    positions: list[tuple],
    taken: list[dict],
    pol: Policy,
    as_of: date,
    rates: PayRates | None = None,
) -> Decision:
    """The day's decision for one debtor: `positions` are its rows of dunning_candidates,
    `taken` its own ledger actions (see _ledger_history), `rates` the day's pay rates per
    channel (channel_value.read; none: the channels' fixed order)."""
    first = positions[0]
    decision = Decision()
    # a standing reason holds for the debtor; 'disputed' for one currency's position only
    standing = [
        p.suppression_reason for p in positions if p.suppression_reason not in (None, "disputed")
    ]
    if standing:
        decision.suppressed += [(pos.currency, None, standing[0]) for pos in positions]
        return decision
    payable = []
    for pos in positions:
        if pos.amount_due <= 0 or pos.suppression_reason == "disputed":
            decision.suppressed.append((pos.currency, None, "disputed"))
        elif pos.amount_due < pol.minimum(pos.currency):
            decision.suppressed.append((pos.currency, None, "below_min_amount"))
        else:
            payable.append(pos)
    if not payable:
        return decision
    ladder = pol.ladder_for(first.debtor_type, first.country)
    episode = first.episode_start
    names = [s.name for s in ladder.steps]
    own = [t for t in taken if t["episode_start"] == episode]
    steps_taken = set(first.steps_taken) | {t["step"] for t in own}
    done = [names.index(s) for s in steps_taken if s in names]
    dates = [d for d in (first.last_step_date, *(t["as_of"] for t in own)) if d is not None]
    last_date = max(map(_day, dates)) if dates else None
    nxt = max(done) + 1 if done else 0
    if nxt >= len(ladder.steps):
        decision.waiting = "ladder_complete"
        return decision
    step = ladder.steps[nxt]
    days_past_due = max(int(p.days_past_due) for p in payable)
    if days_past_due < step.min_days_past_due:
        decision.waiting = "not_due_yet"
        return decision
    if last_date is not None and (as_of - last_date).days < step.min_gap_days:
        decision.waiting = "gap_since_last_step"
        return decision
    channel, why = _channel(step, first, payable, pol, rates or PayRates())
    if channel is None:
        decision.suppressed += [(p.currency, step.name, "no_channel") for p in payable]
        return decision
    cap = pol.frequency_cap_days
    if cap and any(
        t["channel"] == channel and (as_of - _day(t["as_of"])).days < cap for t in taken
    ):
        decision.suppressed += [(p.currency, step.name, "frequency_cap") for p in payable]
        return decision
    lang = language(first.language)  # the message's, which states the legal basis in it
    for pos in payable:
        terms = _terms(first, step, pos, channel, own, as_of)
        if not terms.allowed:
            decision.suppressed.append((pos.currency, step.name, f"statutory: {terms.reason}"))
            continue
        fee, costs = terms.fee, terms.costs_if_unpaid
        decision.actions.append(
            {
                "idempotency_key": key(first.debtor_id, pos.currency, episode, step.name),
                "debtor_id": first.debtor_id,
                "country": first.country,
                "currency": pos.currency,
                "episode_start": episode,
                "step": step.name,
                "step_kind": step.kind,
                "ladder": ladder.name,
                "channel": channel,
                "why_channel": why,
                "invoice_id": pos.reference_invoice_id,
                "amount_due": pos.amount_due,
                "excluded_invoices": pos.disputed_invoice_ids,
                "fee_kind": fee.kind if fee else None,
                "fee_amount": fee.amount if fee else None,
                "fee_basis": fee.source.basis(lang) if fee else None,
                "costs_if_unpaid": costs.amount if costs else None,
                "costs_kind": costs.kind if costs else None,
                "costs_basis": costs.source.basis(lang) if costs else None,
                "deadline": terms.deadline or as_of + timedelta(days=DEFAULT_DEADLINE_DAYS),
                "channel_cost": pol.cost_of(channel, pos.currency),
                "wording": step.wording or None,
                # a broken payment plan: the ladder resumes here, and the message says it lapsed
                "broken_plan_id": first.broken_plan_id,
                "broken_plan_date": first.broken_plan_date,
                "broken_instalment": first.broken_instalment,
            }
        )
    return decision


def _terms(first, step: Step, pos, channel: str, own: list[dict], as_of: date) -> law.Terms:
    """What the law of the debtor's country allows this step to cost, and its deadline. A call
    is no notice: it costs nothing and sets no deadline of its own."""
    if step.kind == "call":
        return law.Terms(True)
    fee_kinds = [t["fee_kind"] for t in own if t["fee_kind"] is not None]
    notices = [_day(t["deadline"]) for t in own if t["stated_costs"] and t["deadline"] is not None]
    history = law.History(
        due_date=as_of - timedelta(days=int(pos.days_past_due)),
        reminders=sum(1 for t in own if t["step_kind"] in ("reminder", "final_notice")),
        fees_charged=sum(1 for k in fee_kinds if k == "reminder_fee"),
        notice_deadline=max(notices) if notices else None,
        costs_charged=any(k != "reminder_fee" for k in fee_kinds),
    )
    rules = default_statutes().country(first.country or "")
    # a claim in another currency than the one the country's law sets fees in: no statutory fees
    country = first.country if rules and rules.currency == pos.currency else ""
    return law.terms(
        country,
        first.debtor_type if first.debtor_type in law.DEBTOR_TYPES else "consumer",
        step.kind,
        Decimal(str(pos.amount_due)),
        pos.currency,
        as_of,
        "letter" if channel in ("letter", "agency") else channel,
        history,
    )


def _day(value) -> date:
    return value if type(value) is date else value.date()


def decide_all(
    con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date
) -> tuple[Policy, dict[str, Decision]]:
    """Every candidate debtor's decision for `as_of` under its own policy (nothing written)."""
    pol = policy(settings)
    candidates = _candidates(con, as_of)
    early = pre_due.candidates(con, pol, as_of)
    history = _ledger_history(con, as_of)
    debtors = {row.debtor_id for row in candidates} | {row.debtor_id for row in early}
    rates = channel_value.read(con, as_of, pol.channel_choice, debtors)
    decisions: dict[str, Decision] = {}
    for debtor_id, rows in groupby(candidates, key=lambda row: row.debtor_id):
        # the debtor's arm of the running A/B test, if any: its policy, stored on each action
        own, experiment, variant = pol.for_debtor(debtor_id, as_of)
        decision = decide(list(rows), history.get(debtor_id, []), own, as_of, rates)
        for action in decision.actions:
            action["experiment"], action["variant"] = experiment, variant
        decisions[debtor_id] = decision
    for debtor_id, rows in groupby(early, key=lambda row: row.debtor_id):
        decision = decisions.setdefault(debtor_id, Decision())
        if decision.actions:  # a ladder step goes out today: no second message
            continue
        own, experiment, variant = pol.for_debtor(debtor_id, as_of)
        actions, suppressed = pre_due.decide(
            list(rows), history.get(debtor_id, []), own, as_of, rates, key
        )
        for action in actions:
            action["experiment"], action["variant"] = experiment, variant
        decision.pre_due += actions
        decision.suppressed += suppressed
    grades = _grades(con, as_of)
    for decision in decisions.values():
        plan_offers.attach(decision.actions, grades, pol)
    return pol, decisions


def _grades(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, int]:
    """The day's grade per debtor (a plan offer depends on it); none before scoring."""
    return dict(
        con.execute(
            f"select debtor_id, grade from {DEBTOR_SCORES} where as_of = ? and grade is not null",
            [as_of],
        ).fetchall()
    )


def plan(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> dict:
    """Plan the day's actions into the ledger (idempotent for the date); settle the actions that
    earlier days planned and did not send; record the suppressed ones with their reason."""
    pol, decisions = decide_all(con, settings, as_of)
    actions = [a for d in decisions.values() for a in (*d.actions, *d.pre_due)]
    suppressed = [
        (as_of, debtor_id, currency, step, reason, pol.label)
        for debtor_id, d in decisions.items()
        for currency, step, reason in d.suppressed
    ]
    now = _utcnow()
    con.execute("begin transaction")
    try:
        settled = _settle_pending(con, as_of, pol, decisions)
        new = _insert(con, actions, as_of, pol, now)
        con.execute(f"delete from {SUPPRESSED} where as_of = ?", [as_of])
        if suppressed:
            con.executemany(f"insert into {SUPPRESSED} values (?, ?, ?, ?, ?, ?)", suppressed)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    planned: dict[str, dict[str, int]] = defaultdict(dict)
    if len(new):
        for (step, channel), n in new.groupby(["step", "channel"]).size().items():
            planned[step][channel] = int(n)
    return {
        "as_of": as_of.isoformat(),
        "policy": pol.label,
        "planned": dict(planned),
        "planned_total": len(new),
        "already_planned": len(actions) - len(new),
        "suppressed": dict(Counter(reason.split(":")[0] for *_, reason, _ in suppressed)),
        "waiting": dict(Counter(d.waiting for d in decisions.values() if d.waiting)),
        **settled,
    }


def _insert(con, actions: list[dict], as_of: date, pol: Policy, now: datetime) -> pd.DataFrame:
    """Insert the actions whose key is not in the ledger yet; return those."""
    if not actions:
        return pd.DataFrame()
    frame = pd.DataFrame(actions)
    con.register("dunning_keys", frame[["idempotency_key"]])
    try:
        known = {
            k
            for (k,) in con.execute(
                f"select idempotency_key from {LEDGER} semi join dunning_keys using (idempotency_key)"
            ).fetchall()
        }
    finally:
        con.unregister("dunning_keys")
    new = frame[~frame["idempotency_key"].isin(known)]
    if new.empty:
        return new
    scores = con.execute(
        f"select debtor_id, grade, p_collect_30d, reason_codes from {DEBTOR_SCORES} where as_of = ?",
        [as_of],
    ).df()
    new = new.merge(scores, on="debtor_id", how="left")
    new["as_of"], new["state"], new["planned_at"] = as_of, "planned", now
    new["policy_version"], new["attempts"] = pol.label, 0
    new = new.rename(columns={"p_collect_30d": "p_collect"})
    con.register("dunning_new", new)
    try:
        columns = ", ".join(new.columns)
        con.execute(f"insert into {LEDGER} ({columns}) select {columns} from dunning_new")
    finally:
        con.unregister("dunning_new")
    return new


def _settle_pending(
    con: duckdb.DuckDBPyConnection, as_of: date, pol: Policy, decisions: dict[str, Decision]
) -> dict:
    """Actions planned on an earlier day and still 'planned': expired after the policy's days,
    superseded when their position is paid, suppressed now or a later step is due; else they
    carry over and are sent with today's."""
    pending = con.execute(
        f"select idempotency_key, debtor_id, currency, step, as_of from {LEDGER} "
        "where state = 'planned' and as_of < ?",
        [as_of],
    ).fetchall()
    outcome: list[tuple[str, str, str]] = []  # key, state, reason
    early = {a["idempotency_key"] for d in decisions.values() for a in d.pre_due}
    for idem, debtor_id, currency, step, planned_on in pending:
        decision = decisions.get(debtor_id)
        reasons = (
            {c: r for c, st, r in decision.suppressed if st != pre_due.STEP} if decision else {}
        )
        later = (
            {a["currency"] for a in decision.actions if a["step"] != step} if decision else set()
        )
        if (as_of - planned_on).days >= pol.pending_expire_days:
            outcome.append((idem, "expired", f"not sent within {pol.pending_expire_days} days"))
        elif step == pre_due.STEP:  # carried over while the invoice is planned for one
            if idem not in early:
                outcome.append((idem, "superseded", "no_longer_pre_due"))
        elif decision is None or not _has_position(decision, currency, reasons):
            outcome.append((idem, "superseded", "paid"))
        elif currency in reasons:
            outcome.append((idem, "superseded", reasons[currency]))
        elif currency in later:
            outcome.append((idem, "superseded", "next_step"))
    if outcome:
        con.executemany(
            f"update {LEDGER} set state = ?, state_reason = ? where idempotency_key = ?",
            [(state, reason, idem) for idem, state, reason in outcome],
        )
    carried = len(pending) - len(outcome)
    return {
        "carried_over": carried,
        "superseded": dict(Counter(r for _, s, r in outcome if s == "superseded")),
        "expired": sum(1 for _, s, _ in outcome if s == "expired"),
    }


def _has_position(decision: Decision, currency: str, reasons: dict) -> bool:
    """The debtor still owes in this currency (an action, a suppression or a wait)."""
    return (
        currency in reasons
        or any(a["currency"] == currency for a in decision.actions)
        or decision.waiting is not None
    )


def acted_on(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, settings: Settings, as_of: date
) -> np.ndarray:
    """Per row of `frame` (a debtor_id column): will the day's planner act on the debtor? The
    scorer gives these rows exact reasons. The planner's own decision, with nothing written."""
    _, decisions = decide_all(con, settings, as_of)
    acting = {d for d, decision in decisions.items() if decision.actions}
    return frame["debtor_id"].astype(str).isin(acting).to_numpy()


def _utcnow() -> datetime:
    """Ledger timestamps are naive UTC, whatever the machine's zone."""
    return datetime.now(UTC).replace(tzinfo=None)
