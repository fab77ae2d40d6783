"""Sale tapes: the receivables a selection puts up for sale, one tape per pool, made once.

A bidder tape is pseudonymised (pseudonym.py) and holds one row per receivable with the fields of
dictionary.yml, in CSV, Parquet and XLSX, with its data dictionary, stratification tables and a
report. Its files are written to a work folder, recorded in the warehouse (sale.tapes,
sale.tape_receivables), then published to the tape store (publish.py: data first, manifest
last). A tape id is never reused: building again for a date and pool that has a published tape
returns that tape; `new=True` withdraws it and makes another. A tape recorded but not yet
published (a crash) is published by the next build. A forward-flow tape (forward_flow.py) is made
the same way from other receivables, under the standing agreement instead of the selection.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import duckdb
import duckdb_extensions
import jinja2
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.storage import open_store
from debtflow.flows.core.warehouse import (
    TAPE_RECEIVABLES,
    TAPES,
    require_built,
)
from debtflow.flows.dunning.policy import policy
from debtflow.flows.tape import dictionary, pseudonym, publish, report
from debtflow.flows.tape.selection import Selection, selection

DICTIONARY_FILE, STRATS_FILE = "data_dictionary.csv", "strats.csv"
POOL_COLUMNS = {"debtor_type": "legal_type"}  # selection's pool_by -> tape column


@dataclass(frozen=True)
class Offer:
    """What tapes are made under: their kind (bidder, forward_flow), the rules that chose their
    receivables (the manifest's `selection`) and, for bidders, the day the offer ends."""

    kind: str
    rules: dict
    offered_until: date | None


@dataclass(frozen=True)
class Tape:
    tape_id: str
    pool: str
    state: str  # built, published, withdrawn, sold
    manifest: dict
    url: str | None = None

    def summary(self) -> dict:
        m = self.manifest
        return {
            "tape_id": self.tape_id,
            "pool": self.pool,
            "state": self.state,
            "receivables": m["receivables"],
            "totals_by_currency": m["totals_by_currency"],
            "url": self.url,
        }


@cache
def _receivables_template() -> jinja2.Template:
    text = Path(__file__).with_name("receivables.sql").read_text(encoding="utf-8")
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text)


def _labels(edges: tuple, prefix: str = "") -> list[str]:
    bounds = [0, *edges]
    labels = [f"{prefix}{lo}-{hi}" for lo, hi in zip(bounds, edges, strict=False)]
    return [*labels, f"{prefix}{edges[-1]}+"]


def receivables_sql(sel: Selection, forward_flow: bool = False) -> str:
    balance = [str(e.normalize()) for e in sel.balance_bands]
    return _receivables_template().render(
        forward_flow=forward_flow,
        history=dictionary.HISTORY_MONTHS,
        pool_by=[POOL_COLUMNS.get(d, d) for d in sel.pool_by],
        balance_edges=balance,
        balance_labels=_labels(tuple(balance)),
        age_edges=sel.age_bands_months,
        age_labels=_labels(sel.age_bands_months, "m"),
    )


def select_receivables(con: duckdb.DuckDBPyConnection, sel: Selection, as_of: date) -> None:
    """The temp table tape_rows: every receivable the selection puts on a tape, with its pool."""
    currencies = [c for c in sel.min_balance if c != "default"]
    con.execute(
        f"create or replace temp table tape_rows as {receivables_sql(sel)}",
        {
            "as_of": as_of,
            "months": sel.months_in_collection,
            "pooled": sel.pooled_apart() or [""],
            "min_currencies": currencies or [""],
            "min_amounts": [sel.min_balance[c] for c in currencies] or [Decimal(0)],
            "min_default": sel.min_balance["default"],
        },
    )


def build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    pool: str | None = None,
    new: bool = False,
) -> list[Tape]:
    """One bidder tape per pool (or only `pool`) as of `as_of`, published; see the module doc."""
    require_built(con, as_of)
    sel = selection(settings)
    pseudonym.key(settings)  # refuse before any work
    select_receivables(con, sel, as_of)
    try:
        pools = [
            p for (p,) in con.execute("select distinct pool from tape_rows order by 1").fetchall()
        ]
        if pool is not None:
            if pool not in pools and not made_tapes(con, as_of, pool):
                raise DebtflowError(
                    f"no receivables in pool {pool!r} as of {as_of}; the pools are: "
                    + (", ".join(pools) or "none (nothing meets the selection)")
                )
            pools = [pool]
        offer = Offer("bidder", _selection_facts(sel), as_of + timedelta(days=sel.offer_days))
        return make_tapes(con, settings, as_of, offer, pools, new)
    finally:
        con.execute("drop table if exists tape_rows")


def make_tapes(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    offer: Offer,
    pools: list[str],
    new: bool = False,
) -> list[Tape]:
    """One tape of `offer`'s kind per pool of the temp table tape_rows, published; a pool's
    tape made before for `as_of` is returned instead (finished if its publish was cut)."""
    secret = pseudonym.key(settings)
    store = open_store(settings.tapes_store, settings)
    return [_tape_for_pool(con, settings, store, offer, secret, as_of, name, new) for name in pools]


