"""statutes.yml, loaded and validated: the figures of the law with their sources, per country.

A mistake in the file is a DebtflowError that names the file, the key and the fix, because an
operator edits this file when a rate changes and must not find out at the next dunning run.
"""

from __future__ import annotations

import functools
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from debtflow.flows.core.errors import DebtflowError

DEFAULT_STATUTES = Path(__file__).with_name("statutes.yml")
CHANNELS = ("email", "sms", "app", "letter", "phone")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RULED = ("NL", "BE", "NO")  # the countries whose dunning rules statutes.yml holds


def _quoted_time(value: object) -> object:
    # Unquoted, YAML reads 17:00 as the number 1020, which pydantic would take for 00:17.
    if not isinstance(value, str | time):
        raise ValueError(f"{value!r} is not a time; fix: write it in quotes, e.g. '17:00'")
    return value


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; fix: use an IANA name such as Europe/Oslo"
        ) from None
    return name


def _holiday(text: str) -> str:
    try:
        date.fromisoformat(text if len(text) == 10 else f"2000-{text}")
    except ValueError:
        raise ValueError(
            f"{text!r} is not a day; fix: write MM-DD (every year) or YYYY-MM-DD (once)"
        ) from None
    return text


Money = Annotated[Decimal, Field(ge=0)]
Clock = Annotated[time, BeforeValidator(_quoted_time)]
TimeZone = Annotated[str, BeforeValidator(_timezone)]
Channel = Literal["email", "sms", "app", "letter", "phone"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    title: str
    article: str
    url: str | None = None
    effective: date | None
    note: str | None = None

    @property
    def cite(self) -> str:
        return f"{self.article}, {self.title}"


class Clause(_Model):
    """A rule's legal basis as a message in each language states it (the languages of
    messages.LANGUAGES)."""

    nl: str
    fr: str
    en: str
    nb: str


class FeeSource(Source):
    """The source of a fee or costs, which a message cites in its language."""

    clause: Clause

    def basis(self, language: str) -> str:
        return getattr(self.clause, language)


def _rising(bands: list) -> list:
    """The bands of a scale rise by their upper bound; only the last one is open-ended."""
    bounds = [b.up_to for b in bands]
    if not bounds or None in bounds[:-1] or bounds[-1] is not None:
        raise ValueError("only the last band may be open; fix: up_to: null on the last band only")
    if any(a >= b for a, b in zip(bounds[:-2], bounds[1:-1], strict=True)):
        raise ValueError("the bands do not rise; fix: order them by rising up_to")
    return bands


class Start(_Model):
    """When a deadline's days start: the day after receipt, or on the Nth working day."""

    delivery_days: int = Field(0, ge=0)
    working_day: int | None = Field(None, ge=1)


class Deadline(_Model):
    days: int = Field(ge=1)
    letter: Start
    electronic: Start
    extend_past_holidays: bool = False


class StatutoryDeadline(Deadline):
    source: Source


class Window(_Model):
    channels: list[Channel] | Literal["all"]
    days: list[Weekday]
    from_: Clock = Field(alias="from")
    to: Clock

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.from_ >= self.to:
            raise ValueError("from must be before to; fix: a window cannot pass midnight")
        return self

    def covers(self, channel: str) -> bool:
        return self.channels == "all" or channel in self.channels


class ContactHours(_Model):
    windows: list[Window]
    source: Source


class Country(_Model):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    timezone: TimeZone
    extra_holidays: list[Annotated[str, BeforeValidator(_holiday)]] = []
    deadline: StatutoryDeadline
    contact_hours: ContactHours | None = None


class Band(_Model):
    up_to: Money | None
    rate: Decimal = Field(ge=0, le=1)


class NLCosts(_Model):
    scale: Annotated[list[Band], AfterValidator(_rising)]
    minimum: Money
    maximum: Money
    vat_rate: Decimal | None = Field(None, ge=0, le=1)
    source: FeeSource


class NLInstalmentCap(_Model):
    below: Money
    per_six_months: Money
    source: Source


class Basis(_Model):
    """A rule whose figures live elsewhere in the file, with its own source."""

    source: FeeSource


class NL(Country):
    collection_costs: NLCosts
    instalment_cap: NLInstalmentCap
    business: Basis


class PeriodicReminder(_Model):
    free_per_year: int = Field(ge=0)
    fee: Money
    postage_letter: Money
    excluded_sectors: list[str] = []
    source: FeeSource


class DamageBand(_Model):
    up_to: Money | None
    fixed: Money
    rate: Decimal = Field(Decimal(0), ge=0, le=1)
    above: Money = Decimal(0)


class BEDamages(_Model):
    bands: Annotated[list[DamageBand], AfterValidator(_rising)]
    maximum: Money
    source: FeeSource


class Flat(_Model):
    amount: Money
    source: Source


class FlatFee(Flat):
    """A flat amount charged as a fee, which a message cites."""

    source: FeeSource


class BE(Country):
    periodic_reminder: PeriodicReminder
    damages: BEDamages
    business: FlatFee


class NOReminder(_Model):
    fee_fraction: Decimal = Field(gt=0, le=1)
    earliest_days_after_due: int = Field(ge=0)
    max_fees: int = Field(ge=0)
    source: FeeSource


class FeeStep(_Model):
    up_to: Money | None
    factor: Decimal = Field(ge=0)


class NOCollectionFee(_Model):
    light_scale: Annotated[list[FeeStep], AfterValidator(_rising)]
    source: FeeSource


class NO(Country):
    inkassosats: Flat
    reminder: NOReminder
    collection_fee: NOCollectionFee


class Default(_Model):
    timezone: TimeZone
    deadline: Deadline


def _every_channel(windows: list[Window]) -> list[Window]:
    bare = [c for c in CHANNELS if not any(w.covers(c) for w in windows)]
    if bare:
        raise ValueError(f"no window for {', '.join(bare)}; fix: add a window for them")
    return windows


class Statutes(_Model):
    default: Default
    sending_hours: Annotated[list[Window], AfterValidator(_every_channel)]
    NL: NL
    BE: BE
    NO: NO

    def country(self, code: str) -> Country | None:
        """The rules of a country with statutory rules here, else None (the defaults apply)."""
        return getattr(self, code.upper()) if code.upper() in RULED else None

    def timezone(self, code: str) -> ZoneInfo:
        rules = self.country(code)
        return ZoneInfo(rules.timezone if rules else self.default.timezone)

    def deadline_rule(self, code: str) -> Deadline:
        rules = self.country(code)
        return rules.deadline if rules else self.default.deadline

    def is_holiday(self, code: str, day: date) -> bool:
        """A public holiday of the country (the holidays package plus extra_holidays)."""
        rules = self.country(code)
        extra = rules.extra_holidays if rules else []
        return (
            day in _public_holidays(code.upper(), day.year)
            or day.isoformat() in extra
            or day.isoformat()[5:] in extra
        )


@functools.cache
def _public_holidays(code: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holidays.country_holidays(code, years=year))
    except NotImplementedError:  # a country the package does not know has none we can name
        return frozenset()


_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove this key or correct its spelling",
    "decimal_parsing": "write a plain number such as 40.00",
    "decimal_type": "write a plain number such as 40.00",
    "int_parsing": "write a whole number such as 14",
    "int_type": "write a whole number such as 14",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_type": "write a date as YYYY-MM-DD",
    "literal_error": "use one of the values named",
    "greater_than_equal": "raise it to the least value named",
    "greater_than": "raise it above the value named",
    "less_than_equal": "lower it to the most value named",
    "string_pattern_mismatch": "use a three-letter ISO 4217 code such as EUR",
}


def _describe(path: Path, error: dict) -> str:
    key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in error["loc"])
    key = key.replace(".[", "[") or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    fix = "" if "fix:" in message else f"; fix: {_FIXES.get(error['type'], 'see statutes.yml')}"
    return f"{path}: {key}: {message}{fix}"


def load_statutes(path: Path | str = DEFAULT_STATUTES) -> Statutes:
    """Read and validate a statutes file; every mistake in it is listed in one DebtflowError."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DebtflowError(f"{path}: cannot read the statutes ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise DebtflowError(f"{path}: not valid YAML: {exc}; fix: correct the syntax") from None
    if isinstance(spec, dict) and False in spec:
        raise DebtflowError(f"{path}: NO: YAML reads an unquoted NO as false; fix: write 'NO':")
    try:
        return Statutes.model_validate(spec)
    except ValidationError as exc:
        raise DebtflowError("\n".join(_describe(path, e) for e in exc.errors())) from None


@functools.cache
def default_statutes() -> Statutes:
    """The statutes shipped with debtflow, read once per process."""
    return load_statutes()
