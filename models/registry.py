"""The model registry: one folder per version under settings.registry_dir/<model name>
(`collectability`, `late_payment`).

A version folder is written complete under a temporary name and renamed into place, so a reader
never sees half a model. The `champion` file names the version that scores; it is replaced
atomically and moves only through `gate` (or an explicit `promote`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import lightgbm as lgb

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.models.features import FeatureSpec

NAME = "collectability"
LATE_PAYMENT = "late_payment"
MODELS = (NAME, LATE_PAYMENT)
CHAMPION = "champion"
VERSION_RE = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}$")
MODEL, CALIBRATOR, METADATA, METRICS, REPORT = (
    "model.txt",
    "calibrator.json",
    "metadata.json",
    "metrics.json",
    "report.html",
)
FILES = (MODEL, CALIBRATOR, METADATA, METRICS, REPORT)
# A challenger may be a little worse on one validation window (noise) but not clearly worse.
GATE_AUC_TOLERANCE = 0.005
GATE_BRIER_FACTOR = 1.05
BASELINE_AUC_TOLERANCE = 0.01  # LightGBM may trail the logistic baseline by this much


class NoChampionError(DebtflowError):
    pass


@dataclass
class Model:
    version: str
    path: Path
    booster: lgb.Booster
    calibrator: dict
    metadata: dict
    metrics: dict

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec.from_dict(self.metadata["features"])


def root(settings: Settings, name: str = NAME) -> Path:
    if name not in MODELS:
        raise DebtflowError(f"unknown model {name!r}: one of {', '.join(MODELS)}")
    return settings.registry_dir / name


def new_version_id(
    settings: Settings, data_hash: str, now: datetime | None = None, name: str = NAME
) -> str:
    """`YYYYMMDDTHHMMSS-<8 hex of the data hash>`; a taken id moves on by a second."""
    now = now or datetime.now()
    while True:
        version = f"{now:%Y%m%dT%H%M%S}-{data_hash[:8]}"
        if not (root(settings, name) / version).exists():
            return version
        now += timedelta(seconds=1)


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str, allow_nan=False) + "\n")


def save(
    settings: Settings,
    version: str,
    model_text: str,
    calibrator: dict,
    metadata: dict,
    metrics: dict,
    report: str,
    name: str = NAME,
) -> Path:
    base = root(settings, name)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        (tmp / MODEL).write_text(model_text)
        _write_json(tmp / CALIBRATOR, calibrator)
        _write_json(tmp / METADATA, metadata)
        _write_json(tmp / METRICS, metrics)
        (tmp / REPORT).write_text(report)
        os.rename(tmp, base / version)  # fails rather than overwrite an existing version
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return base / version


def list_versions(settings: Settings, name: str = NAME) -> list[str]:
    base = root(settings, name)
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and VERSION_RE.match(p.name))


def champion_version(settings: Settings, name: str = NAME) -> str | None:
    pointer = root(settings, name) / CHAMPION
    if not pointer.exists():
        return None
    return pointer.read_text().strip() or None


def promote(settings: Settings, version: str, name: str = NAME) -> None:
    """Make `version` the champion (atomic replace of the pointer file)."""
    if version not in list_versions(settings, name):
        raise DebtflowError(f"no model version {version} in {root(settings, name)}")
    tmp = root(settings, name) / f".{CHAMPION}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w") as f:
        f.write(version + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root(settings, name) / CHAMPION)


def load_metrics(settings: Settings, version: str | None, name: str = NAME) -> dict:
    if version is None:
        return {}
    return json.loads((root(settings, name) / version / METRICS).read_text())


def load_metadata(settings: Settings, version: str, name: str = NAME) -> dict:
    path = root(settings, name) / version / METADATA
    if not path.exists():
        raise DebtflowError(f"no model version {version} in {root(settings, name)}")
    return json.loads(path.read_text())


def load(settings: Settings, version: str | None = None, name: str = NAME) -> Model:
    """A version, or the champion when no version is given."""
    if version is None:
        version = champion_version(settings, name)
        if version is None:
            flag = "" if name == NAME else f" --model {name}"
            raise NoChampionError(f"no {name} champion model: run `debtflow train{flag}` first")
    path = root(settings, name) / version
    if not path.is_dir():
        raise DebtflowError(f"no model version {version} in {root(settings, name)}")
    return Model(
        version=version,
        path=path,
        booster=lgb.Booster(model_file=str(path / MODEL)),
        calibrator=json.loads((path / CALIBRATOR).read_text()),
        metadata=json.loads((path / METADATA).read_text()),
        metrics=json.loads((path / METRICS).read_text()),
    )


def gate(challenger: dict, champion: dict | None) -> dict:
    """Promote when there is no champion, or when the challenger is not clearly worse on
    ROC AUC and Brier score (both dicts hold validation metrics of the same rows if possible)."""
    versus = _versus_baseline(challenger)
    if champion is None:
        return {"promote": True, "reason": "no champion yet", **versus}
    auc_c, auc_h = challenger.get("roc_auc"), champion.get("roc_auc")
    brier_c, brier_h = challenger.get("brier"), champion.get("brier")
    if None in (auc_c, auc_h, brier_c, brier_h):
        return {
            "promote": False,
            "reason": "metrics missing; promote by hand if intended",
            **versus,
        }
    auc_ok = auc_c >= auc_h - GATE_AUC_TOLERANCE
    brier_ok = brier_c <= brier_h * GATE_BRIER_FACTOR
    reason = (
        f"roc_auc {auc_c:.4f} vs champion {auc_h:.4f} (needs >= {auc_h - GATE_AUC_TOLERANCE:.4f}); "
        f"brier {brier_c:.4f} vs champion {brier_h:.4f} (needs <= {brier_h * GATE_BRIER_FACTOR:.4f})"
    )
    return {"promote": auc_ok and brier_ok, "reason": reason, **versus}


def decision_in_words(decision: dict, challenger: dict) -> str:
    """The gate's decision as a sentence, e.g. 'Promoted: ROC AUC 0.8123 against the champion's
    0.7934 on the same validation rows (the gate needs at least 0.7884) ...'."""
    verdict = "Promoted" if decision.get("promote") else "Not promoted"
    auc, brier = challenger.get("roc_auc"), challenger.get("brier")
    before, champ = decision.get("champion_before"), decision.get("champion_metrics")
    if not before:
        shown = f" (ROC AUC {auc:.4f}, Brier score {brier:.4f})" if None not in (auc, brier) else ""
        return f"{verdict}: the first version of this model, with no champion to beat{shown}."
    auc_h, brier_h = (champ or {}).get("roc_auc"), (champ or {}).get("brier")
    if None in (auc, brier, auc_h, brier_h):
        return (
            f"{verdict}: the ROC AUC or Brier score of this version or of champion {before} is "
            "missing (a validation set with one outcome only?); `debtflow models promote` "
            "promotes a version by hand."
        )
    where = (
        "on the same validation rows"
        if (champ or {}).get("compared_on") == "challenger's validation rows"
        else "(the champion's own stored validation metrics)"
    )
    auc_floor, brier_ceiling = auc_h - GATE_AUC_TOLERANCE, brier_h * GATE_BRIER_FACTOR
    auc_part = (
        f"ROC AUC {auc:.4f} against champion {before}'s {auc_h:.4f} {where} (the gate needs at "
        f"least {auc_floor:.4f}: no more than {GATE_AUC_TOLERANCE} below the champion"
        + ("" if auc >= auc_floor else ", so it fails here")
        + ")"
    )
    brier_part = (
        f"Brier score {brier:.4f} against {brier_h:.4f} (the gate allows up to "
        f"{brier_ceiling:.4f}: at most {GATE_BRIER_FACTOR - 1:.0%} above the champion"
        + ("" if brier <= brier_ceiling else ", so it fails here")
        + ")"
    )
    return f"{verdict}: {auc_part}; {brier_part}."


