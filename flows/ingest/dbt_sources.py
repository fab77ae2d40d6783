"""Render the dbt sources file from the landing contract, so dbt never lists columns by hand.

`python -m debtflow.flows.ingest.dbt_sources` rewrites the committed file; a test checks it is current.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from debtflow.flows.core.settings import SOURCE_ROOT
from debtflow.flows.core.warehouse import RAW
from debtflow.flows.ingest.contract import LINEAGE_COLUMNS, TABLES, Column, Table

SOURCE_NAME = "billing"
SOURCES_PATH = (
    SOURCE_ROOT / "dbt_project" / "models" / "staging" / "billing" / "_billing__sources.yml"
)
HEADER = "# GENERATED from flows/ingest/contract.py by `python -m debtflow.flows.ingest.dbt_sources`; do not edit.\n"
LINEAGE_DOCS = {
    "_batch_id": "Landing batch the row came from (YYYY-MM-DDTHHMM); later batches win ties.",
    "_source_file": "File inside the batch the row was read from.",
    "_loaded_at": "When the loader appended the row (drives source freshness).",
}


def _column_doc(table: Table, column: Column) -> str:
    parts = [column.doc.rstrip(".") + "."] if column.doc else []
    if column.name in table.key:
        parts.append("Part of the key." if len(table.key) > 1 else "Key.")
    if column.name in table.references:
        parts.append(f"References {table.references[column.name]}.")
    if column.name == table.event_time:
        parts.append("Event time (point-in-time features).")
    if column.accepted:
        parts.append("One of: " + ", ".join(column.accepted) + ".")
    if column.positive:
        parts.append("Greater than zero.")
    if column.personal:
        parts.append("Personal data.")
    parts.append("Required." if column.required else "Optional.")
    return f"{column.name} ({column.type}). " + " ".join(parts)


def _column(table: Table, column: Column) -> dict:
    tests: list = []
    if column.required:
        tests.append("not_null")
    if column.accepted:
        tests.append({"accepted_values": {"arguments": {"values": list(column.accepted)}}})
    entry: dict = {
        "name": column.name,
        "description": _column_doc(table, column),
        "data_type": column.sql_type.lower(),
    }
    if tests:
        entry["data_tests"] = tests
    return entry


def _table(table: Table) -> dict:
    columns = [_column(table, c) for c in table.columns]
    columns += [
        {"name": name, "description": LINEAGE_DOCS[name], "data_type": sql_type.lower()}
        for name, sql_type in LINEAGE_COLUMNS.items()
    ]
    key = ", ".join(table.key)
    doc = f"{table.doc} Append-only raw rows; key ({key}); newest version wins in staging."
    # the key and the event time, for the macros that find what a load changed
    config = {"event_time": table.event_time, "meta": {"key": list(table.key)}}
    return {"name": table.name, "description": doc, "config": config, "columns": columns}


def render_sources_yml() -> str:
    source = {
        "name": SOURCE_NAME,
        "schema": RAW,
        "description": "Billing extracts as loaded from the landing zone (contract v1).",
        "config": {
            "loaded_at_field": "_loaded_at",
            "freshness": {
                "warn_after": {"count": 2, "period": "day"},
                "error_after": {"count": 7, "period": "day"},
            },
        },
        "tables": [_table(t) for t in TABLES.values()],
    }
    body = yaml.safe_dump(
        {"version": 2, "sources": [source]}, sort_keys=False, width=120, allow_unicode=True
    )
    return HEADER + body


def write_sources_yml(path: Path = SOURCES_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sources_yml())
    return path


if __name__ == "__main__":
    print(write_sources_yml())
