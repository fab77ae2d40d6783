"""`debtflow simulate-policy`: the production planner and senders, day by day, on a simulated book
whose debtors react to what was actually sent; the policy next to a fixed ladder and an oracle.

One history is simulated (simulation.py), loaded and built once, and copied for each arm. Then
per day D of the run, in each arm's own home: ingest the batch the world wrote for D; build only
what the planner reads (+dunning_candidates +channel_performance, incremental, models only); plan
and send to the outbox (plan.py, send.py, as the daily run does); then the world lives day D: the
debtors react to the messages sent (channel, step, day) through their latent traits (world.py's
`respond` and `hazard`, as in history), pay, dispute and get new invoices, written as the batch
for D+1. Every random draw is keyed by (seed, debtor, day or episode), so the arms share one
world and differ only by what debtflow sent (paired comparison per debtor).

Arms: `policy` (the file given), `fixed_ladder` (the same steps on the same days, every step a
letter) and `oracle` (the policy, with each reminder's channel chosen from the simulator's truth:
the best expected net value for that debtor; a hook between planning and sending, here only).
"""

from __future__ import annotations

import shutil
import time as clock
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml
from scipy import stats

from debtflow.flows.build import transform
from debtflow.flows.core import progress
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import DUNNING_CANDIDATES, LEDGER, RAW, session
from debtflow.flows.dunning import plan as planner
from debtflow.flows.dunning import send as sender
from debtflow.flows.dunning.policy import CENT, DEFAULT_POLICY, Policy
from debtflow.flows.dunning.policy import load as load_policy
from debtflow.flows.ingest import ingest
from debtflow.flows.simulation import simulation as sim
from debtflow.flows.simulation import tables as st
from debtflow.flows.simulation import world as sw

ARMS = ("policy", "fixed_ladder", "oracle")
DAILY_SELECT = "+dunning_candidates +channel_performance"
SEND_AT = time(10, 0)  # in each debtor's own zone: inside every country's sending hours
STRENGTH = {"reminder": 1.5, "final_notice": 2.0, "call": 1.5, "agency": 0.0}
CHANNEL_CODE = {"email": sw.EMAIL, "sms": sw.SMS, "letter": sw.LETTER, "phone": sw.PHONE}
STEP_NO = {name: i for i, (name, _) in enumerate(sw.SCHEDULE)}  # draw keys, shared with history
PROMISE_DAYS = 14  # a contact this soon after a promise to pay is complaint-prone
REPEAT_DAYS = 7  # and so is a second contact within a week
HISTORY_MONTHS = 12
DISPUTE_DPD = 3  # a disputer disputes the episode's oldest invoice then (simulation.py)
FIRST_DAY = date(2026, 3, 2)  # the run's default first day: a fixed calendar, a repeatable run
FUTURE = 1 << 30


# --- the world's side ---------------------------------------------------------------------------


@dataclass
class Book:
    """The simulated world as history left it at day H (the first day of the run)."""

    w: sw.World
    start: date  # day 0
    H: int
    days: int
    inv: st.Cols  # history invoices, then those issued during the run
    late_rows: np.ndarray  # invoice rows that miss their due date, by (debtor, due)
    late_key: np.ndarray  # debtor << 20 | due, of late_rows
    ontime_rows: np.ndarray  # invoices paid on time on a day of the run
    paid_through: np.ndarray  # per debtor: the day of its last payment event (-FUTURE: none)
    in_episode: np.ndarray
    d0: np.ndarray

    @property
    def ctx(self) -> sim.Ctx:
        return sim.Ctx(self.w, self.start, self.inv, 0)

    def day(self, t: int) -> date:
        return self.start + timedelta(days=t)


