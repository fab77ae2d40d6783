"""The report model and its renderings: a `Report` of titled sections (lines, tables, charts,
links) with a verdict and headline tiles, rendered as a self-contained HTML page (inline CSS,
charts as inline PNG: no request leaves the machine), as Markdown (a Prefect artifact) and as
terminal text; and the index page that lists the days. It knows nothing of the warehouse:
daily_report.py fills the model.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, StrictUndefined

VERDICT_META = "debtflow-verdict"  # the index reads each day's verdict back from its page

# --- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]
    right: tuple[bool, ...]  # right-aligned (numeric) columns
    caption: str = ""
    hrefs: tuple[str | None, ...] = ()  # per row, a link for its first cell (HTML, Markdown)


@dataclass(frozen=True)
class Chart:
    png: bytes
    alt: str


@dataclass(frozen=True)
class Link:
    label: str
    target: str  # a local path or a URL


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    terminal: bool = True  # history sections stay out of `debtflow status`


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    note: str = ""
    tone: str = ""  # good | bad | warn


@dataclass(frozen=True)
class Report:
    as_of: str
    status: str
    verdict: str
    tiles: list[Tile]
    sections: list[Section]
    path: Path
    generated_at: str
    kind: str = "daily report"  # what the page's title says it is


def count(n: Any) -> str:
    return "-" if n is None or pd.isna(n) else f"{int(n):,}"


def money(amount: Any) -> str:
    """Two decimals: amounts are DECIMAL(18,2) sums, exact as float far beyond any book here."""
    return "-" if amount is None or pd.isna(amount) else f"{float(amount):,.2f}"


def share(part: Any, whole: Any) -> str:
    if whole is None or pd.isna(whole) or float(whole) == 0 or part is None or pd.isna(part):
        return "-"
    return f"{float(part) / float(whole):.1%}"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


# --- rendering: text ----------------------------------------------------------------------------


def _text_table(t: Table, indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(t.head, *t.rows, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            str(c).rjust(w) if r else str(c).ljust(w)
            for c, w, r in zip(cells, widths, t.right, strict=True)
        ]
        return (indent + "  ".join(parts)).rstrip()

    out = [indent + t.caption + ":"] if t.caption else []
    return [*out, line(t.head), *(line(r) for r in t.rows)]


def text(report: Report) -> str:
    """`debtflow status`: the verdict, then each section of the day as short lines."""
    out = [report.verdict, ""]
    for s in report.sections:
        if not s.terminal:
            continue
        out.append(s.title)
        out += [f"  {line}" for line in s.lines]
        for t in s.tables:
            out += _text_table(t)
        out += [f"  {link.label}: {link.target}" for link in s.links]
        out.append("")
    written = "" if report.path.exists() else " (written by the day's run)"
    out.append(f"The whole report, with charts: {report.path}{written}")
    return "\n".join(out) + "\n"


# --- rendering: Markdown (the Prefect artifact) -------------------------------------------------


def _md_cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    out = [f"*{t.caption}*", ""] if t.caption else []
    out.append("| " + " | ".join(map(_md_cell, t.head)) + " |")
    out.append("| " + " | ".join("---:" if r else "---" for r in t.right) + " |")
    for i, row in enumerate(t.rows):
        link = t.hrefs[i] if t.hrefs else None
        cells = [_md_cell(c) for c in row]
        if link:
            cells[0] = f"[{cells[0]}]({_url(link)})"
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


def _url(target: str) -> str:
    return target if "://" in target else f"file://{target}"


def markdown(report: Report) -> str:
    out = [f"## Daily run {report.as_of}: {report.status}", "", report.verdict, ""]
    out.append(f"Report: [{report.path}]({_url(str(report.path))})")
    out.append("")
    for s in report.sections:
        out += [f"### {s.title}", ""]
        out += [*s.lines, ""] if s.lines else []
        for t in s.tables:
            out += _md_table(t)
        out += [f"- {link.label}: [{link.target}]({_url(link.target)})" for link in s.links]
        if s.links:
            out.append("")
    return "\n".join(out) + "\n"


# --- rendering: HTML ----------------------------------------------------------------------------

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="{{ meta }}" content="{{ r.verdict }}">
<title>debtflow {{ r.kind }} {{ r.as_of }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;font-size:14px;color:#1b1b1b;max-width:64rem;margin:1.5rem auto;padding:0 1rem;line-height:1.4}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;border-bottom:1px solid #bbb;margin:2rem 0 .6rem;padding-bottom:.2rem}
.verdict{padding:.6rem .9rem;border-radius:4px;font-weight:600;margin:.6rem 0 1rem}
.completed{background:#e5f3e8;border-left:6px solid #2e7d32}.failed{background:#fbe4e4;border-left:6px solid #b71c1c}
.other{background:#fff4d6;border-left:6px solid #c79100}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(11.5rem,1fr));gap:.6rem;margin-bottom:.5rem}
.tile{border:1px solid #d6d6d6;border-radius:4px;padding:.5rem .7rem}
.tile .label{font-size:.75rem;color:#555;text-transform:uppercase;letter-spacing:.03em}
.tile .value{font-size:1.35rem;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile .note{font-size:.8rem;color:#444}
.tile.good{border-top:4px solid #2e7d32}.tile.bad{border-top:4px solid #b71c1c}.tile.warn{border-top:4px solid #c79100}
.tables{display:flex;flex-wrap:wrap;gap:0 2.5rem;align-items:flex-start}
h3{font-size:.85rem;margin:.7rem 0 .25rem;max-width:34rem}
table{border-collapse:collapse;margin:0 0 .8rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}
td:first-child{white-space:nowrap}th{background:#f0f0f0}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.bad{color:#b71c1c;font-weight:600}
img{max-width:100%;height:auto;display:block;margin:.4rem 0 1rem}
code{background:#f3f3f3;padding:0 .25rem;border-radius:3px}
p{margin:.3rem 0}.meta{color:#666;font-size:.8rem}
@media print{body{max-width:none;margin:0}h2{break-after:avoid}table,img,.tiles{break-inside:avoid}}
</style></head><body>
<p class="meta">debtflow {{ r.kind }}</p>
<h1>{{ r.as_of }}</h1>
<p class="verdict {{ r.status if r.status in ('completed', 'failed') else 'other' }}">{{ r.verdict }}</p>
<div class="tiles">{% for t in r.tiles %}
<div class="tile {{ t.tone }}"><div class="label">{{ t.label }}</div><div class="value">{{ t.value }}</div><div class="note">{{ t.note }}</div></div>{% endfor %}
</div>
{% for s in r.sections %}
<h2>{{ s.title }}</h2>
{% for line in s.lines %}<p>{{ line | code }}</p>
{% endfor %}{% if s.tables %}<div class="tables">{% for t in s.tables %}<div>{% if t.caption %}<h3>{{ t.caption }}</h3>{% endif %}<table>
<thead><tr>{% for h in t.head %}<th{% if t.right[loop.index0] %} class="n"{% endif %}>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}{% set link = t.hrefs[loop.index0] if t.hrefs else None %}<tr>{% for v in row %}<td{% if t.right[loop.index0] %} class="n"{% endif %}{% if v == "FAILED" %} class="bad"{% endif %}>{% if loop.first and link %}<a href="{{ href(link) }}">{{ v }}</a>{% else %}{{ v }}{% endif %}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
{% endfor %}</div>
{% endif %}{% for c in s.charts %}<img alt="{{ c.alt }}" src="data:image/png;base64,{{ c.png | b64 }}">
{% endfor %}{% if s.links %}<ul>{% for l in s.links %}<li><a href="{{ href(l.target) }}">{{ l.label }}</a></li>{% endfor %}</ul>
{% endif %}{% endfor %}
<p class="meta">Written {{ r.generated_at }}. Amounts are in their own currency and never added across currencies. No personal data: counts and amounts only.</p>
</body></html>
"""

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>debtflow reports</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;font-size:14px;color:#1b1b1b;max-width:64rem;margin:1.5rem auto;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.1rem;border-bottom:1px solid #bbb}
ul.days{list-style:none;padding:0}ul.days li{padding:.3rem .5rem;border-left:5px solid #c79100;margin:.25rem 0;background:#fafafa}
ul.days li.completed{border-color:#2e7d32}ul.days li.failed{border-color:#b71c1c;background:#fdf0f0}
a{color:#1a4f8b}
</style></head><body>
<h1>debtflow reports</h1>
<h2>Daily runs</h2>
{% if days %}<ul class="days">{% for d in days %}
<li class="{{ d.status }}"><a href="{{ d.href }}">{{ d.as_of }}</a> {{ d.verdict }}</li>{% endfor %}
</ul>{% else %}<p>No daily report yet.</p>{% endif %}
{% if others %}<h2>Other reports</h2><ul>{% for label, href in others %}<li><a href="{{ href }}">{{ label }}</a></li>{% endfor %}</ul>{% endif %}
</body></html>
"""


def _code(line: str):
    """`command` in a line as <code> (the rest escaped)."""
    from markupsafe import Markup, escape

    parts = re.split(r"`([^`]+)`", line)
    return Markup("").join(
        Markup(f"<code>{escape(p)}</code>") if i % 2 else escape(p) for i, p in enumerate(parts)
    )


@cache
def _env() -> Environment:
    env = Environment(autoescape=True, undefined=StrictUndefined)
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    env.filters["code"] = _code
    return env


def relative(target: str, start: Path) -> str:
    """A link that still works when the reports folder is copied (relative), or the URL."""
    if "://" in target:
        return target
    return Path(os.path.relpath(target, start)).as_posix()


def render_html(report: Report) -> str:
    start = report.path.parent
    return (
        _env()
        .from_string(HTML)
        .render(r=report, meta=VERDICT_META, href=lambda target: relative(target, start))
    )


def render_index(days: list[dict], others: list[tuple[str, str]]) -> str:
    """days: {as_of, href, verdict, status} newest first; others: (label, href) of other reports."""
    return _env().from_string(INDEX_HTML).render(days=days, others=others)
