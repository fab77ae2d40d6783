"""The dunning policy (policy.yml): ladders per debtor type and country, channel rules, amounts,
caps and costs, validated on load. An error names the file, the key and the fix. What the law
allows (fees, deadlines, contact hours) is in statutes.yml (law.py, hours.py).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from debtflow.flows.core import config_file
from debtflow.flows.core.settings import Settings
from debtflow.flows.dunning.experiments import Experiment, check_no_overlap, overlaid
from debtflow.flows.dunning.wording import variants as wording_variants

DEFAULT_POLICY = Path(__file__).with_name("policy.yml")
CENT = Decimal("0.01")
CHANNELS = ("email", "sms", "letter", "phone", "agency")
StepKind = Literal["reminder", "final_notice", "call", "agency"]
# what `preferred` may choose among: letter always reaches, the others need contact data and consent
Choosable = Literal["email", "sms", "letter", "phone"]
# channel_performance's segment dimensions (macros/segments.sql)
SegmentDimension = Literal["all", "debtor_type", "tenure", "size", "acquisition", "payer"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    name: str
    kind: StepKind
    channel: Literal["preferred", "email", "sms", "letter", "phone", "agency"]
    fallback: Literal["none", "letter"] = "none"
    min_days_past_due: int = Field(ge=0)
    min_gap_days: int = Field(0, ge=0)
    label: str = ""
    wording: str = ""  # a wording variant of the message ('' the standard one)
    # the channels `preferred` chooses among (phone only where the step may call)
    channels: tuple[Choosable, ...] = Field(("email", "sms", "letter"), min_length=1)

    @field_validator("wording")
    @classmethod
    def _wording_exists(cls, name):
        lacking = sorted(lang for lang, names in wording_variants().items() if name not in names)
        if name and lacking:
            raise ValueError(
                f"no wording variant {name!r} under `variants:` in templates/{lacking[0]}.yml "
                f"(every language needs it; lacking: {', '.join(lacking)})"
            )
        return name

    @model_validator(mode="after")
    def _final_notice_is_a_letter(self):
        if self.kind == "final_notice" and self.channel != "letter":
            raise ValueError(
                "a final_notice is the legally required letter (veertiendagenbrief, "
                "inkassovarsel): set channel: letter"
            )
        return self


class Ladder(_Strict):
    name: str
    debtor_types: tuple[Literal["consumer", "business"], ...] = ("consumer", "business")
    countries: tuple[str, ...] | None = None  # None: any country (a default ladder)
    steps: tuple[Step, ...] = Field(min_length=1)

    @field_validator("countries")
    @classmethod
    def _upper(cls, countries):
        return None if countries is None else tuple(c.upper() for c in countries)

    @model_validator(mode="after")
    def _ordered(self):
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names repeat: {names}")
        days = [s.min_days_past_due for s in self.steps]
        if days != sorted(days):
            raise ValueError(f"min_days_past_due must not decrease from step to step: {days}")
        return self


class Creditor(_Strict):
    name: str
    email: str
    phone: str
    iban: str
    address: tuple[str, ...]
    payment_link: str | None = None


PLACEMENT_FIELDS = (
    "debtor_id", "currency", "amount_due", "invoice_id", "step", "grade", "p_collect",
    "reason_codes", "country", "episode_start", "idempotency_key",
)  # fmt: skip


class Agency(_Strict):
    name: str
    fields: tuple[Literal[PLACEMENT_FIELDS], ...] = Field(min_length=1)


class ChannelChoice(_Strict):
    """How `preferred` weighs channels: pay rates per segment of this dimension, shrunk towards
    the step's average with a prior worth `shrinkage_prior` contacted debtors (channel_value.py)."""

    segment_dimension: SegmentDimension = "payer"
    shrinkage_prior: float = Field(50, ge=0)
    # channel_cost is in cost_currency; an amount in another currency is weighed against it at
    # these approximate rates (1 unit = rate units of cost_currency), and an action stores its
    # channel's cost in its own currency at the same rate (from_cost_currency)
    cost_currency: str = "EUR"
    exchange_rates: dict[str, Decimal] = {}

    @field_validator("exchange_rates")
    @classmethod
    def _codes(cls, rates):
        bad = sorted(k for k, v in rates.items() if v <= 0)
        if bad:
            raise ValueError(f"exchange_rates must be positive: {bad}")
        return {k.upper(): v for k, v in rates.items()}

    def to_cost_currency(self, amount: Decimal, currency: str) -> Decimal | None:
        """The amount in cost_currency, or None when the policy has no rate for `currency`."""
        if currency.upper() == self.cost_currency.upper():
            return amount
        rate = self.exchange_rates.get(currency.upper())
        return None if rate is None else amount * rate

    def from_cost_currency(self, cost: Decimal, currency: str) -> Decimal | None:
        """A cost in cost_currency as an amount in `currency`, in cents like the ledger's
        column, or None (unknown) when the policy has no rate for `currency`."""
        if currency.upper() == self.cost_currency.upper():
            return cost.quantize(CENT, ROUND_HALF_UP)
        rate = self.exchange_rates.get(currency.upper())
        return None if rate is None else (cost / rate).quantize(CENT, ROUND_HALF_UP)


