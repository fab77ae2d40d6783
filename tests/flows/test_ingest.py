"""Ingest: contract checks, quarantine with reasons, row accounting, idempotent batches."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from debtflow.flows.core import warehouse
from debtflow.flows.core.settings import get_settings
from debtflow.flows.ingest import ingest
from debtflow.flows.ingest.ingest import BatchRejected

CUSTOMERS = """debtor_id,debtor_type,country,customer_since,updated_at,email
D1,consumer,NL,2024-01-01,2024-01-01T00:00:00,a@example.com
D2,business,BE,2024-02-01,2024-02-01T00:00:00,
"""
INVOICES = """invoice_id,debtor_id,issue_date,due_date,amount,currency,updated_at
I1,D1,2026-01-01,2026-01-15,100.50,EUR,2026-01-01T00:00:00
I2,D1,2026-02-01,2026-02-15,-5,EUR,2026-02-01T00:00:00
I3,D2,2026-02-01,,20,EUR,2026-02-01T00:00:00
I4,D2,2026-02-10,2026-02-01,20,EUR,2026-02-10T00:00:00
I5,D2,2026-03-01,2026-03-31,abc,EUR,2026-03-01T00:00:00
I6,D2,2026-03-01,2026-03-31,30,XXX,2026-03-01T00:00:00
"""


def write_batch(landing: Path, batch_id: str, files: dict[str, str]) -> Path:
    folder = landing / batch_id
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def landing(home: Path) -> Path:
    path = home / "landing"
    write_batch(path, "2026-03-02T0600", {"customers.csv": CUSTOMERS, "invoices.csv": INVOICES})
    return path


def query(sql: str):
    with duckdb.connect(str(get_settings().warehouse_path)) as con:
        return con.execute(sql).fetchall()


def test_bad_rows_are_quarantined_with_column_and_reason(landing: Path) -> None:
    ingest.ingest(get_settings())
    assert query("select invoice_id from raw.invoices") == [("I1",)]
    assert query(
        "select row_number, column_name, reason from raw.quarantine order by row_number"
    ) == [
        (2, "amount", "must be greater than 0"),
        (3, "due_date", "required value is missing"),
        (4, "due_date", "due_date is before issue_date"),
        (5, "amount", "not a valid decimal"),
        (6, "currency", "not one of the accepted values (EUR, NOK, SEK, DKK, GBP, USD, CHF, PLN)"),
    ]
    record = json.loads(query("select record from raw.quarantine where row_number = 5")[0][0])
    assert record["amount"] == "abc" and record["invoice_id"] == "I5"


def test_load_log_accounts_for_every_row(landing: Path) -> None:
    ingest.ingest(get_settings())
    rows = query(
        "select file_name, rows_read, rows_loaded, rows_quarantined, status "
        "from raw.load_log order by file_name"
    )
    assert rows == [("customers.csv", 2, 2, 0, "loaded"), ("invoices.csv", 6, 1, 5, "loaded")]


def test_typed_values_land_in_raw(landing: Path) -> None:
    ingest.ingest(get_settings())
    (amount, due, batch) = query("select amount, due_date, _batch_id from raw.invoices")[0]
    assert str(amount) == "100.50" and str(due) == "2026-01-15" and batch == "2026-03-02T0600"
    assert query("select count(*) from raw.customers where email is null") == [(1,)]


def test_a_loaded_batch_is_skipped(landing: Path) -> None:
    first = ingest.ingest(get_settings())
    second = ingest.ingest(get_settings())
    assert [r.status for r in first] == ["loaded"] and [r.status for r in second] == ["skipped"]
    assert query("select count(*) from raw.invoices") == [(1,)]
    assert query("select count(*) from raw.quarantine") == [(5,)]


def test_same_batch_id_with_changed_content_is_refused(landing: Path) -> None:
    ingest.ingest(get_settings())
    (landing / "2026-03-02T0600" / "invoices.csv").write_text(INVOICES.replace("100.50", "99"))
    with pytest.raises(BatchRejected, match="already loaded with different content"):
        ingest.ingest(get_settings())
    assert query("select count(*) from raw.invoices") == [(1,)]


def test_missing_required_column_rejects_the_batch_whole(home: Path) -> None:
    landing = home / "landing"
    no_currency = "invoice_id,debtor_id,issue_date,due_date,amount,updated_at\nI1,D1,2026-01-01,2026-01-15,1,2026-01-01\n"
    write_batch(
        landing, "2026-03-02T0600", {"customers.csv": CUSTOMERS, "invoices.csv": no_currency}
    )
    with pytest.raises(
        BatchRejected, match=r"invoices.csv: required column\(s\) missing: currency"
    ):
        ingest.ingest(get_settings())
    with warehouse.session(get_settings()) as con:
        assert con.execute("select count(*) from raw.customers").fetchone() == (0,)


def test_batches_after_as_of_wait(landing: Path) -> None:
    write_batch(landing, "2026-03-03T0600", {"customers.csv": CUSTOMERS.replace("D1,", "D9,")})
    from datetime import date

    assert [r.batch_id for r in ingest.ingest(get_settings(), as_of=date(2026, 3, 2))] == [
        "2026-03-02T0600"
    ]
    assert query("select count(*) from raw.customers") == [(2,)]


def test_parquet_and_jsonl_load_like_csv(home: Path) -> None:
    landing = home / "landing"
    folder = write_batch(landing, "2026-03-02T0600", {"customers.csv": CUSTOMERS})
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'P1' as payment_id, 'D1' as debtor_id, timestamp '2026-02-01 10:00:00' "
            "as paid_at, 12.5::decimal(18,2) as amount, 'EUR' as currency) "
            f"to '{folder / 'payments.parquet'}' (format parquet)"
        )
    (folder / "credit_reports.jsonl").write_text(
        '{"debtor_id": "D1", "reported_at": "2026-01-01T00:00:00", "bureau_score": 640, "bankrupt": false}\n'
    )
    ingest.ingest(get_settings())
    assert query("select payment_id, amount::varchar from raw.payments") == [("P1", "12.50")]
    assert query("select bureau_score, bankrupt from raw.credit_reports") == [(640, False)]


def test_unexpected_file_is_logged_and_ignored(landing: Path) -> None:
    (landing / "2026-03-02T0600" / "notes.txt").write_text("hello")
    ingest.ingest(get_settings())
    assert query("select status, message from raw.load_log where file_name = 'notes.txt'") == [
        ("ignored", "not a contract file name")
    ]
