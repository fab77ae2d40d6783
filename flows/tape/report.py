"""The sale tape's report: stratification tables (strats.csv), report.html and report.pdf.

This module owns the bands a bidder reads a tape in (balance, age since default, grade,
country, legal type, contactability, currency), the tables per currency and band, the 36-month
collections curve, and the two renderings of one report. Everything it writes is an aggregate:
no row of the tape, not even a pseudonym, reaches a file. Amounts are summed in integer cents
and never across currencies.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from fpdf import FPDF
from jinja2 import Environment, StrictUndefined
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from debtflow.flows.core.charts import DPI, png
from debtflow.flows.tape import dictionary

STRATS_FILE, HTML_FILE, PDF_FILE = "strats.csv", "report.html", "report.pdf"
DICTIONARY_FILE = "data_dictionary.csv"

BALANCE_EDGES = (0, 100, 250, 500, 1000, 2500, 5000)  # in the receivable's own currency
AGE_EDGES = (0, 6, 12, 18, 24, 36)  # whole months since default
GRADES = tuple(str(g) for g in range(1, 11))
CONTACT = ("email and phone", "email only", "phone only", "none")
UNSCORED, UNKNOWN = "unscored", "unknown"
LEGAL_TYPES = ("consumer", "business")
DIMENSIONS = {  # name -> title, in the order the report shows them
    "balance_band": "Balance band",
    "age_since_default": "Months since default",
    "grade": "Grade",
    "country": "Country",
    "legal_type": "Legal type",
    "contactability": "Contactability",
    "currency": "Currency",
}
COLUMNS = (
    "currency",
    "band",
    "receivables",
    "debtors",
    "face_value",
    "share_of_face",
    "avg_balance",
    "avg_days_past_due",
    "avg_p_collect",
    "repaid_36m",
)
MONEY = ("face_value", "avg_balance", "repaid_36m")


# --- stratification -----------------------------------------------------------------------------


def stratify(tape: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Stratification tables of a tape, one per dimension: balance_band, age_since_default,
    grade, country, legal_type, contactability, currency. Each table has one row per
    (currency, band) with: receivables (count), debtors (distinct counterparty_id), face_value
    (sum of total_balance), share_of_face (within the currency, 0..1), avg_balance,
    avg_days_past_due, avg_p_collect (mean of non-null), repaid_36m (sum repaid_total_36m).
    Amounts are never summed across currencies.

    Fixed bands (balance, age, grade, contactability) list every band, empty ones with zeros,
    so tapes compare row by row; the others list the values present."""
    frame = _measures(tape)
    return {
        name: _strat(frame, band, every_band) for name, (band, every_band) in _bands(tape).items()
    }


def _measures(tape: pd.DataFrame) -> pd.DataFrame:
    """The columns the tables aggregate, numeric once: amounts as integer cents."""
    return pd.DataFrame(
        {
            "currency": _text(tape["currency"]),
            "counterparty_id": tape["counterparty_id"],
            "face_cents": _cents(tape["total_balance"]),
            "days_past_due": pd.to_numeric(tape["days_past_due"], errors="coerce"),
            "p_collect": pd.to_numeric(tape["p_collect_30d"], errors="coerce"),
            "repaid_cents": _cents(tape["repaid_total_36m"]),
        },
        index=tape.index,
    )


def _bands(tape: pd.DataFrame) -> dict[str, tuple[pd.Categorical, bool]]:
    """Each dimension's band per row, and whether the table lists every band."""
    return {
        "balance_band": (_cut(_number(tape["total_balance"]), BALANCE_EDGES), True),
        "age_since_default": (_cut(_number(tape["months_since_default"]), AGE_EDGES), True),
        "grade": (_grade(tape["grade"]), True),
        "country": (_values(tape["country"]), False),
        "legal_type": (_values(tape["legal_type"], first=LEGAL_TYPES), False),
        "contactability": (_contact(tape["email_valid"], tape["phone_valid"]), True),
        "currency": (_values(tape["currency"]), False),
    }


def _labels(edges: Iterable[int]) -> list[str]:
    edges = list(edges)
    return [f"{lo}-{hi}" for lo, hi in zip(edges, edges[1:], strict=False)] + [f"{edges[-1]}+"]


def _cut(values: pd.Series, edges: tuple[int, ...]) -> pd.Categorical:
    # Bands are [lo, hi): a balance of exactly 100.00 is in 100-250, as a bidder reads "100-250".
    bands = pd.cut(values, [*edges, np.inf], right=False, labels=_labels(edges))
    return _or_unknown(pd.Categorical(bands), UNKNOWN)


def _grade(grades: pd.Series) -> pd.Categorical:
    labels = _number(grades).round().astype("Int64").astype("string").fillna(UNSCORED)
    # a grade outside 1..10 is "unknown" rather than dropped or passed off as unscored
    return _or_unknown(pd.Categorical(labels, categories=[*GRADES, UNSCORED]), UNKNOWN)


