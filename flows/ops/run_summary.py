"""The daily run's digests: what each stage did, as counts (rows loaded, suites and failures,
dbt nodes, debtors scored, messages planned and sent), and the rows of the run's stage and model
tables that the daily report (daily_report.py) shows in HTML, Markdown and the terminal. Counts
only: no personal data.
"""

from __future__ import annotations

from typing import Any

STAGES = ("ingest", "validate_raw", "transform", "validate_marts", "score", "dunning", "publish")


def ingest_digest(results: list) -> dict:
    files = [f for r in results for f in r.files]
    return {
        "batches_loaded": sum(r.status == "loaded" for r in results),
        "batches_skipped": sum(r.status != "loaded" for r in results),
        "rows_loaded": sum(f.rows_loaded for f in files),
        "rows_quarantined": sum(f.rows_quarantined for f in files),
        "rows_held": sum(f.rows_held for f in files),
        "rows_released": sum(r.released for r in results),
    }


def validation_digest(results: list) -> dict:
    return {
        "suites": len(results),
        "rows": sum(r.rows for r in results),
        "blocking_failures": sum(len(r.failed) for r in results),
        "warnings": sum(len(r.warnings) for r in results),
        "quality_page": next((r.quality_page for r in reversed(results) if r.quality_page), None),
    }


def transform_digest(nodes: dict[str, dict]) -> dict:
    """Counts per dbt resource type, and rows of the marts the later stages read."""
    kinds: dict[str, int] = {}
    for unique_id in nodes:
        kind = unique_id.split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    marts = {
        uid.rsplit(".", 1)[-1]: n["rows"]
        for uid, n in nodes.items()
        if uid.startswith("model.") and isinstance(n.get("rows"), int)
    }
    return {"nodes": kinds, "rows": marts}


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ("" if value is None else str(value))


def _ingest(s: dict) -> tuple[str, str]:
    return f"{s['rows_loaded']:,} loaded", (
        f"{s['batches_loaded']} batches loaded, {s['batches_skipped']} already loaded; "
        f"{s['rows_quarantined']:,} quarantined, {s['rows_held']:,} held, "
        f"{s['rows_released']:,} released"
    )


def _validation(s: dict) -> tuple[str, str]:
    return f"{s['rows']:,} validated", (
        f"{s['suites']} suites, {s['blocking_failures']} blocking failures, "
        f"{s['warnings']} warnings"
    )


def _transform(s: dict) -> tuple[str, str]:
    features = s["rows"].get("debtor_features")
    rows = f"{features:,} debtor features" if features is not None else ""
    return rows, ", ".join(f"{n} {k}s" for k, n in sorted(s["nodes"].items()))


def _score(s: dict) -> tuple[str, str]:
    late = s.get("late_payment")
    detail = s.get("skipped") or f"{s['rows_with_reasons']:,} with reason codes" + (
        f"; {late['rows']:,} invoices late-payment scored" if late else ""
    )
    return f"{s['rows']:,} debtors scored", detail


def _dunning(s: dict) -> tuple[str, str]:
    plan, sent = s["planned"], s["sent"]
    outbox = sent["outbox_only"]
    return f"{plan['planned_total']:,} planned", (
        f"{sent['sent']:,} sent, {sum(sent['waiting'].values()):,} waiting for their "
        f"sending window, {plan['carried_over']:,} carried over; "
        f"{plan['already_planned']:,} already planned"
        + (f"; outbox only (not configured): {', '.join(outbox)}" if outbox else "")
    )


def _publish(s: dict) -> tuple[str, str]:
    return f"{len(s['marts'])} marts", str(s["target"])


DETAIL = {
    "ingest": _ingest,
    "validate_raw": _validation,
    "transform": _transform,
    "validate_marts": _validation,
    "score": _score,
    "dunning": _dunning,
    "publish": _publish,
}


def stage_rows(run: dict) -> list[tuple[str, str, str, str]]:
    """(stage, seconds, rows, detail) per stage of a run record ({stages, seconds, cached,
    failed_stage}): what each stage did, FAILED for the one that stopped the run, "not run" for
    those after it."""
    stages, seconds = run.get("stages") or {}, run.get("seconds") or {}
    cached, failed = set(run.get("cached") or []), run.get("failed_stage")
    rows = []
    for name in STAGES:
        label = name.replace("_", "-") + (" (cached)" if name in cached else "")
        took = "" if seconds.get(name) is None else f"{seconds[name]:.1f}"
        if name in stages:
            rows.append((label, took, *DETAIL[name](stages[name])))
        elif name == failed:
            rows.append((label, took, "", "FAILED"))
        else:
            rows.append((label, "", "", "not run"))
    return rows


def model_rows(score: dict) -> list[tuple[str, str, str, str, str, str]]:
    """(model, version, rows scored, score PSI, max feature PSI, drift warnings) per model the
    score stage ran."""
    models = [("collectability", score)] + (
        [("late_payment", score["late_payment"])] if "late_payment" in score else []
    )
    rows = []
    for name, m in models:
        drift = m.get("drift") or {}
        warnings = drift.get("warnings") or []
        rows.append(
            (name, m.get("model_version") or "none yet", _n(m.get("rows")),
             _psi(drift.get("score_psi")), _psi(drift.get("max_feature_psi")),
             "; ".join(warnings[:3]) or "none")
        )  # fmt: skip
    return rows


def _psi(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else _n(value)
