"""Both models train and score on a small landing zone that has only customers, invoices and
payments (real extracts often lack the optional files): a tiny simulated world with the other
files deleted from its batches before ingest. Also drives `debtflow advise-terms` and
`debtflow models list|show|promote` on it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from debtflow.flows.core.warehouse import connect

pytestmark = pytest.mark.slow

AS_OF = date(2026, 11, 20)
REQUIRED = {"customers", "invoices", "payments"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("tiny") / "home"
    mp = pytest.MonkeyPatch()
    mp.setenv("DEBTFLOW_HOME", str(home))
    mp.delenv("DEBTFLOW_LANDING_URL", raising=False)
    from debtflow.flows.build import transform
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.ingest import ingest
    from debtflow.flows.simulation.simulation import simulate
    from debtflow.models import late_payment, predict, train

    simulate(120, 24, 5, home, AS_OF, 1)
    removed = 0
    for f in (home / "landing").rglob("*"):
        if f.is_file() and f.name.split(".")[0] not in REQUIRED:
            f.unlink()
            removed += 1
    assert removed, "the simulator wrote no optional files to remove"
    settings = get_settings()
    ingest.ingest(settings, AS_OF)
    transform.build(settings, AS_OF)
    results = {
        "collectability": train.train(settings, AS_OF, home / "truth"),
        "late_payment": late_payment.train_model(settings, AS_OF, home / "truth"),
    }
    results["score"] = predict.score(settings, AS_OF)
    results["late_score"] = late_payment.score(settings, AS_OF)
    yield home, settings, results
    mp.undo()


def test_landing_had_only_the_required_files(tiny):
    home, settings, _ = tiny
    names = {f.name.split(".")[0] for f in (home / "landing").rglob("*") if f.is_file()}
    assert names <= REQUIRED
    with connect(settings) as con:
        invoices = con.execute("select count(*) from raw.invoices").fetchone()[0]
        assert con.execute("select count(*) from raw.contact_events").fetchone() == (0,)
    assert 1_000 < invoices < 5_000


@pytest.mark.parametrize("model", ["collectability", "late_payment"])
def test_both_models_train_and_write_their_metrics(tiny, model):
    _, settings, results = tiny
    from debtflow.models import registry

    result = results[model]
    metrics = registry.load_metrics(settings, result["version"], model)
    assert {"roc_auc", "pr_auc", "brier", "log_loss", "n_train", "n_valid"} <= set(metrics)
    assert {"oracle_roc_auc", "oracle_brier"} <= set(metrics)
    assert metrics["n_valid"] > 0 and result["promoted"]
    report = (registry.root(settings, model) / result["version"] / "report.html").read_text()
    assert report.count("<img") >= 2


def test_a_small_book_is_cross_fitted_and_not_worse_than_the_logistic_baseline(tiny):
    _, settings, results = tiny
    from debtflow.models import registry

    version = results["collectability"]["version"]
    metrics = registry.load_metrics(settings, version)
    assert metrics["cross_fitted"] and metrics["n_train"] == metrics["n_calibration"]
    # 120 debtors: before cross-fitting the trees never split (AUC 0.5 against 0.59)
    assert metrics["roc_auc"] >= metrics["baseline_roc_auc"] - 0.01
    assert metrics["best_iteration"] > 1
    assert "logistic baseline" in metrics["promotion"]["baseline"]
    report = (registry.root(settings) / version / "report.html").read_text()
    assert "LightGBM, the baseline and the oracle on the validation rows" in report
    assert "Promoted: the first version of this model" in report
    assert "cross-fitted in folds by debtor" in report


def test_late_payment_features_include_the_book_context(tiny):
    _, settings, results = tiny
    from debtflow.models import registry

    meta = registry.load(settings, results["late_payment"]["version"], "late_payment").metadata
    new = {"book_late_rate_30d", "excess_late", "late_vs_book", "has_direct_debit"}
    assert new <= set(meta["features"]["columns"])


def test_the_book_wide_late_rate_is_no_drift_on_the_day_of_training(tiny):
    """book_late_rate_30d is one value per issue date: compared by value against its range over
    the training dates, not as a distribution (its PSI was 6.3 on the day of training)."""
    _, settings, results = tiny
    from debtflow.models import registry

    meta = registry.load(settings, results["late_payment"]["version"], "late_payment").metadata
    ref = meta["drift_reference"]["features"]["book_late_rate_30d"]
    assert ref["book_wide"] and ref["low"] < ref["high"] and "expected" not in ref
    drift = results["late_score"]["drift"]
    assert "book_late_rate_30d" not in drift["features"]
    assert drift["book_wide"]["book_late_rate_30d"]["outside"] is None
    assert not [w for w in drift["warnings"] if w.startswith("book_late_rate_30d")]
    with connect(settings) as con:
        low, high, bad = con.execute(
            "select min(book_late_rate_30d), max(book_late_rate_30d), "
            "count(*) filter (where max_days_late < 0 or avg_days_late_when_late < 1) "
            "from marts.invoice_late_snapshots"
        ).fetchone()
    assert 0 <= low <= high <= 1 and bad == 0


def test_scores_are_written_for_both_models(tiny):
    _, settings, results = tiny
    with connect(settings) as con:
        n_debtors = con.execute(
            "select count(*) from ml.debtor_scores where as_of = ?", [AS_OF]
        ).fetchone()[0]
        late = con.execute(
            "select count(*), min(due_date), min(p_late), max(p_late) "
            "from ml.invoice_late_scores where as_of = ?",
            [AS_OF],
        ).fetchone()
    assert n_debtors == results["score"]["rows"] > 0
    assert late[0] == results["late_score"]["rows"] > 0
    assert late[1] >= AS_OF  # not yet due
    assert 0 < late[2] <= late[3] < 1
    assert "score_psi" in results["score"]["drift"]


def test_advise_terms_command(tiny, capsys):
    home, _, _ = tiny
    from debtflow.flows.cli import main

    assert main(["advise-terms", "--as-of", str(AS_OF), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["debtors"] >= 100
    assert sum(out["advice"].values()) == out["debtors"]
    for totals in out["expected_loss_by_currency"].values():
        assert totals["expected_loss_avoided"] >= 0
    assert Path(out["path"]).exists()


def test_models_commands(tiny, capsys):
    _, settings, results = tiny
    from debtflow.flows.cli import main
    from debtflow.models import registry, train

    second = train.train(settings, AS_OF - timedelta(days=1))["version"]
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    assert results["collectability"]["version"] in listed and second in listed
    header, *rows = listed.splitlines()
    assert header.split()[:4] == ["VERSION", "CHAMPION", "ROC", "AUC"] and len(rows) == 2
    assert main(["models", "promote", results["collectability"]["version"]]) == 0
    assert registry.champion_version(settings) == results["collectability"]["version"]
    capsys.readouterr()
    assert main(["models", "show", "--model", "late_payment", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["champion"] and shown["model"] == "late_payment"
    assert main(["models", "promote", "20990101T000000-deadbeef"]) == 1
