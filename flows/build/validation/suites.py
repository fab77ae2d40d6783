"""The suites: raw suites generated from the landing contract, mart suites hand-written in
`expectations/expectations/<name>.json` (GX 1.x suite format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations import expectations as gxe

from debtflow.flows.build.validation.context import context
from debtflow.flows.build.validation.results import WARNING
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import RAW
from debtflow.flows.ingest.contract import TABLES, Table

MART_SUITES = ("debtor_features", "fct_invoices", "ar_aging")
# Suite parameter of the raw suites: the latest event time a validated batch may carry.
LATEST_EVENT_TIME = "latest_event_time"
# A later batch may restate a row with a newer updated_at, so uniqueness is per batch and version.
VERSION_COLUMN = "updated_at"
BATCH_COLUMN = "_batch_id"


def raw_suite(table: str, settings: Settings) -> gx.ExpectationSuite:
    """The suite for one raw table, derived from its contract entry."""
    spec: Table = TABLES[table]
    context(settings)  # GX binds suites to the active context, even unsaved ones
    suite = gx.ExpectationSuite(
        name=f"raw_{table}",
        meta={"table": f"{RAW}.{table}", "key": list(spec.key), "notes": spec.doc},
    )
    add = suite.add_expectation
    for col in spec.columns:
        if col.required:
            add(gxe.ExpectColumnValuesToNotBeNull(column=col.name))
        if col.accepted:
            add(gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.accepted)))
        if col.positive:
            add(gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=0, strict_min=True))
        if col.warn_pattern:
            add(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=col.name,
                    regex=col.warn_pattern,
                    severity=WARNING,
                    meta={"why": f"{col.name} values that do not parse cannot be used to contact"},
                )
            )
    for rule in spec.rules:
        add(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=rule.column,
                column_B=rule.at_least,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
                meta={"why": rule.reason},
            )
        )
    add(
        gxe.ExpectColumnValuesToBeBetween(
            column=spec.event_time,
            max_value={"$PARAMETER": LATEST_EVENT_TIME},
            meta={
                "why": "an event after the batch's business date (plus tolerance) is a bad clock"
            },
        )
    )
    add(
        gxe.ExpectCompoundColumnsToBeUnique(
            column_list=_unique_columns(spec),
            meta={"why": "a key repeated within one batch and version is a duplicate delivery"},
        )
    )
    return suite


def _unique_columns(spec: Table) -> list[str]:
    cols = list(spec.key)
    if VERSION_COLUMN in spec.column_names and VERSION_COLUMN not in cols:
        cols.append(VERSION_COLUMN)
    return [*cols, BATCH_COLUMN]


def load_suite(name: str, settings: Settings) -> gx.ExpectationSuite:
    """A hand-written suite from `expectations/expectations/<name>.json`."""
    path = Path(settings.expectations_dir) / "expectations" / f"{name}.json"
    spec = json.loads(path.read_text())
    context(settings)
    return gx.ExpectationSuite(
        name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta", {})
    )


def columns_of(kwargs: dict[str, Any]) -> tuple[str, ...]:
    if "column" in kwargs:
        return (kwargs["column"],)
    if "column_A" in kwargs:
        return (kwargs["column_A"], kwargs["column_B"])
    return tuple(kwargs.get("column_list") or ())


def suite_columns(suite: gx.ExpectationSuite) -> list[str]:
    cols: list[str] = []
    for e in suite.expectations:
        cols += [c for c in columns_of(e.configuration.kwargs) if c not in cols]
    return cols