class PreDue(_Strict):
    """Friendly reminders before the due date for invoices likely to be paid late (pre_due.py)."""

    enabled: bool = False
    threshold: float = Field(0.5, ge=0, le=1)  # p_late at or above this
    days_before_due: int = Field(3, ge=0)
    channel: Literal["preferred", "email", "sms", "letter"] = "preferred"
    channels: tuple[Choosable, ...] = Field(("email", "sms"), min_length=1)


class PaymentPlans(_Strict):
    """Payment-plan offers (flows/dunning/plan_offers.py): at which step, to which grades, from
    which balance, in how many instalments of at least how much, how often. When a plan counts
    as broken is dbt's var plan_broken_after_days (dbt_project.yml): the warehouse decides it."""

    offer_at_step: str
    offer_grades: tuple[int, ...] = Field(min_length=1)
    min_balance: dict[str, Decimal]
    min_installment: dict[str, Decimal]
    max_installments: dict[int, int]
    frequency: Literal["weekly", "monthly"] = "monthly"

    @field_validator("min_balance", "min_installment")
    @classmethod
    def _per_currency(cls, amounts):
        return Policy._has_default(amounts)

    @model_validator(mode="after")
    def _limits(self):
        if any(not 1 <= g <= 10 for g in self.offer_grades):
            raise ValueError(f"offer_grades are grades 1-10: {list(self.offer_grades)}")
        missing = [g for g in self.offer_grades if g not in self.max_installments]
        if missing:
            raise ValueError(f"max_installments has no entry for offer grades {missing}")
        if any(n < 2 for n in self.max_installments.values()):
            raise ValueError("max_installments must be at least 2 (one instalment is no plan)")
        if any(v <= 0 for v in self.min_installment.values()):
            raise ValueError("min_installment must be positive")
        return self

    def amount(self, limits: dict[str, Decimal], currency: str) -> Decimal:
        return limits.get(currency.upper(), limits["default"])


