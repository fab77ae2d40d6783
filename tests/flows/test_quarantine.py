"""`debtflow quarantine`: list, show (masked) and release after the contract or data is fixed."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from debtflow.flows import cli
from debtflow.flows.ingest import contract

CORPUS = Path(__file__).parents[1] / "data" / "bad_inputs"


@pytest.fixture
def loaded(home, monkeypatch) -> Path:
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(CORPUS / "unknown_currency"))
    assert cli.main(["ingest"]) == 0
    return home


def test_list_counts_by_reason(loaded, capsys) -> None:
    assert cli.main(["quarantine", "list"]) == 0
    header, *rows = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["BATCH", "FILE", "COLUMN", "STATUS", "ROWS", "REASON"]
    assert len(rows) == 1 and rows[0].split()[1:5] == [
        "invoices.csv",
        "currency",
        "quarantined",
        "1",
    ]


def test_show_masks_personal_data(home, monkeypatch, capsys) -> None:
    landing = home / "landing" / "2026-03-02T0600"
    landing.mkdir(parents=True)
    (landing / "customers.csv").write_text(
        "debtor_id,debtor_type,country,customer_since,updated_at,email\n"
        "D1,martian,NL,2024-01-01,2024-01-01T00:00:00,jan@example.com\n"
    )
    cli.main(["ingest"])
    capsys.readouterr()
    cli.main(["quarantine", "show", "--batch", "2026-03-02T0600", "--json"])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["record"]["email"] == "***" and row["record"]["debtor_type"] == "martian"
    assert "jan@example.com" not in json.dumps(row)


def test_release_loads_rows_that_now_pass(loaded, monkeypatch, capsys) -> None:
    spec = contract.TABLES["invoices"]
    currency = spec.column("currency")
    wider = contract.Column("currency", required=True, accepted=(*currency.accepted, "EUROS"))
    columns = tuple(wider if c.name == "currency" else c for c in spec.columns)
    monkeypatch.setitem(
        contract.TABLES,
        "invoices",
        contract.Table(
            spec.name, spec.key, columns, spec.event_time, spec.doc, spec.references, spec.rules
        ),
    )
    assert cli.main(["quarantine", "release", "--batch", "2026-03-02T0600"]) == 0
    assert "released 1 row(s)" in capsys.readouterr().out
    with duckdb.connect(str(loaded / "warehouse.duckdb")) as con:
        assert con.execute(
            "select invoice_id, _batch_id from raw.invoices order by 1"
        ).fetchall() == [("I1", "2026-03-02T0600"), ("I2", "2026-03-02T0600")]
        assert con.execute("select status from raw.quarantine").fetchall() == [("released",)]