def _contact(email_valid: pd.Series, phone_valid: pd.Series) -> pd.Categorical:
    email, phone = _flag(email_valid), _flag(phone_valid)
    codes = np.select([email & phone, email, phone], [0, 1, 2], default=3)
    return pd.Categorical.from_codes(codes, categories=CONTACT)


def _values(values: pd.Series, first: tuple[str, ...] = ()) -> pd.Categorical:
    """The value itself as the band: known values first in their order, then A-Z, unknown last."""
    text = _text(values)
    seen = set(text.unique())
    rest = sorted(seen - set(first) - {UNKNOWN})
    order = [v for v in first if v in seen] + rest + ([UNKNOWN] if UNKNOWN in seen else [])
    return pd.Categorical(text, categories=order)


def _or_unknown(bands: pd.Categorical, label: str) -> pd.Categorical:
    if not bands.isna().any():
        return bands
    return bands.add_categories(label).fillna(label)


def _strat(frame: pd.DataFrame, band: pd.Categorical, every_band: bool) -> pd.DataFrame:
    grouped = frame.assign(band=band).groupby(["currency", "band"], observed=True, sort=True)
    table = grouped.agg(
        receivables=("face_cents", "size"),
        debtors=("counterparty_id", "nunique"),
        face_cents=("face_cents", "sum"),
        avg_days_past_due=("days_past_due", "mean"),
        avg_p_collect=("p_collect", "mean"),
        repaid_cents=("repaid_cents", "sum"),
    )
    if every_band:
        full = pd.MultiIndex.from_product(
            [sorted(frame["currency"].unique()), list(band.categories)], names=["currency", "band"]
        )
        table = table.reindex(full)
        counts = ["receivables", "debtors", "face_cents", "repaid_cents"]
        table[counts] = table[counts].fillna(0).astype("int64")
    in_currency = table["face_cents"].groupby(level="currency").transform("sum")
    table["face_value"] = table["face_cents"] / 100
    table["share_of_face"] = (table["face_cents"] / in_currency.where(in_currency != 0)).fillna(0.0)
    table["avg_balance"] = table["face_value"] / table["receivables"].where(
        table["receivables"] > 0
    )
    table["repaid_36m"] = table["repaid_cents"] / 100
    table = table.reset_index()
    table["band"] = table["band"].astype(str)
    return table[list(COLUMNS)]


def write_strats(strats: dict[str, pd.DataFrame], path: Path) -> None:
    """All tables in one CSV in long form (dimension, currency, band, figures); `path` is the
    file, or a folder to write strats.csv in."""
    path = Path(path)
    if path.is_dir():
        path = path / STRATS_FILE
    long = pd.concat(
        [table.assign(dimension=name) for name, table in strats.items()], ignore_index=True
    )
    out = long[["dimension", *COLUMNS]].copy()
    for column in MONEY:
        out[column] = out[column].map(lambda x: "" if pd.isna(x) else f"{x:.2f}")
    for column, places in (("share_of_face", 6), ("avg_days_past_due", 1), ("avg_p_collect", 4)):
        out[column] = out[column].map(lambda x, p=places: "" if pd.isna(x) else f"{x:.{p}f}")
    out.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


# --- collections curve --------------------------------------------------------------------------


def collections_curve(tape: pd.DataFrame) -> pd.DataFrame:
    """Per currency and month -36..-1 (-1 is repaid_m01, the last whole month before the
    cut-off): repaid in that month, and repaid since month -36 as a share of today's face
    value of the same receivables."""
    columns = dictionary.history_columns()
    currency = _text(tape["currency"])
    cents = pd.DataFrame({c: _cents(tape[c]) for c in columns}, index=tape.index)
    monthly = cents.groupby(currency, sort=True).sum()[columns[::-1]]  # oldest month first
    face = _cents(tape["total_balance"]).groupby(currency, sort=True).sum()
    months = [-int(c.removeprefix("repaid_m")) for c in monthly.columns]
    cumulative = monthly.cumsum(axis=1).div(face.where(face != 0), axis=0)
    curve = pd.DataFrame(
        {
            "currency": np.repeat(monthly.index.to_numpy(), len(months)),
            "month": np.tile(months, len(monthly)),
            "repaid": monthly.to_numpy().ravel() / 100,
            "cumulative_share": cumulative.to_numpy().ravel(),
        }
    )
    return curve


# --- shared conversions -------------------------------------------------------------------------


def _number(values: pd.Series) -> pd.Series:
    # Decimal, text and float columns alike (a tape read from CSV, DuckDB or built by hand)
    try:  # on Decimal objects four times faster than to_numeric
        return values.astype("float64")
    except (TypeError, ValueError):  # an empty string, pd.NA: missing
        return pd.to_numeric(values, errors="coerce").astype("float64")


