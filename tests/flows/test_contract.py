"""The landing contract is the one source: DDL and docs derive from it."""

from __future__ import annotations

import duckdb

from debtflow.flows.core import warehouse
from debtflow.flows.ingest import contract_docs
from debtflow.flows.ingest.contract import TABLES, personal_columns


def test_readme_contract_table_is_generated_from_the_contract() -> None:
    text = contract_docs.README.read_text()
    assert contract_docs.render_readme(text) == text, (
        "run: python -m debtflow.flows.ingest.contract_docs"
    )


def test_raw_tables_have_contract_columns_then_lineage() -> None:
    con = duckdb.connect()
    warehouse.ensure_schema(con)
    for name, spec in TABLES.items():
        cols = [r[0] for r in con.execute(f"describe raw.{name}").fetchall()]
        assert cols == spec.column_names + ["_batch_id", "_source_file", "_loaded_at"]


def test_personal_data_columns_are_flagged() -> None:
    assert personal_columns() == {
        "name",
        "email",
        "phone_mobile",
        "street",
        "postal_code",
        "city",
        "date_of_birth",
    }
