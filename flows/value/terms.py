"""The valuation's terms (terms.yml): costs, fees and discount rates, validated on load. An
error names the file, the key and why."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from debtflow.flows.core import config_file
from debtflow.flows.core.settings import Settings

DEFAULT_TERMS = Path(__file__).with_name("terms.yml")
Rate = Field(ge=0, le=1)


class Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    digest: str = ""
    horizon_months: int = Field(36, ge=1, le=120)
    buyer_discount_rate: float = Rate
    seller_discount_rate: float = Rate
    in_house_cost_per_account_month: dict[str, Decimal]
    agency_fee_share: float = Field(ge=0, lt=1)
    agency_cost_per_account: dict[str, Decimal]
    buyer_cost_per_account_month: dict[str, Decimal]
    seller_cost_share: float = Field(ge=0, lt=1)
    seller_cost_per_pool: dict[str, Decimal]
    min_support: int = Field(30, ge=1)
    min_vintages: int = Field(6, ge=1, le=36)
    tail_months: int = Field(6, ge=1, le=36)
    score_tilt_bounds: tuple[float, float] = (0.5, 2.0)
    bootstrap_samples: int = Field(500, ge=10, le=100_000)
    bootstrap_level: float = Field(0.9, gt=0, lt=1)
    bootstrap_seed: int = 7
    sensitivity_discount_rates: tuple[float, ...] = Field(min_length=1)
    sensitivity_haircuts: tuple[float, ...] = Field(min_length=1)
    material_share: float = Field(0.02, ge=0, le=1)

    @field_validator(
        "in_house_cost_per_account_month",
        "agency_cost_per_account",
        "buyer_cost_per_account_month",
        "seller_cost_per_pool",
    )
    @classmethod
    def _per_currency(cls, amounts: dict[str, Decimal]) -> dict[str, Decimal]:
        if "default" not in amounts:
            raise ValueError("needs a `default` amount for currencies not listed")
        if any(v < 0 for v in amounts.values()):
            raise ValueError("amounts must not be negative")
        return {k if k == "default" else k.upper(): v for k, v in amounts.items()}

    @field_validator("sensitivity_discount_rates", "sensitivity_haircuts")
    @classmethod
    def _shares(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 <= v < 1 for v in values):
            raise ValueError(f"each must be at least 0 and below 1: {list(values)}")
        return values

    @model_validator(mode="after")
    def _bounds(self):
        low, high = self.score_tilt_bounds
        if not 0 < low <= 1 <= high:
            raise ValueError("score_tilt_bounds: expected [low, high] with 0 < low <= 1 <= high")
        return self

    @property
    def label(self) -> str:
        return f"{self.version}+{self.digest}"

    @staticmethod
    def amount(amounts: dict[str, Decimal], currency: str) -> float:
        return float(amounts.get(currency.upper(), amounts["default"]))


def monthly(annual_rate: float) -> float:
    """The monthly rate that compounds to `annual_rate` over a year."""
    return (1 + annual_rate) ** (1 / 12) - 1


def load(path: Path) -> Terms:
    return config_file.load(path, Terms, "valuation terms", DEFAULT_TERMS)


def terms(settings: Settings) -> Terms:
    return load(settings.value_terms or DEFAULT_TERMS)
