"""The hand-written mart suites: debtor_features, fct_invoices and ar_aging."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from debtflow.flows.build import validation
from debtflow.flows.build.validation import runs
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect

AS_OF = date(2026, 11, 20)

FEATURES = """
    create schema if not exists marts;
    create or replace table marts.debtor_features as select * from (values
        ('D1', date '2026-11-20', 100.00::decimal(18,2), 150.00::decimal(18,2), 20),
        ('D2', date '2026-11-20', 0.00::decimal(18,2), 40.00::decimal(18,2), 0),
        ('D3', date '2026-11-20', 55.00::decimal(18,2), 55.00::decimal(18,2), 200)
    ) t(debtor_id, as_of, overdue_balance, open_balance, max_days_past_due);
"""

INVOICES = """
    create or replace table marts.fct_invoices as select * from (values
        ('I1', 'D1', 'invoice', 100.00::decimal(18,2), 100.00::decimal(18,2), 20, 'open'),
        ('I2', 'D1', 'invoice', 50.00::decimal(18,2), 20.00::decimal(18,2), 5, 'partially_paid'),
        ('I3', 'D2', 'invoice', 40.00::decimal(18,2), 0.00::decimal(18,2), 0, 'paid'),
        ('I4', 'D3', 'invoice', 55.00::decimal(18,2), 55.00::decimal(18,2), 200, 'disputed'),
        ('C1', 'D2', 'credit_note', 10.00::decimal(18,2), 0.00::decimal(18,2), 0, 'credit_note')
    ) t(invoice_id, debtor_id, document_type, amount, open_amount, days_past_due, status),
    (select date '2026-11-20' as as_of);
"""

AGING = """
    create or replace table marts.ar_aging as select *, date '2026-11-20' as as_of from (values
        ('consumer', 'NL', 'EUR', 10.0, 20.0, 0.0, 0.0, 0.0, 0.0, 5.0, 35.0, 25.0, 3, 2),
        ('business', 'NO', 'NOK', 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0)
    ) t(debtor_type, country, currency, open_current, open_1_30, open_31_60, open_61_90,
        open_91_180, open_181_365, open_over_365, open_total, overdue_total,
        n_open_invoices, n_overdue_invoices);
