"""Warning-level expectations: counted and shown with keys, never values, and never blocking."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from debtflow.flows.build import validation
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect, ensure_schema

BATCH = "2026-11-20T0600"
EMAIL = "expect_column_values_to_match_regex(email)"
PHONE = "expect_column_values_to_match_regex(phone_mobile)"

CUSTOMERS = [
    # debtor_id, debtor_type, email, phone_mobile
    ("D1", "consumer", "jan@example.nl", "+31612345678"),
    ("D2", "consumer", "kari@example", "+4791234567"),  # no top-level domain
    ("D3", "business", "sales at acme.be", "0612345678"),  # no @; national format
    ("D4", "consumer", None, "+3161234"),  # no e-mail (fine); truncated number
    ("D5", "consumer", "piet@example.com", None),
]
SECRETS = ("kari@example", "sales at acme.be", "0612345678", "+3161234", "Jansen")


@pytest.fixture
def con(home: Path) -> duckdb.DuckDBPyConnection:
    con = connect(get_settings())
    ensure_schema(con)
    for debtor_id, debtor_type, email, phone in CUSTOMERS:
        con.execute(
            "insert into raw.customers (debtor_id, debtor_type, name, email, phone_mobile,"
            " country, customer_since, updated_at, _batch_id)"
            " values (?, ?, 'Jan Jansen', ?, ?, 'NL', '2020-01-01', '2026-11-19 08:00', ?)",
            [debtor_id, debtor_type, email, phone, BATCH],
        )
    yield con
    con.close()


def test_bad_contact_data_warns_with_counts_and_keys_but_passes(con):
    result = validation.validate_raw(con, [BATCH], "customers", get_settings())
    assert result.success and result.failed == []
    warned = {o.label: o for o in result.warnings}
    assert set(warned) == {EMAIL, PHONE}
    assert warned[EMAIL].unexpected_count == 2
    assert set(warned[EMAIL].sample_keys) == {f"D2/{BATCH}", f"D3/{BATCH}"}
    assert warned[PHONE].unexpected_count == 2
    assert set(warned[PHONE].sample_keys) == {f"D3/{BATCH}", f"D4/{BATCH}"}
    assert all(o.sample_values == () for o in result.outcomes)
    validation.raise_if_failed(result)  # does not raise


def test_warnings_are_reported_apart_from_failures(con):
    result = validation.validate_raw(con, [BATCH], "customers", get_settings())
    assert validation.failure_lines(result) == []
    lines = validation.warning_lines(result)
    assert len(lines) == 2
    assert lines[0].startswith(f"suite raw_customers: {EMAIL} warning: 2 unexpected rows")
    md = validation.summary_markdown(result)
    assert "### Data validation: passed" in md
    assert "blocking failures: 0, warnings: 2." in md
    assert f"| `{EMAIL}` | warning | warn | 2 |  | D2/{BATCH}, D3/{BATCH} |" in md
    for secret in SECRETS:
        assert secret not in md and secret not in "\n".join(lines)


def test_a_blocking_failure_beside_warnings_raises_only_for_itself(con):
    con.execute("update raw.customers set debtor_type = 'robot' where debtor_id = 'D5'")
    result = validation.validate_raw(con, [BATCH], "customers", get_settings())
    assert [o.label for o in result.failed] == ["expect_column_values_to_be_in_set(debtor_type)"]
    assert len(result.warnings) == 2
    with pytest.raises(validation.ValidationFailed) as err:
        validation.raise_if_failed(result)
    message = str(err.value)
    assert "debtor_type" in message and f"D5/{BATCH}" in message
    assert "match_regex" not in message
    assert "**FAIL**" in validation.summary_markdown(result)


def test_personal_values_reach_neither_results_nor_the_quality_page(con, home):
    validation.validate_raw(con, [BATCH], "customers", get_settings())
    reports = home / "reports"
    files = [p for p in reports.rglob("*") if p.suffix in (".json", ".html")]
    assert any(p.suffix == ".json" for p in files) and any(p.suffix == ".html" for p in files)
    for path in files:
        text = path.read_text(errors="replace")
        for secret in SECRETS:
            assert secret not in text, (secret, path)
