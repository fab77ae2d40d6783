"""The committed dbt sources file is exactly what the landing contract renders."""

from __future__ import annotations

import yaml

from debtflow.flows.ingest import dbt_sources
from debtflow.flows.ingest.contract import TABLES


def test_committed_sources_file_matches_the_contract() -> None:
    committed = dbt_sources.SOURCES_PATH.read_text()
    assert committed == dbt_sources.render_sources_yml(), (
        "regenerate with: python -m debtflow.flows.ingest.dbt_sources"
    )


def test_every_contract_column_is_a_described_source_column() -> None:
    source = yaml.safe_load(dbt_sources.render_sources_yml())["sources"][0]
    assert source["schema"] == "raw"
    assert source["config"]["loaded_at_field"] == "_loaded_at"
    tables = {t["name"]: t for t in source["tables"]}
    assert set(tables) == set(TABLES)
    for name, table in TABLES.items():
        columns = {c["name"]: c for c in tables[name]["columns"]}
        for column in table.columns:
            entry = columns[column.name]
            assert entry["description"]
            tests = entry.get("data_tests", [])
            assert ("not_null" in tests) == column.required
            accepted = [t for t in tests if isinstance(t, dict) and "accepted_values" in t]
            assert bool(accepted) == bool(column.accepted)
