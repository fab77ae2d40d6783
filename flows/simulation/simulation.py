"""`debtflow simulate`: a seeded billing world written as landing batches, with its ground truth.

Layout: OUT/landing/<batch_id>/<table>.{parquet,csv} (one history batch in Parquet, then one CSV
batch per day) and OUT/truth/{debtors,collectability,late_payment}.parquet beside, never inside,
the landing zone, with OUT/truth/world.json, the parameters that redraw the world. The behaviour
lives in world.py (latent process), tables.py (observed rows as numpy columns) and text.py (ids
and synthetic personal data).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from debtflow.flows.core.settings import Settings
from debtflow.flows.ingest.contract import TABLES
from debtflow.flows.simulation import tables as st
from debtflow.flows.simulation import text as tx
from debtflow.flows.simulation import world as sw

CHUNK = 1_000_000
WORLD_FILE = "world.json"  # the parameters that redraw the world (truth folder)
EPOCH = date(1970, 1, 1).toordinal()
METHODS = ("direct_debit", "bank_transfer", "card", "cash", "ideal", "agency")
EVENT_TYPES = (
    "sent",
    "delivered",
    "bounced",
    "opened",
    "clicked",
    "call_attempt",
    "call_connected",
    "promise_to_pay",
)
CSV_OPTIONS = pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed")


def history_start(end_date: date, months: int) -> date:
    y, m = divmod(end_date.year * 12 + end_date.month - 1 - months, 12)
    return date(y, m + 1, 1)


def batch_ids(end_date: date, daily_days: int) -> list[str]:
    """History batch `<E-k>T0600`, then one batch per day E-k+1 .. E."""
    first = end_date - timedelta(days=daily_days)
    return [f"{(first + timedelta(days=i)).isoformat()}T0600" for i in range(daily_days + 1)]


def simulate(
    debtors: int,
    months: int,
    seed: int,
    out: Path | str,
    end_date: date | str | None = None,
    daily_days: int = 3,
    email_affinity: float = 1.0,
) -> dict:
    """Simulate the world and write landing batches and truth under `out`; returns a summary.
    email_affinity multiplies every debtor's response to e-mail (a test world where the channel
    matters more)."""
    began = time.perf_counter()
    out = Path(out)
    if isinstance(end_date, str):
        end_date = date.fromisoformat(end_date)
    end = end_date or Settings().today()
    if debtors < 1 or months < 1 or daily_days < 0:
        raise ValueError("debtors and months must be >= 1 and daily_days >= 0")
    start = history_start(end, months)
    n_days = (end - start).days
    if daily_days >= n_days:
        raise ValueError("daily_days must be shorter than the history")
    params = {"debtors": debtors, "months": months, "seed": seed, "end_date": end.isoformat(),
              "daily_days": daily_days, "email_affinity": email_affinity}  # fmt: skip
    phases: dict[str, float] = {}
    lap = _stopwatch(phases)
    world, start, month_days, inv, versions = draw(params)
    real_late = ~inv["credit"] & inv["late"]
    lap("world")
    ep_debtor, ep_d0, ep_event = sw.run_overdue_process(
        world, inv["debtor"][real_late], inv["due"][real_late]
    )
    lap("overdue_process")
    inv_ep = np.where(real_late, st.episode_of_invoice(inv, ep_debtor, ep_event, ep_d0), -1)
    first_inv = np.full(len(ep_d0), -1, dtype=np.int64)
    has = inv_ep >= 0
    first_inv[inv_ep[has][::-1]] = np.flatnonzero(has)[::-1]  # the oldest invoice of the episode
    ctx = Ctx(world, start, inv, daily_days)
    rows = {
        "customers": versions,
        "invoices": _invoice_rows(world, inv, ep_debtor, ep_d0, ep_event, first_inv),
        "payments": st.payments(world, inv, inv_ep, ep_event, ep_d0),
        "contact_events": st.contacts(world, ep_debtor, ep_d0, ep_event, first_inv),
        "payment_plans": st.plans(world, ep_debtor, ep_d0, ep_event, inv, inv_ep),
        "credit_reports": st.credit_reports(world),
    }
    lap("rows")
    landing = out / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    ids = batch_ids(end, daily_days)
    counts = {name: 0 for name in rows}
    for b, batch_id in enumerate(ids):
        tmp = landing / f".tmp-{batch_id}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, cols in rows.items():
            sel = _batch_rows(cols, b, n_days - daily_days)
            counts[name] += len(sel)
            _write(tmp / name, BUILDERS[name], ctx, cols, sel, parquet=(b == 0))
        _swap(tmp, landing / batch_id)
    lap("landing")
    truth = _write_truth(out / "truth", world, ctx, ep_debtor, ep_d0, ep_event, month_days)
    _atomic_text(json.dumps(params, indent=2) + "\n", out / "truth" / WORLD_FILE)
    lap("truth")
    return {
        "rows": counts,
        "truth_rows": truth,
        "batches": ids,
        "history_start": start.isoformat(),
        "end_date": end.isoformat(),
        "seconds": round(time.perf_counter() - began, 2),
        "phases": phases,
    }


def draw(params: dict) -> tuple[sw.World, date, np.ndarray, st.Cols, st.Cols]:
    """The world `params` (truth/world.json) fix: its latent debtors, history start, month starts,
    invoices and customer versions - simulate() and the recovery oracle redraw the same world."""
    end = date.fromisoformat(params["end_date"])
    start = history_start(end, params["months"])
    n_days = (end - start).days
    world = sw.make_world(
        params["debtors"], n_days, 8 * 365, params["seed"], params["email_affinity"]
    )
    month_days = st.month_starts(start.toordinal(), params["months"] + 1)
    inv = st.invoices(world, month_days[month_days < n_days])
    versions = st.customer_versions(world, n_days - params["daily_days"])  # sets email_fixed_day
    return world, start, month_days, inv, versions


def _stopwatch(phases: dict[str, float]) -> Callable[[str], None]:
    last = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        phases[name] = round(now - last[0], 2)
        last[0] = now

    return lap


class Ctx:
    """What the row builders share: the world, the calendar and the invoices."""

    def __init__(self, world: sw.World, start: date, inv: st.Cols, daily_days: int):
        self.w, self.start, self.inv, self.daily_days = world, start, inv, daily_days

    def timestamp(self, day: np.ndarray, sec: np.ndarray | int) -> pa.Array:
        secs = (self.start.toordinal() - EPOCH + day.astype(np.int64)) * 86_400 + sec
        return pa.array(np.asarray(secs, dtype=np.int64), pa.int64()).cast(pa.timestamp("s"))

    def date(self, day: np.ndarray) -> pa.Array:
        days = self.start.toordinal() - EPOCH + day.astype(np.int64)
        return pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32())

    def invoice_id(self, inv_row: np.ndarray) -> pa.Array:
        credit = self.inv["credit"][inv_row]
        number = tx.ids("INV", self.inv["seq"][inv_row], 10)
        return pc.if_else(pa.array(credit), tx.ids("CN", self.inv["seq"][inv_row], 10), number)

    def debtor_id(self, debtor: np.ndarray) -> pa.Array:
        return tx.ids("D", debtor + 1, 8)


def _invoice_rows(
    w: sw.World,
    inv: st.Cols,
    ep_debtor: np.ndarray,
    ep_d0: np.ndarray,
    ep_event: np.ndarray,
    first_inv: np.ndarray,
) -> st.Cols:
    """Every invoice at issue, plus a restated row when a disputer disputes it (dpd 3)."""
    disputed = sw.disputed_episode(w, ep_debtor, ep_d0) & (first_inv >= 0)
    day = ep_d0 + 3
    still_open = (ep_event < 0) | (ep_event >= day)
    restate = np.flatnonzero(disputed & still_open & (day < w.n_days))
    n = len(inv["seq"])
    return dict(
        row=np.r_[np.arange(n), first_inv[restate]],
        version=np.r_[np.zeros(n, np.int64), np.ones(len(restate), np.int64)],
        _day=np.r_[inv["issue"], day[restate]],
        _sec=np.r_[np.full(n, 5 * 3600), np.full(len(restate), 10 * 3600)],
    )


def _batch_rows(cols: st.Cols, b: int, first_daily: int) -> np.ndarray:
    """Rows landing in batch b; a key restated within one batch keeps only its newest version."""
    day = cols["_day"]
    sel = (
        np.flatnonzero(day < first_daily) if b == 0 else np.flatnonzero(day == first_daily + b - 1)
    )
    key = cols.get("row", cols.get("plan"))
    if key is None or not len(sel):
        return sel
    order = np.lexsort((cols["_day"][sel], key[sel]))
    last = np.r_[key[sel][order][1:] != key[sel][order][:-1], True]
    return np.sort(sel[order][last])


def _write(
    stem: Path, build: Callable, ctx: Ctx, cols: st.Cols, sel: np.ndarray, parquet: bool
) -> None:
    if parquet:
        writer = None
        for i in range(0, max(len(sel), 1), CHUNK):
            table = build(ctx, {k: v[sel[i : i + CHUNK]] for k, v in cols.items()})
            if writer is None:
                writer = pq.ParquetWriter(stem.with_suffix(".parquet"), table.schema)
            writer.write_table(table, row_group_size=CHUNK)
        writer.close()
    else:
        table = build(ctx, {k: v[sel] for k, v in cols.items()})
        pacsv.write_csv(table, stem.with_suffix(".csv"), CSV_OPTIONS)


def _swap(tmp: Path, target: Path) -> None:
    """Replace a batch folder whole: readers see the old batch or the new one, never half."""
    old = target.with_name(f".old-{target.name}-{os.getpid()}")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _table(name: str, columns: dict[str, pa.Array]) -> pa.Table:
    spec = TABLES[name]
    n = len(next(iter(columns.values())))
    arrays = []
    for col in spec.columns:
        arr = columns.get(col.name)
        if arr is None:
            arr = pa.nulls(n, _ARROW[col.type])
        arrays.append(arr.cast(_ARROW[col.type]) if arr.type != _ARROW[col.type] else arr)
    return pa.Table.from_arrays(arrays, names=spec.column_names)


_ARROW = {
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("s"),
    "decimal": pa.decimal128(18, 2),
    "integer": pa.int32(),
    "boolean": pa.bool_(),
}


def money(cents: np.ndarray) -> pa.Array:
    """Exact DECIMAL(18,2) from integer cents (no float rounding)."""
    cents = np.asarray(cents, dtype=np.int64)
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0], words[:, 1] = cents, cents >> 63
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])


def _customers(ctx: Ctx, c: st.Cols) -> pa.Table:
    w, d = ctx.w, c["debtor"]
    text = tx.customers(w, d, c["version"])
    return _table(
        "customers",
        dict(
            debtor_id=ctx.debtor_id(d),
            debtor_type=tx.pick(["consumer", "business"], w["business"][d].astype(np.int64)),
            country=tx.country_code(w["country"][d]),
            customer_since=ctx.date(w["since"][d]),
            acquisition_channel=tx.pick(list(sw.ACQUISITION), w["acquisition"][d]),
            paperless=pa.array(w["paperless"][d]),
            updated_at=ctx.timestamp(c["_day"], c["_sec"]),
            **text,
        ),
    )


def _invoices(ctx: Ctx, c: st.Cols) -> pa.Table:
    inv, r = ctx.inv, c["row"]
    restated = c["version"] == 1
    when = ctx.timestamp(c["_day"], c["_sec"])
    return _table(
        "invoices",
        dict(
            invoice_id=ctx.invoice_id(r),
            debtor_id=ctx.debtor_id(inv["debtor"][r]),
            document_type=tx.pick(["invoice", "credit_note"], inv["credit"][r].astype(np.int64)),
            issue_date=ctx.date(inv["issue"][r]),
            due_date=ctx.date(inv["due"][r]),
            amount=money(inv["amount"][r]),
            currency=tx.currency(ctx.w["country"][inv["debtor"][r]]),
            product=tx.pick(tx.PRODUCTS, inv["product"][r]),
            disputed=pa.array(restated),
            dispute_opened_at=pc.if_else(
                pa.array(restated), when, pa.scalar(None, pa.timestamp("s"))
            ),
            updated_at=when,
        ),
    )


def _payments(ctx: Ctx, c: st.Cols) -> pa.Table:
    inv_id = ctx.invoice_id(c["inv"])
    none = pa.scalar(None, pa.string())
    return _table(
        "payments",
        dict(
            payment_id=tx.ids("PAY", c["seq"], 10),
            debtor_id=ctx.debtor_id(c["debtor"]),
            invoice_id=pc.if_else(pa.array(c["mode"] == 0), inv_id, none),
            paid_at=ctx.timestamp(c["_day"], c["_sec"]),
            amount=money(c["amount"]),
            currency=tx.currency(ctx.w["country"][c["debtor"]]),
            method=tx.pick(list(METHODS), c["method"]),
            reference=pc.if_else(pa.array(c["mode"] == 1), inv_id, none),
        ),
    )


def _contact_events(ctx: Ctx, c: st.Cols) -> pa.Table:
    step_names = [s for s, _ in sw.SCHEDULE]
    is_test = c["step"] < 2
    channel = tx.pick(list(sw.CONTACT_CHANNELS), c["channel"])
    none = pa.scalar(None, pa.string())
    return _table(
        "contact_events",
        dict(
            event_id=tx.ids("EV", c["ep"] * 64 + c["step"] * 8 + c["k"], 11),
            debtor_id=ctx.debtor_id(c["debtor"]),
            invoice_id=ctx.invoice_id(c["inv"]),
            channel=channel,
            event_type=tx.pick(list(EVENT_TYPES), c["etype"]),
            occurred_at=ctx.timestamp(c["_day"], c["_sec"]),
            step=tx.pick(step_names, c["step"]),
            campaign=tx.pick(["standard", "hist_channel_test"], is_test.astype(np.int64)),
            variant=pc.if_else(pa.array(is_test), channel, none),
        ),
    )


def _payment_plans(ctx: Ctx, c: st.Cols) -> pa.Table:
    return _table(
        "payment_plans",
        dict(
            plan_id=tx.ids("PLAN", c["plan"], 9),
            debtor_id=ctx.debtor_id(c["debtor"]),
            created_at=ctx.timestamp(c["created"], 15 * 3600),
            total_amount=money(c["total"]),
            installments=pa.array(c["installments"].astype(np.int32)),
            frequency=tx.pick(["weekly", "monthly"], c["monthly"].astype(np.int64)),
            status=tx.pick(["cancelled", "active", "completed", "broken"], c["status"]),
            updated_at=ctx.timestamp(c["_day"], c["_sec"]),
        ),
    )


def _credit_reports(ctx: Ctx, c: st.Cols) -> pa.Table:
    return _table(
        "credit_reports",
        dict(
            debtor_id=ctx.debtor_id(c["debtor"]),
            reported_at=ctx.timestamp(c["_day"], c["_sec"]),
            bureau_score=pa.array(c["score"].astype(np.int32)),
            registered_debts=pa.array(c["debts"].astype(np.int32)),
            debt_restructuring=pa.array(c["restructuring"]),
            bankrupt=pa.array(c["bankrupt"]),
            deceased=pa.array(c["deceased"]),
        ),
    )


BUILDERS: dict[str, Callable[[Ctx, st.Cols], pa.Table]] = {
    "customers": _customers,
    "invoices": _invoices,
    "payments": _payments,
    "contact_events": _contact_events,
    "payment_plans": _payment_plans,
    "credit_reports": _credit_reports,
}


def snapshot_days(month_days: np.ndarray, n_days: int, daily_days: int) -> list[int]:
    """First-of-month dates after the first two months, plus every daily batch date."""
    monthly = [int(d) for d in month_days[2:] if d <= n_days]
    daily = list(range(n_days - daily_days + 1, n_days + 1))
    return sorted(set(monthly) | set(daily))


def _write_truth(
    folder: Path,
    w: sw.World,
    ctx: Ctx,
    ep_debtor: np.ndarray,
    ep_d0: np.ndarray,
    ep_event: np.ndarray,
    month_days: np.ndarray,
) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(w["archetype"])
    debtors = {
        "debtor_id": ctx.debtor_id(np.arange(n)),
        "archetype": tx.pick(list(sw.ARCHETYPES), w["archetype"]),
    }
    debtors.update({k: pa.array(v) for k, v in w.traits.items() if k != "archetype"})
    _atomic_parquet(pa.table(debtors), folder / "debtors.parquet")

    days = snapshot_days(month_days, w.n_days, ctx.daily_days)
    parts = []
    for day in days:
        idx, p_true, label = sw.collectability_truth(
            w, ep_debtor, ep_d0, ep_event, day, observed=day + sw.HORIZON <= w.n_days
        )
        parts.append(
            pa.table(
                {
                    "debtor_id": ctx.debtor_id(idx),
                    "as_of": ctx.date(np.full(len(idx), day)),
                    "p_true": pa.array(p_true),
                    "label": pa.array(label, pa.float64(), from_pandas=True).cast(pa.int8()),
                }
            )
        )
    collect = pa.concat_tables(parts)
    _atomic_parquet(collect, folder / "collectability.parquet")

    inv = ctx.inv
    real = np.flatnonzero(~inv["credit"])
    path = folder / "late_payment.parquet"
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    writer = None
    for i in range(0, max(len(real), 1), CHUNK):  # in chunks: 24M invoice ids at 1M debtors
        part = real[i : i + CHUNK]
        label = np.where(inv["due"][part] < w.n_days, inv["late"][part].astype(float), np.nan)
        late = pa.table(
            {
                "invoice_id": ctx.invoice_id(part),
                "p_late": pa.array(inv["p_late"][part]),
                "label": pa.array(label, pa.float64(), from_pandas=True).cast(pa.int8()),
            }
        )
        writer = writer or pq.ParquetWriter(tmp, late.schema)
        writer.write_table(late)
    writer.close()
    os.replace(tmp, path)
    return {"debtors": n, "collectability": collect.num_rows, "late_payment": len(real)}


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _atomic_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
