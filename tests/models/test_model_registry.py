from __future__ import annotations

import json

import pytest
from synthetic_marts import AS_OF, build_warehouse

from debtflow.flows.core.errors import DebtflowError
from debtflow.models import registry, train


def test_version_folder_holds_every_file(settings, warehouse):
    version = train.train(settings, AS_OF)["version"]
    assert registry.VERSION_RE.match(version)
    folder = registry.root(settings) / version
    assert {p.name for p in folder.iterdir()} == set(registry.FILES)
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["data_hash"].startswith(version.split("-")[1])
    assert {"lightgbm", "pandas", "numpy", "duckdb", "sklearn", "python"} <= set(
        meta["library_versions"]
    )
    assert meta["features"]["categories"]["debtor_type"] == ["business", "consumer"]
    assert not [p for p in registry.root(settings).iterdir() if p.name.startswith(".")]


def test_first_model_becomes_champion(settings, warehouse):
    assert registry.champion_version(settings) is None
    result = train.train(settings, AS_OF)
    assert result["promoted"]
    assert registry.champion_version(settings) == result["version"]
    assert registry.load(settings).version == result["version"]


def test_worse_challenger_is_refused_by_the_gate(settings, warehouse):
    champion = train.train(settings, AS_OF)["version"]
    build_warehouse(settings, shuffle_train_labels=True)
    challenger = train.train(settings, AS_OF)
    assert not challenger["promoted"]
    assert registry.champion_version(settings) == champion
    assert registry.list_versions(settings) == sorted([champion, challenger["version"]])
    decision = registry.load_metrics(settings, challenger["version"])["promotion"]
    assert decision["promote"] is False and decision["champion_before"] == champion
    assert decision["champion_metrics"]["compared_on"] == "challenger's validation rows"
    report = (registry.root(settings) / challenger["version"] / registry.REPORT).read_text()
    assert "Not promoted: ROC AUC" in report and f"against champion {champion}&#x27;s" in report
    assert "so it fails here" in report


def test_equal_challenger_passes_the_gate(settings, warehouse):
    train.train(settings, AS_OF)
    second = train.train(settings, AS_OF)
    assert second["promoted"] and registry.champion_version(settings) == second["version"]


def test_promote_by_hand_and_unknown_version(settings, warehouse):
    first = train.train(settings, AS_OF)["version"]
    build_warehouse(settings, shuffle_train_labels=True)
    second = train.train(settings, AS_OF)["version"]
    registry.promote(settings, second)
    assert registry.champion_version(settings) == second
    registry.promote(settings, first)
    assert registry.champion_version(settings) == first
    with pytest.raises(DebtflowError, match="no model version"):
        registry.promote(settings, "20990101T000000-deadbeef")


@pytest.mark.parametrize(
    ("challenger", "promote"),
    [
        pytest.param({"roc_auc": 0.80, "brier": 0.20}, True, id="same"),
        pytest.param({"roc_auc": 0.796, "brier": 0.20}, True, id="auc-within-tolerance"),
        pytest.param({"roc_auc": 0.79, "brier": 0.20}, False, id="auc-worse"),
        pytest.param({"roc_auc": 0.85, "brier": 0.22}, False, id="brier-worse"),
    ],
)
def test_gate(challenger, promote):
    assert registry.gate(challenger, {"roc_auc": 0.80, "brier": 0.20})["promote"] is promote


@pytest.mark.parametrize(
    ("challenger", "below"),
    [
        pytest.param({"roc_auc": 0.80, "baseline_roc_auc": 0.78}, False, id="above"),
        pytest.param({"roc_auc": 0.775, "baseline_roc_auc": 0.78}, False, id="within-0.01"),
        pytest.param({"roc_auc": 0.76, "baseline_roc_auc": 0.78}, True, id="below"),
    ],
)
def test_gate_shows_the_logistic_baseline(challenger, below):
    decision = registry.gate({**challenger, "brier": 0.2, "baseline_brier": 0.21}, None)
    assert decision["promote"] and decision["below_baseline"] is below
    assert f"vs logistic baseline {challenger['baseline_roc_auc']:.4f}" in decision["baseline"]


CHAMPION = {"roc_auc": 0.80, "brier": 0.20, "compared_on": "challenger's validation rows"}


@pytest.mark.parametrize(
    ("challenger", "champion", "sentence"),
    [
        pytest.param(
            {"roc_auc": 0.81, "brier": 0.19},
            None,
            "Promoted: the first version of this model, with no champion to beat "
            "(ROC AUC 0.8100, Brier score 0.1900).",
            id="first",
        ),
        pytest.param(
            {"roc_auc": 0.81, "brier": 0.19},
            CHAMPION,
            "Promoted: ROC AUC 0.8100 against champion V1's 0.8000 on the same validation rows "
            "(the gate needs at least 0.7950: no more than 0.005 below the champion); Brier "
            "score 0.1900 against 0.2000 (the gate allows up to 0.2100: at most 5% above the "
            "champion).",
            id="promoted",
        ),
        pytest.param(
            {"roc_auc": 0.79, "brier": 0.19},
            CHAMPION,
            "Not promoted: ROC AUC 0.7900 against champion V1's 0.8000 on the same validation "
            "rows (the gate needs at least 0.7950: no more than 0.005 below the champion, so it "
            "fails here); Brier score 0.1900 against 0.2000 (the gate allows up to 0.2100: at "
            "most 5% above the champion).",
            id="auc-worse",
        ),
        pytest.param(
            {"roc_auc": None, "brier": 0.19},
            CHAMPION,
            "Not promoted: the ROC AUC or Brier score of this version or of champion V1 is missing",
            id="missing",
        ),
    ],
)
def test_the_decision_in_words(challenger, champion, sentence):
    decision = registry.gate(challenger, champion)
    decision.update(champion_before=champion and "V1", champion_metrics=champion)
    assert registry.decision_in_words(decision, challenger).startswith(sentence)
