"""The evaluation report of a model version, report.html in its registry folder: the promotion
decision in words, LightGBM beside the logistic baseline and the oracle on the same validation
rows (each explained once), plots, the grades, lift and feature importance. No table repeats
another: the calibration by grade band is the grade table.

Plots (ROC, calibration, lift, feature importance, score distribution) use matplotlib's Agg
backend and are inlined as PNG data; without matplotlib the report says they are left out. The
file loads nothing from elsewhere.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from debtflow.models.evaluate import lift_table
from debtflow.models.registry import BASELINE_AUC_TOLERANCE, decision_in_words

BASELINE = (
    "<b>Baseline</b>: a logistic regression on the same features (numbers standardised, "
    "categories one-hot) fitted on the same training rows: the simple reference model that "
    "LightGBM has to match to be worth its complexity."
)
ORACLE = (
    "<b>Oracle</b>: the simulator's true probabilities for the same validation rows, so the "
    "best any model could score on them; it exists only for simulated data."
)
NO_ORACLE = (
    "<b>Oracle</b>: none here. On simulated data the oracle is the simulator's true "
    "probabilities for the same validation rows (the best any model could score); a real book "
    "has no such truth."
)
# (column title, metric key, format)
COLUMNS = (
    ("ROC AUC", "roc_auc", ".4f"),
    ("PR AUC", "pr_auc", ".4f"),
    ("Brier score", "brier", ".4f"),
    ("log loss", "log_loss", ".4f"),
    ("top-decile lift", "top_decile_lift", ".2f"),
)
STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em;color:#1d2630;
max-width:1200px}
h1{margin-bottom:.2em}h2{margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #d5dae0;padding:3px 9px;text-align:right}th{background:#f1f3f5}
td:first-child,th:first-child{text-align:left}
.decision{border:1px solid;border-radius:6px;padding:10px 14px;font-size:16px}
.promoted{background:#e7f6ec;border-color:#9fd6b0}.refused{background:#fde8e8;border-color:#f0a3a3}
.note{color:#5b6670}img{max-width:100%}
"""


def _fmt(v: object, spec: str = ".4f") -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return format(v, spec)
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def _table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _comparison(metrics: dict) -> str:
    """LightGBM, the baseline and (on simulated data) the oracle, one row each."""

    def row(label: str, prefix: str, n: object) -> list[str]:
        cells = [_fmt(metrics.get(f"{prefix}{key}"), spec) for _, key, spec in COLUMNS]
        return [label, _fmt(n), *cells]

    n_valid = metrics.get("n_valid")
    rows = [
        row("LightGBM (calibrated)", "", n_valid),
        row("logistic baseline", "baseline_", n_valid),
    ]
    matched = metrics.get("oracle_rows_matched")
    if metrics.get("oracle_roc_auc") is not None or metrics.get("oracle_brier") is not None:
        rows.append(row("oracle (true probabilities)", "oracle_", matched))
        if matched != n_valid:  # the truth covers fewer rows: the model on those rows too
            rows.append(
                ["LightGBM on the oracle's rows", _fmt(matched)]
                + [
                    _fmt(metrics.get(f"model_{key}_on_oracle_rows"), spec)
                    for _, key, spec in COLUMNS
                ]
            )
    table = _table(["", "rows", *(title for title, _, _ in COLUMNS)], rows)
    oracle = ORACLE if len(rows) > 2 else NO_ORACLE
    return f"{table}<ul><li>{BASELINE}</li><li>{oracle}</li></ul>{_baseline_verdict(metrics)}"


def _baseline_verdict(metrics: dict) -> str:
    auc, base = metrics.get("roc_auc"), metrics.get("baseline_roc_auc")
    if auc is None or base is None:
        return ""
    below = auc < base - BASELINE_AUC_TOLERANCE
    verdict = (
        "more than the tolerated 0.01 below it: look at the features and the training window "
        "before trusting the model"
        if below
        else f"on par with it or better (it may trail by at most {BASELINE_AUC_TOLERANCE})"
    )
    return (
        f"<p>LightGBM's ROC AUC is {auc - base:+.4f} against the baseline's: {verdict}. "
        "The baseline is a yardstick, not part of the promotion gate.</p>"
    )


