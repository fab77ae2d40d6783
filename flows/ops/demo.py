"""`debtflow demo`: the whole platform on a simulated billing world, with a summary at the end.

Re-running reuses what exists: the same world is not simulated again, loaded batches are skipped
and an existing champion model is kept.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import TextIO

from debtflow.flows.build import transform
from debtflow.flows.core.runtime import timed
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import row_counts, session
from debtflow.flows.ingest import ingest
from debtflow.flows.ops import daily_report
from debtflow.flows.simulation.simulation import simulate
from debtflow.flows.tape import pseudonym, tape
from debtflow.models import late_payment, registry, train


def _world(settings: Settings, debtors: int, months: int, seed: int) -> dict:
    params = {
        "debtors": debtors,
        "months": months,
        "seed": seed,
        "end_date": settings.today().isoformat(),
    }
    marker = settings.root / "demo-world.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        return {"reused": True, **params}
    summary = simulate(debtors, months, seed, settings.root, settings.today())
    marker.write_text(json.dumps(params))
    return summary


def demo(
    settings: Settings, debtors: int, months: int, seed: int, out: TextIO | None = None
) -> dict:
    """Run it all; print the summary on `out` (stdout); return rows, metrics and seconds."""
    from debtflow.flows.daily import daily  # imports Prefect: after configure_prefect

    as_of = settings.today()
    timings: dict[str, float] = {}
    with timed("simulate", timings):
        _world(settings, debtors, months, seed)
    with timed("load", timings):
        ingest.ingest(settings, as_of)
        transform.build(settings, as_of)
    with timed("train", timings):
        truth = settings.root / "truth"
        if registry.champion_version(settings) is None:
            train.train(settings, as_of, truth)
        if registry.champion_version(settings, late_payment.NAME) is None:
            late_payment.train_model(settings, as_of, truth)
    with timed("daily_run", timings):
        result = daily(as_of)
    with timed("tape", timings), session(settings) as con:
        if settings.pseudonym_key is None:
            pseudonym.make_demo_key(settings)  # the demo's own random key, in its home
        tapes = tape.build(con, settings, as_of)
    report = daily_report.write(settings, as_of)  # again: the day's report shows the tapes too
    with session(settings) as con:
        counts = row_counts(con)
    metrics = {
        name: registry.load_metrics(settings, registry.champion_version(settings, name), name)
        for name in (registry.NAME, late_payment.NAME)
    }
    print_summary(settings, as_of, counts, metrics, result, tapes, timings, out or sys.stdout)
    return {"report": str(report.path), "rows": counts, "metrics": metrics, "seconds": timings}


def print_summary(settings, as_of, counts, metrics, result, tapes, timings, out: TextIO) -> None:
    line = "-" * 60
    say = partial(print, file=out)
    say(f"\n{line}\ndebtflow demo, as of {as_of}\n{line}")
    for table, n in counts.items():
        say(f"  {table:<40} {n:>12,}")
    say(line)
    say("  out-of-time backtest       ROC AUC (oracle)     Brier (oracle)")
    for name, m in metrics.items():
        if m:
            say(
                f"  {name:<24} {m['roc_auc']:>8.3f} ({m.get('oracle_roc_auc') or float('nan'):.3f})"
                f" {m['brier']:>10.4f} ({m.get('oracle_brier') or float('nan'):.4f})"
            )
    planned = result["stages"]["dunning"]["planned"]
    say(f"  dunning messages planned today          {planned['planned_total']:>12,}")
    for t in tapes:
        say(f"  tape {t.tape_id:<34} {t.manifest['receivables']:>12,} receivables")
    if not tapes:
        say("  tape                                    nothing unresolved long enough to sell")
    say(line)
    for stage, seconds in {**timings, **result["seconds"]}.items():
        say(f"  seconds {stage:<31} {seconds:>12.1f}")
    say(line)
    say(f"  warehouse: {settings.warehouse_path}")
    say(f"  the day:   {daily_report.report_path(settings, as_of)}")
    say(f"  reports:   {settings.reports_dir}   models: {settings.registry_dir}")
    say(f"  outbox:    {settings.outbox_dir}")
    say(f"  query it:  duckdb -readonly {settings.warehouse_path}\n")
