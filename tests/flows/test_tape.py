"""The debt-sale tape on hand-made marts: who is on it, what it says, and how it is written."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from model_views import create_model_view

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import connect, ensure_schema
from debtflow.flows.ingest.contract import personal_columns
from debtflow.flows.tape import tape

AS_OF = date(2026, 11, 20)

# debtor_id, overdue, currency, max_dpd, disputed, active_plan, restructuring, bankrupt, deceased
DEBTORS = [
    ("OLD1", "300.00", "EUR", 200, 0, False, False, False, False),
    ("OLD2", "120.50", "EUR", 180, 0, False, False, False, False),
    ("OLDNOK", "999.00", "NOK", 400, 0, False, False, False, False),
    ("YOUNG", "80.00", "EUR", 179, 0, False, False, False, False),
    ("DISP", "90.00", "EUR", 250, 10, False, False, False, False),
    ("PLAN", "90.00", "EUR", 250, 0, True, False, False, False),
    ("WSNP", "90.00", "EUR", 250, 0, False, True, False, False),
    ("BANK", "90.00", "EUR", 250, 0, False, False, True, False),
    ("DEAD", "90.00", "EUR", 250, 0, False, False, False, True),
    ("PAID", "0.00", "EUR", 0, 0, False, False, False, False),
]
ELIGIBLE = {"OLD1", "OLD2", "OLDNOK"}

# invoice_id, debtor_id, due_date, amount, open_amount, paid_date
INVOICES = [
    ("I1a", "OLD1", "2026-05-04", "200.00", "200.00", None),
    ("I1b", "OLD1", "2026-06-04", "100.00", "100.00", None),
    ("I1c", "OLD1", "2026-03-04", "50.00", "0.00", "2026-08-15"),
    ("I2a", "OLD2", "2026-05-24", "120.50", "120.50", None),
    ("I3a", "OLDNOK", "2025-10-16", "999.00", "999.00", None),
    ("I4a", "YOUNG", "2026-05-25", "80.00", "80.00", None),
    ("I5a", "DISP", "2026-03-15", "90.00", "90.00", None),
    ("I6a", "PLAN", "2026-03-15", "90.00", "90.00", None),
    ("I7a", "WSNP", "2026-03-15", "90.00", "90.00", None),
    ("I8a", "BANK", "2026-03-15", "90.00", "90.00", None),
    ("I9a", "DEAD", "2026-03-15", "90.00", "90.00", None),
]


@pytest.fixture
def settings(home: Path) -> Settings:
    return get_settings()


@pytest.fixture
def con(settings: Settings) -> duckdb.DuckDBPyConnection:
    con = connect(settings)
    ensure_schema(con)
    con.execute("create schema if not exists marts")
    con.execute(
        "create table marts.debtor_features (debtor_id varchar, as_of date,"
        " oldest_overdue_invoice_id varchar, overdue_balance decimal(18,2),"
        " open_balance decimal(18,2), currency varchar, max_days_past_due integer,"
        " n_overdue_invoices integer, has_email boolean, has_mobile boolean,"
        " email_bounced boolean, sms_bounced boolean, disputed_open_amount decimal(18,2),"
        " active_plan boolean, debt_restructuring boolean, bankrupt boolean, deceased boolean,"
        " debtor_type varchar, country varchar)"
    )
    create_model_view(con, "debtor_suppressions")
    for d, overdue, cur, dpd, disputed, plan, wsnp, bank, dead in DEBTORS:
        con.execute(
            "insert into marts.debtor_features values"
            " (?, ?, null, ?, ?, ?, ?, 1, true, false, false, false, ?, ?, ?, ?, ?, 'consumer', 'NL')",
            [d, AS_OF, overdue, overdue, cur, dpd, disputed, plan, wsnp, bank, dead],
        )
    con.execute(
        "create table marts.fct_invoices (invoice_id varchar, debtor_id varchar,"
        " document_type varchar, issue_date date, due_date date, amount decimal(18,2),"
        " currency varchar, disputed boolean, allocated_amount decimal(18,2),"
        " open_amount decimal(18,2), days_past_due integer, status varchar, paid_date date,"
        " paid_late boolean, as_of date)"
    )
    for inv, d, due, amount, open_amount, paid in INVOICES:
        con.execute(
            "insert into marts.fct_invoices values (?, ?, 'invoice', ?::date - 14, ?, ?, 'EUR',"
            " false, ?::decimal(18,2) - ?::decimal(18,2), ?,"
            " case when ?::decimal(18,2) > 0 then ?::date - ?::date else 0 end,"
            " 'open', ?, null, ?)",
            [
                inv,
                d,
                due,
                due,
                amount,
                amount,
                open_amount,
                open_amount,
                open_amount,
                AS_OF,
                due,
                paid,
                AS_OF,
            ],
        )
    con.execute(
        "insert into ml.debtor_scores (debtor_id, as_of, p_collect_30d, grade) values"
        " ('OLD1', ?, 0.123456, 2), ('OLD2', date '2026-11-19', 0.5, 5)",
        [AS_OF],
    )
    yield con
    con.close()


def read_tape(path: str) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["account_ref"]: row for row in csv.DictReader(fh)}


def ref(settings: Settings, debtor_id: str) -> str:
    key = settings.pseudonym_key.get_secret_value().encode()
    return hmac.new(key, debtor_id.encode(), hashlib.sha256).hexdigest()[:16]


def test_tape_has_exactly_the_eligible_accounts(con, settings):
    result = tape.build_tape(con, settings, AS_OF)
    rows = read_tape(result["tape_path"])
    assert set(rows) == {ref(settings, d) for d in ELIGIBLE}
    assert result["manifest"]["row_count"] == 3


def test_tape_columns_hold_no_personal_data(con, settings):
    result = tape.build_tape(con, settings, AS_OF)
    with open(result["tape_path"], encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
        body = fh.read()
    assert header == list(tape.COLUMNS)
    assert not set(header) & (personal_columns() | {"debtor_id"})
    for debtor_id, *_ in DEBTORS:
        assert debtor_id not in body


def test_tape_values(con, settings):
    rows = read_tape(tape.build_tape(con, settings, AS_OF)["tape_path"])
    old1 = rows[ref(settings, "OLD1")]
    assert old1 == {
        "account_ref": ref(settings, "OLD1"),
        "debtor_type": "consumer",
        "country": "NL",
        "currency": "EUR",
        "face_value": "300.00",
        "n_invoices": "2",
        "oldest_due_date": "2026-05-04",
        "days_past_due": "200",
        "months_since_last_payment": "3",  # last paid 2026-08-15, as_of 2026-11-20
        "has_email": "true",
        "has_mobile": "false",
        "grade": "2",
        "p_collect_30d": "0.1235",
    }
    old2 = rows[ref(settings, "OLD2")]
    assert (old2["grade"], old2["p_collect_30d"], old2["months_since_last_payment"]) == ("", "", "")


def test_manifest_matches_files_and_reconciles(con, settings):
    result = tape.build_tape(con, settings, AS_OF)
    manifest = json.loads(Path(result["manifest_path"]).read_text())
    assert manifest == result["manifest"]
    data = Path(result["tape_path"]).read_bytes()
    assert manifest["files"]["tape.csv"] == {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    expected = {
        cur: sum(Decimal(o) for d, o, c, *_ in DEBTORS if d in ELIGIBLE and c == cur)
        for cur in ("EUR", "NOK")
    }
    assert {k: Decimal(v) for k, v in manifest["face_value_by_currency"].items()} == expected
    assert manifest["face_value_by_currency"] == {"EUR": "420.50", "NOK": "999.00"}
    assert manifest["rows_by_currency"] == {"EUR": 2, "NOK": 1}
    rows = read_tape(result["tape_path"]).values()
    for cur, total in expected.items():
        assert sum(Decimal(r["face_value"]) for r in rows if r["currency"] == cur) == total
    assert manifest["as_of"] == "2026-11-20" and manifest["created_at"]


def test_rebuild_replaces_the_tape_atomically(con, settings):
    first = tape.build_tape(con, settings, AS_OF)
    con.execute("update marts.debtor_features set bankrupt = true where debtor_id = 'OLD2'")
    second = tape.build_tape(con, settings, AS_OF)
    assert second["tape_path"] == first["tape_path"]
    assert set(read_tape(second["tape_path"])) == {ref(settings, "OLD1"), ref(settings, "OLDNOK")}
    assert second["manifest"]["row_count"] == 2
    day_dir = settings.tapes_dir / "2026-11-20"
    assert sorted(p.name for p in day_dir.iterdir()) == ["manifest.json", "tape.csv"]
    assert [p.name for p in settings.tapes_dir.iterdir()] == ["2026-11-20"]  # no temp folders


def test_leftovers_of_a_crashed_build_are_cleared(con, settings):
    crashed = settings.tapes_dir / ".2026-11-20.tmp-deadbeef"
    crashed.mkdir(parents=True)
    (crashed / "tape.csv").write_text("half")
    tape.build_tape(con, settings, AS_OF)
    assert [p.name for p in settings.tapes_dir.iterdir()] == ["2026-11-20"]


def test_pseudonym_depends_on_the_key(con, settings, monkeypatch):
    first = set(read_tape(tape.build_tape(con, settings, AS_OF)["tape_path"]))
    monkeypatch.setenv("DEBTFLOW_PSEUDONYM_KEY", "another-secret")
    second = set(read_tape(tape.build_tape(con, get_settings(), AS_OF)["tape_path"]))
    assert len(second) == 3 and not first & second


def test_stale_marts_refuse_to_build(con, settings):
    with pytest.raises(DebtflowError, match="no rows for as_of 2026-11-21"):
        tape.build_tape(con, settings, date(2026, 11, 21))
