"""The data-quality pages: built from GX's stored validation results into
DEBTFLOW_HOME/reports/data_quality/, one self-contained HTML file each."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from debtflow.flows.build import validation
from debtflow.flows.build.validation import context, quality_page
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect, ensure_schema

BATCH = "2026-11-20T0600"
LATER = "2026-11-21T0600"


def load_customers(batch_id: str, debtor_type: str = "consumer", phone: str = "+31612345678"):
    with connect(get_settings()) as con:
        ensure_schema(con)
        for debtor_id in ("D1", "D2"):
            con.execute(
                "insert into raw.customers (debtor_id, debtor_type, email, phone_mobile, country,"
                " customer_since, updated_at, _batch_id) values (?, ?, 'a@example.nl', ?, 'NL',"
                " '2020-01-01', '2026-11-19', ?)",
                [debtor_id, debtor_type if debtor_id == "D2" else "consumer", phone, batch_id],
            )


def validate(batch_id: str) -> validation.ValidationResult:
    with connect(get_settings()) as con:
        return validation.validate_raw(con, [batch_id], "customers", get_settings())


def pages(home: Path) -> Path:
    return home.resolve() / "reports" / "data_quality"


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def suite_block(html: str, suite: str) -> str:
    (block,) = re.findall(rf'<details class="suite"[^>]*><summary><h3>{suite} .*?</details>', html)
    return block


def test_a_validation_writes_the_index_and_the_days_page(home: Path):
    load_customers(BATCH)
    result = validate(BATCH)
    day = pages(home) / "days" / "2026-11-20.html"
    assert get_settings().data_quality_dir == pages(home)
    assert result.quality_page == str(day) and day.is_file()
    index = (pages(home) / "index.html").read_text()
    assert "2026-11-20: Passed" in text(index) and "raw_customers" in index
    assert 'href="days/2026-11-20.html"' in index
    assert not (home / "reports" / "data_docs").exists()  # GX's own site is no longer built


def test_the_pages_are_self_contained(home: Path):
    load_customers(BATCH, phone="0612345678")
    validate(BATCH)
    files = list(pages(home).rglob("*.html"))
    assert len(files) == 2
    for path in files:
        html = path.read_text()
        assert "<script" not in html and "<link" not in html
        assert not re.search(r"https?://|url\(", html), path
        for ref in re.findall(r'(?:src|href)="([^"]*)"', html):
            assert (path.parent / ref).is_file(), (path, ref)


def test_a_warning_passes_with_warnings_and_a_critical_failure_fails(home: Path):
    load_customers(BATCH, phone="0612345678")  # national format: a warning-level expectation
    warned = validate(BATCH)
    assert warned.success and len(warned.warnings) == 1
    html = Path(warned.quality_page).read_text()
    assert "2026-11-20: Passed with warnings" in text(html)
    assert "Passed with warnings" in text(suite_block(html, "raw_customers"))
    assert "Failed" not in text(html)

    load_customers(LATER, debtor_type="robot")  # not an accepted debtor_type: critical
    failed = validate(LATER)
    assert not failed.success
    html = Path(failed.quality_page).read_text()
    assert "2026-11-21: Failed" in text(html)
    assert "raw_customers Failed" in text(suite_block(html, "raw_customers"))
    index = text((pages(home) / "index.html").read_text())
    assert index.startswith("Data quality")
    assert "2026-11-21: Failed" in index  # the newest day first
    assert "2026-11-20 Passed with warnings" in index and "2026-11-21 Failed" in index


def test_the_page_lists_each_expectation_as_stored(home: Path):
    load_customers(BATCH, debtor_type="robot", phone="0612345678")
    result = validate(BATCH)
    (stored,) = (home / "reports" / "validations" / "raw_customers").rglob("*.json")
    results = json.loads(stored.read_text())["results"]
    critical = [r for r in results if r["expectation_config"]["severity"] == "critical"]
    assert len(results) == len(result.outcomes) == 11
    block = suite_block(Path(result.quality_page).read_text(), "raw_customers")
    assert block.count('class="out passed"') == sum(r["success"] for r in results) == 9
    assert block.count('class="out failed"') == sum(not r["success"] for r in critical) == 1
    assert block.count('class="out warning"') == 1
    words = text(block)
    assert "2 rows" in words and "11 expectations: 9 passed, 1 failed, 1 warning" in words
    assert (
        "debtor_type is one of consumer, business critical failed 1 of 2 unexpected "
        f"keys D2/{BATCH}" in words
    )
    assert "robot" not in words  # the suite checks personal columns: keys only, no values
    assert "phone_mobile matches" in words and "warning warning 2 of 2 unexpected" in words
    assert "0612345678" not in block  # personal: keys only, never the value


def test_earlier_days_stay_listed_after_a_restart(home: Path):
    load_customers(BATCH)
    first = validate(BATCH)
    context._context_for.cache_clear()  # as if the next run were a new process
    (pages(home) / "days.json").unlink()  # and the cache of verdicts was lost
    load_customers(LATER)
    second = validate(LATER)
    assert Path(first.quality_page).is_file() and Path(second.quality_page).is_file()
    index = (pages(home) / "index.html").read_text()
    assert 'href="days/2026-11-20.html"' in index and 'href="days/2026-11-21.html"' in index
    cached = json.loads((pages(home) / "days.json").read_text())
    assert cached["2026-11-20"]["verdict"] == quality_page.PASSED
    assert cached["2026-11-21"]["expectations"] == 11


def test_a_new_home_gets_its_own_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    homes = [tmp_path / "a", tmp_path / "b"]
    for home, batch in zip(homes, (BATCH, LATER), strict=True):
        monkeypatch.setenv("DEBTFLOW_HOME", str(home))
        load_customers(batch)
        assert Path(validate(batch).quality_page).is_relative_to(home.resolve())
    for home, day, other in zip(homes, ("20", "21"), ("21", "20"), strict=True):
        index = (pages(home) / "index.html").read_text()
        assert f"2026-11-{day}.html" in index and f"2026-11-{other}.html" not in index


def test_mart_validations_are_on_the_days_page(home: Path):
    with connect(get_settings()) as con:
        con.execute(
            "create schema marts; create table marts.ar_aging as select 'consumer' debtor_type,"
            " 'NL' country, 'EUR' currency, 1.0 open_current, 0.0 open_1_30, 0.0 open_31_60,"
            " 0.0 open_61_90, 0.0 open_91_180, 0.0 open_181_365, 0.0 open_over_365,"
            " 1.0 open_total, 0.0 overdue_total, date '2026-11-20' as_of"
        )
        result = validation.validate_mart(con, "ar_aging", date(2026, 11, 20), get_settings())
    assert result.success, validation.failure_lines(result)
    html = Path(result.quality_page).read_text()
    assert "Run marts-2026-11-20" in text(html)
    assert "as_of = 2026-11-20" in text(suite_block(html, "ar_aging"))


def test_no_results_yet_gives_an_index_that_says_so(home: Path):
    index = quality_page.write(get_settings())
    assert "No validation results yet" in index.read_text()
