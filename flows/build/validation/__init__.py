"""Data-quality gates with Great Expectations: raw batches after ingest, marts after dbt.

By concern: results.py (outcomes), outcomes.py (reading GX's result fields), suites.py,
context.py (the GX context), runs.py (running a suite in parts), gates.py (raw and mart gates),
report.py (lines, Markdown), quality_page.py (the data-quality HTML pages).

Raw suites are generated from the landing contract; mart suites are hand-written and live in
`expectations/expectations/<name>.json` (GX 1.x suite format). Frames are read from DuckDB and
validated by GX's pandas engine (its SQL datasource does not work on DuckDB), each through a
ValidationDefinition and a Checkpoint. GX keeps each result as JSON in
`settings.validation_results_dir`; after each suite, quality_page.py rebuilds that day's page in
`settings.data_quality_dir` (GX's own data docs need CDNs and are blank offline).

Severity is GX's own expectation field: `critical` expectations block the run, `warning` ones
(e.g. e-mail addresses that do not parse) are counted and shown but do not block.

Results never carry personal data: a suite that checks a column the contract marks personal is
run with GX's `exclude_unexpected_values`, so neither the result, the data-quality page nor our
summary holds its values; offending rows are named by their key columns.
"""

from debtflow.flows.build.validation.gates import (
    latest_event_time,
    validate_day,
    validate_mart,
    validate_marts,
    validate_raw,
    validate_raw_all,
)
from debtflow.flows.build.validation.report import (
    failure_lines,
    raise_if_failed,
    summary_markdown,
    warning_lines,
)
from debtflow.flows.build.validation.results import (
    ExpectationOutcome,
    ValidationFailed,
    ValidationResult,
)
from debtflow.flows.build.validation.suites import (
    LATEST_EVENT_TIME,
    MART_SUITES,
    load_suite,
    raw_suite,
)

__all__ = [
    "LATEST_EVENT_TIME",
    "MART_SUITES",
    "ExpectationOutcome",
    "ValidationFailed",
    "ValidationResult",
    "failure_lines",
    "latest_event_time",
    "load_suite",
    "raise_if_failed",
    "raw_suite",
    "summary_markdown",
    "validate_day",
    "validate_mart",
    "validate_marts",
    "validate_raw",
    "validate_raw_all",
    "warning_lines",
]
