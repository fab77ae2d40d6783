"""What a validation says: the outcome of each expectation, per suite, and the failure raised by a
gate. Severity is GX's own expectation field: `critical` blocks the run, `warning` does not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from debtflow.flows.core.errors import DebtflowError

SAMPLE_SIZE = 5
BLOCKING, WARNING = "critical", "warning"


class ValidationFailed(DebtflowError):
    """A gate failed; the message names suite, expectation, count and sample keys (no PII)."""


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    columns: tuple[str, ...]
    success: bool
    unexpected_count: int | None
    sample_values: tuple[str, ...] = ()
    sample_keys: tuple[str, ...] = ()
    error: str | None = None  # GX raised instead of evaluating (missing column, type clash)
    severity: str = BLOCKING

    @property
    def label(self) -> str:
        return (
            f"{self.expectation}({', '.join(self.columns)})" if self.columns else self.expectation
        )

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKING


@dataclass
class ValidationResult:
    suite: str
    rows: int
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    quality_page: str | None = None  # the data-quality page of the run's day (quality_page.py)

    @property
    def success(self) -> bool:
        """No blocking expectation failed; warnings do not count."""
        return not self.failed

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and o.blocking]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and not o.blocking]


def merge(results: list[ValidationResult]) -> ValidationResult:
    merged = ValidationResult(
        suite=results[0].suite,
        rows=sum(r.rows for r in results),
        quality_page=results[-1].quality_page,
    )
    for per_part in zip(*(r.outcomes for r in results), strict=True):
        counts = [o.unexpected_count for o in per_part]
        first = per_part[0]
        merged.outcomes.append(
            ExpectationOutcome(
                first.expectation,
                first.columns,
                all(o.success for o in per_part),
                None if None in counts else sum(counts),
                first_distinct(v for o in per_part for v in o.sample_values),
                first_distinct(k for o in per_part for k in o.sample_keys),
                next((o.error for o in per_part if o.error), None),
                first.severity,
            )
        )
    return merged


def first_distinct(items: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))[:SAMPLE_SIZE]
