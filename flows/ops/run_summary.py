"""The daily run's summary: what each stage did, as a dict for the caller and as Markdown for
a Prefect artifact (rows and seconds per stage, validation, model and drift, messages per
channel, suppressions by reason, links to the reports). Counts only: no personal data.
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


def _row(*cells: Any) -> str:
    return "| " + " | ".join(_n(c).replace("|", "\\|") for c in cells) + " |"


def _stage_rows(s: dict, seconds: dict[str, float], cached: set[str]) -> list[str]:
    ing, raw, tr, marts = s["ingest"], s["validate_raw"], s["transform"], s["validate_marts"]
    score, dun, pub = s["score"], s["dunning"], s["publish"]
    plan, sent = dun["planned"], dun["sent"]
    features = tr["rows"].get("debtor_features")
    lines = [
        _row("ingest", seconds.get("ingest"), f"{ing['rows_loaded']:,} loaded",
             f"{ing['batches_loaded']} batches loaded, {ing['batches_skipped']} already loaded; "
             f"{ing['rows_quarantined']:,} quarantined, {ing['rows_held']:,} held, "
             f"{ing['rows_released']:,} released"),
        _row("validate-raw", seconds.get("validate_raw"), f"{raw['rows']:,} validated",
             f"{raw['suites']} suites, {raw['blocking_failures']} blocking failures, "
             f"{raw['warnings']} warnings"),
        _row("transform", seconds.get("transform"),
             f"{features:,} debtor features" if features is not None else "",
             ", ".join(f"{n} {k}s" for k, n in sorted(tr["nodes"].items()))),
        _row("validate-marts", seconds.get("validate_marts"), f"{marts['rows']:,} validated",
             f"{marts['suites']} suites, {marts['blocking_failures']} blocking failures, "
             f"{marts['warnings']} warnings"),
        _row("score", seconds.get("score"), f"{score['rows']:,} debtors scored",
             score.get("skipped") or f"{score['rows_with_reasons']:,} with reason codes"
             + (f"; {score['late_payment']['rows']:,} invoices late-payment scored"
                if "late_payment" in score else "")),
        _row("dunning", seconds.get("dunning"), f"{plan['planned_total']:,} planned",
             f"{sent['sent']:,} sent, {sum(sent['waiting'].values()):,} waiting for their "
             f"sending window, {plan['carried_over']:,} carried over; "
             f"{plan['already_planned']:,} already planned"
             + (f"; outbox only (not configured): {', '.join(sent['outbox_only'])}"
                if sent["outbox_only"] else "")),
        _row("publish", seconds.get("publish"), f"{len(pub['marts'])} marts", pub["target"]),
    ]  # fmt: skip
    return [
        line.replace(" |", " (cached) |", 1) if name in cached else line
        for name, line in zip(STAGES, lines, strict=True)
    ]


def _model_rows(score: dict) -> list[str]:
    models = [("collectability", score)] + (
        [("late_payment", score["late_payment"])] if "late_payment" in score else []
    )
    lines = []
    for name, m in models:
        drift = m.get("drift") or {}
        warnings = drift.get("warnings") or []
        lines.append(
            _row(name, m["model_version"] or "none yet", m["rows"], drift.get("score_psi"),
                 drift.get("max_feature_psi"), "; ".join(warnings[:3]) or "none")
        )  # fmt: skip
    return lines


def markdown(as_of: str, status: str, summary: dict, seconds: dict[str, float]) -> str:
    stages = summary["stages"]
    cached = set(summary.get("cached", []))
    total = sum(v for v in seconds.values() if v)
    lines = [
        f"## Daily run {as_of}: {status}",
        "",
        f"Total {total:.1f} s."
        + (f" Cached stages: {', '.join(sorted(cached))}." if cached else ""),
        "",
        "| stage | seconds | rows | detail |",
        "| --- | ---: | ---: | --- |",
        *_stage_rows(stages, seconds, cached),
        "",
        "### Models and drift",
        "",
        "| model | version | rows scored | score PSI | max feature PSI | drift warnings |",
        "| --- | --- | ---: | ---: | ---: | --- |",
        *_model_rows(stages["score"]),
        "",
        "### Messages per channel",
        "",
        "| step | channel | planned |",
        "| --- | --- | ---: |",
    ]
    planned = stages["dunning"]["planned"]["planned"]
    lines += [_row(step, ch, n) for step, chans in planned.items() for ch, n in chans.items()]
    if not planned:
        lines.append("| (none) | | 0 |")
    lines += ["", "### Suppressions by reason", "", "| reason | positions |", "| --- | ---: |"]
    suppressed = stages["dunning"]["planned"]["suppressed"]
    lines += [_row(reason, n) for reason, n in suppressed.items()]
    lines += ["", "### Reports", ""]
    for label, target in summary.get("links", {}).items():
        if target:
            lines.append(f"- {label}: [{target}]({_url(target)})")
    return "\n".join(lines) + "\n"


def _url(target: str) -> str:
    return target if "://" in target else f"file://{target}"
