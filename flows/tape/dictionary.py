"""The tape's fields, read from dictionary.yml: their order, types and definitions.

The 36 monthly repayment columns are generated here rather than listed 36 times in the YAML.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

HISTORY_MONTHS = 36
HISTORY_AFTER = "repaid_total_36m"  # the monthly columns follow this field


@dataclass(frozen=True)
class Field:
    name: str
    group: str
    type: str
    definition: str
    unit: str = ""
    eba: str = ""
    personal: bool = False


def history_field(month: int) -> Field:
    return Field(
        name=f"repaid_m{month:02d}",
        group="collections",
        type="decimal",
        unit="currency",
        eba="Repayments (monthly history)",
        definition=f"Payments and credit notes applied to the receivable in the calendar month "
        f"{month} month{'s' if month > 1 else ''} before the cut-off month (m01 is the last "
        f"whole month before the cut-off).",
    )


@cache
def all_fields() -> tuple[Field, ...]:
    raw = yaml.safe_load((Path(__file__).with_name("dictionary.yml")).read_text(encoding="utf-8"))
    fields: list[Field] = []
    for entry in raw["fields"]:
        fields.append(Field(**entry))
        if entry["name"] == HISTORY_AFTER:
            fields += [history_field(m) for m in range(1, HISTORY_MONTHS + 1)]
    return tuple(fields)


def fields(full: bool = False) -> tuple[Field, ...]:
    """The bidder tape's fields, or with `full` the buyer's tape with identities."""
    return tuple(f for f in all_fields() if full or not f.personal)


def history_columns() -> list[str]:
    return [f"repaid_m{m:02d}" for m in range(1, HISTORY_MONTHS + 1)]


def write_dictionary(path: Path, full: bool = False) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "group", "eba_field", "type", "unit", "definition"])
        for f in fields(full):
            out.writerow([f.name, f.group, f.eba, f.type, f.unit, f.definition])
