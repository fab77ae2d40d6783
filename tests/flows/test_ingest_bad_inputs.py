"""The corpus of bad inputs (tests/data/bad_inputs): each gives a clear outcome, none loses a row.

Every case is one landing zone holding one batch with a good customers file and the bad file.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from debtflow.flows.core.settings import get_settings
from debtflow.flows.ingest import ingest
from debtflow.flows.ingest.ingest import BatchRejected

CORPUS = Path(__file__).parents[1] / "data" / "bad_inputs"
CURRENCY_REASON = "not one of the accepted values (EUR, NOK, SEK, DKK, GBP, USD, CHF, PLN)"

# case -> (invoice ids loaded, quarantined (row, line, column, reason), status of the bad file)
QUARANTINED = [
    pytest.param("empty_file", [], [], "empty", id="empty-file"),
    pytest.param("header_only", [], [], "loaded", id="header-only"),
    pytest.param("unknown_extra_column", ["I1"], [], "loaded", id="unknown-extra-column"),
    pytest.param(
        "text_in_numeric_column",
        ["I1"],
        [(2, None, "amount", "not a valid decimal")],
        "loaded",
        id="text-in-numeric-column",
    ),
    pytest.param(
        "negative_amount",
        ["I1"],
        [(2, None, "amount", "must be greater than 0")],
        "loaded",
        id="negative-amount",
    ),
    pytest.param(
        "due_before_issue",
        ["I1"],
        [(2, None, "due_date", "due_date is before issue_date")],
        "loaded",
        id="due-before-issue",
    ),
    pytest.param(
        "duplicate_keys_in_batch",
        ["I1"],
        [(2, None, "invoice_id", "duplicate key in this file: same as row 1")],
        "loaded",
        id="duplicate-keys",
    ),
    pytest.param(
        "unknown_currency",
        ["I1"],
        [(2, None, "currency", CURRENCY_REASON)],
        "loaded",
        id="unknown-currency",
    ),
    pytest.param(
        "undecodable_bytes",
        ["I1"],
        [
            (
                None,
                3,
                None,
                "invalid encoding: Invalid unicode (byte sequence mismatch) detected. "
                "This file is not utf-8 encoded.",
            )
        ],
        "loaded",
        id="undecodable-bytes",
    ),
    pytest.param(
        "truncated_last_line",
        ["I1"],
        [(None, 3, None, "missing columns: Expected Number of Columns: 7 Found: 4")],
        "loaded",
        id="truncated-last-line",
    ),
    pytest.param(
        "malformed_json_line",
        ["I1"],
        [(None, 2, None, "malformed JSON line: not one JSON object")],
        "loaded",
        id="malformed-json-line",
    ),
    pytest.param(
        "parquet_wrong_types",
        [],
        [(1, None, "due_date", "not a valid date"), (2, None, "due_date", "not a valid date")],
        "loaded",
        id="parquet-wrong-types",
    ),
    pytest.param(
        "late_arriving_debtor",
        ["I1"],
        [(2, None, "debtor_id", "debtor not known yet: held until a batch brings the customer")],
        "loaded",
        id="late-arriving-debtor",
    ),
    pytest.param(
        "control_characters",
        ["I1"],
        [(2, None, "invoice_id", "contains a control character (tab, line break, NUL, ...)")],
        "loaded",
        id="control-character-in-a-key",
    ),
    pytest.param("bom_crlf_quoted_newline", ["I1"], [], "loaded", id="bom-crlf-quoted-newline"),
    pytest.param("dutch_dialect", ["I1"], [], "loaded", id="dutch-dialect"),
]


def load(case: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> duckdb.DuckDBPyConnection:
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(CORPUS / case))
    ingest.ingest(get_settings())
    return duckdb.connect(str(home / "warehouse.duckdb"))


@pytest.mark.parametrize(("case", "loaded", "quarantined", "status"), QUARANTINED)
def test_bad_input_outcome(case, loaded, quarantined, status, home, monkeypatch) -> None:
    con = load(case, home, monkeypatch)
    assert [
        r[0] for r in con.execute("select invoice_id from raw.invoices order by 1").fetchall()
    ] == loaded
    assert (
        con.execute(
            "select row_number, line_number, column_name, reason from raw.quarantine "
            "order by coalesce(row_number, line_number)"
        ).fetchall()
        == quarantined
    )
    log = con.execute(
        "select rows_read, rows_loaded, rows_quarantined, status from raw.load_log "
        "where table_name = 'invoices'"
    ).fetchone()
    assert log == (len(loaded) + len(quarantined), len(loaded), len(quarantined), status)
    assert con.execute("select count(*) from raw.customers").fetchone() == (2,)


def test_quarantine_keeps_the_original_text(home, monkeypatch) -> None:
    con = load("text_in_numeric_column", home, monkeypatch)
    (record,) = con.execute("select record::json->>'amount' from raw.quarantine").fetchone()
    assert record == "twelve"


def test_dialect_reads_semicolons_decimal_commas_and_windows_1252(home, monkeypatch) -> None:
    con = load("dutch_dialect", home, monkeypatch)
    assert con.execute(
        "select amount::varchar, due_date::varchar, product from raw.invoices"
    ).fetchall() == [("1100.50", "2026-01-15", "Energie; café")]


def test_quoted_newline_and_bom_survive(home, monkeypatch) -> None:
    con = load("bom_crlf_quoted_newline", home, monkeypatch)
    assert con.execute("select product from raw.invoices").fetchall() == [("Line one,\nline two",)]


def test_control_characters_in_free_text_are_replaced_and_logged(home, monkeypatch) -> None:
    con = load("control_characters", home, monkeypatch)
    assert con.execute("select product from raw.invoices").fetchall() == [("Energy  plan",)]
    assert con.execute(
        "select message from raw.load_log where table_name = 'invoices'"
    ).fetchone() == ("control characters replaced by spaces in product (1 rows)",)


def test_unexpected_file_is_logged_as_ignored(home, monkeypatch) -> None:
    con = load("unexpected_file_name", home, monkeypatch)
    assert con.execute(
        "select status, message from raw.load_log where table_name is null"
    ).fetchall() == [("ignored", "not a contract file name")]
    assert con.execute("select count(*) from raw.invoices").fetchone() == (1,)


def test_missing_required_column_rejects_the_batch_and_loads_nothing(home, monkeypatch) -> None:
    monkeypatch.setenv("DEBTFLOW_LANDING_URL", str(CORPUS / "missing_required_column"))
    with pytest.raises(
        BatchRejected,
        match=r"2026-03-02T0600, file invoices.csv: required column\(s\) missing: currency",
    ):
        ingest.ingest(get_settings())
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    assert con.execute("select count(*) from raw.customers").fetchone() == (0,)
    assert con.execute("select count(*) from raw.load_log").fetchone() == (0,)
