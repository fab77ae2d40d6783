"""The daily report: what a business day's run did, for the people who did not watch it.

This module owns the report's content and its files: HOME/reports/daily/<as_of>.html (rendered
by report_render.py: self-contained, so it opens from disk, from S3 or attached to an e-mail),
the Markdown twin the daily flow publishes as its Prefect artifact, the text `debtflow status`
prints (all three from one `Report`), and HOME/reports/index.html, the days newest first with
each day's verdict.

The figures come from the warehouse (day_figures.py) and from the run's record in ops.run_log
(stage digests from run_summary.py, seconds, the stage that failed), so a report can be written
again for any day. Counts and amounts per currency only: no names, contact data or debtor ids.
"""

from __future__ import annotations

import html
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import built_as_of, session
from debtflow.flows.ops import day_figures as figures
from debtflow.flows.ops import run_log, run_summary
from debtflow.flows.ops.report_render import (
    VERDICT_META,
    Chart,
    Link,
    Report,
    Section,
    Table,
    Tile,
    count,
    money,
    plural,
    relative,
    render_html,
    render_index,
    share,
    text,
)

log = logging.getLogger(__name__)

INDEX = "index.html"
BATCHES_SHOWN = 12  # a first day can load hundreds of batches: the rest are counted


def report_path(settings: Settings, as_of: date) -> Path:
    return settings.reports_dir / "daily" / f"{as_of.isoformat()}.html"


def links(settings: Settings, stages: dict) -> dict[str, str | None]:
    """The reports and folders a run made or fed, by label (None when there is none)."""
    from debtflow.models import registry

    version = (stages.get("score") or {}).get("model_version")
    quality = next(
        (
            (stages.get(s) or {}).get("quality_page")
            for s in ("validate_marts", "validate_raw")
            if (stages.get(s) or {}).get("quality_page")
        ),
        None,
    )
    return {
        "Data quality (validation)": quality,
        "Model evaluation report": version and str(registry.report_path(settings, version)),
        "Published marts": (stages.get("publish") or {}).get("target"),
        "Outbox": str(settings.outbox_dir),
    }


