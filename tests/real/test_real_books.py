"""The whole pipeline on real public data (tests/data/real/*/SOURCE.md: sources, licences):
ingest, dbt build, GX, the daily run on Prefect, training and scoring.

- UCI "Default of Credit Card Clients": 3,000 Taiwanese card holders' statements and payments,
  April to September 2005 (uci_credit_card.py turns them into invoices and payments).
- UCI "Online Retail": a UK wholesaler's 1,708 invoices and credit notes of December 2010, with no
  payments (uci_online_retail.py): it loads, builds and dunns, but cannot train.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import uci_credit_card
import uci_online_retail

from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import connect

pytestmark = pytest.mark.slow

DATA = Path(__file__).parents[1] / "data" / "real"
CARDS = DATA / "uci_credit_card" / "clients_1-3000.csv"
RETAIL = DATA / "uci_online_retail" / "lines_2010-12.csv"


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def _home(root: Path) -> pytest.MonkeyPatch:
    mp = pytest.MonkeyPatch()
    mp.setenv("DEBTFLOW_HOME", str(root / "home"))
    mp.setenv("DEBTFLOW_LANDING_URL", str(root / "landing"))
    return mp


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory, harness):
    """Day one without a model, training, day two with it."""
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.daily import daily
    from debtflow.models import train

    root = tmp_path_factory.mktemp("uci-cards")
    mp = _home(root)
    written = uci_credit_card.convert(CARDS, root / "landing")
    day_one = daily(date(2005, 10, 1))
    trained = train.train(get_settings(), date(2005, 10, 1))
    day_two = daily(date(2005, 10, 2))
    yield written, day_one, trained, day_two
    mp.undo()


def test_card_statements_load_whole(cards):
    written, day_one, _, _ = cards
    assert written["customers"] == 3_000
    ingest = day_one["stages"]["ingest"]
    assert ingest["rows_loaded"] == sum(written.values()) and ingest["rows_quarantined"] == 0


def test_the_warehouse_balance_is_the_banks_september_statement(cards):
    """Allocation oldest first reproduces each card holder's statement balance (BILL_AMT1, in
    EUR; each of up to 11 converted amounts is rounded to the cent)."""
    with CARDS.open() as fh:
        statement = {
            f"TW{int(r['ID']):05d}": Decimal(r["BILL_AMT1"]) / uci_credit_card.TWD_PER_EUR
            for r in csv.DictReader(fh)
        }
    with connect(get_settings()) as con:
        balances = dict(
            con.execute(
                "select debtor_id, open_balance - credit_balance from marts.debtor_features "
                "where as_of = '2005-10-02'"
            ).fetchall()
        )
    assert balances.keys() == statement.keys()
    off = {
        d: (balances[d], statement[d])
        for d in statement
        if abs(balances[d] - statement[d]) > Decimal("0.06")
    }
    assert off == {}


def test_cards_train_on_par_with_the_logistic_baseline_and_score(cards):
    _, day_one, trained, day_two = cards
    assert "run `debtflow train --as-of 2005-10-01`" in day_one["stages"]["score"]["skipped"]
    metrics = trained["metrics"]
    assert metrics["roc_auc"] > 0.85 and metrics["n_valid"] > 1_000
    assert metrics["roc_auc"] >= metrics["baseline_roc_auc"] - 0.01
    assert metrics["brier"] <= metrics["baseline_brier"]
    score = day_two["stages"]["score"]
    assert score["model_version"] == trained["version"]
    with connect(get_settings()) as con:
        overdue = con.execute(
            "select count(*) from marts.debtor_features "
            "where as_of = '2005-10-02' and overdue_balance > 0"
        ).fetchone()[0]
    assert score["rows"] == overdue > 0


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory, harness):
    from debtflow.flows.daily import daily

    root = tmp_path_factory.mktemp("uci-retail")
    mp = _home(root)
    written = uci_online_retail.convert(RETAIL, root / "landing", datetime(2011, 1, 15, 6))
    yield written, daily(date(2011, 1, 15))
    mp.undo()


def test_retail_invoices_and_credit_notes_reconcile_to_the_source_lines(retail):
    written, result = retail
    assert written == {"customers": 948, "invoices": 1_708}
    with RETAIL.open() as fh:
        lines = list(csv.DictReader(fh))
    total = sum(Decimal(r["Quantity"]) * Decimal(r["UnitPrice"]) for r in lines)
    with connect(get_settings()) as con:
        net, credit_notes, debtors = con.execute(
            "select sum(case when document_type = 'invoice' then amount else -amount end), "
            "count(*) filter (where document_type = 'credit_note'), "
            "(select count(*) from marts.dim_debtors) from raw.invoices"
        ).fetchone()
    assert net == total.quantize(Decimal("0.01"))
    assert credit_notes == len({r["InvoiceNo"] for r in lines if r["InvoiceNo"].startswith("C")})
    assert debtors == 948
    assert result["stages"]["ingest"]["rows_quarantined"] == 0


def test_retail_without_payments_is_dunned_and_says_when_it_could_train(retail):
    _, result = retail
    score = result["stages"]["score"]
    assert score["model_version"] is None
    assert "too little history to train one (0 of 2 labelled snapshot dates)" in score["skipped"]
    assert score["train_ready_on"] == str(date(2011, 2, 1) + timedelta(days=30))
    planned = result["stages"]["dunning"]["planned"]
    assert planned["planned_total"] > 0 and set(planned["planned"]) == {"reminder_1"}
