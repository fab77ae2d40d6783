"""The sale selection (selection.yml): which receivables of `sale_candidates` go on a tape and
how they are pooled, validated on load. An error names the file, the key and why.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from debtflow.flows.core import config_file
from debtflow.flows.core.settings import Settings

DEFAULT_SELECTION = Path(__file__).with_name("selection.yml")
# sale_candidates.exclusion: the mart's accepted values
EXCLUSIONS = (
    "deceased",
    "bankrupt",
    "debt_restructuring",
    "active_plan",
    "disputed",
    "statute_barred",
    "placed_with_agency",
    "offered_for_sale",
)


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    digest: str = ""
    months_in_collection: int = Field(12, ge=12, le=18)
    min_balance: dict[str, Decimal]
    exclusions: dict[str, Literal["exclude", "pool"]]
    pool_by: tuple[
        Literal["debtor_type", "country", "currency", "balance_band", "default_age_band"], ...
    ]
    balance_bands: tuple[Decimal, ...] = Field(min_length=1)
    age_bands_months: tuple[int, ...] = Field(min_length=1)
    offer_days: int = Field(60, ge=1, le=365)

    @field_validator("min_balance")
    @classmethod
    def _currencies(cls, amounts: dict[str, Decimal]) -> dict[str, Decimal]:
        if "default" not in amounts:
            raise ValueError("needs a `default` amount for currencies not listed")
        if any(v < 0 for v in amounts.values()):
            raise ValueError("amounts must not be negative")
        return {k if k == "default" else k.upper(): v for k, v in amounts.items()}

    @field_validator("exclusions")
    @classmethod
    def _every_reason(cls, exclusions: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(exclusions) - set(EXCLUSIONS))
        missing = [r for r in EXCLUSIONS if r not in exclusions]
        if unknown:
            raise ValueError(f"unknown reasons {unknown}; the reasons are {list(EXCLUSIONS)}")
        if missing:
            raise ValueError(f"say `exclude` or `pool` for {missing}")
        return exclusions

    @field_validator("balance_bands", "age_bands_months")
    @classmethod
    def _increasing(cls, edges: tuple) -> tuple:
        if list(edges) != sorted(set(edges)) or edges[0] <= 0:
            raise ValueError(f"band edges must be positive and increasing: {list(edges)}")
        return edges

    @model_validator(mode="after")
    def _pools_keep_currencies_apart(self):
        if "currency" not in self.pool_by:
            object.__setattr__(self, "pool_by", (*self.pool_by, "currency"))
        return self

    @property
    def label(self) -> str:
        return f"{self.version}+{self.digest}"

    def minimum(self, currency: str) -> Decimal:
        return self.min_balance.get(currency.upper(), self.min_balance["default"])

    def excluded(self) -> list[str]:
        return [r for r in EXCLUSIONS if self.exclusions[r] == "exclude"]

    def pooled_apart(self) -> list[str]:
        return [r for r in EXCLUSIONS if self.exclusions[r] == "pool"]


def load(path: Path) -> Selection:
    return config_file.load(path, Selection, "sale selection", DEFAULT_SELECTION)


def selection(settings: Settings) -> Selection:
    return load(settings.tape_selection or DEFAULT_SELECTION)
