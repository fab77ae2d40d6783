"""The GX gates: contract-derived raw suites and the hand-written mart suites."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from debtflow.flows.build import validation
from debtflow.flows.build.validation import runs, suites
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect, ensure_schema
from debtflow.flows.ingest.contract import TABLES

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
    con = connect(get_settings())
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


def _cols(e) -> tuple[str, ...]:
    return suites.columns_of(e.configuration.kwargs)


# --- raw suites -----------------------------------------------------------------------------------


def test_raw_suite_is_generated_from_the_contract():
    suite = validation.raw_suite("invoices", get_settings())
    types = {(e.expectation_type, _cols(e)) for e in suite.expectations}
    assert types == {
        *(("expect_column_values_to_not_be_null", (c,)) for c in TABLES["invoices"].required),
        ("expect_column_values_to_be_in_set", ("document_type",)),
        ("expect_column_values_to_be_in_set", ("currency",)),
        ("expect_column_values_to_be_between", ("amount",)),
        ("expect_column_pair_values_a_to_be_greater_than_b", ("due_date", "issue_date")),
        ("expect_column_values_to_be_between", ("issue_date",)),  # not in the future
        ("expect_compound_columns_to_be_unique", ("invoice_id", "updated_at", "_batch_id")),
    }
    currency = next(
        e
        for e in suite.expectations
        if e.expectation_type == "expect_column_values_to_be_in_set" and _cols(e) == ("currency",)
    )
    assert set(currency.configuration.kwargs["value_set"]) == set(
        TABLES["invoices"].column("currency").accepted
    )
    assert {e.configuration.severity.value for e in suite.expectations} == {"critical"}


@pytest.mark.parametrize("table", list(TABLES))
def test_every_raw_suite_checks_its_event_time_against_the_batch_date(table):
    suite = validation.raw_suite(table, get_settings())
    future = [
        e.configuration.kwargs
        for e in suite.expectations
        if _cols(e) == (TABLES[table].event_time,) and "max_value" in e.configuration.kwargs
    ]
    assert future == [
        {
            "column": TABLES[table].event_time,
            "max_value": {"$PARAMETER": validation.LATEST_EVENT_TIME},
        }
    ]


def test_contact_data_formats_are_warnings_not_gates():
    suite = validation.raw_suite("customers", get_settings())
    warnings = {
        _cols(e): e.configuration.kwargs["regex"]
        for e in suite.expectations
        if e.configuration.severity.value == "warning"
    }
    assert warnings == {
        ("email",): TABLES["customers"].column("email").warn_pattern,
        ("phone_mobile",): TABLES["customers"].column("phone_mobile").warn_pattern,
    }


@pytest.mark.parametrize(
    "batch_ids, tolerance, expected",
    [
        pytest.param([BATCH], 1, datetime(2026, 11, 21), id="one-batch"),
        pytest.param(
            ["2026-11-18T0600", BATCH, "2026-11-19T0600"],
            1,
            datetime(2026, 11, 21),
            id="newest-batch-counts",
        ),
        pytest.param([BATCH], 0, datetime(2026, 11, 20), id="no-tolerance"),
        pytest.param([BATCH], 3, datetime(2026, 11, 23), id="three-days"),
    ],
)
def test_latest_event_time_is_the_batch_date_plus_tolerance(
    home, monkeypatch, batch_ids, tolerance, expected
):
    monkeypatch.setenv("DEBTFLOW_FUTURE_TOLERANCE_DAYS", str(tolerance))
    assert validation.latest_event_time(batch_ids, get_settings()) == expected


def test_clean_batch_passes(con):
    add_invoices(con, GOOD)
    result = validation.validate_raw(con, [BATCH], "invoices", get_settings())
    assert result.success, validation.failure_lines(result)
    assert result.rows == 3
    assert result.outcomes and all(o.success for o in result.outcomes)
    validation.raise_if_failed(result)


def test_only_the_named_batches_are_validated(con):
    add_invoices(con, GOOD)
    add_invoices(con, [("BAD-1", "D9", "2026-10-01", "2026-10-15", -1, "EUR")], "2026-11-19T0600")
    assert validation.validate_raw(con, [BATCH], "invoices", get_settings()).success
    assert not validation.validate_raw(con, ["2026-11-19T0600"], "invoices", get_settings()).success


def test_no_rows_is_a_pass(con):
    result = validation.validate_raw(con, ["2030-01-01T0600"], "invoices", get_settings())
    assert result.success and result.rows == 0


@pytest.mark.parametrize(
    "bad_rows, label, count, key, values",
    [
        pytest.param(
            [("INV-9", "D9", "2026-10-01", "2026-10-15", -12.5, "EUR")],
            "expect_column_values_to_be_between(amount)",
            1,
            "INV-9",
            ("-12.5",),
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
            (),
            id="missing-due-date",
        ),
        pytest.param(
            [("INV-9", "D9", "2026-10-10", "2026-10-01", 10, "EUR")],
            "expect_column_pair_values_a_to_be_greater_than_b(due_date, issue_date)",
            1,
            "INV-9",
            (),
            id="due-before-issue",
        ),
        pytest.param(
            [("INV-9", "D9", "2026-10-10", "2026-10-20", 10, "XXX")],
            "expect_column_values_to_be_in_set(currency)",
            1,
            "INV-9",
            ("XXX",),
            id="unknown-currency",
        ),
        pytest.param(
            [("INV-9", "D9", "2026-11-22", "2026-12-06", 10, "EUR")],
            "expect_column_values_to_be_between(issue_date)",
            1,
            "INV-9",
            ("2026-11-22 00:00:00",),
            id="issued-in-the-future",
        ),
        pytest.param(
            [GOOD[0]],
            "expect_compound_columns_to_be_unique(invoice_id, updated_at, _batch_id)",
            2,
            "INV-1",
            (),
            id="duplicate-invoice-version",
        ),
    ],
)
def test_bad_batch_fails_naming_expectation_count_and_sample(
    con, bad_rows, label, count, key, values
):
    add_invoices(con, GOOD + bad_rows)
    result = validation.validate_raw(con, [BATCH], "invoices", get_settings())
    assert list(failed(result)) == [label]
    outcome = failed(result)[label]
    assert outcome.unexpected_count == count
    assert f"{key}/{BATCH}" in outcome.sample_keys
    assert outcome.sample_values == values
    with pytest.raises(validation.ValidationFailed) as err:
        validation.raise_if_failed([result])
    message = str(err.value)
    assert f"suite raw_invoices: {label} failed: {count} unexpected rows" in message
    assert f"sample keys: {key}/{BATCH}" in message
    for value in values:
        assert f"sample values: {value}" in message


def test_an_event_within_the_tolerance_passes(con, monkeypatch):
    add_invoices(con, [("INV-9", "D9", "2026-11-21", "2026-12-05", 10, "EUR")])
    assert validation.validate_raw(con, [BATCH], "invoices", get_settings()).success
    monkeypatch.setenv("DEBTFLOW_FUTURE_TOLERANCE_DAYS", "0")
    assert "expect_column_values_to_be_between(issue_date)" in failed(
        validation.validate_raw(con, [BATCH], "invoices", get_settings())
    )


def test_payment_in_the_future_fails_on_paid_at(con):
    con.execute(
        "insert into raw.payments (payment_id, debtor_id, paid_at, amount, currency, _batch_id)"
        " values ('P1', 'D1', '2026-11-19 10:00', 5, 'EUR', ?),"
        " ('P2', 'D1', '2026-11-21 00:00', 5, 'EUR', ?),"  # the tolerance's last instant
        " ('P3', 'D2', '2026-11-21 00:00:01', 5, 'EUR', ?)",
        [BATCH, BATCH, BATCH],
    )
    result = validation.validate_raw(con, [BATCH], "payments", get_settings())
    assert list(failed(result)) == ["expect_column_values_to_be_between(paid_at)"]
    assert failed(result)["expect_column_values_to_be_between(paid_at)"].sample_keys == (
        f"P3/{BATCH}",
    )


def test_restatement_in_a_later_batch_is_not_a_duplicate(con):
    add_invoices(con, GOOD)
    add_invoices(con, [GOOD[0]], "2026-11-21T0600", updated_at="2026-11-20 09:00:00")
    assert validation.validate_raw(
        con, [BATCH, "2026-11-21T0600"], "invoices", get_settings()
    ).success


def test_customer_failures_never_show_personal_values(con):
    con.execute(
        "insert into raw.customers (debtor_id, debtor_type, name, email, country, customer_since,"
        " updated_at, _batch_id) values"
        " ('D1', 'consumer', 'Jan Jansen', 'jan@example.nl', 'NL', '2020-01-01', now(), ?),"
        " ('D1', 'consumer', 'Jan Jansen', 'jan@example.nl', 'NL', '2020-01-01', now(), ?),"
        " ('D2', 'robot', 'Kari Nordmann', 'kari@example', 'NO', '2020-01-01', now(), ?)",
        [BATCH, BATCH, BATCH],
    )
    results = validation.validate_raw_all(con, [BATCH], get_settings())
    text = "\n".join(
        validation.failure_lines(results) + validation.warning_lines(results)
    ) + validation.summary_markdown(results)
    assert "debtor_type" in text and "D2" in text
    for secret in ("Jan", "Jansen", "jan@example.nl", "Kari", "kari@example"):
        assert secret not in text


def test_big_batches_are_validated_in_parts_with_the_same_outcome(con, monkeypatch):
    bad = [
        ("INV-8", "D8", "2026-10-01", "2026-10-15", -1, "EUR"),
        ("INV-9", "D9", "2026-10-01", "2026-10-15", -2, "EUR"),
    ]
    add_invoices(con, GOOD + bad + [GOOD[0], GOOD[1]])
    whole = validation.validate_raw(con, [BATCH], "invoices", get_settings())
    monkeypatch.setattr(runs, "CHUNK_ROWS", 2)
    parts = validation.validate_raw(con, [BATCH], "invoices", get_settings())
    assert parts.rows == whole.rows == 7
    assert "(part 2 of " in Path(parts.quality_page).read_text()  # the page shows each part
    summary = {o.label: (o.success, o.unexpected_count, set(o.sample_keys)) for o in parts.outcomes}
    assert summary == {
        o.label: (o.success, o.unexpected_count, set(o.sample_keys)) for o in whole.outcomes
    }
    assert (
        summary["expect_compound_columns_to_be_unique(invoice_id, updated_at, _batch_id)"][1] == 4
    )


# --- reporting ------------------------------------------------------------------------------------


def test_summary_markdown_has_a_headline_the_page_and_a_row_per_expectation(con):
    add_invoices(con, GOOD + [("INV-9", "D9", "2026-10-01", "2026-10-15", -1, "EUR")])
    raw = validation.validate_raw(con, [BATCH], "invoices", get_settings())
    md = validation.summary_markdown([raw], title="Raw batches")
    lines = md.strip().splitlines()
    assert lines[0] == "### Raw batches: FAILED"
    assert "Suites: 1, rows: 4, blocking failures: 1, warnings: 0." in md
    assert f"Data quality page: [{raw.quality_page}](file://{raw.quality_page})" in md
    table = [line for line in lines if line.startswith("| raw_invoices |")]
    assert len(table) == len(raw.outcomes)
    assert (
        "| raw_invoices | 4 | `expect_column_values_to_be_between(amount)` | critical | **FAIL** "
        f"| 1 | -1.0 | INV-9/{BATCH} |" in md
    )


def test_results_of_raw_and_marts_may_be_nested(con):
    add_invoices(con, GOOD)
    raw = validation.validate_raw_all(con, [BATCH], get_settings())
    nested = [*raw, [raw[1]]]
    assert validation.failure_lines(nested) == []
    assert validation.summary_markdown(nested).count("| raw_invoices |") == 2 * len(raw[1].outcomes)
