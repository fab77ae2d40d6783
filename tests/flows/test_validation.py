"""The GX gates: contract-derived raw suites and the hand-written debtor_features suite."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from debtflow.flows import validation
from debtflow.flows.contract import TABLES
from debtflow.flows.warehouse import connect, ensure_schema

AS_OF = date(2026, 11, 20)
BATCH = "2026-11-20T0600"

GOOD = [
    # invoice_id, debtor_id, issue_date, due_date, amount, currency
    ("INV-1", "D1", "2026-10-01", "2026-10-15", 100.00, "EUR"),
    ("INV-2", "D2", "2026-10-02", "2026-10-16", 25.50, "NOK"),
    ("INV-3", "D3", "2026-10-03", "2026-10-03", 7.00, "EUR"),
]


@pytest.fixture
def con(home: Path) -> duckdb.DuckDBPyConnection:
    con = connect()
    ensure_schema(con)
    yield con
    con.close()


def add_invoices(con, rows, batch_id=BATCH, updated_at="2026-11-19 10:00:00") -> None:
    for invoice_id, debtor_id, issue, due, amount, currency in rows:
        con.execute(
            "insert into raw.invoices (invoice_id, debtor_id, document_type, issue_date, due_date,"
            " amount, currency, updated_at, _batch_id, _source_file, _loaded_at)"
            " values (?, ?, 'invoice', ?, ?, ?, ?, ?, ?, 'invoices.csv', now())",
            [invoice_id, debtor_id, issue, due, amount, currency, updated_at, batch_id],
        )


def failed(result: validation.ValidationResult) -> dict[str, validation.ExpectationOutcome]:
    return {o.label: o for o in result.failed}


def test_raw_suite_is_generated_from_the_contract():
    types = {
        (e.expectation_type, str(_cols(e))) for e in validation.raw_suite("invoices").expectations
    }
    assert ("expect_column_values_to_not_be_null", "('due_date',)") in types
    assert ("expect_column_values_to_be_in_set", "('currency',)") in types
    assert ("expect_column_values_to_be_between", "('amount',)") in types
    assert (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "('due_date', 'issue_date')",
    ) in types
    required = {c for c in TABLES["invoices"].required}
    not_null = {
        e.configuration.kwargs["column"]
        for e in validation.raw_suite("invoices").expectations
        if e.expectation_type == "expect_column_values_to_not_be_null"
    }
    assert not_null == required


def _cols(e) -> tuple[str, ...]:
    return validation._columns_of(e.configuration.kwargs)


def test_clean_batch_passes(con):
    add_invoices(con, GOOD)
    result = validation.validate_raw(con, [BATCH])
    assert result.success, validation.failure_lines(result)
    assert result.rows == 3
    validation.raise_if_failed(result)


def test_only_the_named_batches_are_validated(con):
    add_invoices(con, GOOD)
    add_invoices(con, [("BAD-1", "D9", "2026-10-01", "2026-10-15", -1, "EUR")], "2026-11-19T0600")
    assert validation.validate_raw(con, [BATCH]).success
    assert not validation.validate_raw(con, ["2026-11-19T0600"]).success


def test_no_rows_is_a_pass(con):
    result = validation.validate_raw(con, ["2030-01-01T0600"])
    assert result.success and result.rows == 0


@pytest.mark.parametrize(
    "bad_rows, label, count, key",
    [
        pytest.param(
            [("INV-9", "D9", "2026-10-01", "2026-10-15", -12.5, "EUR")],
            "expect_column_values_to_be_between(amount)",
            1,
            "INV-9",
            id="negative-amount",
        ),
        pytest.param(
            [
                ("INV-8", "D8", "2026-10-01", None, 10, "EUR"),
                ("INV-9", "D9", "2026-10-01", None, 10, "EUR"),
            ],
            "expect_column_values_to_not_be_null(due_date)",
            2,
            "INV-8",
            id="missing-due-date",
        ),
        pytest.param(
            [("INV-9", "D9", "2026-10-10", "2026-10-01", 10, "EUR")],
            "expect_column_pair_values_a_to_be_greater_than_b(due_date, issue_date)",
            1,
            "INV-9",
            id="due-before-issue",
        ),
        pytest.param(
            [("INV-9", "D9", "2026-10-10", "2026-10-20", 10, "XXX")],
            "expect_column_values_to_be_in_set(currency)",
            1,
            "INV-9",
            id="unknown-currency",
        ),
        pytest.param(
            [GOOD[0]],
            "expect_compound_columns_to_be_unique(invoice_id, updated_at, _batch_id)",
            2,
            "INV-1",
            id="duplicate-invoice-version",
        ),
    ],
)
def test_bad_batch_fails_naming_expectation_and_count(con, bad_rows, label, count, key):
    add_invoices(con, GOOD + bad_rows)
    result = validation.validate_raw(con, [BATCH])
    assert list(failed(result)) == [label]
    outcome = failed(result)[label]
    assert outcome.unexpected_count == count
    assert f"{key}/{BATCH}" in outcome.sample_keys
    with pytest.raises(validation.ValidationFailed) as err:
        validation.raise_if_failed([result])
    message = str(err.value)
    assert "suite raw_invoices" in message
    assert label in message
    assert f"{count} unexpected rows" in message
    assert key in message


def test_restatement_in_a_later_batch_is_not_a_duplicate(con):
    add_invoices(con, GOOD)
    add_invoices(con, [GOOD[0]], "2026-11-21T0600", updated_at="2026-11-20 09:00:00")
    assert validation.validate_raw(con, [BATCH, "2026-11-21T0600"]).success


def test_customer_failures_never_show_personal_values(con):
    con.execute(
        "insert into raw.customers (debtor_id, debtor_type, name, email, country, customer_since,"
        " updated_at, _batch_id) values"
        " ('D1', 'consumer', 'Jan Jansen', 'jan@example.nl', 'NL', '2020-01-01', now(), ?),"
        " ('D1', 'consumer', 'Jan Jansen', 'jan@example.nl', 'NL', '2020-01-01', now(), ?),"
        " ('D2', 'robot', 'Kari Nordmann', 'kari@example.no', 'NO', '2020-01-01', now(), ?)",
        [BATCH, BATCH, BATCH],
    )
    results = validation.validate_raw_all(con, [BATCH])
    text = "\n".join(validation.failure_lines(results)) + validation.summary_markdown(results)
    assert "debtor_type" in text and "D2" in text
    for secret in ("Jan", "Jansen", "jan@example.nl", "Kari", "kari@example.no"):
        assert secret not in text


# --- marts ----------------------------------------------------------------------------------------

FEATURES = """
    create schema if not exists marts;
    create or replace table marts.debtor_features as select * from (values
        ('D1', date '2026-11-20', 100.00::decimal(18,2), 150.00::decimal(18,2), 20),
        ('D2', date '2026-11-20', 0.00::decimal(18,2), 40.00::decimal(18,2), 0),
        ('D3', date '2026-11-20', 55.00::decimal(18,2), 55.00::decimal(18,2), 200)
    ) t(debtor_id, as_of, overdue_balance, open_balance, max_days_past_due);
