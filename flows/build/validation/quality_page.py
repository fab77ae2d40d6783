"""The data-quality pages, built from GX's stored validation results (settings.validation_results_dir)
into settings.data_quality_dir: `index.html` (the newest business day, and every day's verdict with
a link) and `days/<day>.html` (one day in full). Per run and suite: the verdict, and each
expectation with its severity, outcome, observed value and a sample of offending rows.

Each page is one HTML file with its styles inline and only relative links, so it opens from disk
with no network. A suite whose only failures are warning-level expectations "Passed with
warnings": GX marks that result unsuccessful, but the gate lets the run go on. `days.json` caches
each day's verdict, so a new run re-reads only its own day's results.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from debtflow.flows.build.validation.outcomes import outcome_of
from debtflow.flows.build.validation.results import ExpectationOutcome
from debtflow.flows.core.settings import Settings

PASSED, WARNED, FAILED = "Passed", "Passed with warnings", "Failed"
CSS_CLASS = {PASSED: "pass", WARNED: "warn", FAILED: "fail"}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_PART = re.compile(r"-part(\d+)of(\d+)$")


@dataclass(frozen=True)
class Stored:
    """One stored result file: results_dir/<suite>/<run name>/<run time>/<batch>.json."""

    path: Path
    suite: str
    run_name: str
    run_time: datetime

    @property
    def day(self) -> date:
        return day_of(self.run_name, self.run_time)

    @property
    def run(self) -> str:
        """The run a part belongs to (a big table is validated in parts)."""
        return _PART.sub("", self.run_name)


@dataclass
class Check:
    outcome: ExpectationOutcome
    text: str  # what is expected, in words
    why: str
    observed: str


@dataclass
class SuiteRun:
    stored: Stored
    rows: int | None
    checks: list[Check] = field(default_factory=list)
    earlier: int = 0  # older results of the same suite and run (re-runs of the day)

    @property
    def verdict(self) -> str:
        return verdict(c.outcome for c in self.checks)

    def count(self, status: str) -> int:
        return sum(_status(c.outcome) == status for c in self.checks)


def day_of(run_name: str, run_time: datetime) -> date:
    """The business date in the run name (raw-<batch id>, marts-<as_of>), else the run's."""
    found = _DAY.search(run_name)
    return date.fromisoformat(found.group()) if found else run_time.date()


def verdict(outcomes: Iterable[ExpectationOutcome]) -> str:
    """Failed if a blocking expectation failed, Passed with warnings if only others did."""
    failed = [o for o in outcomes if not o.success]
    if any(o.blocking for o in failed):
        return FAILED
    return WARNED if failed else PASSED


def _status(o: ExpectationOutcome) -> str:
    if o.success:
        return "passed"
    return "failed" if o.blocking else "warning"


