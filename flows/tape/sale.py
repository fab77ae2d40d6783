"""After a sale: record it, make the buyer's full tape, and load what the buyer reports back.

A sale is recorded per receivable in sale.sold_receivables (`debtflow tape mark-sold`): from the
day of the sale the receivables are 'sold' in fct_invoices and their debtors are never dunned
again (marts/dunning/dunning_candidates.sql). The full tape, with identities, is made only for
the buyer a tape was sold to, and its manifest says it holds personal data.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.storage import open_store
from debtflow.flows.core.warehouse import BUYER_FEEDBACK, SOLD, TAPE_RECEIVABLES, TAPES
from debtflow.flows.tape import dictionary, pseudonym, publish
from debtflow.flows.tape.tape import write_tables

IDENTITY = ("name", "street", "postal_code", "city", "email", "phone_mobile", "date_of_birth",
            "company_registration")  # fmt: skip
OUTCOMES = ("paid", "partially_paid", "settled", "disputed", "deceased", "bankrupt",
            "unreachable", "uncollectable")  # fmt: skip
FEEDBACK_COLUMNS = ("counterparty_id", "receivable_id", "reported_on", "email", "phone_mobile",
                    "email_invalid", "phone_invalid", "outcome", "amount")  # fmt: skip


def _bidder_tape(con: duckdb.DuckDBPyConnection, tape_id: str) -> tuple[str, str, date]:
    row = con.execute(
        f"select kind, state, pool, as_of from {TAPES} where tape_id = ?", [tape_id]
    ).fetchone()
    if row is None:
        raise DebtflowError(f"no tape {tape_id!r}; `debtflow tape list` shows the tapes")
    kind, state, pool, as_of = row
    if kind not in ("bidder", "forward_flow"):
        raise DebtflowError(f"tape {tape_id} is a {kind} tape; name the bidder tape")
    return state, pool, as_of


def mark_sold(
    con: duckdb.DuckDBPyConnection,
    tape_id: str,
    buyer: str,
    pool: str | None = None,
    sold_on: date | None = None,
    price_pct: Decimal | None = None,
) -> dict:
    """Record that the receivables of a published bidder (or forward-flow) tape were sold to
    `buyer`, at `price_pct` percent of each one's balance when a price is agreed."""
    state, tape_pool, _ = _bidder_tape(con, tape_id)
    if not buyer.strip():
        raise DebtflowError("name the buyer (--buyer)")
    if pool is not None and pool != tape_pool:
        raise DebtflowError(f"tape {tape_id} holds pool {tape_pool!r}, not {pool!r}")
    if state != "published":
        raise DebtflowError(f"tape {tape_id} is {state}; only a published tape can be sold")
    sold_on = sold_on or datetime.now(UTC).date()
    already = con.execute(
        f"select s.invoice_id, s.tape_id from {SOLD} s join {TAPE_RECEIVABLES} r"
        " on r.invoice_id = s.invoice_id where r.tape_id = ? order by 1 limit 5",
        [tape_id],
    ).fetchall()
    if already:
        listed = ", ".join(f"{inv} (tape {t})" for inv, t in already)
        raise DebtflowError(f"tape {tape_id}: receivables already sold: {listed}")
    con.execute("begin")
    try:
        con.execute(
            f"insert into {SOLD} (invoice_id, debtor_id, tape_id, pool, buyer, currency,"
            " total_balance, sold_on, recorded_at, price_pct, price)"
            " select invoice_id, debtor_id, tape_id, pool, $buyer, currency, total_balance,"
            " $sold_on, $now, $pct, cast(round(total_balance * $pct / 100, 2) as decimal(18, 2))"
            f" from {TAPE_RECEIVABLES} where tape_id = $tape_id",
            {
                "buyer": buyer,
                "sold_on": sold_on,
                "now": _now(),
                "pct": price_pct,
                "tape_id": tape_id,
            },
        )
        con.execute(
            f"update {TAPES} set state = 'sold', buyer = ? where tape_id = ?", [buyer, tape_id]
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    totals = con.execute(
        f"select currency, count(*), sum(total_balance), sum(price) from {SOLD} where tape_id = ?"
        " group by 1 order by 1",
        [tape_id],
    ).fetchall()
    by_currency = {c: {"receivables": n, "total_balance": str(t)} for c, n, t, _ in totals}
    if price_pct is not None:
        for c, _, _, price in totals:
            by_currency[c]["price"] = str(price)
    return {
        "tape_id": tape_id,
        "buyer": buyer,
        "sold_on": sold_on.isoformat(),
        "sold_by_currency": by_currency,
    }


def full_tape(con: duckdb.DuckDBPyConnection, settings: Settings, tape_id: str, buyer: str) -> dict:
    """The buyer's tape: the sold rows of bidder tape `tape_id` with the debtors' identities."""
    _, pool, as_of = _bidder_tape(con, tape_id)
    sold = con.execute(
        f"select invoice_id, debtor_id from {SOLD} where tape_id = ? and buyer = ?",
        [tape_id, buyer],
    ).df()
    if sold.empty:
        raise DebtflowError(
            f"tape {tape_id} was not sold to {buyer!r}: a full tape is made only for the buyer, "
            f"after `debtflow tape mark-sold {tape_id} --buyer NAME` records the sale"
        )
    secret = pseudonym.key(settings)
    store = open_store(settings.tapes_store, settings)
    bidder = str(_published_parquet(store, settings, tape_id)).replace("'", "''")
    sold["receivable_id"] = [pseudonym.pseudonym(secret, "invoice", i) for i in sold["invoice_id"]]
    source = {name: "c" for name in IDENTITY} | {"debtor_id": "s", "invoice_id": "s"}
    columns = ", ".join(f"{source.get(f.name, 't')}.{f.name}" for f in dictionary.fields(full=True))
    full_id = f"{tape_id}-full-{_count(con, tape_id) + 1}"
    work = settings.tapes_work_dir / full_id
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    con.register("sold_map", sold)
    try:
        con.execute(
            f"create or replace temp table full_out as select {columns}"
            f" from read_parquet('{bidder}') t join sold_map s using (receivable_id)"
            " left join staging.stg_billing__customers c on c.debtor_id = s.debtor_id"
            " order by s.invoice_id"
        )
        (rows,) = con.execute("select count(*) from full_out").fetchone()
        if rows != len(sold):
            raise DebtflowError(
                f"tape {tape_id}: {len(sold) - rows} sold receivables are not on the published "
                "tape under this key; was the pseudonymisation key changed since?"
            )
        write_tables(con, "full_out", work / "tape")
    finally:
        con.unregister("sold_map")
        con.execute("drop table if exists full_out")
    dictionary.write_dictionary(work / "data_dictionary.csv", full=True)
    manifest = {
        "tape_id": full_id,
        "kind": "full",
        "contains_personal_data": True,
        "buyer": buyer,
        "bidder_tape_id": tape_id,
        "as_of": as_of.isoformat(),
        "pool": pool,
        "receivables": rows,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    written = publish.publish(store, work, full_id, manifest)
    url = f"{store.url.rstrip('/')}/{publish.tape_prefix(full_id)}/"
    con.execute(
        f"insert into {TAPES} (tape_id, kind, as_of, pool, buyer, state, receivables, manifest,"
        " created_at, published_at, url) values (?, 'full', ?, ?, ?, 'published', ?, ?, ?, ?, ?)",
        [full_id, as_of, pool, buyer, rows, json.dumps(written), *[_now()] * 2, url],
    )
    shutil.rmtree(work, ignore_errors=True)
    return {"tape_id": full_id, "buyer": buyer, "receivables": rows, "url": url}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _count(con, tape_id: str) -> int:
    return con.execute(
        f"select count(*) from {TAPES} where kind = 'full' and tape_id like ? || '-full-%'",
        [tape_id],
    ).fetchone()[0]


def _published_parquet(store, settings: Settings, tape_id: str) -> Path:
    if publish.published_manifest(store, tape_id) is None:
        raise DebtflowError(f"tape {tape_id} is not published in {store.url}")
    return store.local_path(f"{publish.tape_prefix(tape_id)}/tape.parquet", settings.cache_dir)


def ingest_feedback(con: duckdb.DuckDBPyConnection, settings: Settings, path: Path) -> dict:
    """Load a buyer's feedback file (CSV): per sold debtor or receivable, new or invalid contact
    data and the outcome. Pseudonyms are mapped back to the seller's ids; a file with any bad
    row loads nothing and the error names every bad line and column. Loading a file again
    replaces its rows."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DebtflowError(f"feedback file {path}: cannot read it as CSV ({exc})") from None
    missing = [c for c in ("counterparty_id", "outcome") if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in FEEDBACK_COLUMNS]
    if missing or unknown:
        raise DebtflowError(
            f"feedback file {path}: columns missing {missing}, unknown {unknown}; "
            f"the columns are {list(FEEDBACK_COLUMNS)}"
        )
    frame = frame.reindex(columns=FEEDBACK_COLUMNS, fill_value="")
    secret = pseudonym.key(settings)
    sold = con.execute(f"select invoice_id, debtor_id, buyer from {SOLD}").fetchall()
    debtors = {pseudonym.pseudonym(secret, "debtor", d): (d, b) for _, d, b in sold}
    invoices = {pseudonym.pseudonym(secret, "invoice", i): i for i, _, _ in sold}
    rows, problems = [], []
    for number, rec in enumerate(frame.to_dict("records"), start=2):  # line 1 is the header
        row, why = _feedback_row(rec, debtors, invoices)
        if why:
            problems.append(f"  line {number}, column {why}")
        else:
            rows.append((path.name, number, *row))
    if problems:
        raise DebtflowError(
            f"feedback file {path}: {len(problems)} bad rows, nothing loaded:\n"
            + "\n".join(problems[:50])
        )
    con.execute("begin")
    try:
        con.execute(f"delete from {BUYER_FEEDBACK} where file_name = ?", [path.name])
        con.executemany(
            f"insert into {BUYER_FEEDBACK} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r, _now()) for r in rows],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    outcomes = pd.Series([r[10] for r in rows]).value_counts().sort_index()
    return {"file": path.name, "rows": len(rows), "outcomes": outcomes.to_dict()}


def _feedback_row(rec: dict, debtors: dict, invoices: dict) -> tuple[tuple, str | None]:
    ref = rec["counterparty_id"].strip()
    if ref not in debtors:
        return (), "counterparty_id: not a debtor sold with this seller's key"
    debtor_id, buyer = debtors[ref]
    invoice_id = None
    if rec["receivable_id"].strip():
        invoice_id = invoices.get(rec["receivable_id"].strip())
        if invoice_id is None:
            return (), "receivable_id: not a receivable sold with this seller's key"
    outcome = rec["outcome"].strip()
    if outcome and outcome not in OUTCOMES:
        return (), f"outcome: {outcome!r} is not one of {list(OUTCOMES)}"
    flags = []
    for column in ("email_invalid", "phone_invalid"):
        text = rec[column].strip().lower()
        if text not in ("", "true", "false", "1", "0"):
            return (), f"{column}: {text!r} is not true or false"
        flags.append(text in ("true", "1"))
    try:
        reported_on = date.fromisoformat(rec["reported_on"]) if rec["reported_on"] else None
    except ValueError:
        return (), f"reported_on: {rec['reported_on']!r} is not a date YYYY-MM-DD"
    try:
        amount = Decimal(rec["amount"]) if rec["amount"].strip() else None
    except InvalidOperation:
        return (), f"amount: {rec['amount']!r} is not a number"
    email, phone = rec["email"].strip() or None, rec["phone_mobile"].strip() or None
    return (
        buyer,
        debtor_id,
        invoice_id,
        reported_on,
        email,
        phone,
        *flags,
        outcome or None,
        amount,
    ), None
