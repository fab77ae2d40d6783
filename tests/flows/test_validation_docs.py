"""GX checkpoints build the data docs site into DEBTFLOW_HOME/reports/data_docs/."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from debtflow.flows.build import validation
from debtflow.flows.build.validation import context
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect, ensure_schema

BATCH = "2026-11-20T0600"
LATER = "2026-11-21T0600"


def load_invoices(batch_id: str, amount: float = 10.0) -> None:
    with connect() as con:
        ensure_schema(con)
        con.execute(
            "insert into raw.invoices (invoice_id, debtor_id, issue_date, due_date, amount,"
            " currency, updated_at, _batch_id) values"
            " ('I-' || $batch, 'D1', '2026-11-01', '2026-11-15', $amount, 'EUR',"
            " '2026-11-02', $batch)",
            {"batch": batch_id, "amount": amount},
        )


def validate(batch_id: str) -> validation.ValidationResult:
    with connect() as con:
        return validation.validate_raw(con, [batch_id])


def test_a_validation_builds_the_site_with_index_and_result_page(home: Path):
    load_invoices(BATCH)
    result = validate(BATCH)
    docs = home / "reports" / "data_docs"
    assert get_settings().data_docs_dir == docs.resolve()
    index = docs / "index.html"
    assert index.is_file()
    assert result.docs_index == str(index.resolve())
    html = index.read_text()
    assert "raw_invoices" in html and f"raw-{BATCH}" in html
    (page,) = result.docs_pages
    assert Path(page).is_file()
    assert Path(page).is_relative_to(
        docs.resolve() / "validations" / "raw_invoices" / f"raw-{BATCH}"
    )
    assert (docs / "expectations" / "raw_invoices.html").is_file()
    stored = list((home / "reports" / "validations" / "raw_invoices").rglob("*.json"))
    assert len(stored) == 1


def test_a_failed_validation_page_shows_the_failure(home: Path):
    load_invoices(BATCH, amount=-3)
    result = validate(BATCH)
    assert not result.success
    text = " ".join(re.sub(r"<[^>]+>", " ", Path(result.docs_pages[0]).read_text()).split())
    assert "Status: Failed" in text
    assert "values must be greater than 0.0 . 1 unexpected values found." in text


def test_the_site_keeps_earlier_runs_after_a_restart(home: Path):
    load_invoices(BATCH)
    first = validate(BATCH)
    context._context_for.cache_clear()  # as if the next run were a new process
    load_invoices(LATER)
    second = validate(LATER)
    assert Path(first.docs_pages[0]).is_file() and Path(second.docs_pages[0]).is_file()
    html = (home / "reports" / "data_docs" / "index.html").read_text()
    assert f"raw-{BATCH}" in html and f"raw-{LATER}" in html


def test_a_new_home_gets_its_own_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    homes = [tmp_path / "a", tmp_path / "b"]
    pages = []
    for home, batch in zip(homes, (BATCH, LATER), strict=True):
        monkeypatch.setenv("DEBTFLOW_HOME", str(home))
        load_invoices(batch)
        pages.append(validate(batch).docs_pages[0])
    for home, page, batch, other in zip(homes, pages, (BATCH, LATER), (LATER, BATCH), strict=True):
        assert Path(page).is_relative_to(home)
        html = (home / "reports" / "data_docs" / "index.html").read_text()
        assert f"raw-{batch}" in html and f"raw-{other}" not in html
    # back to the first home: its context is reused and its site still gets the new run
    monkeypatch.setenv("DEBTFLOW_HOME", str(homes[0]))
    with connect() as con:
        again = validation.validate_mart(con, "debtor_features", date(2026, 11, 20))
    assert not again.success  # no marts here: the gate says so
    assert again.docs_pages == []


def test_mart_validations_get_pages_too(home: Path):
    with connect() as con:
        con.execute(
            "create schema marts; create table marts.ar_aging as select 'consumer' debtor_type,"
            " 'NL' country, 'EUR' currency, 1.0 open_current, 0.0 open_1_30, 0.0 open_31_60,"
            " 0.0 open_61_90, 0.0 open_91_180, 0.0 open_181_365, 0.0 open_over_365,"
            " 1.0 open_total, 0.0 overdue_total, date '2026-11-20' as_of"
        )
        result = validation.validate_mart(con, "ar_aging", date(2026, 11, 20))
    assert result.success, validation.failure_lines(result)
    (page,) = result.docs_pages
    assert "/validations/ar_aging/marts-2026-11-20/" in page
    assert "ar_aging" in (home / "reports" / "data_docs" / "index.html").read_text()


def test_the_index_lists_only_the_newest_results(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DEBTFLOW_DATA_DOCS_INDEX_LIMIT", "1")
    load_invoices(BATCH)
    load_invoices(LATER)
    first, second = validate(BATCH), validate(LATER)
    html = (home / "reports" / "data_docs" / "index.html").read_text()
    assert f"raw-{LATER}" in html and f"raw-{BATCH}" not in html
    assert Path(first.docs_pages[0]).is_file() and Path(second.docs_pages[0]).is_file()
