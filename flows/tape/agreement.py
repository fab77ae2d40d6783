"""The standing forward-flow agreement (forward_flow.yml): the buyer, the days past due at which
fresh receivables are sold, the agreed price per pool and the dates it runs, validated on load.
An error names the file, the key and why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from debtflow.flows.core import config_file
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings

DEFAULT_AGREEMENT = Path(__file__).with_name("forward_flow.yml")


class Agreement(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    digest: str = ""
    buyer: str = Field(min_length=1)
    days_past_due: int = Field(ge=1, le=365)
    start: date
    end: date | None = None
    pool_by: tuple[Literal["debtor_type", "country", "currency"], ...] = Field(min_length=1)
    prices_pct: dict[str, Decimal] = Field(min_length=1)

    @field_validator("buyer")
    @classmethod
    def _named(cls, buyer: str) -> str:
        if not buyer.strip():
            raise ValueError("name the buyer")
        return buyer.strip()

    @field_validator("pool_by")
    @classmethod
    def _with_currency(cls, dims: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(dims)) != len(dims):
            raise ValueError(f"a dimension is listed twice: {list(dims)}")
        return dims if "currency" in dims else (*dims, "currency")

    @model_validator(mode="after")
    def _dates_and_prices(self):
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end: {self.end} is before start {self.start}")
        for pool, pct in self.prices_pct.items():
            if not 0 < pct <= 100:
                raise ValueError(
                    f"prices_pct.{pool}: {pct} is not a percentage above 0, at most 100"
                )
            if pool != pool.lower() or len(pool.split("-")) != len(self.pool_by):
                raise ValueError(
                    f"prices_pct.{pool}: not a pool of pool_by {list(self.pool_by)} "
                    "(lower case, its values joined by '-', like consumer-nl-eur)"
                )
        return self

    @property
    def label(self) -> str:
        return f"{self.version}+{self.digest}"

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def facts(self) -> dict:
        """What a forward-flow tape's manifest says of the agreement."""
        return {
            "version": self.label,
            "buyer": self.buyer,
            "days_past_due": self.days_past_due,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "pool_by": list(self.pool_by),
            "prices_pct": {p: str(v) for p, v in sorted(self.prices_pct.items())},
        }


def load(path: Path) -> Agreement:
    return config_file.load(path, Agreement, "forward-flow agreement", DEFAULT_AGREEMENT)


def agreement(settings: Settings) -> Agreement:
    """The configured agreement; none configured is refused: a forward flow sells receivables,
    so it never runs under the example file's buyer and prices."""
    if settings.forward_flow is None:
        raise DebtflowError(
            "no forward-flow agreement is configured: copy flows/tape/forward_flow.yml (an "
            "example), set your buyer, days past due and prices, check it with `debtflow tape "
            "check-agreement FILE` and point DEBTFLOW_FORWARD_FLOW at it"
        )
    return load(settings.forward_flow)
