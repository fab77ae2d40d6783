"""Metrics shared by the backtest, the baseline and the oracle comparison, and the evaluation
report (evaluation_report.py)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

EPS = 1e-6


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float | None:
    """Positive rate among the 10% highest scores, over the overall positive rate."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    if len(y) == 0 or y.mean() == 0:
        return None
    k = max(1, math.ceil(0.1 * len(y)))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Equal-width probability bins: predicted mean against observed rate (empty bins left out)."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    idx = np.clip((p * bins).astype(int), 0, bins - 1)
    curve = []
    for b in range(bins):
        m = idx == b
        if m.any():
            curve.append(
                {
                    "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                    "n": int(m.sum()),
                    "mean_p": float(p[m].mean()),
                    "observed": float(y[m].mean()),
                }
            )
    return curve


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict:
    """The headline metrics of one set of probabilities against 0/1 outcomes."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    both = len(np.unique(y)) == 2
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)) if len(y) else None,
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if len(y) else None,
        "top_decile_lift": top_decile_lift(y, p),
    }


def grade_table(y: np.ndarray, p: np.ndarray, grades: np.ndarray) -> list[dict]:
    """Per grade: rows, mean predicted probability and observed collection rate."""
    y, p, grades = np.asarray(y, dtype=int), np.asarray(p, dtype=float), np.asarray(grades)
    return [
        {
            "grade": int(g),
            "n": int((grades == g).sum()),
            "mean_p": float(p[grades == g].mean()),
            "observed": float(y[grades == g].mean()),
        }
        for g in range(1, 11)
        if (grades == g).any()
    ]


# the metrics a training result carries (the report and metrics.json hold them all)
HEADLINE = [
    "n_train",
    "n_early_stop",
    "n_calibration",
    "n_valid",
    "base_rate",
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "top_decile_lift",
    "baseline_roc_auc",
    "baseline_pr_auc",
    "baseline_brier",
    "baseline_log_loss",
    "oracle_rows_matched",
    "oracle_roc_auc",
    "oracle_pr_auc",
    "oracle_brier",
    "oracle_log_loss",
    "model_roc_auc_on_oracle_rows",
    "model_brier_on_oracle_rows",
]


def lift_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Per score decile (highest first): rows, positive rate, lift and cumulative share captured."""
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    if len(y) == 0 or y.sum() == 0:
        return []
    order = np.argsort(-p, kind="stable")
    parts = np.array_split(order, bins)
    out, captured = [], 0
    for i, part in enumerate(parts, start=1):
        captured += int(y[part].sum())
        out.append(
            {
                "decile": i,
                "n": int(len(part)),
                "mean_p": float(p[part].mean()) if len(part) else 0.0,
                "observed": float(y[part].mean()) if len(part) else 0.0,
                "lift": float(y[part].mean() / y.mean()) if len(part) else 0.0,
                "cumulative_share": captured / int(y.sum()),
            }
        )
    return out
