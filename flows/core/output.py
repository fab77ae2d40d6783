"""How a command's result is printed: the JSON of `--json`, or a few lines for a person.

The JSON is the result as the service returned it (what scripts parse). The human form is a
command's own summary when it has one (flows/ops/summaries.py), else `readable`: nested dicts and
lists as indented lines, long lists cut to their first items, per-feature drift left out. The
helpers here (numbers with thousands separators, amounts per currency, dates, aligned tables) keep
every summary in the same style.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_ITEMS = 8  # list items or dict entries shown before "… and N more"
MAX_INLINE = 5  # scalar list items shown on one line
MAX_DEPTH = 3  # deeper nesting is counted, not shown
TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d)(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?$")

Human = Callable[[Any, Any], list[str]]  # (result, the parsed arguments) -> lines


def as_json(result: object) -> str:
    return json.dumps(result, indent=2, default=str)


def emit(result: object, json_mode: bool, human: Human | None = None, args: Any = None) -> None:
    """Print the result on stdout: its JSON, or its summary for a person."""
    if json_mode:
        print(as_json(result))
        return
    lines = human(result, args) if human else readable(result)
    if lines:  # a command that printed its own summary as it ran has nothing to add
        print("\n".join(lines))


# --- values --------------------------------------------------------------------------------------


def number(value: Any, digits: int = 2) -> str:
    """1234567 -> 1,234,567; 0.32675 -> 0.327; 6017.1 -> 6,017.10 (digits after the point for
    numbers of 100 and more, three significant digits below)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        if abs(value) >= 100:
            return f"{value:,.{digits}f}"
        return f"{value:.3g}" if isinstance(value, float) else f"{value:,}"
    return text(value)


def amount(value: Any, currency: str) -> str:
    """An amount as money: 'EUR 1,234.56' (the services hand amounts over as Decimal strings)."""
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return f"{currency} {value}"
    return f"{currency} {d:,.2f}"


def amounts(by_currency: dict[str, Any], key: str | None = None) -> str:
    """Amounts per currency on one line, 'EUR 495.63, NOK 1,200.00'; `key` picks the amount out
    of a per-currency dict ({'EUR': {'total_balance': '495.63', ...}})."""
    parts = [
        amount(v[key] if key else v, currency)
        for currency, v in sorted(by_currency.items())
        if (v[key] if key else v) is not None
    ]
    return ", ".join(parts) or "-"


def text(value: Any) -> str:
    """A scalar as a person reads it: dates as YYYY-MM-DD, timestamps to the minute."""
    if value is None:
        return "-"
    if isinstance(value, bool | int | float | Decimal):
        return number(value)
    if isinstance(value, datetime):
        midnight = value.time() == time(0)  # a date column read through pandas
        return value.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    s = str(value)
    m = TIMESTAMP.match(s)
    if m:
        return f"{m[1]} {m[2]}" + (" UTC" if m[5] in ("+00:00", "Z") else "")
    return s


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def listed(items: Sequence[Any], limit: int = MAX_INLINE) -> str:
    """'a, b, c … and 4 more'."""
    shown = ", ".join(text(i) for i in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")


def counts(by_name: dict[str, Any], limit: int = MAX_INLINE) -> str:
    """{'weekend': 3, 'not_due_yet': 29} -> 'not_due_yet 29, weekend 3' (largest first)."""
    items = sorted(by_name.items(), key=lambda kv: (-(kv[1] or 0), kv[0]))
    return listed([f"{k} {number(v)}" for k, v in items], limit) or "none"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def drift(report: dict | None) -> str:
    """A drift report in one line: the score's PSI, the largest feature's, and the warnings
    (the per-feature PSI values are left to --json and the model report)."""
    if not report:
        return "no drift reference"
    warnings = report.get("warnings") or []
    head = (
        f"score PSI {number(report.get('score_psi'))}, "
        f"max feature PSI {number(report.get('max_feature_psi'))}"
    )
    if not warnings:
        return f"{head}; no drift warning"
    return f"{head}; {plural(len(warnings), 'warning')}: {listed(warnings, 3)}"


# --- tables --------------------------------------------------------------------------------------


def table(
    rows: Iterable[dict],
    columns: Sequence[tuple[str, str | Callable[[dict], Any]]],
    limit: int | None = None,
) -> list[str]:
    """Aligned columns under a header; numbers right-aligned. `columns` are (header, key or a
    function of the row); `limit` cuts the rows to the first ones and says how many more."""
    rows = list(rows)
    shown = rows[:limit] if limit else rows
    cells = [
        [row.get(get) if isinstance(get, str) else get(row) for _, get in columns] for row in shown
    ]
    right = [
        bool(cells) and all(isinstance(c[i], int | float | Decimal) or c[i] is None for c in cells)
        for i in range(len(columns))
    ]
    grid = [[h for h, _ in columns], *[[text(c) for c in row] for row in cells]]
    widths = [max(len(r[i]) for r in grid) for i in range(len(columns))]
    lines = [
        "  ".join(
            c.rjust(w) if right[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in grid
    ]
    if len(rows) > len(shown):
        lines.append(f"… and {len(rows) - len(shown)} more")
    return lines


# --- any result ----------------------------------------------------------------------------------


def readable(result: Any) -> list[str]:
    """Any JSON-like result as indented 'key: value' lines, cut to stay short."""
    if isinstance(result, list) and result and all(isinstance(r, dict) for r in result):
        scalar_keys = [k for k, v in result[0].items() if not isinstance(v, dict | list)]
        if scalar_keys:
            return table(result, [(k, k) for k in scalar_keys], limit=MAX_ITEMS * 2)
    return _lines(result, 0) or ["(nothing)"]


def _lines(value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(value, dict):
        out = []
        items = list(value.items())
        for key, v in items[:MAX_ITEMS] if depth else items:
            out += _entry(str(key), v, depth)
        if depth and len(items) > MAX_ITEMS:
            out.append(f"{pad}… and {len(items) - MAX_ITEMS} more")
        return out
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return [pad + (listed(value) if value else "(none)")]
        out = []
        for v in value[:MAX_ITEMS]:
            sub = _lines(v, depth + 1)
            out += [pad + "- " + sub[0].lstrip(), *sub[1:]] if sub else []
        if len(value) > MAX_ITEMS:
            out.append(f"{pad}… and {len(value) - MAX_ITEMS} more")
        return out
    return [pad + text(value)]


def _entry(key: str, value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if key == "drift" and isinstance(value, dict):
        return [f"{pad}drift: {drift(value)}"]
    if isinstance(value, dict | list) and not value:
        return [f"{pad}{key}: (none)"]
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return [f"{pad}{key}: {listed(value)}"]
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        columns = [(k, k) for k, v in value[0].items() if not isinstance(v, dict | list)]
        rows = table(value, columns, MAX_ITEMS) if columns else [plural(len(value), "item")]
        return [f"{pad}{key}:", *(f"{pad}  {row}" for row in rows)]
    if isinstance(value, dict | list):
        if depth + 1 >= MAX_DEPTH:
            return [f"{pad}{key}: ({plural(len(value), 'item')}; --json shows them)"]
        if (  # a few counts on one line: "grades: 1 21, 2 10"
            isinstance(value, dict)
            and len(value) <= MAX_INLINE
            and all(isinstance(v, int | float) for v in value.values())
        ):
            return [f"{pad}{key}: " + ", ".join(f"{k} {number(v)}" for k, v in value.items())]
        return [f"{pad}{key}:", *_lines(value, depth + 1)]
    return [f"{pad}{key}: {text(value)}"]