def make_book(
    debtors: int, seed: int, first_day: date, days: int, email_affinity: float = 1.0
) -> Book:
    """The world simulation.simulate draws for (debtors, HISTORY_MONTHS, seed, first_day, 0),
    with its invoices for the run's days. email_affinity multiplies every debtor's e-mail
    response, in the history as in the run (a test world in which the channel matters more)."""
    start = sim.history_start(first_day, HISTORY_MONTHS)
    H = (first_day - start).days
    w = sw.make_world(debtors, H, 8 * 365, seed, email_affinity)
    months = st.month_starts(start.toordinal(), HISTORY_MONTHS + days // 28 + 3)
    inv = st.invoices(w, months[months < H])
    st.customer_versions(w, H)  # sets email_fixed_day, as simulate does
    real_late = ~inv["credit"] & inv["late"]
    ep_debtor, ep_d0, ep_event = sw.run_overdue_process(
        w, inv["debtor"][real_late], inv["due"][real_late]
    )
    # the run's own invoices: drawn as history draws them, on a world that lasts the run too
    ahead = st.invoices(replace(w, n_days=H + days), months[months < H + days])
    new = np.flatnonzero(~ahead["credit"] & (ahead["issue"] >= H))
    ahead = {k: v[new] for k, v in ahead.items()}
    ahead["seq"] = (len(inv["seq"]) + np.arange(len(new))).astype(np.int32)
    inv = {k: np.concatenate([inv[k], ahead[k]]) for k in inv}
    real = ~inv["credit"]
    late_rows = np.flatnonzero(real & inv["late"])
    late_rows = late_rows[np.lexsort((inv["due"][late_rows], inv["debtor"][late_rows]))]
    late_key = inv["debtor"][late_rows].astype(np.int64) << 20 | inv["due"][late_rows]
    pay = inv["pay_day"]
    ontime = np.flatnonzero(real & ~inv["late"] & (pay >= H) & (pay < H + days))
    n = debtors
    paid_through = np.full(n, -FUTURE, dtype=np.int64)
    done = ep_event >= 0
    np.maximum.at(paid_through, ep_debtor[done], ep_event[done])
    in_episode = np.zeros(n, bool)
    d0 = np.full(n, -1, dtype=np.int64)
    open_ = ~done
    in_episode[ep_debtor[open_]] = True
    d0[ep_debtor[open_]] = ep_d0[open_]
    return Book(w, start, H, days, inv, late_rows, late_key, ontime, paid_through, in_episode, d0)


@dataclass
class Sends:
    """The messages debtflow sent on one day (from the ledger)."""

    key: np.ndarray
    debtor: np.ndarray
    channel: np.ndarray  # ledger channel names
    step: np.ndarray
    kind: np.ndarray
    invoice: np.ndarray
    currency: np.ndarray


@dataclass
class Process:
    """One arm's course of the world from day H: who is overdue since when, what was sent, paid."""

    book: Book
    paid_through: np.ndarray
    in_episode: np.ndarray
    d0: np.ndarray
    contacts: list[tuple] = field(default_factory=list)  # (debtors, day, d0s, factors)
    last_contact: np.ndarray | None = None
    last_promise: np.ndarray | None = None
    collected: np.ndarray | None = None  # cents per debtor, paid on overdue invoices
    complaints: Counter = field(default_factory=Counter)
    written: Counter = field(default_factory=Counter)  # cents per currency of every payment

    @classmethod
    def start(cls, book: Book) -> Process:
        n = len(book.paid_through)
        p = cls(book, book.paid_through.copy(), book.in_episode.copy(), book.d0.copy())
        p.last_contact = np.full(n, -FUTURE, dtype=np.int64)
        p.last_promise = np.full(n, -FUTURE, dtype=np.int64)
        p.collected = np.zeros(n, dtype=np.int64)
        return p

    def first_unpaid(self, debtors: np.ndarray) -> np.ndarray:
        """Position in late_rows of each debtor's oldest unpaid late invoice (or -1)."""
        b = self.book
        pos = np.searchsorted(
            b.late_key, debtors.astype(np.int64) << 20 | self.paid_through[debtors].clip(0)
        )
        pos = np.minimum(pos, max(len(b.late_key) - 1, 0))
        ok = (len(b.late_key) > 0) & (b.inv["debtor"][b.late_rows[pos]] == debtors)
        return np.where(ok, pos, -1)

    def live(self, t: int, sends: Sends) -> dict:
        """Day t: episodes open, the day's messages land, debtors pay; returns the day's rows."""
        b, w = self.book, self.book.w
        n = len(self.paid_through)
        idle = np.flatnonzero(~self.in_episode)
        pos = self.first_unpaid(idle)
        due = np.where(pos >= 0, b.inv["due"][b.late_rows[pos]], FUTURE)
        opening = due < t
        self.in_episode[idle[opening]] = True
        self.d0[idle[opening]] = due[opening]
        # the messages: how each lands, and what would make it a complaint
        idx = sends.debtor
        d0 = np.where(self.in_episode[idx], self.d0[idx], t)
        channel = np.array([CHANNEL_CODE.get(c, sw.LETTER) for c in sends.channel], dtype=np.int8)
        step_no = np.array([STEP_NO.get(s, len(STEP_NO)) for s in sends.step], dtype=np.int64)
        strength = np.array([STRENGTH.get(k, 1.5) for k in sends.kind])
        landed = sw.respond(w, idx, d0, step_no, channel, np.full(len(idx), t), strength)
        disputed = self.in_episode[idx] & sw.disputed_episode(w, idx, d0) & (t >= d0 + DISPUTE_DPD)
        self.complaints["after_dispute"] += int(disputed.sum())
        self.complaints["after_promise"] += int((t - self.last_promise[idx] <= PROMISE_DAYS).sum())
        self.complaints["within_a_week"] += int((t - self.last_contact[idx] < REPEAT_DAYS).sum())
        self.last_contact[idx] = t
        self.last_promise[idx[landed["promise"]]] = t
        mine = self.in_episode[idx]
        self.contacts.append((idx[mine], t, d0[mine], 1 + landed["uplift"][mine]))
        # disputes opened today (the episode's oldest invoice, at dpd 3, as in history)
        active = np.flatnonzero(self.in_episode)
        first = self.first_unpaid(active)
        restate = (
            (self.d0[active] + DISPUTE_DPD == t)
            & sw.disputed_episode(w, active, self.d0[active])
            & (first >= 0)
        )
        restated = b.late_rows[first[restate]]
        # the hazard, with the uplift of the contacts still in their window in this episode
        self.contacts = [c for c in self.contacts if t - c[1] < sw.UPLIFT_DAYS]
        factor = np.ones(n)
        for who, _, c_d0, f in self.contacts:
            same = self.d0[who] == c_d0
            np.multiply.at(factor, who[same], f[same])
        h = sw.hazard(w, active, self.d0[active], np.full(len(active), t), b.H, factor[active])
        paid = active[sw.uniform(w.seed, sw.S_PAY, active, t) < h]
        rows = self._paid_rows(paid, t)
        self.paid_through[paid] = t
        self.in_episode[paid] = False
        ontime = b.ontime_rows[b.inv["pay_day"][b.ontime_rows] == t]
        payments = np.r_[rows, ontime].astype(np.int64)
        self.collected += np.bincount(
            b.inv["debtor"][rows], weights=b.inv["amount"][rows], minlength=n
        ).astype(np.int64)
        currency = np.asarray(sw.CURRENCY)[w["country"][b.inv["debtor"][payments]]]
        for c in np.unique(currency):
            self.written[str(c)] += int(b.inv["amount"][payments][currency == c].sum())
        issued = np.flatnonzero(b.inv["issue"] == t)
        return dict(payments=payments, issued=issued, restated=restated, sends=sends, landed=landed)

    def _paid_rows(self, paid: np.ndarray, t: int) -> np.ndarray:
        """The late invoices a payment event on day t pays: every unpaid one due before t."""
        b = self.book
        if not len(paid):
            return np.zeros(0, dtype=np.int64)
        lo = np.searchsorted(
            b.late_key, paid.astype(np.int64) << 20 | self.paid_through[paid].clip(0)
        )
        hi = np.searchsorted(b.late_key, paid.astype(np.int64) << 20 | t)
        return b.late_rows[np.concatenate([np.arange(a, z) for a, z in zip(lo, hi, strict=True)])]


EVENTS = {  # what the world reports back of a message, and when (seconds into the day)
    "delivered": 11 * 3600,
    "bounced": 11 * 3600,
    "call_connected": 11 * 3600,
    "opened": 14 * 3600,
    "clicked": 14 * 3600 + 300,
    "promise_to_pay": 11 * 3600 + 600,
}


def write_batch(book: Book, landing: Path, t: int, rows: dict) -> str:
    """The day's rows as the landing batch of the next business date (CSV, the contract)."""
    ctx, inv = book.ctx, book.inv
    batch_id = f"{book.day(t + 1).isoformat()}T0600"
    tmp = landing / f".tmp-{batch_id}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    day = lambda k: np.full(k, t, dtype=np.int64)  # noqa: E731
    issued, restated, pay = rows["issued"], rows["restated"], rows["payments"]
    invoices = dict(
        row=np.r_[issued, restated],
        version=np.r_[np.zeros(len(issued), np.int64), np.ones(len(restated), np.int64)],
        _day=day(len(issued) + len(restated)),
        _sec=np.r_[np.full(len(issued), 5 * 3600), np.full(len(restated), 10 * 3600)],
    )
    _csv(tmp / "invoices.csv", sim.BUILDERS["invoices"](ctx, invoices))
    debtor = inv["debtor"][pay]
    u = sw.uniform(book.w.seed, sw.S_METHOD, inv["seq"][pay])
    payments = dict(
        inv=pay,
        seq=inv["seq"][pay],
        debtor=debtor,
        mode=np.zeros(len(pay), np.int8),  # by invoice id
        amount=inv["amount"][pay],
        _day=day(len(pay)),
        _sec=12 * 3600 + (u * 36_000).astype(np.int64),
        method=np.where(book.w["country"][debtor] == 0, 4, 1).astype(np.int8),
    )
    _csv(tmp / "payments.csv", sim.BUILDERS["payments"](ctx, payments))
    _csv(tmp / "contact_events.csv", _reactions(book, t, rows["sends"], rows["landed"]))
    sim._swap(tmp, landing / batch_id)
    return batch_id


def _reactions(book: Book, t: int, s: Sends, landed: dict) -> pa.Table:
    """Delivered or bounced, opened, clicked, connected and promises for the day's messages (the
    'sent' events are debtflow's own: send.py records them)."""
    phone = s.channel == "phone"
    kinds = {
        "delivered": ~phone & landed["delivered"],
        "bounced": ~phone & ~landed["delivered"] & (s.channel != "agency"),
        "call_connected": phone & landed["delivered"],
        "opened": landed["opened"],
        "clicked": landed["clicked"],
        "promise_to_pay": landed["promise"],
    }
    cols: dict[str, list] = {k: [] for k in ("i", "type")}
    for name, mask in kinds.items():
        hit = np.flatnonzero(mask)
        cols["i"].append(hit)
        cols["type"].append(np.full(len(hit), name))
    i, etype = np.concatenate(cols["i"]).astype(np.int64), np.concatenate(cols["type"])
    secs = np.array([EVENTS[e] for e in etype], dtype=np.int64)
    channel = np.where(s.channel[i] == "agency", "letter", s.channel[i])
    return sim._table(
        "contact_events",
        dict(
            event_id=pa.array([f"sim-{k[:32]}-{e}" for k, e in zip(s.key[i], etype, strict=True)]),
            debtor_id=book.ctx.debtor_id(s.debtor[i]),
            invoice_id=pa.array(s.invoice[i].tolist(), pa.string()),
            channel=pa.array(channel.tolist(), pa.string()),
            event_type=pa.array(etype.tolist(), pa.string()),
            occurred_at=book.ctx.timestamp(np.full(len(i), t), secs),
            step=pa.array(s.step[i].tolist(), pa.string()),
            campaign=pa.array(["dunning"] * len(i), pa.string()),
        ),
    )


def _csv(path: Path, table: pa.Table) -> None:
    pacsv.write_csv(table, path, sim.CSV_OPTIONS)


# --- debtflow's side ----------------------------------------------------------------------------


def fixed_ladder(policy_file: Path, out: Path) -> Path:
    """The policy's ladders with every step a letter (the agency hand-over stays one): the same
    letter on the same days for everyone."""
    text = yaml.safe_load(policy_file.read_text(encoding="utf-8"))
    for ladder in text["ladders"]:
        for step in ladder["steps"]:
            if step["kind"] != "agency":
                step["channel"], step["fallback"] = "letter", "none"
    text["version"] = f"{text['version']}-fixed-letters"
    path = out / "fixed_ladder.yml"
    path.write_text(yaml.safe_dump(text, sort_keys=False), encoding="utf-8")
    load_policy(path)  # valid, or say why
    return path


def _sent_today(con, seen: set[str]) -> Sends:
    """The ledger's actions sent (or placed) and not yet seen by the world."""
    rows = con.execute(
        f"select idempotency_key, debtor_id, channel, step, step_kind, invoice_id, currency "
        f"from {LEDGER} where state in ('sent', 'recalled') order by idempotency_key"
    ).fetchall()
    rows = [r for r in rows if r[0] not in seen]
    seen.update(r[0] for r in rows)
    cols = list(zip(*rows, strict=True)) if rows else [()] * 7
    arr = [np.asarray(c, dtype=object) for c in cols]
    debtor = np.array([int(d[1:]) - 1 for d in arr[1]], dtype=np.int64)
    return Sends(arr[0], debtor, arr[2].astype(str), arr[3].astype(str), arr[4].astype(str),
                 arr[5], arr[6].astype(str))  # fmt: skip


def oracle_channels(con, book: Book, proc: Process, as_of: date, t: int, pol: Policy) -> int:
    """Rewrite the channel of today's planned reminders to the one with the best expected net
    value for the debtor in the simulator's truth: amount x the extra probability of payment in
    the contact's window - the channel's cost (the debtor's arm's, in the action's currency; 0
    when unknown, as the planner weighs it), among the channels the mart says are usable. The
    stored channel cost follows the new channel."""
    rows = con.execute(
        f"select l.idempotency_key, l.debtor_id, l.amount_due, c.email_ok, c.sms_ok, l.currency "
        f"from {LEDGER} l "
        f"join {DUNNING_CANDIDATES} c on c.as_of = l.as_of and c.debtor_id = l.debtor_id "
        "and c.currency = l.currency where l.as_of = ? and l.state = 'planned' "
        "and l.step_kind = 'reminder' and l.channel in ('email', 'sms', 'letter')",
        [as_of],
    ).fetchall()
    if not rows:
        return 0
    w = book.w
    idx = np.array([int(r[1][1:]) - 1 for r in rows], dtype=np.int64)
    amount = np.array([float(r[2]) for r in rows])
    d0 = np.where(proc.in_episode[idx], proc.d0[idx], t)
    days = [np.full(len(idx), t + j) for j in range(sw.UPLIFT_DAYS)]
    base = [sw.hazard(w, idx, d0, day, book.H) for day in days]
    stay = np.prod([1 - h for h in base], axis=0)
    delivered = {
        "email": (w["email_valid"][idx] | (t >= w["email_fixed_day"][idx])).astype(float),
        "sms": w["mobile_valid"][idx].astype(float),
        "letter": np.where(w["address_valid"][idx], 1.0, 0.3),
    }
    usable = {
        "email": np.array([bool(r[3]) for r in rows]),
        "sms": np.array([bool(r[4]) for r in rows]),
        "letter": np.ones(len(rows), bool),
    }
    arms = [pol.for_debtor(r[1], as_of)[0] for r in rows]
    cost = {
        name: [own.cost_of(name, r[5]) for own, r in zip(arms, rows, strict=True)]
        for name in ("email", "sms", "letter")
    }
    value = {}
    for name, aff in (("email", "aff_email"), ("sms", "aff_sms"), ("letter", "aff_letter")):
        a = w[aff][idx]
        click = np.minimum(0.85, 0.35 * a) * np.minimum(0.8, 0.3 * a) if name == "email" else 0
        uplift = delivered[name] * STRENGTH["reminder"] * a * (1 + 0.5 * click)
        stay_c = np.prod([1 - np.minimum(h * (1 + uplift), sw.MAX_HAZARD) for h in base], axis=0)
        gain = amount * (stay - stay_c) - np.array([float(c or 0) for c in cost[name]])
        value[name] = np.where(usable[name], gain, -np.inf)
    names = list(value)
    best = np.argmax(np.vstack([value[c] for c in names]), axis=0)
    con.executemany(
        f"update {LEDGER} set channel = ?, why_channel = ?, channel_cost = ? "
        "where idempotency_key = ?",
        [
            (
                names[b],
                f"oracle: best expected net value ({value[names[b]][i]:.2f})",
                cost[names[b]][i],
                r[0],
            )
            for i, (b, r) in enumerate(zip(best, rows, strict=True))
        ],
    )
    return len(rows)


@dataclass
class Arm:
    name: str
    settings: Settings
    proc: Process
    seen: set[str] = field(default_factory=set)
    seconds: Counter = field(default_factory=Counter)
    manifest: object = None  # dbt's parse of the project, shared (flows/build/transform.py)


def _arm_settings(settings: Settings, home: Path, policy_file: Path) -> Settings:
    """The arm's own home, the policy, and every channel to the outbox (never a real send)."""
    own = {
        "home": home,
        "landing_url": None,
        "dunning_policy": policy_file,
        "smtp_host": None,
        "sms_url": None,
        "letters_url": None,
    }
    return type(settings)(**{**settings.model_dump(), **own})  # a new root, not the cached one


def _day(arm: Arm, book: Book, k: int, pol: Policy) -> None:
    """Day H+k of one arm: load, build, plan, send, then the world lives the day."""
    s, t = arm.settings, book.H + k
    as_of = book.day(t)
    lap = clock.perf_counter()
    if k:
        ingest.ingest(s, as_of)
        arm.seconds["ingest"] += clock.perf_counter() - lap
        lap = clock.perf_counter()
        transform.build(s, as_of, DAILY_SELECT, tests=False, manifest=arm.manifest)
        arm.seconds["build"] += clock.perf_counter() - lap
        lap = clock.perf_counter()
    with session(s) as con:
        planner.plan(con, s, as_of)
        if arm.name == "oracle":
            oracle_channels(con, book, arm.proc, as_of, t, pol)
        sender.send(con, s, as_of, at=datetime.combine(as_of, SEND_AT))
        sends = _sent_today(con, arm.seen)
    arm.seconds["dunning"] += clock.perf_counter() - lap
    lap = clock.perf_counter()
    rows = arm.proc.live(t, sends)
    write_batch(book, s.root / "landing", t, rows)
    arm.seconds["world"] += clock.perf_counter() - lap


def simulate_policy(
    settings: Settings,
    policy_file: Path | None,
    days: int,
    debtors: int,
    seed: int,
    out: Path | None = None,
    arms: tuple[str, ...] = ARMS,
    first_day: date | None = None,
    email_affinity: float = 1.0,
) -> dict:
    """Run the arms on one simulated book for `days` days; return each arm's figures and the
    differences to the fixed ladder with 95% intervals over debtors."""
    if days < 1 or debtors < 10:
        raise DebtflowError("simulate-policy needs --days >= 1 and --debtors >= 10")
    unknown = set(arms) - set(ARMS)
    if unknown:
        raise DebtflowError(f"unknown arm(s) {sorted(unknown)}: choose from {', '.join(ARMS)}")
    began = clock.perf_counter()
    policy_file = Path(policy_file or DEFAULT_POLICY)
    pol = load_policy(policy_file)
    out = Path(out or settings.root / "simulate-policy" / f"seed-{seed}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    first_day = first_day or FIRST_DAY
    files = {
        "policy": policy_file,
        "oracle": policy_file,
        "fixed_ladder": fixed_ladder(policy_file, out),
    }
    # the history, loaded and fully built once for the first day
    base = out / "base"
    progress.note(f"simulate-policy: {debtors:,} debtors, history to {first_day}")
    sim.simulate(debtors, HISTORY_MONTHS, seed, base, first_day, 0, email_affinity)
    base_settings = _arm_settings(settings, base, policy_file)
    ingest.ingest(base_settings, first_day)
    transform.build(base_settings, first_day, tests=False)
    manifest = transform.parse(base_settings, first_day)  # once: the arms share the project
    book = make_book(debtors, seed, first_day, days, email_affinity)
    setup = clock.perf_counter() - began
    runs = []
    for name in arms:
        home = out / name
        shutil.copytree(base, home)
        arm_settings = _arm_settings(settings, home, files[name])
        runs.append(Arm(name, arm_settings, Process.start(book), manifest=manifest))
    for k in range(days):
        for arm in runs:
            _day(arm, book, k, pol)
        progress.done(progress.counted(k + 1, days, f"simulated {book.day(book.H + k)}", None))
    for arm in runs:  # the last day's payments, so the warehouse holds all the world wrote
        ingest.ingest(arm.settings, book.day(book.H + days))
    results = {arm.name: _figures(arm, book) for arm in runs}
    per_debtor = {arm.name: _net_per_debtor(arm, book) for arm in runs}
    comparison = {
        name: _difference(per_debtor[name], per_debtor["fixed_ladder"], book)
        for name in per_debtor
        if name != "fixed_ladder" and "fixed_ladder" in per_debtor
    }
    return {
        "debtors": debtors,
        "days": days,
        "seed": seed,
        "first_day": first_day.isoformat(),
        "policy": pol.label,
        "out": str(out),
        "arms": results,
        "vs_fixed_ladder": comparison,
        "seconds": {
            "setup": round(setup, 1),
            "total": round(clock.perf_counter() - began, 1),
            **{a.name: {k: round(v, 1) for k, v in a.seconds.items()} for a in runs},
        },
    }


def _cents(value: int) -> str:
    return str(Decimal(int(value)).scaleb(-2))


def _figures(arm: Arm, book: Book) -> dict:
    """Collected, costs, net per currency; messages per channel; complaint-prone contacts; and
    the reconciliation of the outbox with the ledger and of the warehouse with the world. The
    costs are the ledger's channel_cost, in each action's currency (unknown ones count as 0)."""
    with session(arm.settings) as con:
        sent = con.execute(
            f"select channel, count(*) from {LEDGER} "
            "where state in ('sent', 'recalled') group by all"
        ).fetchall()
        cost = dict(
            con.execute(
                f"select currency, coalesce(sum(channel_cost), 0) from {LEDGER} "
                "where state in ('sent', 'recalled') group by all"
            ).fetchall()
        )
        loaded = con.execute(
            f"select currency, sum(amount) from {RAW}.payments where _batch_id > ? group by all",
            [f"{book.day(book.H).isoformat()}T0600"],
        ).fetchall()
    messages = dict(sent)
    w, p = book.w, arm.proc
    currency = np.asarray(sw.CURRENCY)[w["country"]]
    collected = {str(c): int(p.collected[currency == c].sum()) for c in np.unique(currency)}
    money = {
        c: {
            "collected": _cents(collected[c]),
            "costs": str(cost.get(c, Decimal(0)).quantize(CENT)),
            "net": str((Decimal(collected[c]).scaleb(-2) - cost.get(c, 0)).quantize(CENT)),
        }
        for c in sorted(collected)
    }
    return {
        "money": money,
        "messages": messages,
        "complaint_prone": dict(arm.proc.complaints),
        "outbox": _outbox_counts(arm.settings.outbox_dir),
        "payments_written": {c: _cents(v) for c, v in sorted(arm.proc.written.items())},
        "payments_loaded": {c: str(v) for c, v in sorted(loaded)},
    }


def _outbox_counts(outbox: Path) -> dict[str, int]:
    """Messages in the outbox: files for e-mail, SMS and letters, rows of the call lists and
    placement files."""
    counts = Counter()
    for channel, pattern in (("email", "*.eml"), ("sms", "*.txt"), ("letter", "*.pdf")):
        counts[channel] = sum(1 for _ in outbox.glob(f"*/{channel}/{pattern}"))
    for channel, name in (("phone", "call_list.csv"), ("agency", "placement.csv")):
        counts[channel] = sum(
            max(0, len(f.read_text(encoding="utf-8").splitlines()) - 1)
            for f in outbox.glob(f"*/{channel}/{name}")
        )
    return {c: n for c, n in counts.items() if n}


def _net_per_debtor(arm: Arm, book: Book) -> np.ndarray:
    """Net per debtor in its currency: collected on overdue invoices - the ledger's channel cost
    of what was sent to it (in that currency; unknown costs count as 0)."""
    with session(arm.settings) as con:
        rows = con.execute(
            f"select debtor_id, coalesce(sum(channel_cost), 0) from {LEDGER} "
            "where state in ('sent', 'recalled') group by all"
        ).fetchall()
    net = arm.proc.collected / 100.0
    for debtor_id, cost in rows:
        net[int(debtor_id[1:]) - 1] -= float(cost)
    return net


def _difference(arm: np.ndarray, fixed: np.ndarray, book: Book) -> dict:
    """Per currency: total net of the arm - the fixed ladder's, with its 95% interval (a paired
    t interval over debtors: the same world, debtor by debtor), and relative to the ladder's."""
    currency = np.asarray(sw.CURRENCY)[book.w["country"]]
    out = {}
    for c in np.unique(currency):
        d = (arm - fixed)[currency == c]
        n, total = len(d), float(d.sum())
        base = float(fixed[currency == c].sum())
        if n > 1 and d.std() > 0:
            low, high = stats.ttest_1samp(d, 0).confidence_interval(0.95)
            low, high = low * n, high * n
        else:
            low = high = total
        out[str(c)] = {
            "debtors": n,
            "difference": round(total, 2),
            "interval_95": [round(low, 2), round(high, 2)],
            "fixed_net": round(base, 2),
            "relative": round(total / base, 4) if base else None,
            "relative_interval_95": [round(low / base, 4), round(high / base, 4)] if base else None,
        }
    return out
