"""The stage cache: a finished stage is skipped only for the same date and the same inputs."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import session
from debtflow.flows.ops import stage_cache

D1, D2 = date(2026, 11, 19), date(2026, 11, 20)


@pytest.fixture
def settings(home: Path, monkeypatch: pytest.MonkeyPatch):
    project = home.parent / "dbt_project"  # a copy we may edit
    shutil.copytree(get_settings().dbt_project_dir, project)
    monkeypatch.setenv("DEBTFLOW_DBT_PROJECT_DIR", str(project))
    settings = get_settings()
    with session(settings) as con:
        con.execute(
            "insert into raw.load_log (batch_id, file_name, content_sha256, status, rows_loaded,"
            " rows_held) values ('b1', 'invoices.csv', 'abc', 'loaded', 10, 0)"
        )
    return settings


def key(settings, as_of: date = D2) -> str:
    with session(settings) as con:
        return stage_cache.transform_key(con, settings, as_of)


def test_the_key_changes_with_every_input(settings) -> None:
    base = key(settings)
    assert key(settings) == base
    assert key(settings, D1) != base
    with session(settings) as con:
        con.execute(
            "insert into raw.load_log (batch_id, file_name, content_sha256, status, rows_loaded,"
            " rows_held) values ('b2', 'payments.csv', 'def', 'loaded', 5, 0)"
        )
    with_batch = key(settings)
    assert with_batch != base
    with session(settings) as con:
        con.execute("insert into raw.quarantine (batch_id, status) values ('b2', 'released')")
    with_release = key(settings)
    assert with_release != with_batch
    model = settings.dbt_project_dir / "models" / "marts" / "ar_aging.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert key(settings) != with_release
    (settings.dbt_project_dir / "target").mkdir(exist_ok=True)
    (settings.dbt_project_dir / "target" / "run_results.json").write_text("{}")
    assert key(settings) == key(settings)  # dbt's own output does not count


def test_a_finished_stage_is_skipped_until_something_voids_it(settings) -> None:
    calls: list[str] = []

    def work() -> dict:
        calls.append("ran")
        return {"rows": len(calls)}

    k = key(settings)
    assert stage_cache.run(settings, "transform", D2, k, work) == ({"rows": 1}, False)
    assert stage_cache.run(settings, "transform", D2, k, work) == ({"rows": 1}, True)
    assert stage_cache.run(settings, "transform", D2, "other", work) == ({"rows": 2}, False)
    assert stage_cache.run(settings, "transform", D2, "other", work, force=True)[1] is False
    assert len(calls) == 3
    stage_cache.run(settings, "transform", D1, key(settings, D1), work)  # another date
    assert stage_cache.run(settings, "transform", D2, "other", work)[1] is False
    stage_cache.forget(settings, "transform")  # e.g. `debtflow transform` started
    assert stage_cache.run(settings, "transform", D2, "other", work)[1] is False
    assert len(calls) == 6


def test_a_stage_that_crashed_half_way_runs_again(settings) -> None:
    def crash() -> dict:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        stage_cache.run(settings, "score", D2, "k", crash)
    with session(settings) as con:
        assert con.execute("select status from ops.stage_log").fetchall() == [("running",)]
    assert stage_cache.run(settings, "score", D2, "k", lambda: {"ok": 1}) == ({"ok": 1}, False)