def stored_results(results_dir: Path) -> list[Stored]:
    found = []
    for path in results_dir.glob("*/*/*/*.json"):
        run_dir = path.parent
        try:
            run_time = datetime.strptime(run_dir.name, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            continue
        found.append(Stored(path, run_dir.parent.parent.name, run_dir.parent.name, run_time))
    return sorted(found, key=lambda s: s.run_time)


def load(stored: Stored) -> SuiteRun:
    data = json.loads(stored.path.read_text())
    run = SuiteRun(stored, rows=None)
    for r in data.get("results", []):
        config = r.get("expectation_config") or {}
        kwargs = config.get("kwargs") or {}
        res = r.get("result") or {}
        keys = res.get("unexpected_index_column_names") or []
        o = outcome_of(
            config.get("type", "?"),
            kwargs,
            config.get("severity"),
            bool(r.get("success")),
            res,
            r.get("exception_info"),
            keys,
        )
        why = str((config.get("meta") or {}).get("why", ""))
        run.checks.append(Check(o, describe(o.expectation, kwargs), why, _observed(o, res)))
        counted = res.get("element_count", res.get("observed_value"))
        if isinstance(counted, int):
            run.rows = max(run.rows or 0, counted)
    return run


def day_runs(stored: list[Stored], day: date) -> list[SuiteRun]:
    """The newest result of each suite and run name of the day, in the order they ran."""
    newest: dict[tuple[str, str], list[Stored]] = {}
    for s in stored:
        if s.day == day:
            newest.setdefault((s.suite, s.run_name), []).append(s)
    runs = []
    for results in newest.values():
        run = load(results[-1])
        run.earlier = len(results) - 1
        runs.append(run)
    return sorted(runs, key=lambda r: r.stored.run_time)


# --- words ----------------------------------------------------------------------------------------


def _value(v: object) -> str:
    if isinstance(v, dict) and "$PARAMETER" in v:
        return f"${v['$PARAMETER']}"
    text = str(v)
    return text.removesuffix("T00:00:00")


def _range(kwargs: dict) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None and low == high:
        return f"= {_value(low)}"
    parts = []
    if low is not None:
        parts.append(f"{'>' if kwargs.get('strict_min') else '≥'} {_value(low)}")
    if high is not None:
        parts.append(f"{'<' if kwargs.get('strict_max') else '≤'} {_value(high)}")
    return " and ".join(parts) or "any value"


def describe(kind: str, kwargs: dict) -> str:
    """An expectation in words, e.g. 'amount > 0' or 'currency is one of EUR, NOK'."""
    column = kwargs.get("column", "")
    if kind == "expect_column_values_to_not_be_null":
        return f"{column} is never empty"
    if kind == "expect_column_values_to_be_unique":
        return f"{column} is unique"
    if kind == "expect_column_values_to_be_in_set":
        return f"{column} is one of {', '.join(map(str, kwargs.get('value_set') or []))}"
    if kind == "expect_column_values_to_match_regex":
        return f"{column} matches {kwargs.get('regex')}"
    if kind == "expect_column_values_to_be_between":
        return f"{column} {_range(kwargs)}"
    if kind == "expect_compound_columns_to_be_unique":
        return f"({', '.join(kwargs.get('column_list') or [])}) is unique"
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        op = "≥" if kwargs.get("or_equal") else ">"
        return f"{kwargs.get('column_A')} {op} {kwargs.get('column_B')}"
    if kind == "expect_table_row_count_to_be_between":
        return f"row count {_range(kwargs)}"
    columns = kwargs.get("column_list") or ([column] if column else [])
    words = kind.removeprefix("expect_").replace("_", " ")
    return f"{words} ({', '.join(columns)})" if columns else words


def _observed(o: ExpectationOutcome, res: dict) -> str:
    if o.error:
        return f"error: {o.error}"
    if "observed_value" in res:
        v = res["observed_value"]
        return f"{v:,}" if isinstance(v, int) else str(v)
    if o.unexpected_count is None:
        return ""
    missing = res.get("missing_count") or 0
    checked = max(0, (res.get("element_count") or 0) - missing)
    text = f"{o.unexpected_count:,} of {checked:,} unexpected"
    return f"{text} ({missing:,} empty, not checked)" if missing else text


# --- pages ----------------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2630;
background:#f5f6f8}
header{background:#1d2630;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c7cdd4}header a{color:#9cc7ff}
.layout{display:flex;gap:24px;padding:20px 24px;align-items:flex-start}
nav{flex:0 0 230px;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px}
nav h2{font-size:15px;margin:4px 0 8px}nav ul{list-style:none;margin:0;padding:0}
nav li{padding:3px 0;white-space:nowrap}nav small{color:#5b6670}
main{flex:1;min-width:0}
.verdict{border-radius:6px;padding:12px 16px;margin-bottom:18px;border:1px solid}
.verdict h2{margin:0 0 4px;font-size:20px}.verdict p{margin:4px 0}.verdict ul{margin:6px 0 0}
.pass{background:#e7f6ec;border-color:#9fd6b0}.warn{background:#fff5d9;border-color:#f0cd6e}
.fail{background:#fde8e8;border-color:#f0a3a3}
.badge{display:inline-block;border:1px solid;border-radius:10px;padding:0 9px;font-size:12px;
font-weight:600;vertical-align:middle;margin-left:6px}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px}
.dot.pass{background:#2f9e55}.dot.warn{background:#e0a800}.dot.fail{background:#d92d20}
.run{margin:22px 0 8px;font-size:17px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.run small{color:#5b6670;font-weight:400}
.suite{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px 14px;margin:10px 0}
.suite summary{cursor:pointer}.suite h3{display:inline;margin:0;font-size:16px}
.meta{display:block;color:#5b6670;margin:2px 0 8px 18px}
table{border-collapse:collapse;width:100%;table-layout:fixed;overflow-wrap:anywhere}
th,td{text-align:left;padding:4px 8px;border-top:1px solid #e8ebee;vertical-align:top}
th{font-size:12px;color:#5b6670;font-weight:600;border-top:0}
td.out{white-space:nowrap;font-weight:600}td.passed{color:#1e7b3c}td.warning{color:#8a6100}
td.failed{color:#b42318}.why{color:#5b6670;font-size:12px}code{font-size:12px}
tr.bad td{background:#fffaf0}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _page(title: str, subtitle: str, nav: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{subtitle}</p></header>"
        f'<div class="layout">{nav}<main>{body}</main></div></body></html>\n'
    )


def _badge(v: str) -> str:
    return f'<span class="badge {CSS_CLASS[v]}">{_e(v)}</span>'


def _counts(runs: list[SuiteRun]) -> dict[str, int]:
    return {
        "suites": len(runs),
        "expectations": sum(len(r.checks) for r in runs),
        "passed": sum(r.count("passed") for r in runs),
        "failed": sum(r.count("failed") for r in runs),
        "warnings": sum(r.count("warning") for r in runs),
    }


def _count_text(n: dict[str, int]) -> str:
    text = f"{n['expectations']} expectations: {n['passed']} passed"
    if n["failed"]:
        text += f", {n['failed']} failed"
    if n["warnings"]:
        text += f", {n['warnings']} warning{'s' * (n['warnings'] != 1)}"
    return text


def _day_html(day: date, runs: list[SuiteRun], tz: ZoneInfo) -> str:
    if not runs:
        return f"<p>No validation results for {day}.</p>"
    v = verdict(c.outcome for r in runs for c in r.checks)
    n = _counts(runs)
    problems = [
        f"<li><b>{_e(r.stored.suite)}</b> · {_status(c.outcome)}: {_e(c.text)}: "
        f"{_e(c.observed)}</li>"
        for r in runs
        for c in r.checks
        if not c.outcome.success
    ]
    out = [
        f'<section class="verdict {CSS_CLASS[v]}"><h2>{day}: {_e(v)}</h2>'
        f"<p>{n['suites']} suite{'s' * (n['suites'] != 1)}, {_count_text(n)}. "
        "A failed critical expectation stops the daily run; a warning is counted and shown "
        "but does not.</p>" + (f"<ul>{''.join(problems)}</ul>" if problems else "") + "</section>"
    ]
    by_run: dict[str, list[SuiteRun]] = {}
    for r in runs:
        by_run.setdefault(r.stored.run, []).append(r)
    for name, suites in by_run.items():
        what = "raw batches" if name.startswith("raw-") else "marts" if "marts" in name else "run"
        out.append(
            f'<h2 class="run">Run {_e(name)} <small>{what} · {len(suites)} '
            f"suite{'s' * (len(suites) != 1)}</small></h2>"
        )
        out += [_suite_html(r, tz) for r in suites]
    return "\n".join(out)


def _suite_html(run: SuiteRun, tz: ZoneInfo) -> str:
    s = run.stored
    part = _PART.search(s.run_name)
    title = _e(s.suite) + (f" (part {part[1]} of {part[2]})" if part else "")
    when = s.run_time.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    rows = f"{run.rows:,} rows · " if run.rows is not None else ""
    earlier = f" · {run.earlier} earlier result(s) of this run not shown" if run.earlier else ""
    lines = []
    for c in run.checks:
        o, status = c.outcome, _status(c.outcome)
        sample = "; ".join(
            p
            for p in (
                f"keys {', '.join(o.sample_keys)}" if o.sample_keys else "",
                f"values {', '.join(o.sample_values)}" if o.sample_values else "",
            )
            if p
        )
        why = f'<div class="why">{_e(c.why)}</div>' if c.why else ""
        lines.append(
            f'<tr class="{"" if o.success else "bad"}">'
            f'<td title="{_e(o.expectation)}">{_e(c.text)}{why}</td><td>{_e(o.severity)}</td>'
            f'<td class="out {status}">{status}</td><td>{_e(c.observed)}</td>'
            f"<td><code>{_e(sample)}</code></td></tr>"
        )
    n = _counts([run])
    # a passed suite starts folded: the day's problems are what a reader looks for first
    return (
        f'<details class="suite"{" open" * (run.verdict != PASSED)}><summary>'
        f"<h3>{title} {_badge(run.verdict)}</h3>"
        f'<span class="meta">{rows}validated {when} · {_count_text(n)}{earlier}</span></summary>'
        '<table><colgroup><col style="width:38%"><col style="width:9%"><col style="width:9%">'
        '<col style="width:21%"><col style="width:23%"></colgroup>'
        "<thead><tr><th>Expectation</th><th>Severity</th><th>Outcome</th>"
        "<th>Observed</th><th>Offending rows (sample)</th></tr></thead><tbody>"
        + "".join(lines)
        + "</tbody></table></details>"
    )


def _nav(days: dict[str, dict], prefix: str, current: str | None) -> str:
    items = []
    for day in sorted(days, reverse=True):
        v = days[day]["verdict"]
        label = f"<b>{day}</b>" if day == current else day
        items.append(
            f'<li><span class="dot {CSS_CLASS[v]}" title="{_e(v)}"></span>'
            f'<a href="{prefix}{day}.html">{label}</a> <small>{_e(v)}</small></li>'
        )
    return f"<nav><h2>Days</h2><ul>{''.join(items) or '<li>none yet</li>'}</ul></nav>"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic: a reader never sees half a page


def write(settings: Settings, day: date | None = None) -> Path:
    """Rebuild `day`'s page (default: every day not in the cache) and the index; return the
    day's page, or the index when no day is given."""
    out = settings.data_quality_dir
    stored = stored_results(settings.validation_results_dir)
    cache_file = out / "days.json"
    try:
        days: dict[str, dict] = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        days = {}
    present = {str(s.day) for s in stored}
    days = {d: v for d, v in days.items() if d in present}
    todo = {date.fromisoformat(d) for d in present - days.keys()}
    if day is not None:
        todo.add(day)
    tz = ZoneInfo(settings.timezone)
    built = datetime.now(tz).strftime("%Y-%m-%d %H:%M")
    subtitle = (
        "Great Expectations results of the raw-batch and mart gates, by business date · "
        f"built {built} from reports/validations"
    )
    rendered: dict[date, str] = {}
    for d in sorted(todo):
        runs = day_runs(stored, d)
        if runs:
            days[str(d)] = {"verdict": verdict(c.outcome for r in runs for c in r.checks)}
            days[str(d)].update(_counts(runs))
        rendered[d] = _day_html(d, runs, tz)
        back = '<nav><a href="../index.html">← all days</a></nav>'
        _write(
            out / "days" / f"{d}.html", _page(f"Data quality · {d}", subtitle, back, rendered[d])
        )
    _write(cache_file, json.dumps(days, indent=1, sort_keys=True))
    newest = max(days, default=None)
    if newest is None:
        body = "<p>No validation results yet: the daily run and `debtflow validate` add them.</p>"
    else:
        d = date.fromisoformat(newest)
        body = rendered.get(d) or _day_html(d, day_runs(stored, d), tz)
    nav = _nav(days, "days/", newest)
    _write(out / "index.html", _page("Data quality", subtitle, nav, body))
    return out / "days" / f"{day}.html" if day is not None else out / "index.html"
