"""Batches over time: late-arriving debtors, restatements, any order of arrival."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from debtflow.flows.core.settings import get_settings
from debtflow.flows.ingest import ingest

CUSTOMERS = "debtor_id,debtor_type,country,customer_since,updated_at\n"
INVOICES = "invoice_id,debtor_id,issue_date,due_date,amount,currency,disputed,updated_at\n"
BATCHES = {
    "2026-03-01T0600": {
        "customers.csv": CUSTOMERS + "D1,consumer,NL,2024-01-01,2024-01-01T00:00:00\n",
        "invoices.csv": INVOICES
        + "I1,D1,2026-02-01,2026-02-15,10.00,EUR,false,2026-02-01T00:00:00\n"
        + "I2,D2,2026-02-20,2026-03-06,20.00,EUR,false,2026-02-20T00:00:00\n",
    },
    "2026-03-02T0600": {
        "customers.csv": CUSTOMERS + "D2,business,BE,2026-02-20,2026-03-01T08:00:00\n",
        "invoices.csv": INVOICES
        + "I1,D1,2026-02-01,2026-02-15,10.00,EUR,true,2026-03-01T09:00:00\n",
    },
}


def write(landing: Path, batch_ids: list[str]) -> None:
    for batch_id in batch_ids:
        folder = landing / batch_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in BATCHES[batch_id].items():
            (folder / name).write_text(text)


def tables(home: Path) -> dict[str, list]:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        return {
            t: con.execute(f"select * exclude (_loaded_at) from raw.{t} order by all").fetchall()
            for t in ("customers", "invoices")
        }


def test_held_row_loads_when_its_debtor_arrives(home: Path) -> None:
    write(home / "landing", ["2026-03-01T0600"])
    ingest.ingest(get_settings())
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        assert con.execute("select status from raw.quarantine").fetchall() == [("held",)]
    write(home / "landing", ["2026-03-02T0600"])
    (result,) = [r for r in ingest.ingest(get_settings()) if r.status == "loaded"]
    assert result.released == 1
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        assert con.execute("select status from raw.quarantine").fetchall() == [("released",)]
        assert con.execute(
            "select invoice_id, _batch_id from raw.invoices where debtor_id = 'D2'"
        ).fetchall() == [("I2", "2026-03-01T0600")]


def test_raw_keeps_every_version_of_a_restated_row(home: Path) -> None:
    write(home / "landing", list(BATCHES))
    ingest.ingest(get_settings())
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        assert con.execute(
            "select disputed, _batch_id from raw.invoices where invoice_id = 'I1' order by updated_at"
        ).fetchall() == [(False, "2026-03-01T0600"), (True, "2026-03-02T0600")]


@pytest.mark.parametrize(
    "order", [["2026-03-02T0600", "2026-03-01T0600"], ["2026-03-01T0600", "2026-03-02T0600"]]
)
def test_any_order_of_arrival_and_reloading_give_identical_tables(
    order, tmp_path, monkeypatch
) -> None:
    results = []
    for run, arrival in enumerate([list(BATCHES), order]):
        home = tmp_path / f"run{run}"
        monkeypatch.setenv("DEBTFLOW_HOME", str(home))
        for batch_id in arrival:  # batches arrive one at a time; ingest runs after each
            write(home / "landing", [batch_id])
            ingest.ingest(get_settings())
        ingest.ingest(get_settings())  # and loading everything again changes nothing
        results.append(tables(home))
    assert results[0] == results[1]
    assert len(results[0]["invoices"]) == 3


def test_removed_landing_files_are_not_needed_again(home: Path) -> None:
    write(home / "landing", ["2026-03-01T0600"])
    ingest.ingest(get_settings())
    shutil.rmtree(home / "landing" / "2026-03-01T0600")
    assert ingest.ingest(get_settings()) == []