def made_tapes(con, as_of: date, pool: str, kind: str = "bidder") -> list[Tape]:
    rows = con.execute(
        f"select tape_id, pool, state, manifest, url from {TAPES} where kind = ?"
        " and as_of = ? and pool = ? and state in ('built', 'published', 'sold')"
        " order by created_at",
        [kind, as_of, pool],
    ).fetchall()
    return [Tape(t, p, s, json.loads(m), u) for t, p, s, m, u in rows]


def _tape_for_pool(con, settings, store, offer: Offer, secret, as_of, pool, new) -> Tape:
    existing = made_tapes(con, as_of, pool, offer.kind)
    for tape in existing:
        if tape.state == "built":  # recorded, then the publish was interrupted
            return _publish(con, settings, store, tape)
    if existing and not new:
        return existing[-1]
    tape_id = _next_id(con, as_of, pool, offer.kind)
    work = settings.tapes_work_dir / tape_id
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    manifest = _write_files(con, settings, offer, secret, as_of, pool, tape_id, work)
    con.execute("begin")
    try:
        con.execute(
            f"insert into {TAPES} (tape_id, kind, as_of, pool, state, offered_until, receivables,"
            " manifest, created_at) values (?, ?, ?, ?, 'built', ?, ?, ?, ?)",
            [
                tape_id,
                offer.kind,
                as_of,
                pool,
                offer.offered_until,
                manifest["receivables"],
                json.dumps(manifest),
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        con.execute(
            f"insert into {TAPE_RECEIVABLES} select ?, invoice_id, debtor_id, pool, currency,"
            " total_balance from tape_rows where pool = ?",
            [tape_id, pool],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    made = _publish(con, settings, store, Tape(tape_id, pool, "built", manifest))
    # the tape it replaces is withdrawn once the new one is out, not before
    for tape in existing:
        if tape.state == "published":
            con.execute(f"update {TAPES} set state = 'withdrawn' where tape_id = ?", [tape.tape_id])
    return made


def _next_id(con, as_of: date, pool: str, kind: str) -> str:
    """<date>-<pool>-<n>, a forward-flow tape <date>-forward-<pool>-<n>: n counts every tape
    ever made for the date and pool (forward-flow tapes apart), so no id returns."""
    forward = kind == "forward_flow"
    (made,) = con.execute(
        f"select count(*) from {TAPES} where as_of = ? and pool = ?"
        " and (kind = 'forward_flow') = ?",
        [as_of, pool, forward],
    ).fetchone()
    return f"{as_of:%Y%m%d}-{'forward-' if forward else ''}{pool}-{made + 1}"


def _publish(con, settings, store, tape: Tape) -> Tape:
    work = settings.tapes_work_dir / tape.tape_id
    if not work.is_dir():
        con.execute(f"update {TAPES} set state = 'failed' where tape_id = ?", [tape.tape_id])
        raise DebtflowError(
            f"tape {tape.tape_id} was recorded but its files in {work} are gone; it is marked "
            "failed: build again to make a new tape"
        )
    written = publish.publish(store, work, tape.tape_id, tape.manifest)
    url = f"{store.url.rstrip('/')}/{publish.tape_prefix(tape.tape_id)}/"
    con.execute(
        f"update {TAPES} set state = 'published', published_at = ?, url = ?, manifest = ?"
        " where tape_id = ?",
        [datetime.now(UTC).replace(tzinfo=None), url, json.dumps(written), tape.tape_id],
    )
    shutil.rmtree(work, ignore_errors=True)
    return Tape(tape.tape_id, tape.pool, "published", written, url)


def _write_files(con, settings, offer: Offer, secret, as_of, pool, tape_id, work: Path) -> dict:
    ids = con.execute("select debtor_id, invoice_id from tape_rows where pool = ?", [pool]).df()
    con.register("tape_ids", pseudonymise(ids, secret))
    try:
        con.execute("create or replace temp table tape_map as select * from tape_ids")
    finally:
        con.unregister("tape_ids")
    columns = ", ".join(f.name for f in dictionary.fields())
    try:
        # money stays DECIMAL up to the files: pandas would make it float
        con.execute(
            f"create or replace temp table tape_out as select {columns} from ("
            "  select r.*, m.counterparty_id, m.receivable_id,"
            "    case when r.collection_type = 'external' then $agency end as agency"
            "  from tape_rows r join tape_map m using (invoice_id) where r.pool = $pool"
            ") order by receivable_id",
            # the agency the seller places with (dunning policy); the landing data names none
            {"pool": pool, "agency": policy(settings).agency.name},
        )
        write_tables(con, "tape_out", work / "tape")
        dictionary.write_dictionary(work / DICTIONARY_FILE)
        tape = con.execute("select * from tape_out").df()
        report.write_strats(report.stratify(tape), work / STRATS_FILE)
        reconciliation = reconcile(con, as_of)
        manifest = {
            "tape_id": tape_id,
            "kind": offer.kind,
            "contains_personal_data": False,
            "as_of": as_of.isoformat(),
            "pool": pool,
            "pools": [pool],
            "offered_until": offer.offered_until.isoformat() if offer.offered_until else None,
            "receivables": len(tape),
            "debtors": int(tape["counterparty_id"].nunique()),
            "totals_by_currency": _totals(con),
            "selection": offer.rules,
            "model_versions": sorted(v for v in tape["model_version"].dropna().unique()),
            "pseudonyms": {
                "method": f"HMAC-SHA256 of 'debtor:<id>' and 'invoice:<id>', first "
                f"{pseudonym.DIGITS} hex digits",
                "key_fingerprint": pseudonym.fingerprint(secret),
            },
            "reconciliation": reconciliation,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        report.write_report(tape, manifest, reconciliation, work)
    finally:
        con.execute("drop table if exists tape_out; drop table if exists tape_map")
    return manifest


def pseudonymise(ids: pd.DataFrame, secret: bytes) -> pd.DataFrame:
    """invoice_id with its counterparty_id and receivable_id."""
    debtors = {d: pseudonym.pseudonym(secret, "debtor", d) for d in ids["debtor_id"].unique()}
    return pd.DataFrame(
        {
            "invoice_id": ids["invoice_id"],
            "counterparty_id": ids["debtor_id"].map(debtors),
            "receivable_id": [pseudonym.pseudonym(secret, "invoice", i) for i in ids["invoice_id"]],
        }
    )


def write_tables(con: duckdb.DuckDBPyConnection, relation: str, stem: Path) -> None:
    """stem.csv, stem.parquet and stem.xlsx with the rows and columns of `relation`."""

    def path(fmt: str) -> str:
        return str(stem.with_suffix(f".{fmt}")).replace("'", "''")

    con.execute(f"copy {relation} to '{path('csv')}' (header, delimiter ',')")
    con.execute(f"copy {relation} to '{path('parquet')}' (format parquet, compression zstd)")
    # the excel extension in a connection of its own: the warehouse's stays as configured
    xlsx = duckdb.connect()
    try:
        duckdb_extensions.import_extension("excel", con=xlsx)
        xlsx.execute("load excel")
        xlsx.execute(
            f"copy (select * from read_parquet('{path('parquet')}')) to '{path('xlsx')}'"
            " (format xlsx, header true)"
        )
    finally:
        xlsx.close()


def _totals(con) -> dict[str, dict]:
    rows = con.execute(
        "select currency, count(*), sum(principal_balance), sum(total_balance) from tape_out"
        " group by 1 order by 1"
    ).fetchall()
    return {
        currency: {"receivables": n, "principal_balance": str(p), "total_balance": str(t)}
        for currency, n, p, t in rows
    }


def _selection_facts(sel: Selection) -> dict:
    return {
        "version": sel.label,
        "months_in_collection": sel.months_in_collection,
        "min_balance": {k: str(v) for k, v in sel.min_balance.items()},
        "excluded": sel.excluded(),
        "pooled_apart": sel.pooled_apart(),
        "pool_by": list(sel.pool_by),
        "offer_days": sel.offer_days,
    }


def reconcile(con, as_of: date) -> list[dict]:
    """The tape's principal per currency against fct_invoices' open amount of the same invoices
    (the tape reads sale_candidates, a view over the same mart: a difference is a bug)."""
    found = con.execute(
        "select t.currency, count(*), sum(t.principal_balance), sum(f.open_amount)"
        " from tape_out t join tape_map m using (receivable_id)"
        " left join marts.fct_invoices f on f.invoice_id = m.invoice_id and f.as_of = ?"
        " group by 1 order by 1",
        [as_of],
    ).fetchall()
    return [
        {
            "currency": currency,
            "receivables": n,
            "tape_total": str(tape_total),
            "warehouse_total": str(warehouse_total or Decimal(0)),
            "difference": str(tape_total - (warehouse_total or Decimal(0))),
        }
        for currency, n, tape_total, warehouse_total in found
    ]


def listing(con) -> list[dict]:
    rows = con.execute(
        f"select tape_id, kind, as_of, pool, buyer, state, receivables, created_at, url"
        f" from {TAPES} order by created_at, tape_id"
    ).fetchall()
    keys = (
        "tape_id",
        "kind",
        "as_of",
        "pool",
        "buyer",
        "state",
        "receivables",
        "created_at",
        "url",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def show(con, tape_id: str) -> dict:
    row = con.execute(
        f"select state, manifest, url from {TAPES} where tape_id = ?", [tape_id]
    ).fetchone()
    if row is None:
        raise DebtflowError(f"no tape {tape_id!r}; `debtflow tape list` shows the tapes")
    state, manifest, url = row
    return {"tape_id": tape_id, "state": state, "url": url, "manifest": json.loads(manifest)}
