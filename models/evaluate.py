"""Metrics shared by the backtest, the baseline and the oracle comparison, and the HTML report.

Plots need matplotlib, which is optional: without it the report carries the same numbers as
tables and says that the plots were left out.
"""

from __future__ import annotations

import base64
import html
import io
import json
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


# --- report -------------------------------------------------------------------------------------

HEADLINE = [
    "n_train",
    "n_early_stop",
    "n_valid",
    "base_rate",
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "top_decile_lift",
    "baseline_roc_auc",
    "baseline_brier",
    "oracle_rows_matched",
    "oracle_roc_auc",
    "oracle_pr_auc",
    "oracle_brier",
    "oracle_log_loss",
    "model_roc_auc_on_oracle_rows",
    "model_brier_on_oracle_rows",
]


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return html.escape(str(v))


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _plots(metrics: dict) -> str | None:
    """Calibration and grade plots as inline PNGs; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    curve = metrics.get("calibration_curve", [])
    ax1.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax1.plot([c["mean_p"] for c in curve], [c["observed"] for c in curve], marker="o")
    ax1.set(
        xlabel="predicted p_collect_30d",
        ylabel="observed collected in 30 days",
        title="Calibration (validation)",
    )
    grades = metrics.get("grades", [])
    ax2.bar([g["grade"] for g in grades], [g["observed"] for g in grades])
    ax2.set(xlabel="grade", ylabel="observed collected in 30 days", title="Grades (validation)")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def report_html(version: str, metadata: dict, metrics: dict) -> str:
    headline = [{"metric": k, "value": metrics[k]} for k in HEADLINE if metrics.get(k) is not None]
    plots = _plots(metrics)
    plot_html = plots or "<p><em>Plots left out: matplotlib is not installed.</em></p>"
    window = metadata.get("training_window", {})
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>collectability {html.escape(version)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body>
<h1>Collectability model {html.escape(version)}</h1>
<p>as_of {html.escape(str(metadata.get("as_of")))}; out-of-time validation on snapshot dates
{html.escape(", ".join(window.get("valid_dates", [])))}; trained on
{html.escape(", ".join(window.get("train_dates", [])))}; early stopping and calibration on
{html.escape(", ".join(window.get("early_stop_dates", [])) or "a random slice of the train period")}.</p>
<h2>Metrics (validation)</h2>{_table(headline)}
<h2>Promotion</h2><pre>{html.escape(json.dumps(metrics.get("promotion"), indent=2))}</pre>
<h2>Plots</h2>{plot_html}
<h2>Calibration curve</h2>{_table(metrics.get("calibration_curve", []))}
<h2>Grades</h2>{_table(metrics.get("grades", []))}
<h2>Features ({len(metadata.get("features", {}).get("columns", []))})</h2>
<p>{html.escape(", ".join(metadata.get("features", {}).get("columns", [])))}</p>
</body></html>
"""
