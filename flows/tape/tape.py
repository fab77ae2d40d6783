"""The debt-sale data tape: eligible accounts, pseudonymised, with a manifest bidders can verify.

The tape holds no personal data: the account reference is an HMAC of the debtor id under a
secret key (so the seller can map a buyer's answer back, a bidder cannot), and every other column
is an amount, a date, a count, a flag or a score. A tape folder is written beside its final place
and swapped in by rename, so a reader sees the old tape or the new one, never half of either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import DEBTOR_SCORES, FEATURES, SUPPRESSIONS, table_columns

MIN_DAYS_PAST_DUE = 180  # rule of thumb for "collection has run its course"; config later
TAPE_FILE, MANIFEST_FILE = "tape.csv", "manifest.json"
INVOICES, PAYMENTS = "marts.fct_invoices", "marts.fct_payments"
COLUMNS = (
    "account_ref",
    "debtor_type",
    "country",
    "currency",
    "face_value",
    "n_invoices",
    "oldest_due_date",
    "days_past_due",
    "months_since_last_payment",
    "has_email",
    "has_mobile",
    "grade",
    "p_collect_30d",
)


def account_ref(key: str, debtor_id: str) -> str:
    return hmac.new(key.encode(), debtor_id.encode(), hashlib.sha256).hexdigest()[:16]


def _last_payment_sql(con: duckdb.DuckDBPyConnection) -> str:
    # Partial payments are visible only in fct_payments; without it, the last fully paid invoice.
    if {"debtor_id", "paid_at"} <= table_columns(con, PAYMENTS):
        return (
            f"select debtor_id, max(paid_at::date) as last_paid from {PAYMENTS}"
            " where paid_at::date < $as_of group by 1"
        )
    return (
        f"select debtor_id, max(paid_date) as last_paid from {INVOICES}"
        " where as_of = $as_of and paid_date < $as_of group by 1"
    )


def _eligible_sql(con: duckdb.DuckDBPyConnection) -> str:
    return f"""
        with overdue as (
            select debtor_id, count(*) as n_invoices, min(due_date) as oldest_due_date
            from {INVOICES}
            where as_of = $as_of and coalesce(document_type, 'invoice') = 'invoice'
              and open_amount > 0 and due_date < $as_of
            group by 1
        ),
        last_payment as ({_last_payment_sql(con)}),
        final as (
            select f.debtor_id, f.debtor_type, f.country, f.currency,
                   f.overdue_balance as face_value, o.n_invoices, o.oldest_due_date,
                   f.max_days_past_due as days_past_due,
                   date_diff('month', p.last_paid, $as_of)
                     - case when day($as_of) < day(p.last_paid) then 1 else 0 end
                     as months_since_last_payment,
                   coalesce(f.has_email, false) as has_email,
                   coalesce(f.has_mobile, false) as has_mobile,
                   s.grade, round(s.p_collect_30d, 4) as p_collect_30d
            from {FEATURES} f
            join overdue o on o.debtor_id = f.debtor_id
            left join last_payment p on p.debtor_id = f.debtor_id
            left join {DEBTOR_SCORES} s on s.debtor_id = f.debtor_id and s.as_of = $as_of
            where f.as_of = $as_of and f.overdue_balance > 0
              and f.max_days_past_due >= $min_dpd
              and coalesce(f.disputed_open_amount, 0) = 0
              and not exists (select 1 from {SUPPRESSIONS} sup
                              where sup.debtor_id = f.debtor_id and sup.as_of = $as_of)
        )
        select * from final
    """


def _require_marts(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    for table in (FEATURES, INVOICES):
        total, today = con.execute(
            f"select count(*), count(*) filter (where as_of = ?) from {table}", [as_of]
        ).fetchone()
        if total and not today:
            raise DebtflowError(f"{table} holds no rows for as_of {as_of}; rebuild the marts first")


def build_tape(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> dict:
    """Write tapes/<as_of>/{tape.csv, manifest.json}, replacing an earlier tape of that day."""
    _require_marts(con, as_of)
    params = {"as_of": as_of, "min_dpd": MIN_DAYS_PAST_DUE}
    con.execute(f"create or replace temp table tape_eligible as {_eligible_sql(con)}", params)
    key = settings.pseudonym_key.get_secret_value()
    ids = [r[0] for r in con.execute("select debtor_id from tape_eligible").fetchall()]
    refs = pd.DataFrame({"debtor_id": ids, "account_ref": [account_ref(key, d) for d in ids]})
    con.register("tape_refs", refs)
    try:
        select = ", ".join(f"r.{c}" if c == "account_ref" else f"e.{c}" for c in COLUMNS)
        tape_query = (
            f"select {select} from tape_eligible e join tape_refs r using (debtor_id)"
            " order by r.account_ref"
        )
        totals = con.execute(
            "select currency, count(*), sum(face_value) from tape_eligible group by 1 order by 1"
        ).fetchall()
        final_dir = settings.tapes_dir / as_of.isoformat()
        work_dir = _fresh_work_dir(settings.tapes_dir, as_of)
        tape_path = work_dir / TAPE_FILE
        quoted = str(tape_path).replace("'", "''")
        con.execute(f"copy ({tape_query}) to '{quoted}' (header, delimiter ',')")
    finally:
        con.unregister("tape_refs")
        con.execute("drop table if exists tape_eligible")

    manifest = {
        "as_of": as_of.isoformat(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "row_count": sum(n for _, n, _ in totals),
        "rows_by_currency": {cur: n for cur, n, _ in totals},
        "face_value_by_currency": {cur: str(Decimal(total)) for cur, _, total in totals},
        "eligibility": {
            "min_days_past_due": MIN_DAYS_PAST_DUE,
            "excluded": ["disputed_open_amount > 0", f"a reason in {SUPPRESSIONS}"],
        },
        "account_ref": "first 16 hex digits of HMAC-SHA256(pseudonym key, debtor_id)",
        "columns": list(COLUMNS),
        "files": {TAPE_FILE: _file_facts(tape_path)},
    }
    manifest_path = work_dir / MANIFEST_FILE
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    _fsync(manifest_path)
    _swap_in(work_dir, final_dir)
    return {
        "manifest": manifest,
        "path": str(final_dir),
        "tape_path": str(final_dir / TAPE_FILE),
        "manifest_path": str(final_dir / MANIFEST_FILE),
    }


def _file_facts(path: Path) -> dict:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _fresh_work_dir(tapes_dir: Path, as_of: date) -> Path:
    tapes_dir.mkdir(parents=True, exist_ok=True)
    for stale in tapes_dir.glob(f".{as_of.isoformat()}.*"):  # left by a crashed build
        shutil.rmtree(stale, ignore_errors=True)
    work_dir = tapes_dir / f".{as_of.isoformat()}.tmp-{uuid.uuid4().hex[:8]}"
    work_dir.mkdir()
    return work_dir


def _swap_in(work_dir: Path, final_dir: Path) -> None:
    """rename(2) cannot replace a non-empty folder: move the old one aside first."""
    _fsync(work_dir / TAPE_FILE)
    old = None
    if final_dir.exists():
        old = final_dir.with_name(f".{final_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final_dir, old)
    os.replace(work_dir, final_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