"""


def test_marts_pass(con):
    con.execute(FEATURES)
    result = validation.validate_marts(con, AS_OF)
    assert result.success, validation.failure_lines(result)
    assert len(result.outcomes) == len(validation.load_suite("debtor_features").expectations)


def test_marts_fail_on_duplicate_debtor(con):
    con.execute(FEATURES)
    con.execute("insert into marts.debtor_features values ('D3', date '2026-11-20', 1, 1, 1)")
    result = validation.validate_marts(con, AS_OF)
    assert list(failed(result)) == ["expect_column_values_to_be_unique(debtor_id)"]
    assert failed(result)["expect_column_values_to_be_unique(debtor_id)"].unexpected_count == 2
    with pytest.raises(validation.ValidationFailed, match=r"debtor_features.*2 unexpected.*D3"):
        validation.raise_if_failed(result)


@pytest.mark.parametrize(
    "sql, label, count",
    [
        pytest.param(
            "update marts.debtor_features set as_of = date '2026-11-19' where debtor_id = 'D1'",
            "expect_column_values_to_be_between(as_of)",
            1,
            id="stale-as-of",
        ),
        pytest.param(
            "update marts.debtor_features set overdue_balance = -1 where debtor_id = 'D2'",
            "expect_column_values_to_be_between(overdue_balance)",
            1,
            id="negative-overdue",
        ),
        pytest.param(
            "update marts.debtor_features set open_balance = 10 where debtor_id in ('D1', 'D3')",
            "expect_column_pair_values_a_to_be_greater_than_b(open_balance, overdue_balance)",
            2,
            id="open-below-overdue",
        ),
        pytest.param(
            "update marts.debtor_features set max_days_past_due = -3",
            "expect_column_values_to_be_between(max_days_past_due)",
            3,
            id="negative-dpd",
        ),
    ],
)
def test_marts_fail_per_rule(con, sql, label, count):
    con.execute(FEATURES)
    con.execute(sql)
    result = validation.validate_marts(con, AS_OF)
    assert list(failed(result)) == [label]
    assert failed(result)[label].unexpected_count == count


def test_empty_mart_fails_row_count(con):
    con.execute(FEATURES)
    con.execute("delete from marts.debtor_features")
    result = validation.validate_marts(con, AS_OF)
    assert "expect_table_row_count_to_be_between" in failed(result)


def test_summary_markdown_has_a_row_per_expectation(con):
    add_invoices(con, GOOD + [("INV-9", "D9", "2026-10-01", "2026-10-15", -1, "EUR")])
    raw = validation.validate_raw(con, [BATCH])
    md = validation.summary_markdown([raw])
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(raw.outcomes)
    assert "**FAIL**" in md and "INV-9" in md


def test_big_batches_are_validated_in_parts_with_the_same_outcome(con, monkeypatch):
    bad = [
        ("INV-8", "D8", "2026-10-01", "2026-10-15", -1, "EUR"),
        ("INV-9", "D9", "2026-10-01", "2026-10-15", -2, "EUR"),
    ]
    add_invoices(con, GOOD + bad + [GOOD[0], GOOD[1]])
    whole = validation.validate_raw(con, [BATCH])
    monkeypatch.setattr(validation, "CHUNK_ROWS", 2)
    parts = validation.validate_raw(con, [BATCH])
    assert parts.rows == whole.rows == 7
    summary = {o.label: (o.success, o.unexpected_count, set(o.sample_keys)) for o in parts.outcomes}
    assert summary == {
        o.label: (o.success, o.unexpected_count, set(o.sample_keys)) for o in whole.outcomes
    }
    assert (
        summary["expect_compound_columns_to_be_unique(invoice_id, updated_at, _batch_id)"][1] == 4
    )