class Policy(_Strict):
    version: str
    min_amount: dict[str, Decimal]
    frequency_cap_days: int = Field(ge=0)
    pending_expire_days: int = Field(ge=1)
    rate_per_second: dict[Literal["email", "sms", "letter"], float] = {}
    agency: Agency
    channel_cost: dict[Literal["email", "sms", "letter", "phone", "agency"], Decimal]
    channel_choice: ChannelChoice = ChannelChoice()
    pre_due: PreDue = PreDue()
    creditor: Creditor
    ladders: tuple[Ladder, ...] = Field(min_length=1)
    experiments: tuple[Experiment, ...] = ()  # A/B tests: experiments.py
    payment_plans: PaymentPlans | None = None  # None: no plan offers
    digest: str = ""  # of the file's text, stored with the version on every action
    _arms: dict[tuple[str, str], Policy] = PrivateAttr(default_factory=dict)

    @field_validator("min_amount")
    @classmethod
    def _has_default(cls, amounts):
        if "default" not in amounts:
            raise ValueError("needs a 'default' amount (other keys are currency codes)")
        return {k if k == "default" else k.upper(): v for k, v in amounts.items()}

    @model_validator(mode="after")
    def _every_debtor_has_a_ladder(self):
        for debtor_type in ("consumer", "business"):
            if not any(
                debtor_type in ladder.debtor_types and ladder.countries is None
                for ladder in self.ladders
            ):
                raise ValueError(
                    f"no default ladder for {debtor_type} debtors: add one without `countries`"
                )
        return self

    @model_validator(mode="after")
    def _variants_are_policies(self):
        """Each variant's policy, built (and so validated) once, on load."""
        check_no_overlap(self.experiments)
        base = self.model_dump(exclude={"experiments"})
        for exp in self.experiments:
            for variant in exp.variants:
                where = f"experiment {exp.name!r}, variant {variant.name!r}"
                spec = overlaid(base, variant.overlay, where)
                try:
                    self._arms[exp.name, variant.name] = Policy.model_validate(spec)
                except ValidationError as exc:
                    problems = "; ".join(config_file.problems(exc))
                    raise ValueError(
                        f"{where}: the overlaid policy is not valid: {problems}"
                    ) from None
        return self

    def for_debtor(self, debtor_id: str, day: date) -> tuple[Policy, str | None, str | None]:
        """The debtor's effective policy on `day`, the experiment running then and the debtor's
        arm in it (None, None when none runs). The control arm gets this policy itself."""
        exp = next((e for e in self.experiments if e.running(day)), None)
        if exp is None:
            return self, None, None
        arm = exp.arm(debtor_id)
        return self._arms.get((exp.name, arm), self), exp.name, arm

    @model_validator(mode="after")
    def _every_choice_has_a_cost(self):
        choosable = {
            c
            for lad in self.ladders
            for s in lad.steps
            if s.channel == "preferred"
            for c in s.channels
        }
        early = self.pre_due
        choosable |= set(early.channels if early.channel == "preferred" else [early.channel])
        missing = sorted(choosable - set(self.channel_cost))
        if missing:
            raise ValueError(f"channel_cost has no cost for {missing}: add one per channel")
        return self

    @model_validator(mode="after")
    def _offer_step_sends_a_message(self):
        plans = self.payment_plans
        if plans is None:
            return self
        kinds = {s.kind for lad in self.ladders for s in lad.steps if s.name == plans.offer_at_step}
        if not kinds:
            raise ValueError(
                f"payment_plans.offer_at_step {plans.offer_at_step!r} is no ladder step"
            )
        if kinds - {"reminder", "final_notice"}:
            raise ValueError(
                f"payment_plans.offer_at_step {plans.offer_at_step!r} must be a reminder or final "
                "notice: the offer is part of its message"
            )
        return self

    @property
    def label(self) -> str:
        """What every action stores: the version and a digest of the exact text."""
        return f"{self.version}+{self.digest}"

    def ladder_for(self, debtor_type: str | None, country: str | None) -> Ladder:
        """The first ladder for this country and debtor type, else the first default one."""
        fits = [lad for lad in self.ladders if (debtor_type or "consumer") in lad.debtor_types]
        for ladder in fits:
            if ladder.countries and (country or "").upper() in ladder.countries:
                return ladder
        return next(lad for lad in fits if lad.countries is None)

    def minimum(self, currency: str) -> Decimal:
        return self.min_amount.get(currency.upper(), self.min_amount["default"])

    def cost_of(self, channel: str, currency: str) -> Decimal | None:
        """What an action stores as its channel cost: in its own currency, None when unknown."""
        cost = self.channel_cost.get(channel)
        return None if cost is None else self.channel_choice.from_cost_currency(cost, currency)


def outline(pol: Policy, path: Path) -> dict:
    """What `dunning check-policy` shows of a valid policy: its ladders and the sections that
    change what the planner does."""
    choice, early, plans = pol.channel_choice, pol.pre_due, pol.payment_plans
    return {
        "file": str(path),
        "valid": True,
        "version": pol.label,
        "ladders": {lad.name: [s.name for s in lad.steps] for lad in pol.ladders},
        "channel_choice": f"by expected value per {choice.segment_dimension} segment, "
        f"shrunk with a prior of {choice.shrinkage_prior:g} contacted debtors",
        "pre_due": f"{early.days_before_due} days before due at p_late >= {early.threshold:g}"
        if early.enabled
        else "off",
        "payment_plans": f"offered at {plans.offer_at_step} to grades "
        f"{', '.join(map(str, plans.offer_grades))}"
        if plans
        else "off",
        "experiments": {
            e.name: f"{e.start} to {e.end}: control {e.holdout:.0%}, "
            + ", ".join(f"{v.name} {v.share:.0%}" for v in e.variants)
            for e in pol.experiments
        },
    }


def load(path: Path) -> Policy:
    """The policy in `path`, validated; a DebtflowError names the file, the key and the fix."""
    return config_file.load(path, Policy, "dunning policy", DEFAULT_POLICY)


def policy(settings: Settings) -> Policy:
    return load(settings.dunning_policy or DEFAULT_POLICY)
