"""What a person reads of a validation: failure and warning lines, the gate's exception, and the
Markdown summary the flows publish as a Prefect artifact."""

from __future__ import annotations

from typing import Any

from debtflow.flows.build.validation.results import (
    ExpectationOutcome,
    ValidationFailed,
    ValidationResult,
)


def _as_list(results: Any) -> list[ValidationResult]:
    """Results, flattened: a result, a list of them, or lists of lists (raw + marts)."""
    if isinstance(results, ValidationResult):
        return [results]
    return [r for item in results for r in _as_list(item)]


def _line(suite: str, o: ExpectationOutcome, verb: str) -> str:
    what = o.error or f"{o.unexpected_count} unexpected rows"
    values = f"; sample values: {', '.join(o.sample_values)}" if o.sample_values else ""
    keys = f"; sample keys: {', '.join(o.sample_keys)}" if o.sample_keys else ""
    return f"suite {suite}: {o.label} {verb}: {what}{values}{keys}"


def failure_lines(results: Any) -> list[str]:
    """One line per failed blocking expectation."""
    return [_line(r.suite, o, "failed") for r in _as_list(results) for o in r.failed]


def warning_lines(results: Any) -> list[str]:
    """One line per failed warning-level expectation (they do not stop the run)."""
    return [_line(r.suite, o, "warning") for r in _as_list(results) for o in r.warnings]


def raise_if_failed(results: Any) -> None:
    """Raise ValidationFailed if a blocking expectation failed; warnings never raise."""
    lines = failure_lines(results)
    if lines:
        raise ValidationFailed("data validation failed:\n" + "\n".join(lines))


def _status(o: ExpectationOutcome) -> str:
    if o.success:
        return "pass"
    if not o.blocking:
        return f"warn (error: {o.error})" if o.error else "warn"
    return f"error: {o.error}" if o.error else "**FAIL**"


def summary_markdown(results: Any, title: str = "Data validation") -> str:
    """A headline, the data-quality page and one table row per expectation (a Prefect artifact)."""
    results = _as_list(results)
    failed = sum(len(r.failed) for r in results)
    warned = sum(len(r.warnings) for r in results)
    verdict = "FAILED" if failed else "passed"
    lines = [
        f"### {title}: {verdict}",
        "",
        f"Suites: {len(results)}, rows: {sum(r.rows for r in results):,}, "
        f"blocking failures: {failed}, warnings: {warned}.",
    ]
    page = next((r.quality_page for r in reversed(results) if r.quality_page), None)
    if page:
        lines.append(f"Data quality page: [{page}](file://{page})")
    lines += [
        "",
        "| suite | rows | expectation | severity | result | unexpected | sample values |"
        " sample keys |",
        "| --- | ---: | --- | --- | --- | ---: | --- | --- |",
    ]
    for res in results:
        if not res.outcomes:
            lines.append(f"| {res.suite} | 0 | (no rows to validate) | | pass | 0 | | |")
        for o in res.outcomes:
            count = "" if o.unexpected_count is None else str(o.unexpected_count)
            cells = [
                res.suite,
                str(res.rows),
                f"`{o.label}`",
                o.severity,
                _status(o),
                count,
                ", ".join(o.sample_values),
                ", ".join(o.sample_keys),
            ]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
