"""An expectation's outcome read from GX's result fields, of a live run or of a stored result's
JSON. Values are kept only for non-personal single columns; offending rows are named by keys."""

from __future__ import annotations

from typing import Any

import pandas as pd

from debtflow.flows.build.validation.results import BLOCKING, ExpectationOutcome, first_distinct
from debtflow.flows.build.validation.suites import columns_of
from debtflow.flows.ingest.contract import personal_columns


def outcome_of(
    kind: str,
    kwargs: dict[str, Any],
    severity: str | None,
    success: bool,
    result: dict | None,
    exception_info: dict | None,
    key_columns: list[str],
) -> ExpectationOutcome:
    """One expectation's outcome; `key_columns` name the offending rows."""
    columns = columns_of(kwargs)
    severity = severity or BLOCKING
    error = error_of(exception_info)
    if error:
        return ExpectationOutcome(kind, columns, False, None, error=error, severity=severity)
    res = result or {}
    values: list[str] = []
    # Values only for single non-personal columns; a multi-column domain is the key itself.
    if len(columns) == 1 and columns[0] not in personal_columns():
        values = [str(v) for v in res.get("partial_unexpected_list") or [] if not pd.isna(v)]
    count = res.get("unexpected_count")
    if count is None and not success and "observed_value" in res:
        count = 0  # table-level expectation: there are no offending rows to count
    return ExpectationOutcome(
        kind,
        columns,
        bool(success),
        count,
        first_distinct(values),
        first_distinct(keys_of(res.get("partial_unexpected_index_list"), key_columns)),
        severity=severity,
    )


def error_of(info: dict | None) -> str | None:
    """GX's exception, first line only (the rest may quote data); None if it evaluated."""
    if not info:
        return None
    # Either one {raised_exception, exception_message} dict or one per metric that raised.
    if "raised_exception" in info:
        raised = [info] if info["raised_exception"] else []
    else:
        raised = [v for v in info.values() if isinstance(v, dict)]
    for item in raised:
        return str(item.get("exception_message") or "error").strip().splitlines()[0][:200]
    return None


def keys_of(index_list: list | None, key_columns: list[str]) -> list[str]:
    keys: list[str] = []
    for row in index_list or []:
        if any(isinstance(row.get(k), list) for k in key_columns):
            # exclude_unexpected_values: one dict holding a list of values per key column
            rows = zip(*(row.get(k) or [] for k in key_columns), strict=False)
        else:
            rows = [tuple(row[k] for k in key_columns if k in row)]
        keys += ["/".join(str(v) for v in values) for values in rows if values]
    return keys