def _versus_baseline(challenger: dict) -> dict:
    """The challenger beside the logistic baseline on the same rows: shown, not gated on (the
    baseline is a yardstick, not a model the registry can serve)."""
    auc, base = challenger.get("roc_auc"), challenger.get("baseline_roc_auc")
    if auc is None or base is None:
        return {}
    verdict = "worse than" if auc < base - BASELINE_AUC_TOLERANCE else "on par with or above"
    return {
        "baseline": (
            f"roc_auc {auc:.4f} vs logistic baseline {base:.4f} ({auc - base:+.4f}): {verdict} "
            f"the baseline (tolerance {BASELINE_AUC_TOLERANCE}); brier "
            f"{challenger.get('brier', float('nan')):.4f} vs "
            f"{challenger.get('baseline_brier', float('nan')):.4f}"
        ),
        "below_baseline": auc < base - BASELINE_AUC_TOLERANCE,
    }


def summary(settings: Settings, name: str = NAME) -> list[dict]:
    """One row per version: headline validation metrics and whether it is the champion."""
    champion = champion_version(settings, name)
    rows = []
    for version in list_versions(settings, name):
        metrics = load_metrics(settings, version, name)
        window = load_metadata(settings, version, name).get("training_window", {})
        rows.append(
            {
                "version": version,
                "champion": version == champion,
                "roc_auc": round(metrics["roc_auc"], 4) if metrics.get("roc_auc") else None,
                "brier": round(metrics["brier"], 4) if metrics.get("brier") else None,
                "baseline_roc_auc": (
                    round(metrics["baseline_roc_auc"], 4)
                    if metrics.get("baseline_roc_auc")
                    else None
                ),
                "valid_dates": ",".join(window.get("valid_dates", [])),
            }
        )
    return rows


def report_path(settings: Settings, version: str, name: str = NAME) -> Path:
    """The version's HTML evaluation report (plots and metrics)."""
    return root(settings, name) / version / REPORT


def show(settings: Settings, version: str | None = None, name: str = NAME) -> dict:
    """Metadata (without the bulky drift bins) and headline metrics of a version."""
    version = version or champion_version(settings, name)
    if version is None:
        raise NoChampionError(f"no {name} champion model and no version given")
    meta = load_metadata(settings, version, name)
    metrics = load_metrics(settings, version, name)
    skip = {"drift_reference", "features", "approx_contrib"}
    return {
        "champion": version == champion_version(settings, name),
        "path": str(root(settings, name) / version),
        "report": str(report_path(settings, version, name)),
        **{k: v for k, v in meta.items() if k not in skip},
        "n_features": len(meta.get("features", {}).get("columns", [])),
        "metrics": {k: v for k, v in metrics.items() if not isinstance(v, list | dict)},
    }