def build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    as_of: date,
    run: dict | None = None,
    charts: bool = True,
) -> Report:
    """The day's report from the warehouse and the run's record (`run`, else ops.run_log's)."""
    logged = run_log.entry(con, as_of)
    if run is None:
        run = (logged or {}).get("summary") or {}
    status = run.get("status") or (logged or {}).get("status") or "not run"
    stages = run.get("stages") or {}
    built = built_as_of(con)
    batches = figures.day_batches(con, as_of)
    actions = figures.actions(con, as_of)
    day = _Day(as_of, status, run, stages, built, batches, actions)
    receivables = figures.receivables(con)
    sections = [
        *_failure(day, logged),
        _dunning(day, figures.suppressions(con, as_of)),
        _receivables(day, receivables, con, charts),
        _collections(day, con, charts),
        _channels(day, con, charts),
        _tapes(figures.tapes(con, as_of)),
        _data_in(day),
        _quality(day),
        _build(day),
        _models(day, settings, figures.scored(con, as_of)),
        _run(day, logged),
        _links(day, settings),
    ]
    return Report(
        as_of=as_of.isoformat(),
        status=status,
        verdict=verdict(day),
        tiles=_tiles(day, receivables),
        sections=sections,
        path=report_path(settings, as_of),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


@dataclass(frozen=True)
class _Day:
    as_of: date
    status: str
    run: dict
    stages: dict
    built: date | None  # the date the marts were built for
    batches: pd.DataFrame
    actions: pd.DataFrame

    def actions_in(self, *states: str) -> int:
        a = self.actions
        return int(a.loc[a["state"].isin(states), "actions"].sum()) if len(a) else 0

    @property
    def planned(self) -> int:
        return int(self.actions["actions"].sum()) if len(self.actions) else 0

    @property
    def marts_note(self) -> str:
        if self.built is None:
            return "The marts are not built yet."
        if self.built != self.as_of:
            return (
                f"The marts are built for {self.built}, not {self.as_of}: the receivables and "
                f"their history are as of {self.built}."
            )
        return ""


def verdict(day: _Day) -> str:
    """One line: how the run ended, what came in, what went out."""
    b = day.batches
    status = {"not run": "no daily run recorded"}.get(day.status, day.status)
    if day.status == "failed" and day.run.get("failed_stage"):
        status += f" at {day.run['failed_stage'].replace('_', '-')}"
    quarantined = int(b["rows_quarantined"].sum()) if len(b) else 0
    return (
        f"{day.as_of}: {status}; {plural(len(b), 'batch', 'batches')} loaded, "
        f"{plural(quarantined, 'row')} quarantined; {plural(day.planned, 'action')} planned, "
        f"{day.actions_in('sent'):,} sent, {day.actions_in('failed'):,} failed"
    )


def _tiles(day: _Day, receivables: pd.DataFrame) -> list[Tile]:
    b = day.batches
    quarantined = int(b["rows_quarantined"].sum()) if len(b) else 0
    failed = day.actions_in("failed")
    waiting = day.actions_in("planned", "sending")
    stopped = (day.run.get("failed_stage") or "").replace("_", "-")
    tiles = [
        Tile(
            "Run",
            day.status,
            f"stopped at {stopped}" if stopped else "",
            {"completed": "good", "failed": "bad"}.get(day.status, "warn"),
        ),
        Tile(
            "Rows loaded",
            count(b["rows_loaded"].sum() if len(b) else 0),
            f"{plural(len(b), 'batch', 'batches')}, {quarantined:,} quarantined",
            "warn" if quarantined else "",
        ),
        Tile(
            "Actions today",
            f"{day.planned:,}",
            f"{day.actions_in('sent'):,} sent, {waiting:,} waiting, {failed:,} failed",
            "bad" if failed else "",
        ),
    ]
    for r in receivables.itertuples(index=False):
        tiles.append(
            Tile(
                f"Open receivables {r.currency}",
                money(r.open_balance),
                f"{money(r.overdue_balance)} overdue ({share(r.overdue_balance, r.open_balance)})",
            )
        )
    return tiles


# --- sections -----------------------------------------------------------------------------------


def _failure(day: _Day, logged: dict | None) -> list[Section]:
    if day.status != "failed":
        return []
    stage = (day.run.get("failed_stage") or "").replace("_", "-") or "an unknown stage"
    why = day.run.get("error") or [(logged or {}).get("message") or "no reason was recorded"]
    stages = run_summary.STAGES
    failed = day.run.get("failed_stage")
    after = stages[stages.index(failed) + 1 :] if failed in stages else ()
    lines = [f"The run stopped at {stage}.", *why]
    if after:
        lines.append(
            "Did not run: " + ", ".join(s.replace("_", "-") for s in after) + ". Fix the cause "
            f"and run `debtflow run daily --as-of {day.as_of}` again: finished stages are reused."
        )
    return [Section("What failed", lines)]


def _dunning(day: _Day, suppressed: pd.DataFrame) -> Section:
    a = day.actions
    if a.empty:
        lines = ["No dunning actions were planned for this day."]
        if day.status == "failed":
            lines.append("The run failed before or during the dunning stage.")
        tables = []
    else:
        lines = [
            f"{plural(day.planned, 'action')} planned: {day.actions_in('sent'):,} sent, "
            f"{day.actions_in('planned', 'sending'):,} waiting for their sending window, "
            f"{day.actions_in('failed'):,} failed."
        ]
        tables = [_by_step_and_channel(a), _by_country(a)]
    if not suppressed.empty:
        tables.append(
            Table(
                ("Reason", "Positions"),
                [(r.reason, count(r.positions)) for r in suppressed.itertuples(index=False)],
                (False, True),
                "Not dunned today, by reason (a position is a debtor's balance in one currency)",
            )
        )
    return Section("Dunning today", lines, tables)


def _by_step_and_channel(a: pd.DataFrame) -> Table:
    by = a.pivot_table(
        index=["step", "channel"], columns="state", values="actions", aggfunc="sum", fill_value=0
    )
    states = sorted(by.columns, key=figures.state_order)
    rest = [s for s in states if s not in ("planned", "sending", "sent", "failed")]
    rows = []
    keys = sorted(by.index, key=lambda k: (figures.step_order(k[0]), k[1]))
    for step, channel in keys:
        r = by.loc[(step, channel)]
        rows.append(
            (
                step,
                channel,
                count(r.sum()),
                count(r.get("planned", 0) + r.get("sending", 0)),
                count(r.get("sent", 0)),
                count(r.get("failed", 0)),
                ", ".join(f"{int(r[s]):,} {s}" for s in rest if r[s]) or "",
            )
        )
    head = ("Step", "Channel", "Actions", "Waiting", "Sent", "Failed", "Other")
    right = (False, False, True, True, True, True, False)
    if not rest:  # no action superseded, expired or recalled: no column for them
        head, right, rows = head[:-1], right[:-1], [r[:-1] for r in rows]
    return Table(head, rows, right, "Actions by step and channel, and how far they got")


def _by_country(a: pd.DataFrame) -> Table:
    by = (
        a.groupby(["country", "currency"], sort=True)[["actions", "amount_due", "fees"]]
        .sum()
        .reset_index()
    )
    rows = [
        (r.country, r.currency, count(r.actions), money(r.amount_due), money(r.fees))
        for r in by.itertuples(index=False)
    ]
    return Table(
        ("Country", "Currency", "Actions", "Amount due", "Fees"),
        rows,
        (False, False, True, True, True),
        "Actions by country, with the amounts they ask for in each currency",
    )


def _receivables(
    day: _Day, receivables: pd.DataFrame, con: duckdb.DuckDBPyConnection, charts: bool
) -> Section:
    if receivables.empty:
        return Section("Receivables", [day.marts_note or "No receivables in the marts yet."])
    at = day.built or day.as_of
    history = figures.aging_history(con, at)
    today = history[pd.to_datetime(history["point"]).dt.date == at] if len(history) else history
    monthly = figures.monthly(con)
    last = monthly.sort_values("month").groupby("currency").tail(1).set_index("currency")
    rows = []
    for r in receivables.itertuples(index=False):
        m = last.loc[r.currency] if r.currency in last.index else None
        rows.append(
            (
                r.currency,
                count(r.open_invoices),
                money(r.open_balance),
                money(r.overdue_balance),
                share(r.overdue_balance, r.open_balance),
                "-" if m is None or pd.isna(m["dso"]) else f"{m['dso']:.1f}",
                "-" if m is None or pd.isna(m["cei"]) else f"{m['cei']:.1f}%",
            )
        )
    head = ("Currency", "Open invoices", "Open balance", "Overdue", "Overdue share")
    tables = [
        Table(
            (*head, "DSO (last month)", "CEI (last month)"),
            rows,
            (False, True, True, True, True, True, True),
            f"Open receivables at {at}",
        )
    ]
    if len(today):
        pivot = today.pivot_table(
            index="currency", columns="bucket", values="amount", aggfunc="sum"
        )
        buckets = [b for b in figures.BUCKETS if b in pivot.columns]
        tables.append(
            Table(
                ("Currency", *buckets),
                [(cur, *(money(pivot.loc[cur, b]) for b in buckets)) for cur in pivot.index],
                (False, *(True for _ in buckets)),
                "Aging: open balance by days past due",
            )
        )
    sold = receivables["sold_balance"].astype(float)
    lines = [day.marts_note] if day.marts_note else []
    if (sold > 0).any():
        lines.append(
            "Open balance includes receivables sold to a buyer: "
            + ", ".join(
                f"{r.currency} {money(r.sold_balance)}"
                for r in receivables.itertuples(index=False)
                if r.sold_balance
            )
            + "."
        )
    out = []
    if charts:
        from debtflow.flows.ops import daily_charts

        png = daily_charts.aging(history)
        if png:
            out.append(
                Chart(png, "Open receivables by aging bucket at each month start, per currency")
            )
    return Section("Receivables", lines, tables, out)


def _collections(day: _Day, con: duckdb.DuckDBPyConnection, charts: bool) -> Section:
    monthly = figures.monthly(con)
    weekly = figures.weekly_collections(con, day.built or day.as_of)
    if monthly.empty and weekly.empty:
        return Section("Collections", ["No history in the marts yet."], terminal=False)
    recent = monthly.sort_values("month").groupby("currency").tail(3)
    rows = [
        (
            r.currency,
            pd.Timestamp(r.month).strftime("%b %Y"),
            money(r.collected),
            money(r.closing_receivables),
            "-" if pd.isna(r.dso) else f"{r.dso:.1f}",
            "-" if pd.isna(r.cei) else f"{r.cei:.1f}%",
        )
        for r in recent.sort_values(["currency", "month"]).itertuples(index=False)
    ]
    table = Table(
        ("Currency", "Month", "Collected", "Closing receivables", "DSO (days)", "CEI"),
        rows,
        (False, False, True, True, True, True),
        "The last three whole months",
    )
    out = []
    if charts:
        from debtflow.flows.ops import daily_charts

        for png, alt in (
            (daily_charts.dso_and_cei(monthly), "DSO and CEI per month, per currency"),
            (daily_charts.collections(weekly), "Amount collected per week, per currency"),
        ):
            if png:
                out.append(Chart(png, alt))
    lines = [
        "DSO counts back through earlier months' invoicing until it covers the month's closing "
        "receivables; CEI is the share of what could be collected in the month that was. The "
        "last week of the weekly chart runs up to the day before."
    ]
    return Section("Collections", lines, [table], out, terminal=False)


def _channels(day: _Day, con: duckdb.DuckDBPyConnection, charts: bool) -> Section:
    results = figures.channel_results(con)
    if results.empty:
        return Section("Channels", ["No contacts in the marts yet."], terminal=False)
    rows = [
        (
            r.channel,
            count(r.sent),
            count(r.contacted),
            "-" if pd.isna(r.paid_7d_rate) else f"{r.paid_7d_rate:.1%}",
            "-" if pd.isna(r.paid_14d_rate) else f"{r.paid_14d_rate:.1%}",
        )
        for r in results.itertuples(index=False)
    ]
    table = Table(
        ("Channel", "Contacts sent", "Debtors contacted", "Paid within 7 days", "14 days"),
        rows,
        (False, True, True, True, True),
        "Every contact before the day, all steps and variants pooled (marts.channel_performance)",
    )
    out = []
    if charts:
        from debtflow.flows.ops import daily_charts

        png = daily_charts.channels(results)
        if png:
            out.append(Chart(png, "Contacts sent and pay rates per channel"))
    return Section("Channels", [], [table], out, terminal=False)


def _tapes(tapes: list[dict]) -> Section:
    if not tapes:
        return Section("Sale tapes", ["No sale tape was made on this day."])
    rows = [
        (
            t["tape_id"],
            t["kind"],
            t["pool"] or "-",
            t["state"],
            count(t["receivables"]),
            "; ".join(f"{cur} {money(v)}" for cur, v in t["face_value"].items()) or "-",
        )
        for t in tapes
    ]
    hrefs = tuple(
        os.path.join(t["url"], "report.html")
        if t["url"] and ("://" in t["url"] or Path(t["url"], "report.html").exists())
        else None
        for t in tapes
    )
    table = Table(
        ("Tape", "Kind", "Pool", "State", "Receivables", "Face value"),
        rows,
        (False, False, False, False, True, True),
        hrefs=hrefs,
    )
    return Section("Sale tapes", [f"{plural(len(tapes), 'tape')} made on this day."], [table])


def _data_in(day: _Day) -> Section:
    b = day.batches
    ingest = day.stages.get("ingest")
    lines = []
    if b.empty:
        lines.append(f"No landing batch for {day.as_of} (batch ids {day.as_of}THHMM).")
    else:
        lines.append(
            f"{plural(len(b), 'batch', 'batches')} of {day.as_of}, {plural(int(b['files'].sum()), 'file')}: "
            f"{count(b['rows_loaded'].sum())} rows loaded, {count(b['rows_quarantined'].sum())} "
            f"quarantined, {count(b['rows_held'].sum())} held until their debtor arrives."
        )
    bad = b[b["rows_quarantined"] > 0] if len(b) else b
    for r in bad.itertuples(index=False):
        lines.append(
            f"{r.rows_quarantined:,} rows of batch {r.batch_id} are quarantined: see them with "
            f"`debtflow quarantine list --batch {r.batch_id}`."
        )
    if ingest:
        lines.append(
            f"This run loaded {plural(ingest['batches_loaded'], 'batch', 'batches')} "
            f"({ingest['rows_loaded']:,} rows; {ingest['batches_skipped']:,} already loaded) and "
            f"released {ingest['rows_released']:,} held rows."
        )
    shown = b.tail(BATCHES_SHOWN)
    rows = [
        (r.batch_id, count(r.files), count(r.rows_read), count(r.rows_loaded),
         count(r.rows_quarantined), count(r.rows_held))
        for r in shown.itertuples(index=False)
    ]  # fmt: skip
    tables = []
    if rows:
        caption = "" if len(b) <= BATCHES_SHOWN else f"The last {BATCHES_SHOWN} of {len(b):,}"
        tables.append(
            Table(
                ("Batch", "Files", "Rows read", "Loaded", "Quarantined", "Held"),
                rows,
                (False, True, True, True, True, True),
                caption,
            )
        )
    return Section("Data in", lines, tables)


def _quality(day: _Day) -> Section:
    lines = []
    for stage, title in (("validate_raw", "Raw batches"), ("validate_marts", "Marts")):
        v = day.stages.get(stage)
        if v:
            state = "FAILED" if v["blocking_failures"] else "passed"
            lines.append(
                f"{title}: {state} ({plural(v['suites'], 'suite')} on {v['rows']:,} rows, "
                f"{plural(v['blocking_failures'], 'blocking failure')}, "
                f"{plural(v['warnings'], 'warning')})."
            )
        elif day.run.get("failed_stage") == stage:
            lines.append(f"{title}: FAILED: the gate stopped the run before scoring and dunning.")
        elif day.run:
            lines.append(f"{title}: not validated in this run.")
    if not lines:
        lines.append(
            f"No validation recorded for this day: `debtflow validate --as-of {day.as_of}` runs it."
        )
    return Section("Data quality", lines)


def _build(day: _Day) -> Section:
    t = day.stages.get("transform")
    seconds = (day.run.get("seconds") or {}).get("transform")
    if not t:
        built = f"the marts are built for {day.built}" if day.built else "the marts are not built"
        return Section("Build", [f"No build recorded for this day; {built}."])
    nodes = ", ".join(plural(n, kind.replace("_", " ")) for kind, n in sorted(t["nodes"].items()))
    took = "" if seconds is None else f" in {seconds:.1f} s"
    cached = " (reused: the marts were already built from the same data)" if t.get("cached") else ""
    features = t["rows"].get("debtor_features")
    lines = [f"dbt build: {nodes}{took}{cached}."]
    if features is not None:
        lines.append(f"{features:,} debtor feature rows.")
    return Section("Build", lines)


def _models(day: _Day, settings: Settings, scored: figures.Scored) -> Section:
    from debtflow.models import late_payment, registry

    champions = {
        "collectability": registry.champion_version(settings),
        "late_payment": registry.champion_version(settings, late_payment.NAME),
    }
    lines = [
        f"Collectability: {plural(scored.debtors, 'debtor')} scored"
        + (f" by {', '.join(scored.debtor_versions)}" if scored.debtor_versions else "")
        + f"; champion {champions['collectability'] or 'none yet'}.",
    ]
    if scored.invoices or champions["late_payment"]:
        lines.append(
            f"Late payment: {plural(scored.invoices, 'open invoice')} scored"
            + (f" by {', '.join(scored.invoice_versions)}" if scored.invoice_versions else "")
            + f"; champion {champions['late_payment'] or 'none yet'}."
        )
    score = day.stages.get("score")
    tables = []
    if score:
        if score.get("skipped"):
            lines.append(score["skipped"])
        models = {"collectability": score, "late_payment": score.get("late_payment") or {}}
        warned = {
            name: len((m.get("drift") or {}).get("warnings") or []) for name, m in models.items()
        }
        drift = [f"{plural(n, 'warning')} for {name}" for name, n in warned.items() if n]
        lines.append(
            "Drift: "
            + (
                ", ".join(drift) + " (PSI over 0.2 between the training and today's scored "
                "population); the table names the largest."
                if drift
                else "none: today's scored population looks like the training population."
            )
        )
        tables.append(
            Table(
                (
                    "Model",
                    "Version",
                    "Rows scored",
                    "Score PSI",
                    "Max feature PSI",
                    "Drift warnings",
                ),
                run_summary.model_rows(score),
                (False, False, True, True, True, False),
                "The models that scored the day, and how far today's population drifted",
            )
        )
    return Section("Models and drift", lines, tables)


def _run(day: _Day, logged: dict | None) -> Section:
    if not day.run:
        return Section("The run", ["No daily run recorded for this day."])
    seconds = day.run.get("seconds") or {}
    total = sum(v for v in seconds.values() if v)
    cached = day.run.get("cached") or []
    lines = [f"Total {total:.1f} s." + (f" Reused: {', '.join(cached)}." if cached else "")]
    if logged and logged.get("started_at"):
        lines[0] = f"Started {logged['started_at']:%Y-%m-%d %H:%M:%S} UTC. " + lines[0]
    table = Table(
        ("Stage", "Seconds", "Rows", "Detail"),
        run_summary.stage_rows(day.run),
        (False, True, True, False),
        "Seconds and rows per stage",
    )
    return Section("The run", lines, [table])


def _links(day: _Day, settings: Settings) -> Section:
    found = [
        Link(label, target)
        for label, target in links(settings, day.stages).items()
        if target and ("://" in target or Path(target).exists())
    ]
    return Section("Reports", links=[Link("All days", str(settings.reports_dir / INDEX)), *found])


# --- the files ----------------------------------------------------------------------------------


def write(settings: Settings, as_of: date, run: dict | None = None) -> Report:
    """Write HOME/reports/daily/<as_of>.html and rewrite the index; return the report."""
    with session(settings) as con:
        report = build(con, settings, as_of, run)
    report.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = report.path.with_suffix(".html.tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(report.path)  # a reader never sees half a page
    write_index(settings)
    return report


def refresh(settings: Settings, as_of: date) -> str | None:
    """Rewrite the day's report after a later send, when the daily run wrote one: the ledger
    has moved on. Never raises: a report is not worth failing the sends for."""
    if not report_path(settings, as_of).exists():
        return None
    try:
        return str(write(settings, as_of).path)
    except Exception as exc:  # the sends happened; the report can wait for the next run
        log.warning("the daily report for %s was not rewritten: %r", as_of, exc)
        return None


VERDICT = re.compile(rf'<meta name="{VERDICT_META}" content="([^"]*)">')
DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.html$")


def write_index(settings: Settings) -> Path:
    """HOME/reports/index.html: every daily report, newest first, with its verdict."""
    folder = settings.reports_dir / "daily"
    days = []
    for path in sorted(folder.glob("*.html"), reverse=True):
        if not DAY_FILE.match(path.name):
            continue
        found = VERDICT.search(path.read_text(encoding="utf-8", errors="replace")[:4000])
        line = html.unescape(found.group(1)) if found else ""
        status = line.split(";")[0].split(": ", 1)[-1].split(" ")[0] if line else ""
        as_of = path.stem
        days.append(
            {
                "as_of": as_of,
                "href": f"daily/{path.name}",
                "verdict": line.removeprefix(f"{as_of}: ").strip() or "(no verdict)",
                "status": status if status in ("completed", "failed") else "other",
            }
        )
    others = [
        (label, relative(str(path), settings.reports_dir))
        for label, path in (
            ("Data quality (validation)", settings.data_quality_dir / "index.html"),
            ("dbt docs", settings.reports_dir / "dbt_docs" / "index.html"),
        )
        if path.exists()
    ]
    index = settings.reports_dir / INDEX
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(render_index(days, others), encoding="utf-8")
    tmp.replace(index)
    return index


def status(settings: Settings, as_of: date | None = None) -> str:
    """`debtflow status`: the day's summary as text; default the last day a run was recorded
    for, else the date the marts were built for, else today."""
    with session(settings) as con:
        as_of = as_of or run_log.last_day(con) or built_as_of(con) or settings.today()
        return text(build(con, settings, as_of, charts=False))
