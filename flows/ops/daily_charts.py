"""The daily report's charts, as PNG bytes to inline: aging by bucket over time, DSO and CEI per
month, collections per week, and contacts and pay rates per channel.

Amounts never share an axis across currencies: each currency gets its own panel. Figures are
drawn on the Agg canvas directly (no pyplot state, no display), so a worker can draw them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from debtflow.flows.core.charts import DPI, png
from debtflow.flows.ops.day_figures import BUCKETS

WIDTH = 9.0  # inches: fills the report's column at 110 dpi
COLOUR, SECOND = "#4a6fa5", "#c0504d"
# current in blue, then from yellow to deep red the older the debt
BUCKET_COLOURS = ("#4a6fa5", "#f2d16b", "#f0a35e", "#e07b53", "#c9513f", "#a2302e", "#6b1a1a")
LINE_COLOURS = ("#4a6fa5", "#c0504d", "#6a9a3f", "#8064a2", "#d08b2c", "#3f9a9a")


def _panels(n: int, columns: int, height: float, legend: float = 0.0) -> tuple[Figure, list]:
    """n axes in rows of `columns`, each row `height` inches, with fixed margins in inches
    (constrained layout measures every label first and costs more than the drawing);
    `legend`: inches kept free on the right for a legend."""
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    total = height * rows
    fig = Figure(figsize=(WIDTH, total), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = list(np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel())
    top, bottom, gap = 0.3, 0.4, 0.75  # inches: a title above, tick labels below
    fig.subplots_adjust(
        left=0.75 / WIDTH,
        right=1 - (0.2 + legend) / WIDTH,
        top=1 - top / total,
        bottom=bottom / total,
        hspace=gap / (height - gap),
        wspace=0.9 / (WIDTH / columns - 0.9),
    )
    for spare in axes[n:]:
        spare.set_visible(False)
    return fig, axes[:n]


def _thousands(ax, axis: str = "y") -> None:
    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _style(ax) -> None:
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", color="#e4e4e4", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def aging(history: pd.DataFrame) -> bytes | None:
    """Stacked bars per point in time (month starts, then the day), one panel per currency."""
    if history.empty:
        return None
    frame = history.assign(point=pd.to_datetime(history["point"]).dt.date)
    currencies = sorted(frame["currency"].unique())
    fig, axes = _panels(len(currencies), columns=1, height=2.6, legend=1.1)
    for ax, currency in zip(axes, currencies, strict=True):
        table = (
            frame[frame["currency"] == currency]
            .pivot_table(index="point", columns="bucket", values="amount", aggfunc="sum")
            .reindex(columns=list(BUCKETS))
            .fillna(0.0)
            .clip(lower=0.0)  # a bucket is never negative; rounding can leave -0.00
        )
        points = list(table.index)
        labels = [p.strftime("%b %y") if p.day == 1 else p.strftime("%d %b") for p in points]
        x = np.arange(len(points))
        bottom = np.zeros(len(points))
        for bucket, colour in zip(BUCKETS, BUCKET_COLOURS, strict=True):
            values = table[bucket].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, color=colour, width=0.75, label=bucket)
            bottom += values
        ax.set_xticks(x, labels)
        ax.set_title(
            f"{currency}: open receivables by days past due, at each month start and today",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel(currency, fontsize=7)
        _thousands(ax)
        _style(ax)
        ax.legend(
            title="days past due",
            title_fontsize=7,
            fontsize=7,
            ncols=1,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            frameon=False,
        )
    return png(fig)


def _ticks(ax, labels: list[str], every: int = 1) -> None:
    """Categorical x positions (cheaper to lay out than a date axis), every n-th labelled."""
    x = np.arange(len(labels))
    ax.set_xticks(x[::every], labels[::every])
    ax.set_xlim(-0.6, len(labels) - 0.4)


def dso_and_cei(monthly: pd.DataFrame) -> bytes | None:
    """Two panels: DSO (days) and CEI (%) per month, a line per currency."""
    if monthly.empty:
        return None
    months = sorted(pd.to_datetime(monthly["month"]).unique())
    position = {m: i for i, m in enumerate(months)}
    fig, (dso, cei) = _panels(2, columns=2, height=2.6)
    for i, (currency, rows) in enumerate(monthly.groupby("currency", sort=True)):
        x = [position[m] for m in pd.to_datetime(rows["month"])]
        colour = LINE_COLOURS[i % len(LINE_COLOURS)]
        dso.plot(x, rows["dso"], marker="o", ms=3, color=colour, label=currency)
        cei.plot(x, rows["cei"], marker="o", ms=3, color=colour, label=currency)
    labels = [m.strftime("%b %y") for m in months]
    every = max(1, math.ceil(len(labels) / 9))
    dso.set_title("Days sales outstanding (count-back), per month", fontsize=9, loc="left")
    dso.set_ylabel("days", fontsize=7)
    dso.set_ylim(bottom=0)
    cei.set_title("Collection effectiveness index, per month", fontsize=9, loc="left")
    cei.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    cei.set_ylim(0, 105)
    for ax in (dso, cei):
        _ticks(ax, labels, every)
        _style(ax)
        ax.legend(fontsize=7, frameon=False, loc="lower left")
    return png(fig)


def collections(weekly: pd.DataFrame) -> bytes | None:
    """Bars of the amount received per week, one panel per currency."""
    if weekly.empty:
        return None
    weeks = sorted(pd.to_datetime(weekly["week"]).unique())
    labels = [w.strftime("%d %b") for w in weeks]
    currencies = sorted(weekly["currency"].unique())
    fig, axes = _panels(len(currencies), columns=2, height=2.4)
    for ax, currency in zip(axes, currencies, strict=True):
        rows = weekly[weekly["currency"] == currency]
        amounts = rows.set_index(pd.to_datetime(rows["week"]))["collected"].reindex(weeks)
        ax.bar(np.arange(len(weeks)), amounts.fillna(0).astype(float), color=COLOUR, width=0.75)
        ax.set_title(f"{currency}: collected per week (weeks from Monday)", fontsize=9, loc="left")
        ax.set_ylabel(currency, fontsize=7)
        _ticks(ax, labels, every=4)
        _thousands(ax)
        _style(ax)
    return png(fig)


def channels(results: pd.DataFrame) -> bytes | None:
    """Two panels per channel: contacts sent, and the share of contacted debtors who paid within
    7 and 14 days."""
    if results.empty:
        return None
    fig, (sent, paid) = _panels(2, columns=2, height=2.4)
    x = np.arange(len(results))
    names = list(results["channel"])
    sent.bar(x, results["sent"], color=COLOUR, width=0.6)
    sent.set_xticks(x, names)
    sent.set_title("Contacts sent, per channel (all history)", fontsize=9, loc="left")
    _thousands(sent)
    paid.bar(x - 0.2, results["paid_7d_rate"].fillna(0), width=0.4, color=COLOUR, label="7 days")
    paid.bar(x + 0.2, results["paid_14d_rate"].fillna(0), width=0.4, color=SECOND, label="14 days")
    paid.set_xticks(x, names)
    paid.set_ylim(0, 1)
    paid.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    paid.set_title("Contacted debtors who paid within", fontsize=9, loc="left")
    paid.legend(fontsize=7, frameon=False, ncols=2, loc="upper right")
    for ax in (sent, paid):
        _style(ax)
    return png(fig)
