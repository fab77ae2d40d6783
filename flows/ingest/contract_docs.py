"""Render the landing contract as the Markdown table in README.md (kept in sync by a test).

`python -m debtflow.flows.ingest.contract_docs` rewrites the section between the markers.
"""

from __future__ import annotations

import re

from debtflow.flows.core.settings import SOURCE_ROOT
from debtflow.flows.ingest.contract import TABLES, Column

START, END = "<!-- contract:start -->", "<!-- contract:end -->"
README = SOURCE_ROOT / "README.md"


def _column(c: Column) -> str:
    text = f"`{c.name}`{'*' if c.required else ''} {c.type}"
    if c.accepted and len(c.accepted) <= 7:
        text += f" ({'/'.join(c.accepted)})"
    if c.positive:
        text += " > 0"
    return text


def render_table() -> str:
    rows = ["| file | key | columns (* required) |", "| --- | --- | --- |"]
    for t in TABLES.values():
        cols = ", ".join(_column(c) for c in t.columns)
        rows.append(f"| `{t.name}` | {', '.join(t.key)} | {cols} |")
    return "\n".join(rows)


def render_readme(text: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    return pattern.sub(f"{START}\n{render_table()}\n{END}", text)


if __name__ == "__main__":
    README.write_text(render_readme(README.read_text()))