def _cents(values: pd.Series) -> pd.Series:
    """Two-decimal amounts as int64 cents, so sums are exact; a missing amount counts 0."""
    return np.rint(_number(values).fillna(0.0) * 100).astype("int64")


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text.isna() | (text == ""), UNKNOWN).astype(str)


def _flag(values: pd.Series) -> np.ndarray:
    """True, 'true', 1 -> True; anything else, null included, is not a valid channel."""
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "t", "1", "yes", "y"]).to_numpy(dtype=bool)


# --- the report's content, shared by HTML and PDF -----------------------------------------------


@dataclass(frozen=True)
class Table:
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]
    right: tuple[bool, ...]  # right-aligned (numeric) columns
    total: bool = False  # the last row is a total


@dataclass(frozen=True)
class Block:
    """A titled table, e.g. one currency's rows of a dimension."""

    title: str
    table: Table


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block]
    chart: bytes | None = None  # PNG
    chart_alt: str = ""


@dataclass(frozen=True)
class Reconciliation:
    table: Table
    verdict: str
    ok: bool


@dataclass(frozen=True)
class Content:
    title: str
    as_of: str
    summary: Table
    selection: Table
    pools: Table
    reconciliation: Reconciliation
    strats: list[Section]
    collections: Section


def _content(tape: pd.DataFrame, manifest: dict, reconciliation: list[dict]) -> Content:
    strats = stratify(tape)
    totals = strats["currency"].set_index("band")
    return Content(
        title=f"Sale tape {manifest['tape_id']}",
        as_of=str(manifest["as_of"]),
        summary=_summary(manifest),
        selection=_selection(manifest.get("selection") or {}),
        pools=_pools(tape, manifest),
        reconciliation=_reconciliation(reconciliation, totals),
        strats=[_strat_section(name, strats[name], totals) for name in DIMENSIONS],
        collections=_collections_section(collections_curve(tape), totals),
    )


def _summary(manifest: dict) -> Table:
    totals = manifest.get("totals_by_currency") or {}
    rows = [
        ("Tape", str(manifest["tape_id"])),
        ("Kind", str(manifest.get("kind", ""))),
        ("Cut-off date (as of)", str(manifest["as_of"])),
        ("Pools", ", ".join(map(str, manifest.get("pools") or [])) or "-"),
        ("Receivables", _count(manifest.get("receivables"))),
        ("Debtors", _count(manifest.get("debtors"))),
        *((f"Face value {cur}", _money(totals[cur]["total_balance"])) for cur in sorted(totals)),
        ("Offered until", str(manifest.get("offered_until") or "-")),
        (
            "Model versions",
            ", ".join(manifest.get("model_versions") or []) or "none (not scored)",
        ),
        ("Created at", str(manifest.get("created_at", ""))),
    ]
    return Table(("Fact", "Value"), rows, (False, False))


def _selection(selection: dict) -> Table:
    rows = [(str(rule), _rule_value(value)) for rule, value in selection.items()]
    return Table(("Rule", "Value"), rows or [("(none)", "")], (False, False))


def _rule_value(value: object) -> str:
    if isinstance(value, list | tuple | set):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
    return str(value)


def _pools(tape: pd.DataFrame, manifest: dict) -> Table:
    frame = _measures(tape).assign(pool=_text(tape["pool"]))
    table = frame.groupby(["pool", "currency"], sort=True).agg(
        receivables=("face_cents", "size"),
        debtors=("counterparty_id", "nunique"),
        face_cents=("face_cents", "sum"),
        repaid_cents=("repaid_cents", "sum"),
    )
    rows = [
        (
            pool,
            cur,
            _count(r.receivables),
            _count(r.debtors),
            _cents_text(r.face_cents),
            _cents_text(r.repaid_cents),
        )
        for (pool, cur), r in table.iterrows()
    ]
    listed = {str(p) for p in manifest.get("pools") or []}
    rows += [
        (p, "-", "0", "0", "-", "-") for p in sorted(listed - set(table.index.get_level_values(0)))
    ]
    head = ("Pool", "Currency", "Receivables", "Debtors", "Face value", "Repaid 36m")
    return Table(head, rows, (False, False, True, True, True, True))


