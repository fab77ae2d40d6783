"""End to end on a small simulated world: the daily run is idempotent for its business date.

Everything is real: the simulator writes landing batches, DuckDB loads them, dbt builds the
marts, GX validates, LightGBM trains and scores, the ledger and outbox are written, and the flow
runs on Prefect's ephemeral server inside a test harness.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from debtflow.flows.core.warehouse import connect

pytestmark = pytest.mark.slow

AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("e2e") / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("DEBTFLOW_HOME", str(home))
    from debtflow.flows.build import transform
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.dunning import send
    from debtflow.flows.ingest import ingest
    from debtflow.flows.simulation.simulation import simulate
    from debtflow.models import train

    # the daily run plans at 06:00 in Amsterdam, before the sending window opens
    mp.setattr(send, "_now", lambda: datetime(2026, 11, 20, 5, 0, tzinfo=UTC))
    settings = get_settings()
    simulate(2_000, 18, 11, home, AS_OF, 3)
    ingest.ingest(settings, AS_OF - timedelta(days=1))
    transform.build(settings, AS_OF - timedelta(days=1))
    train.train(settings, AS_OF - timedelta(days=1), home / "truth")
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def counts(home: Path) -> dict[str, int]:
    """Rows per table, except the list of debtors the last build recomputed (none on a re-run)."""
    from debtflow.flows.core.warehouse import row_counts

    with connect() as con:
        counts = row_counts(con)
    counts.pop("intermediate.changed_debtors")
    return counts


def outbox(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "outbox").rglob("*") if p.is_file())


def test_daily_run_twice_for_the_same_date_changes_nothing(world: Path, harness) -> None:
    """The daily run plans at 06:00: the call list and the agency file go out, the messages wait
    for the sending window; the dunning-send flow then sends each once."""
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.daily import daily
    from debtflow.flows.dunning import dunning

    first = daily(AS_OF)
    after_first = counts(world)
    files = outbox(world)
    second = daily(AS_OF)
    assert counts(world) == after_first and outbox(world) == files
    assert first["cached"] == [] and second["cached"] == ["transform", "score"]
    third = daily(AS_OF, force=True)  # rebuilt and rescored for real: still nothing changes
    assert third["cached"] == [] and counts(world) == after_first
    planned = first["stages"]["dunning"]["planned"]
    assert planned["planned_total"] > 0
    assert second["stages"]["dunning"]["planned"]["planned_total"] == 0
    waiting = first["stages"]["dunning"]["sent"]["waiting"]
    assert waiting == {
        "outside_hours": planned["planned_total"] - first["stages"]["dunning"]["sent"]["sent"]
    }

    sent = dunning.send(get_settings(), AS_OF, at=datetime(2026, 11, 20, 10, 0))  # 10:00 local
    assert sent["sent"] == sum(waiting.values()) and sent["waiting"] == {}
    again = dunning.send(get_settings(), AS_OF, at=datetime(2026, 11, 20, 11, 0))
    assert again["sent"] == 0

    with connect() as con:
        keys, distinct = con.execute(
            "select count(*), count(distinct idempotency_key) from dunning.ledger"
        ).fetchone()
        assert keys == distinct == planned["planned_total"]
        assert con.execute(
            "select count(*) from dunning.ledger where state <> 'sent'"
        ).fetchone() == (0,)
        per_message = con.execute(
            "select count(*) from dunning.ledger where channel not in ('phone', 'agency')"
        ).fetchone()[0]
        lists = con.execute(
            "select count(distinct channel) from dunning.ledger where channel in ('phone', 'agency')"
        ).fetchone()[0]
        assert len(outbox(world)) == per_message + lists  # a file per message, a list per day
        loop_back = con.execute(
            "select count(*) from raw.contact_events where _batch_id like 'debtflow-dunning-%'"
        ).fetchone()[0]
        assert loop_back == keys  # every send comes back as a contact event
        scored, overdue = con.execute(
            "select (select count(*) from ml.debtor_scores where as_of = ?), "
            "(select count(*) from marts.debtor_features where overdue_balance > 0)",
            [AS_OF],
        ).fetchone()
        assert scored == overdue > 0
        for table in ("raw.invoices", "marts.debtor_features", "ml.debtor_scores"):
            assert after_first[table] > 0
        assert con.execute("select as_of, flow, status from ops.run_log").fetchall() == [
            (AS_OF, "daily", "completed")
        ]


def test_each_run_publishes_its_summary_as_an_artifact(world: Path, harness) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        runs = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["daily-run"]))
        )
    assert len(runs) == 3  # the three runs of the test above
    first = min(runs, key=lambda a: a.created).data
    with connect() as con:
        planned = con.execute(
            "select step, channel, count(*) from dunning.ledger where as_of = ? group by 1, 2",
            [AS_OF],
        ).fetchall()
        scored, version = con.execute(
            "select count(*), any_value(model_version) from ml.debtor_scores where as_of = ?",
            [AS_OF],
        ).fetchone()
    assert first.startswith(f"## Daily run {AS_OF}: completed")
    for step, channel, n in planned:
        assert f"| {step} | {channel} | {n:,} |" in first
    assert "| score | " in first and f"{scored:,} debtors scored" in first
    assert f"| collectability | {version} | {scored:,} |" in first
    assert "| transform (cached) |" in sorted(runs, key=lambda a: a.created)[1].data
    assert "report.html" in first and "@" not in first  # links, and no e-mail addresses


def test_every_landed_row_is_loaded_or_quarantined(world: Path, harness) -> None:
    with connect() as con:
        for table, loaded in con.execute(
            "select table_name, sum(rows_loaded) from raw.load_log "
            "where table_name is not null group by 1"
        ).fetchall():
            assert con.execute(f"select count(*) from raw.{table}").fetchone()[0] == loaded
        assert con.execute(
            "select count(*) from raw.load_log where rows_read <> rows_loaded + rows_quarantined"
        ).fetchone() == (0,)