"""


@pytest.fixture
def con(home: Path) -> duckdb.DuckDBPyConnection:
    con = connect(get_settings())
    con.execute(FEATURES + INVOICES + AGING)
    yield con
    con.close()


def failed(result: validation.ValidationResult) -> dict[str, validation.ExpectationOutcome]:
    return {o.label: o for o in result.failed}


def test_every_mart_suite_passes_on_good_marts(con):
    results = validation.validate_marts(con, AS_OF, get_settings())
    assert [r.suite for r in results] == list(validation.MART_SUITES)
    assert [r.rows for r in results] == [3, 5, 2]
    for result in results:
        assert result.success, validation.failure_lines(result)
        assert len(result.outcomes) == len(
            validation.load_suite(result.suite, get_settings()).expectations
        )
    validation.raise_if_failed(results)


def test_a_suite_names_its_table_and_key():
    for name in validation.MART_SUITES:
        meta = validation.load_suite(name, get_settings()).meta
        assert meta["table"] == f"marts.{name}"
        assert meta["key"]


@pytest.mark.parametrize(
    "suite, sql, label, count, keys",
    [
        pytest.param(
            "debtor_features",
            "insert into marts.debtor_features values ('D3', date '2026-11-20', 1, 1, 1)",
            "expect_column_values_to_be_unique(debtor_id)",
            2,
            {"D3"},
            id="features-duplicate-debtor",
        ),
        pytest.param(
            "debtor_features",
            "update marts.debtor_features set as_of = date '2026-11-19' where debtor_id = 'D1'",
            "expect_column_values_to_be_between(as_of)",
            1,
            {"D1"},
            id="features-stale-as-of",
        ),
        pytest.param(
            "debtor_features",
            "update marts.debtor_features set overdue_balance = -1 where debtor_id = 'D2'",
            "expect_column_values_to_be_between(overdue_balance)",
            1,
            {"D2"},
            id="features-negative-overdue",
        ),
        pytest.param(
            "debtor_features",
            "update marts.debtor_features set open_balance = 10 where debtor_id in ('D1', 'D3')",
            "expect_column_pair_values_a_to_be_greater_than_b(open_balance, overdue_balance)",
            2,
            {"D1", "D3"},
            id="features-open-below-overdue",
        ),
        pytest.param(
            "debtor_features",
            "update marts.debtor_features set max_days_past_due = -3",
            "expect_column_values_to_be_between(max_days_past_due)",
            3,
            {"D1", "D2", "D3"},
            id="features-negative-dpd",
        ),
        pytest.param(
            "fct_invoices",
            "update marts.fct_invoices set open_amount = -5 where invoice_id = 'I3'",
            "expect_column_values_to_be_between(open_amount)",
            1,
            {"I3"},
            id="invoices-negative-open-amount",
        ),
        pytest.param(
            "fct_invoices",
            "update marts.fct_invoices set open_amount = 120 where invoice_id = 'I1'",
            "expect_column_pair_values_a_to_be_greater_than_b(amount, open_amount)",
            1,
            {"I1"},
            id="invoices-open-above-amount",
        ),
        pytest.param(
            "fct_invoices",
            "update marts.fct_invoices set status = 'written_off' where invoice_id in ('I1', 'I4')",
            "expect_column_values_to_be_in_set(status)",
            2,
            {"I1", "I4"},
            id="invoices-unknown-status",
        ),
        pytest.param(
            "fct_invoices",
            "update marts.fct_invoices set days_past_due = -1 where invoice_id = 'I2'",
            "expect_column_values_to_be_between(days_past_due)",
            1,
            {"I2"},
            id="invoices-negative-dpd",
        ),
        pytest.param(
            "fct_invoices",
            "insert into marts.fct_invoices select * from marts.fct_invoices where invoice_id = 'I2'",
            "expect_column_values_to_be_unique(invoice_id)",
            2,
            {"I2"},
            id="invoices-duplicate",
        ),
        pytest.param(
            "ar_aging",
            "update marts.ar_aging set open_61_90 = -1 where country = 'NO'",
            "expect_column_values_to_be_between(open_61_90)",
            1,
            {"business/NO/NOK"},
            id="aging-negative-bucket",
        ),
        pytest.param(
            "ar_aging",
            "update marts.ar_aging set overdue_total = 40 where country = 'NL'",
            "expect_column_pair_values_a_to_be_greater_than_b(open_total, overdue_total)",
            1,
            {"consumer/NL/EUR"},
            id="aging-overdue-above-open",
        ),
    ],
)
def test_each_mart_rule_fails_alone_with_count_and_keys(con, suite, sql, label, count, keys):
    con.execute(sql)
    result = validation.validate_mart(con, suite, AS_OF, get_settings())
    assert list(failed(result)) == [label]
    outcome = failed(result)[label]
    assert outcome.unexpected_count == count
    assert set(outcome.sample_keys) == keys
    with pytest.raises(validation.ValidationFailed) as err:
        validation.raise_if_failed(result)
    assert f"suite {suite}: {label} failed: {count} unexpected rows" in str(err.value)


def test_mart_sample_values_are_shown_for_non_personal_columns(con):
    con.execute("update marts.fct_invoices set status = 'written_off' where invoice_id = 'I1'")
    result = validation.validate_mart(con, "fct_invoices", AS_OF, get_settings())
    assert failed(result)["expect_column_values_to_be_in_set(status)"].sample_values == (
        "written_off",
    )


def test_empty_features_mart_fails_row_count(con):
    con.execute("delete from marts.debtor_features")
    result = validation.validate_mart(con, "debtor_features", AS_OF, get_settings())
    assert "expect_table_row_count_to_be_between" in failed(result)


def test_a_missing_mart_fails_loudly(con):
    con.execute("drop table marts.ar_aging")
    result = validation.validate_mart(con, "ar_aging", AS_OF, get_settings())
    assert not result.success
    assert validation.failure_lines(result) == [
        "suite ar_aging: table_exists failed: marts.ar_aging is missing"
    ]


def test_a_missing_column_fails_its_expectations_not_the_query(con):
    con.execute("alter table marts.fct_invoices drop column days_past_due")
    result = validation.validate_mart(con, "fct_invoices", AS_OF, get_settings())
    assert set(failed(result)) == {
        "expect_column_values_to_not_be_null(days_past_due)",
        "expect_column_values_to_be_between(days_past_due)",
    }
    assert all("days_past_due" in o.error for o in result.failed)


def test_a_view_validated_in_parts_gives_the_outcome_of_one_pass(con, monkeypatch):
    """fct_invoices is a view in the warehouse: in parts it is computed once into a temp table
    (not once per part), with the same outcome, and the temp table is dropped after."""
    con.execute(
        "create table marts.invoice_rows as select * from marts.fct_invoices; "
        "drop table marts.fct_invoices; "
        "create view marts.fct_invoices as select * from marts.invoice_rows; "
        "update marts.invoice_rows set open_amount = -5 where invoice_id = 'I3'"
    )
    whole = validation.validate_mart(con, "fct_invoices", AS_OF, get_settings())
    monkeypatch.setattr(runs, "CHUNK_ROWS", 2)
    parts = validation.validate_mart(con, "fct_invoices", AS_OF, get_settings())
    assert parts.rows == whole.rows == 5
    assert Path(parts.quality_page).read_text().count("(part ") == 3
    summary = {o.label: (o.success, o.unexpected_count, set(o.sample_keys)) for o in parts.outcomes}
    assert summary == {
        o.label: (o.success, o.unexpected_count, set(o.sample_keys)) for o in whole.outcomes
    }
    assert [(o.unexpected_count, o.sample_keys) for o in parts.failed] == [(1, ("I3",))]
    temp = "select count(*) from duckdb_tables() where table_name = 'validated_view'"
    assert con.execute(temp).fetchone() == (0,)