def _reconciliation(lines: list[dict], totals: pd.DataFrame) -> Reconciliation:
    """The supplied lines with a verdict each; a currency of the tape without a line is
    unverified, so it does not reconcile either."""
    rows, failed = [], []
    for line in sorted(lines, key=lambda r: str(r["currency"])):
        ok = _reconciles(line)
        if not ok:
            failed.append(str(line["currency"]))
        amounts = (line["tape_total"], line["warehouse_total"], line["difference"])
        verdict = "reconciles" if ok else "does NOT reconcile"
        rows.append(
            (str(line["currency"]), _count(line.get("receivables")), *map(_money, amounts), verdict)
        )
    missing = sorted(set(totals.index) - {str(line["currency"]) for line in lines})
    for currency in missing:
        t = totals.loc[currency]
        rows.append(
            (currency, _count(t.receivables), _amount(t.face_value), "-", "-", "does NOT reconcile")
        )
    failed += missing
    if failed:
        verdict = f"The tape does NOT reconcile with the warehouse in {', '.join(failed)}."
    elif not lines:
        verdict = "No reconciliation was supplied: the totals are NOT verified."
    else:
        verdict = "The tape reconciles with the warehouse in every currency."
    head = ("Currency", "Receivables", "Tape total", "Warehouse total", "Difference", "Verdict")
    table = Table(head, rows, (False, True, True, True, True, False))
    return Reconciliation(table, verdict, bool(lines) and not failed)


def _reconciles(line: dict) -> bool:
    """Both a zero difference and equal totals: a line whose difference was mis-stated fails."""
    try:
        tape_total, warehouse = _decimal(line["tape_total"]), _decimal(line["warehouse_total"])
        return _decimal(line["difference"]) == 0 and tape_total == warehouse
    except (InvalidOperation, TypeError, ValueError):
        return False


STRAT_HEAD = (
    "Band",
    "Receivables",
    "Debtors",
    "Face value",
    "Share",
    "Avg balance",
    "Avg DPD",
    "Avg p(30d)",
    "Repaid 36m",
)


def _strat_section(name: str, table: pd.DataFrame, totals: pd.DataFrame) -> Section:
    blocks = []
    for currency, rows in table.groupby("currency", sort=True):
        body = [_strat_row(r.band, r) for r in rows.itertuples(index=False)]
        body.append(_strat_row("Total", totals.loc[currency]))  # the currency's own row
        blocks.append(Block(currency, Table(STRAT_HEAD, body, (False,) + (True,) * 8, total=True)))
    title = DIMENSIONS[name]
    chart = _bar_chart(table, title)
    return Section(title, blocks, chart, f"Face value by {title.lower()}, per currency")


def _strat_row(band: str, r: object) -> tuple[str, ...]:
    return (
        str(band),
        _count(r.receivables),
        _count(r.debtors),
        _amount(r.face_value),
        f"{r.share_of_face:.1%}",
        _amount(r.avg_balance),
        "-" if pd.isna(r.avg_days_past_due) else f"{r.avg_days_past_due:,.0f}",
        "-" if pd.isna(r.avg_p_collect) else f"{r.avg_p_collect:.3f}",
        _amount(r.repaid_36m),
    )


def _collections_section(curve: pd.DataFrame, totals: pd.DataFrame) -> Section:
    head = (
        "Currency",
        "Months -36..-25",
        "Months -24..-13",
        "Months -12..-1",
        "Repaid 36m",
        "Face value",
        "Repaid / face",
    )
    rows = []
    for currency, months in curve.groupby("currency", sort=True):
        by_year = [
            months.loc[months["month"].between(lo, lo + 11), "repaid"].sum()
            for lo in (-36, -24, -12)
        ]
        repaid, face = sum(by_year), totals.loc[currency, "face_value"]
        share = months["cumulative_share"].iloc[-1]
        rows.append(
            (
                currency,
                *map(_amount, by_year),
                _amount(repaid),
                _amount(face),
                "-" if pd.isna(share) else f"{share:.1%}",
            )
        )
    table = Table(head, rows, (False,) + (True,) * 6)
    chart = _curve_chart(curve)
    return Section(
        "Collections curve",
        [Block("", table)],
        chart,
        "Repaid per month and cumulative share of face value, per currency",
    )


# --- formatting ---------------------------------------------------------------------------------


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value).strip())


def _money(value: object) -> str:
    try:
        return f"{_decimal(value):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def _amount(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:,.2f}"


def _cents_text(cents: int) -> str:
    return f"{Decimal(int(cents)).scaleb(-2):,.2f}"


