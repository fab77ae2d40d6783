"""The daily flow's validate tasks publish their summary as Prefect markdown artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from prefect.logging import disable_run_logger

from debtflow.flows import daily
from debtflow.flows.build import validation
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect, ensure_schema

BATCH = "2026-11-20T0600"
AS_OF = date(2026, 11, 20)


@pytest.fixture
def published(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    calls: list[dict] = []
    monkeypatch.setattr(daily, "create_markdown_artifact", lambda **kw: calls.append(kw))
    with connect(get_settings()) as con:
        ensure_schema(con)
        con.execute(
            "insert into raw.customers (debtor_id, debtor_type, email, country, customer_since,"
            " updated_at, _batch_id) values"
            " ('D1', 'consumer', 'broken-address', 'NL', '2020-01-01', '2026-11-19', ?)",
            [BATCH],
        )
    with disable_run_logger():  # the tasks log warnings; .fn() runs outside a task run
        yield calls


def test_raw_summary_is_published_with_warnings_and_the_page_link(published, home):
    digest = daily.validate_raw_stage.fn(get_settings(), [BATCH])
    (artifact,) = published
    assert artifact["key"] == "validation-raw"
    summary = artifact["markdown"]
    assert digest["suites"] > 0 and digest["warnings"] == 1
    assert digest["blocking_failures"] == 0
    assert "### Raw batches: passed" in summary and "warnings: 1." in summary
    assert "| warning | warn | 1 |" in summary
    page = home.resolve() / "reports" / "data_quality" / "days" / "2026-11-20.html"
    assert f"Data quality page: [{page}](file://{page})" in summary
    assert "broken-address" not in summary


def test_a_failed_gate_is_published_before_it_stops_the_run(published):
    with connect(get_settings()) as con:
        con.execute("update raw.customers set debtor_type = 'robot'")
    with pytest.raises(validation.ValidationFailed, match="debtor_type"):
        daily.validate_raw_stage.fn(get_settings(), [BATCH])
    (artifact,) = published
    assert "### Raw batches: FAILED" in artifact["markdown"]


def test_mart_summary_is_published(published):
    with connect(get_settings()) as con:
        con.execute(
            "create schema marts; create table marts.debtor_features as select 'D1' debtor_id,"
            " date '2026-11-20' as_of, 0.0 overdue_balance, 0.0 open_balance,"
            " 0 max_days_past_due"
        )
    with pytest.raises(validation.ValidationFailed, match="fct_invoices is missing"):
        daily.validate_marts_stage.fn(get_settings(), AS_OF)
    (artifact,) = published
    assert artifact["key"] == "validation-marts"
    md = artifact["markdown"]
    assert md.startswith("### Marts as of 2026-11-20: FAILED")
    assert "| debtor_features | 1 |" in md and "| ar_aging | 0 | `table_exists` |" in md


def test_the_artifact_is_stored_by_prefect(home: Path):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.testing.utilities import prefect_test_harness

    with connect(get_settings()) as con:
        ensure_schema(con)

    @flow
    def gate() -> dict:
        return daily.validate_raw_stage(get_settings(), [BATCH])

    with prefect_test_harness(server_startup_timeout=90):
        digest = gate()
        with get_client(sync_client=True) as client:
            (artifact,) = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["validation-raw"]))
            )
    assert artifact.type == "markdown"
    assert digest["rows"] == 0 and digest["blocking_failures"] == 0
    assert "(no rows to validate)" in artifact.data
