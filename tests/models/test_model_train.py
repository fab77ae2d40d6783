from __future__ import annotations

import json
from datetime import date

from synthetic_marts import AS_OF, SNAPSHOT_DATES

from debtflow.flows.settings import get_settings
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


def test_out_of_time_split_validates_on_the_latest_dates(settings, warehouse):
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


def test_training_window_follows_the_training_months_setting(home, warehouse, monkeypatch):
    monkeypatch.setenv("DEBTFLOW_TRAINING_MONTHS", "6")  # from 2025-04-01 on
    settings = get_settings()
    result = train.train(settings, AS_OF)
    meta = json.loads((registry.root(settings) / result["version"] / "metadata.json").read_text())
    assert meta["training_window"]["train_dates"] == ["2025-04-01"]  # stop 05-01, calib 06-01
    assert meta["rows"]["total"] == 5 * 600
