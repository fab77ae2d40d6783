"""Metrics shared by the backtest, the baseline and the oracle comparison, and the HTML report.

Plots (ROC, calibration, lift, feature importance, score distribution) use matplotlib's Agg
backend; without matplotlib the report carries the same numbers as tables and says so.
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


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _plots(
    metrics: dict,
    y: np.ndarray,
    p: np.ndarray,
    p_train: np.ndarray,
    importance: dict[str, float],
    target: str,
) -> str | None:
    """ROC, calibration, lift, importance and score distribution as inline PNGs; None when
    matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from sklearn.metrics import roc_curve
    except ImportError:
        return None
    images = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    if len(np.unique(y)) == 2:
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"model (AUC {metrics.get('roc_auc') or 0:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (validation)")
    ax.legend(loc="lower right")
    ax = axes[1]
    curve = metrics.get("calibration_curve", [])
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.plot([c["mean_p"] for c in curve], [c["observed"] for c in curve], marker="o")
    ax.set(xlabel=f"predicted {target}", ylabel="observed rate", title="Calibration (validation)")
    ax = axes[2]
    lift = lift_table(y, p)
    ax.bar([r["decile"] for r in lift], [r["lift"] for r in lift])
    ax.axhline(1.0, linestyle="--", color="grey")
    ax.set(xlabel="score decile (1 = highest p)", ylabel="lift", title="Lift by decile")
    images.append(_png(fig))
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(15, 5))
    ax = axes[0]
    top = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:20][::-1]
    ax.barh([k for k, _ in top], [v for _, v in top])
    ax.set(xlabel="total gain", title="Feature importance (top 20)")
    ax = axes[1]
    edges = np.linspace(0, 1, 21)
    ax.hist(p_train, bins=edges, density=True, alpha=0.5, label="training rows")
    ax.hist(p, bins=edges, density=True, alpha=0.5, label="validation rows")
    for cut in np.arange(0.1, 1.0, 0.1):
        ax.axvline(cut, color="grey", linewidth=0.5)
    ax.set(xlabel=f"calibrated {target} (grey: grade cut points)", title="Score distribution")
    ax.legend()
    images.append(_png(fig))
    plt.close(fig)
    return "\n".join(images)


def _fitting(metrics: dict, window: dict) -> str:
    """How the trees, early stopping and calibration used the training dates, in words."""
    dates = ", ".join(window.get("train_dates", []))
    if metrics.get("cross_fitted"):
        return (
            f"a small book: trees, early stopping and calibration cross-fitted in folds by "
            f"debtor over every training row ({html.escape(dates)})"
        )
    stop = ", ".join(window.get("early_stop_dates", [])) or "a random slice of the train period"
    calib = ", ".join(window.get("calibration_dates", [])) or "the same slice"
    return (
        f"trees fitted on {html.escape(dates)}; early stopping on {html.escape(stop)}; "
        f"calibration on {html.escape(calib)}"
    )


def _versus_baseline(metrics: dict) -> list[dict]:
    return [
        {"model": model, **{m: metrics.get(f"{prefix}{m}") for m in BASELINE_METRICS}}
        for model, prefix in (("LightGBM (calibrated)", ""), ("logistic regression", "baseline_"))
    ]


BASELINE_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss")


def report_html(
    version: str,
    metadata: dict,
    metrics: dict,
    y: np.ndarray | None = None,
    p: np.ndarray | None = None,
    p_train: np.ndarray | None = None,
    importance: dict[str, float] | None = None,
) -> str:
    name = str(metadata.get("model", "collectability"))
    target = "p_late" if name == "late_payment" else "p_collect_30d"
    headline = [{"metric": k, "value": metrics[k]} for k in HEADLINE if metrics.get(k) is not None]
    plots = None
    if y is not None and p is not None:
        plots = _plots(
            metrics,
            np.asarray(y),
            np.asarray(p),
            np.asarray(p_train if p_train is not None else p),
            importance or {},
            target,
        )
    plot_html = plots or "<p><em>Plots left out: matplotlib is not installed.</em></p>"
    lift = lift_table(y, p) if y is not None and p is not None else []
    window = metadata.get("training_window", {})
    top = sorted((importance or {}).items(), key=lambda kv: kv[1], reverse=True)
    importance_rows = [{"feature": k, "gain": v} for k, v in top]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(name)} {html.escape(version)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body>
<h1>{html.escape(name.replace("_", " ").capitalize())} model {html.escape(version)}</h1>
<p>Target: {html.escape(str(metadata.get("target", "")))}.</p>
<p>as_of {html.escape(str(metadata.get("as_of")))}; out-of-time validation on
{html.escape(", ".join(window.get("valid_dates", [])))}; {_fitting(metrics, window)}.</p>
<h2>LightGBM beside the logistic baseline (validation)</h2>{_table(_versus_baseline(metrics))}
<h2>Metrics (validation)</h2>{_table(headline)}
<h2>Promotion</h2><pre>{html.escape(json.dumps(metrics.get("promotion"), indent=2))}</pre>
<h2>Plots</h2>{plot_html}
<h2>Calibration curve</h2>{_table(metrics.get("calibration_curve", []))}
<h2>Grades (fixed bands of calibrated p)</h2>{_table(metrics.get("grades", []))}
<h2>Lift by decile</h2>{_table(lift)}
<h2>Features ({len(metadata.get("features", {}).get("columns", []))}) by importance</h2>
{_table(importance_rows)}
</body></html>
"""