def _count(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{int(value):,}"


# --- charts -------------------------------------------------------------------------------------

COLOUR, LINE_COLOUR = "#4a6fa5", "#c0504d"
CHART_WIDTH = 7.5  # inches: the PDF's text width at 110 dpi, and a readable HTML width


def _bar_chart(table: pd.DataFrame, title: str) -> bytes:
    """Face value by band, one panel per currency: amounts in different currencies never
    share an axis."""
    currencies = sorted(table["currency"].unique())
    fig, axes = _panels(len(currencies), columns=2, height=2.2)
    for ax, currency in zip(axes, currencies, strict=False):
        rows = table[table["currency"] == currency]
        ax.bar(rows["band"], rows["face_value"], color=COLOUR)
        ax.set_title(f"{currency}: face value by {title.lower()}", fontsize=9)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
        long = len(rows) > 6 or rows["band"].str.len().max() > 6
        ax.tick_params(axis="x", labelrotation=45 if long else 0, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    return png(fig)


def _curve_chart(curve: pd.DataFrame) -> bytes:
    currencies = sorted(curve["currency"].unique())
    fig, axes = _panels(len(currencies), columns=1, height=2.2)
    for ax, currency in zip(axes, currencies, strict=False):
        rows = curve[curve["currency"] == currency]
        ax.bar(rows["month"], rows["repaid"], color=COLOUR, label="repaid in month")
        ax.set_title(f"{currency}: repaid per month before the cut-off", fontsize=9)
        ax.set_xlim(-36.7, -0.3)
        ax.set_xticks([-36, -30, -24, -18, -12, -6, -1])
        ax.set_xlabel("month before the cut-off", fontsize=7)
        ax.set_ylabel(f"repaid ({currency})", fontsize=7)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
        share = ax.twinx()
        share.plot(rows["month"], rows["cumulative_share"], color=LINE_COLOUR, linewidth=1.5)
        share.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        share.set_ylim(bottom=0)
        share.set_ylabel("cumulative / face", fontsize=7, color=LINE_COLOUR)
        for axis in (ax, share):
            axis.tick_params(labelsize=7)
    return png(fig)


def _panels(n: int, columns: int, height: float) -> tuple[Figure, list]:
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    # Figure with the Agg canvas directly: no pyplot state, no display, safe in a worker
    fig = Figure(figsize=(CHART_WIDTH, height * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel())
    for spare in axes[n:]:
        spare.set_visible(False)
    return fig, axes[:n]


# --- prose, the same in HTML and PDF ------------------------------------------------------------

INTRO = (
    "Report of the bidder tape as of {as_of}. Every figure is an aggregate of the tape's rows; "
    "amounts are in each receivable's own currency and never added across currencies."
)
STRAT_NOTE = (
    "Share is of the currency's face value. Balance bands run from the lower edge up to, not "
    "including, the upper edge, in the receivable's currency. Avg p(30d) is the mean of the "
    "scored receivables' p_collect_30d."
)
CURVE_NOTE = (
    "Amounts repaid on the tape's receivables in each of the 36 whole months before the cut-off "
    "(-1 is the last), per currency; the line is the cumulative amount repaid as a share of the "
    "receivables' face value today."
)
DICTIONARY_NOTE = (
    f"Every column of the tape, its type, unit and definition: see {DICTIONARY_FILE}, which "
    "ships with the tape."
)


# --- HTML ---------------------------------------------------------------------------------------

HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ c.title }} - report</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #999;margin-top:2rem}
h3{font-size:1rem;margin:1.2rem 0 .3rem}h4{font-size:.9rem;margin:.8rem 0 .2rem}
table{border-collapse:collapse;margin:.3rem 0 .8rem;font-size:.85rem}
th,td{border:1px solid #bbb;padding:2px 7px;text-align:left;vertical-align:top}
th{background:#eee}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold;border-top:2px solid #666}
.ok{color:#155724;font-weight:bold}.bad{color:#a00;font-weight:bold}
img{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}h2.page{break-before:page}
table,img,tr{break-inside:avoid}}
</style></head><body>
<h1>{{ c.title }}</h1>
<p>{{ intro }}</p>
{% macro table(t) -%}
<table><thead><tr>{% for h in t.head %}<th{% if t.right[loop.index0] %} class="n"{% endif %}>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}<tr{% if t.total and loop.last %} class="total"{% endif %}>
{%- for v in row %}<td{% if t.right[loop.index0] %} class="n"{% endif %}{% if v == "does NOT reconcile" %} class="bad"{% elif v == "reconciles" %} class="ok"{% endif %}>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{%- endmacro %}
<h2>Summary</h2>
{{ table(c.summary) }}
<h3>Selection</h3>
{{ table(c.selection) }}
<h2>Pools</h2>
{{ table(c.pools) }}
<h2>Reconciliation</h2>
<p class="{{ 'ok' if c.reconciliation.ok else 'bad' }}">{{ c.reconciliation.verdict }}</p>
{{ table(c.reconciliation.table) }}
<h2 class="page">Stratification</h2>
<p>{{ strat_note }}</p>
{% for s in c.strats %}
<h3>{{ s.title }}</h3>
{% for b in s.blocks %}<h4>{{ b.title }}</h4>
{{ table(b.table) }}
{% endfor %}<img alt="{{ s.chart_alt }}" src="data:image/png;base64,{{ s.chart | b64 }}">
{% endfor %}
<h2 class="page">Collections curve</h2>
<p>{{ curve_note }}</p>
{{ table(c.collections.blocks[0].table) }}
<img alt="{{ c.collections.chart_alt }}" src="data:image/png;base64,{{ c.collections.chart | b64 }}">
<h2>Data dictionary</h2>
<p>{{ dictionary_note }}</p>
</body></html>
"""


@cache
def _template():
    env = Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    return env.from_string(HTML)


def render_html(content: Content) -> str:
    return _template().render(
        c=content,
        intro=INTRO.format(as_of=content.as_of),
        strat_note=STRAT_NOTE,
        curve_note=CURVE_NOTE,
        dictionary_note=DICTIONARY_NOTE,
    )


# --- PDF ----------------------------------------------------------------------------------------

MARGIN, BOTTOM = 15, 18  # mm on A4
WIDTH = 210 - 2 * MARGIN
ROW = 4.6
PAD = 2.4  # mm of cell padding across a column


class _Report(FPDF):
    """A4 report whose every page ends with the tape, its date and 'page n of N'."""

    def __init__(self, content: Content) -> None:
        super().__init__(format="A4", unit="mm")
        self.content = content

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7.5)
        self.set_text_color(100)
        self.cell(WIDTH / 2, 4, _latin(f"{self.content.title}, as of {self.content.as_of}"))
        self.cell(WIDTH / 2, 4, f"page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)


def render_pdf(content: Content) -> bytes:
    pdf = _Report(content)
    pdf.core_fonts_encoding = "windows-1252"
    as_of = date.fromisoformat(content.as_of[:10])
    pdf.set_creation_date(datetime.combine(as_of, time(), tzinfo=UTC))  # same input, same bytes
    pdf.set_title(_latin(f"{content.title} - report"))
    pdf.set_lang("en")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=BOTTOM)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(WIDTH, 9, _latin(content.title), new_x="LMARGIN", new_y="NEXT")
    _paragraph(pdf, INTRO.format(as_of=content.as_of))
    _heading(pdf, "Summary")
    _table(pdf, content.summary)
    _subheading(pdf, "Selection")
    _table(pdf, content.selection)
    _heading(pdf, "Pools")
    _table(pdf, content.pools)
    _heading(pdf, "Reconciliation")
    pdf.set_font("Helvetica", "B", 9)
    pdf.set_text_color(*((21, 87, 36) if content.reconciliation.ok else (170, 0, 0)))
    pdf.multi_cell(
        WIDTH, ROW, _latin(content.reconciliation.verdict), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_text_color(0)
    _table(pdf, content.reconciliation.table)
    pdf.add_page()
    _heading(pdf, "Stratification")
    _paragraph(pdf, STRAT_NOTE)
    for section in content.strats:
        _section(pdf, section)
    pdf.add_page()
    _heading(pdf, "Collections curve")
    _paragraph(pdf, CURVE_NOTE)
    _section(pdf, content.collections, heading=False)
    _heading(pdf, "Data dictionary")
    _paragraph(pdf, DICTIONARY_NOTE)
    return bytes(pdf.output())


def _section(pdf: FPDF, section: Section, heading: bool = True) -> None:
    """Tables and chart of one dimension, on a fresh page when that keeps them together."""
    height = _height(section)
    if pdf.will_page_break(height) and height < pdf.eph:
        pdf.add_page()
    if heading:
        _subheading(pdf, section.title)
    for block in section.blocks:
        if block.title:
            _caption(pdf, block.title, len(block.table.rows))
        _table(pdf, block.table)
    if section.chart is not None:
        pdf.image(io.BytesIO(section.chart), w=WIDTH)  # flows onto the next page if need be
        pdf.ln(2)


def _height(section: Section) -> float:
    """Millimetres the section takes: heading, captions, table rows and the chart."""
    rows = sum(len(b.table.rows) + 1 for b in section.blocks)
    captions = sum(5 for b in section.blocks if b.title)
    chart = 0.0
    if section.chart is not None:  # a PNG's IHDR holds width and height at bytes 16..24
        width, height = (int.from_bytes(section.chart[i : i + 4], "big") for i in (16, 20))
        chart = WIDTH * height / width + 2
    return 7 + captions + rows * (ROW + 0.1) + 2 * len(section.blocks) + chart


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.will_page_break(8 + 4 * ROW):  # never a heading alone at the foot of a page
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(WIDTH, 8, _latin(text), border="B", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _subheading(pdf: FPDF, text: str) -> None:
    if pdf.will_page_break(7 + 4 * ROW):
        pdf.add_page()
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(WIDTH, 7, _latin(text), new_x="LMARGIN", new_y="NEXT")


def _caption(pdf: FPDF, text: str, rows: int) -> None:
    if pdf.will_page_break(5 + min(rows + 1, 4) * ROW):
        pdf.add_page()
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(WIDTH, 5, _latin(text), new_x="LMARGIN", new_y="NEXT")


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(WIDTH, ROW, _latin(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _table(pdf: FPDF, table: Table, size: float = 8) -> None:
    """A table as wide as its widest cells (shrunk to the page if need be), its heading row
    repeated on every page it runs onto."""
    head = tuple(map(_latin, table.head))
    rows = [tuple(map(_latin, row)) for row in table.rows]
    widths = _widths(pdf, head, rows, size)
    _table_head(pdf, head, widths, table.right, size)
    for i, row in enumerate(rows):
        if pdf.will_page_break(ROW):
            pdf.add_page()
            _table_head(pdf, head, widths, table.right, size)
        last_total = table.total and i == len(rows) - 1
        pdf.set_font("Helvetica", "B" if last_total else "", size)
        for value, width, right in zip(row, widths, table.right, strict=True):
            pdf.set_text_color(*((170, 0, 0) if value == "does NOT reconcile" else (0, 0, 0)))
            pdf.cell(
                width, ROW, value, border="T" if last_total else 0, align="R" if right else "L"
            )
        pdf.ln()
    pdf.set_text_color(0)
    pdf.ln(2)


def _widths(
    pdf: FPDF, head: tuple[str, ...], rows: list[tuple[str, ...]], size: float
) -> list[float]:
    pdf.set_font("Helvetica", "B", size)
    widths = [pdf.get_string_width(h) + PAD for h in head]
    pdf.set_font("Helvetica", "", size)
    for row in rows:
        widths = [max(w, pdf.get_string_width(v) + PAD) for w, v in zip(widths, row, strict=True)]
    scale = min(1.0, WIDTH / sum(widths))
    return [w * scale for w in widths]


def _table_head(
    pdf: FPDF, head: tuple[str, ...], widths: list[float], right: tuple[bool, ...], size: float
) -> None:
    pdf.set_font("Helvetica", "B", size)
    pdf.set_fill_color(235)
    for text, width, r in zip(head, widths, right, strict=True):
        pdf.cell(width, ROW + 0.6, text, border="B", align="R" if r else "L", fill=True)
    pdf.ln()


def _latin(text: str) -> str:
    """fpdf2's core fonts write Windows-1252: anything outside it prints as '?'."""
    return str(text).encode("cp1252", "replace").decode("cp1252")


# --- the files ----------------------------------------------------------------------------------


def write_report(
    tape: pd.DataFrame, manifest: dict, reconciliation: list[dict], out_dir: Path
) -> list[Path]:
    """Write out_dir/report.html and out_dir/report.pdf; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    content = _content(tape, manifest, reconciliation)
    html_path, pdf_path = out_dir / HTML_FILE, out_dir / PDF_FILE
    html_path.write_text(render_html(content), encoding="utf-8")
    pdf_path.write_bytes(render_pdf(content))
    return [html_path, pdf_path]


# --- the valuation (`debtflow value --report`): the seller's, never on a bidder tape ----------

VALUATION_NOTE = (
    "What each pool is worth to the seller kept in house, placed with a collection agency or "
    "sold, from the book's own recovery curves and the collectability model (flows/value). Prices "
    "and the reserve price are shares of face value (the principal open today); the reserve is "
    "the price below which keeping or placing is worth more. This report is the seller's: the "
    "reserve must not reach a bidder, so the bidder tape's report leaves it out."
)
SENSITIVITY_NOTE = (
    "The price as a share of face at each buyer's discount rate (annual, discounted monthly) and "
    "haircut on the expected recoveries."
)


def valuation_sections(result: dict) -> list[Section]:
    """The valuation as report sections: the decision per pool with its chart, the expected
    recovery curves, and a sensitivity table per pool."""
    pools = result["pools"]
    head = ("Pool", "Receivables", "Face", "Recovery 12m", "Price", "Interval", "Keep", "Place",
            "Sell", "Reserve", "Decision")  # fmt: skip
    rows = [
        (
            p["pool"],
            _count(p["receivables"]),
            f"{p['currency']} {_money(p['face_value'])}",
            _money(p["expected_recovery_12m"]),
            f"{p['price_share']:.1%}",
            f"{p['price_share_low']:.1%}-{p['price_share_high']:.1%}",
            _money(p["npv_keep"]),
            _money(p["npv_place"]),
            _money(p["npv_sell"]),
            f"{p['reserve_share']:.1%}",
            p["recommendation"] + ("" if p["material"] else " (close)"),
        )
        for p in pools
    ]
    decision = Section(
        "Keep, place or sell",
        [Block("", Table(head, rows, (False,) + (True,) * 9 + (False,)))],
        _npv_chart(pools),
        "Net present value of keeping, placing and selling per pool, as a share of face",
    )
    curves = Section(
        "Expected recoveries",
        [],
        _expected_chart(pools),
        "Expected cumulative recovery per pool as a share of face, month by month",
    )
    sensitivity = [
        Section(f"Sensitivity: {p['pool']}", [Block("", _sensitivity_table(p))]) for p in pools
    ]
    return [decision, curves, *sensitivity]


def _sensitivity_table(pool: dict) -> Table:
    grid = pd.DataFrame(pool["sensitivity"])
    haircuts = sorted(grid["haircut"].unique())
    head = ("Discount rate", *(f"haircut {h:.0%}" for h in haircuts))
    rows = [
        (f"{rate:.0%}", *(f"{v:.1%}" for v in rows.sort_values("haircut")["price_share"]))
        for rate, rows in grid.groupby("discount_rate", sort=True)
    ]
    return Table(head, rows, (False,) + (True,) * len(haircuts))


def _npv_chart(pools: list[dict]) -> bytes:
    """Bars per pool of keep, place and sell as a share of face (comparable across currencies),
    with the reserve and the price as ticks."""
    fig, (ax,) = _panels(1, columns=1, height=max(2.4, 0.35 * len(pools) + 1))
    y = np.arange(len(pools))
    for i, (option, colour) in enumerate(
        (("keep", COLOUR), ("place", "#9bbb59"), ("sell", LINE_COLOUR))
    ):
        shares = [float(p[f"npv_{option}"]) / float(p["face_value"]) for p in pools]
        ax.barh(y + (i - 1) * 0.27, shares, height=0.27, color=colour, label=option)
    ax.scatter([p["reserve_share"] for p in pools], y, marker="|", s=200, color="black",
               label="reserve price", zorder=3)  # fmt: skip
    ax.set_yticks(y, [p["pool"] for p in pools], fontsize=7)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("net present value / face value", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return png(fig)


def _expected_chart(pools: list[dict]) -> bytes:
    fig, (ax,) = _panels(1, columns=1, height=2.8)
    for p in pools:
        cumulative = np.cumsum(p["curve"]) / float(p["face_value"])
        ax.plot(np.arange(1, len(cumulative) + 1), cumulative, linewidth=1.2, label=p["pool"])
    ax.set_xlabel("month from the valuation date", fontsize=7)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylabel("expected recovery / face", fontsize=7)
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, ncol=2)
    return png(fig)


VALUATION_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #999;margin-top:2rem}
table{border-collapse:collapse;margin:.3rem 0 .8rem;font-size:.85rem}
th,td{border:1px solid #bbb;padding:2px 7px;text-align:left}th{background:#eee}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%;height:auto}
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ note }}</p>
{% for s in sections %}<h2>{{ s.title }}</h2>
{% if loop.index0 == 2 %}<p>{{ sensitivity_note }}</p>{% endif %}
{% for b in s.blocks %}<table><thead><tr>{% for h in b.table.head %}<th{% if b.table.right[loop.index0] %} class="n"{% endif %}>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in b.table.rows %}<tr>{% for v in row %}<td{% if b.table.right[loop.index0] %} class="n"{% endif %}>{{ v }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>{% endfor %}
{% if s.chart %}<img alt="{{ s.chart_alt }}" src="data:image/png;base64,{{ s.chart | b64 }}">{% endif %}
{% endfor %}</body></html>
"""


def write_valuation_report(result: dict, out_dir: Path) -> list[Path]:
    """out_dir/valuation-<as_of>.html and .pdf of a `debtflow value` result."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"Portfolio valuation as of {result['as_of']}"
    sections = valuation_sections(result)
    env = Environment(autoescape=True, undefined=StrictUndefined)
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    html = env.from_string(VALUATION_HTML).render(
        title=title, note=VALUATION_NOTE, sensitivity_note=SENSITIVITY_NOTE, sections=sections
    )
    pdf = FPDF(format="A4", unit="mm")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_creation_date(datetime.combine(date.fromisoformat(result["as_of"]), time(), tzinfo=UTC))
    pdf.set_title(title)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=BOTTOM)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(WIDTH, 9, _latin(title), new_x="LMARGIN", new_y="NEXT")
    _paragraph(pdf, VALUATION_NOTE)
    for section in sections[:2]:
        _heading(pdf, section.title)
        _section(pdf, section, heading=False)
    _heading(pdf, "Sensitivity")
    _paragraph(pdf, SENSITIVITY_NOTE)
    for section in sections[2:]:
        _section(pdf, section)
    stem = out_dir / f"valuation-{result['as_of']}"
    html_path, pdf_path = stem.with_suffix(".html"), stem.with_suffix(".pdf")
    html_path.write_text(html, encoding="utf-8")
    pdf_path.write_bytes(bytes(pdf.output()))
    return [html_path, pdf_path]
