from __future__ import annotations

import json
from datetime import date

from synthetic_marts import AS_OF, SNAPSHOT_DATES

from debtflow.flows.core.settings import get_settings
from debtflow.models import registry, train

METRIC_KEYS = {
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "top_decile_lift",
    "calibration_curve",
    "n_train",
    "n_valid",
    "base_rate",
    "baseline_roc_auc",
    "baseline_brier",
    "promotion",
}


def test_model_learns_a_learnable_signal(settings, warehouse):
    result = train.train(settings, AS_OF)
    m = result["metrics"]
    assert m["roc_auc"] > 0.75
    assert m["roc_auc"] > m["baseline_roc_auc"] - 0.03  # as good as logistic on a logistic world
    assert m["brier"] < m["base_rate"] * (1 - m["base_rate"])  # beats predicting the base rate


def test_out_of_time_split_validates_on_the_latest_dates(settings, warehouse, monkeypatch):
    monkeypatch.setattr(train, "SMALL_BOOK_ROWS", 0)  # a large book's held-out slices
    result = train.train(settings, AS_OF)
    meta = json.loads((registry.root(settings) / result["version"] / "metadata.json").read_text())
    window = meta["training_window"]
    assert window["valid_dates"] == [str(d) for d in SNAPSHOT_DATES[-2:]]
    assert window["calibration_dates"] == [str(SNAPSHOT_DATES[-3])]
    assert window["early_stop_dates"] == [str(SNAPSHOT_DATES[-4])]  # never the calibration slice
    assert max(window["train_dates"]) < min(window["early_stop_dates"])
    assert meta["rows"]["valid"] == 1200


def test_metrics_json_has_the_keys(settings, warehouse):
    version = train.train(settings, AS_OF)["version"]
    metrics = registry.load_metrics(settings, version)
    assert set(metrics) >= METRIC_KEYS
    assert sum(b["n"] for b in metrics["calibration_curve"]) == metrics["n_valid"]


def test_oracle_metrics_on_the_validation_rows(settings, warehouse, truth_dir):
    m = train.train(settings, AS_OF, truth_dir)["metrics"]
    assert m["oracle_rows_matched"] == m["n_valid"]
    assert {"oracle_roc_auc", "oracle_brier", "oracle_pr_auc", "oracle_log_loss"} <= set(m)
    assert m["oracle_roc_auc"] >= m["roc_auc"] - 0.02  # the truth is (about) the ceiling


def test_training_is_deterministic(settings, warehouse):
    a, b = train.train(settings, AS_OF), train.train(settings, AS_OF)
    assert a["version"] != b["version"]
    assert a["version"].split("-")[1] == b["version"].split("-")[1]  # same data hash
    model_a = (registry.root(settings) / a["version"] / "model.txt").read_text()
    model_b = (registry.root(settings) / b["version"] / "model.txt").read_text()
    assert model_a == model_b


def test_training_only_uses_outcomes_known_at_as_of(settings, warehouse):
    result = train.train(settings, date(2025, 8, 15))  # the 2025-08-01 window is still open
    meta = json.loads((registry.root(settings) / result["version"] / "metadata.json").read_text())
    assert meta["training_window"]["valid_dates"] == ["2025-06-01", "2025-07-01"]


def test_a_small_book_cross_fits_in_folds_that_keep_each_debtor_together(settings, warehouse):
    from debtflow.flows.core.warehouse import connect
    from debtflow.models import features

    with connect(settings) as con:
        frame = features.read_training(con, AS_OF, settings.training_months)
    s = train.split(frame)
    assert s.folds is not None and (s.fit == ~s.valid).all() and (s.calib == s.fit).all()
    assert (s.folds[s.valid] == -1).all()
    folds = frame.loc[s.fit].assign(fold=s.folds[s.fit]).groupby("debtor_id")["fold"].nunique()
    assert folds.max() == 1 and set(s.folds[s.fit]) == set(range(train.CROSS_FIT_FOLDS))
    metrics = train.train(settings, AS_OF)["metrics"]
    assert metrics["n_train"] == metrics["n_calibration"] == int(s.fit.sum())


def test_training_window_follows_the_training_months_setting(home, warehouse, monkeypatch):
    monkeypatch.setenv("DEBTFLOW_TRAINING_MONTHS", "6")  # from 2025-04-01 on
    monkeypatch.setattr(train, "SMALL_BOOK_ROWS", 0)  # a large book's held-out slices
    settings = get_settings()
    result = train.train(settings, AS_OF)
    meta = json.loads((registry.root(settings) / result["version"] / "metadata.json").read_text())
    assert meta["training_window"]["train_dates"] == ["2025-04-01"]  # stop 05-01, calib 06-01
    assert meta["rows"]["total"] == 5 * 600


def test_large_fit_slices_are_bagged_and_the_parameters_recorded(settings, warehouse, monkeypatch):
    assert "bagging_fraction" not in train.effective_params(train.BAG_MAX_ROWS)
    big = train.effective_params(4 * train.BAG_MAX_ROWS)
    assert big["bagging_fraction"] == 0.25 and big["bagging_freq"] == 1
    monkeypatch.setattr(train, "BAG_MAX_ROWS", 1000)  # the fit slice here is 4 x 600 rows
    monkeypatch.setattr(train, "SMALL_BOOK_ROWS", 0)  # a large book's held-out slices
    result = train.train(settings, AS_OF)
    meta = json.loads((registry.root(settings) / result["version"] / "metadata.json").read_text())
    assert meta["parameters"]["bagging_fraction"] == round(1000 / 2400, 4)
    assert result["metrics"]["roc_auc"] > 0.75
    assert set(result["phases"]) == {"read", "features", "fit", "backtest", "register"}


def test_the_benchmark_world_has_the_real_width_and_trains(settings, tmp_path):
    from synthetic_marts import SCALE_FEATURES, build_scale_warehouse

    dates = [date(2025, m, 1) for m in range(1, 9)]
    rows = build_scale_warehouse(settings, 4000, dates, tmp_path / train.TRUTH_FILE, ceil=True)
    assert rows == 8 * 500
    result = train.train(settings, AS_OF, tmp_path)
    meta = json.loads((registry.root(settings) / result["version"] / "metadata.json").read_text())
    balances = ["overdue_balance", "open_balance"]
    assert meta["features"]["columns"] == balances + [name for name, _ in SCALE_FEATURES]
    m = result["metrics"]
    assert m["oracle_rows_matched"] == m["n_valid"] and m["roc_auc"] > 0.65


def test_the_report_explains_itself_and_repeats_no_table(settings, warehouse, truth_dir):
    from debtflow.models import evaluation_report

    first = train.train(settings, AS_OF, truth_dir)
    report = (registry.root(settings) / first["version"] / registry.REPORT).read_text()
    assert "Promoted: the first version of this model, with no champion to beat" in report
    assert evaluation_report.BASELINE in report and evaluation_report.ORACLE in report
    assert "<td>oracle (true probabilities)</td>" in report
    assert report.count("<table") == 4  # model/baseline/oracle, grades, lift, features
    assert "baseline_roc_auc" not in report and "calibration_curve" not in report

    second = train.train(settings, AS_OF)  # no truth: the report says what the oracle would be
    report = (registry.root(settings) / second["version"] / registry.REPORT).read_text()
    m = second["metrics"]
    assert (
        f"Promoted: ROC AUC {m['roc_auc']:.4f} against champion {first['version']}&#x27;s "
        f"{first['metrics']['roc_auc']:.4f} on the same validation rows (the gate needs at least"
    ) in report
    assert evaluation_report.NO_ORACLE in report