def _rows(metrics: dict) -> str:
    rate = metrics.get("base_rate")
    fitting = (
        f"{_fmt(metrics.get('n_train'))} rows (trees, early stopping and calibration)"
        if metrics.get("cross_fitted")
        else f"{_fmt(metrics.get('n_train'))} rows fit the trees, "
        f"{_fmt(metrics.get('n_early_stop'))} stop the boosting, "
        f"{_fmt(metrics.get('n_calibration'))} calibrate"
    )
    extra = []
    if metrics.get("best_iteration"):
        extra.append(f"{metrics['best_iteration']} trees")
    if metrics.get("uncalibrated_brier") is not None and metrics.get("brier") is not None:
        extra.append(
            f"calibration took the Brier score from {metrics['uncalibrated_brier']:.4f} to "
            f"{metrics['brier']:.4f}"
        )
    if metrics.get("oracle_label_agreement") is not None:
        extra.append(
            f"the mart's labels agree with the simulator's on "
            f"{metrics['oracle_label_agreement']:.1%} of the oracle's rows"
        )
    n_valid = metrics.get("n_valid")
    outcome = f" (outcome rate {rate:.1%})" if rate is not None and n_valid else ""
    details = "; ".join(extra)
    details = f" {details[:1].upper()}{details[1:]}." if details else ""
    return f"<p>Rows: {fitting}; {_fmt(n_valid)} validate{outcome}.{details}</p>"


def _grades(metrics: dict) -> str:
    rows = [
        [
            str(g["grade"]),
            f"{(g['grade'] - 1) / 10:.1f}–{g['grade'] / 10:.1f}",
            _fmt(g["n"]),
            _fmt(g["mean_p"]),
            _fmt(g["observed"]),
        ]
        for g in metrics.get("grades", [])
    ]
    return _table(["grade", "calibrated p", "rows", "mean predicted", "observed rate"], rows)


def _lift(y: np.ndarray | None, p: np.ndarray | None) -> str:
    rows = [
        [
            str(r["decile"]),
            _fmt(r["n"]),
            _fmt(r["mean_p"]),
            _fmt(r["observed"]),
            _fmt(r["lift"], ".2f"),
            f"{r['cumulative_share']:.1%}",
        ]
        for r in (lift_table(y, p) if y is not None and p is not None else [])
    ]
    header = ["decile (1 = highest p)", "rows", "mean predicted", "observed rate", "lift"]
    return _table([*header, "share of outcomes captured"], rows)


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


def render(
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
    window = metadata.get("training_window", {})
    top = sorted((importance or {}).items(), key=lambda kv: kv[1], reverse=True)
    importance_rows = [[html.escape(k), f"{v:,.1f}"] for k, v in top]
    decision = metrics.get("promotion") or metadata.get("promotion") or {}
    promoted = bool(decision.get("promote"))
    n_features = len(metadata.get("features", {}).get("columns", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(name)} {html.escape(version)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(name.replace("_", " ").capitalize())} model {html.escape(version)}</h1>
<p class="decision {"promoted" if promoted else "refused"}">
{html.escape(decision_in_words(decision, metrics)) if decision else "No promotion decision recorded."}</p>
<p>Target: {html.escape(str(metadata.get("target", "")))}. Trained as of
{html.escape(str(metadata.get("as_of")))}; validated out of time on
{html.escape(", ".join(window.get("valid_dates", [])))}; {_fitting(metrics, window)}.</p>
{_rows(metrics)}
<h2>LightGBM, the baseline and the oracle on the validation rows</h2>
{_comparison(metrics)}
<h2>Plots (validation rows)</h2>{plot_html}
<h2>Grades: calibration by band of calibrated p</h2>
<p class="note">The calibration plot's points, as numbers: a calibrated model's mean predicted
probability matches the observed rate in each band.</p>{_grades(metrics)}
<h2>Lift by score decile</h2>{_lift(y, p)}
<h2>Features ({n_features}) by importance</h2>
{_table(["feature", "total gain"], importance_rows)}
</body></html>
"""
