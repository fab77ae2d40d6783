"""What the law lets a dunning step cost, and when it may be sent, in NL, BE and NO.

The dunning planner asks one question per intended message:

    terms(country, debtor_type, step_kind, principal, currency, sent_on, channel, history)

and gets `Terms`: whether the law allows the step now (if not: why, and from which day), the fee
charged with it, the costs that will be charged if the debtor has not paid by the deadline (the
notice must state them exactly), and that deadline. A fee the law forbids is never returned.

- step_kind: 'reminder', 'final_notice' (NL veertiendagenbrief, NO inkassovarsel), 'agency'
  (the hand-over to a collection agency; it has no deadline of its own) or 'pre_due' (a friendly
  reminder before the due date: free everywhere, to pay by the due date, never once overdue).
- channel: 'letter' counts the post's delay where the law does; 'email', 'sms', 'app' and 'phone'
  reach the debtor the same day.
- history: what earlier steps of this overdue episode did, kept by the planner in the ledger.
  When a Terms carries costs_if_unpaid, the planner stores its deadline as
  History.notice_deadline: the costs become chargeable, once, with the first step sent after it.
- contract: Contract(instalment=...) for a recurring bill (NL cap on small instalments, BE
  periodic supply); the default is a one-off invoice.

The rules, for consumers (the figures and their sources are in statutes.yml):
- NL: reminders and the veertiendagenbrief are free; the letter states the collection costs
  (art. 6:96 BW, WIK scale, capped for small instalments) and gives 14 days from the day after
  receipt; after them the costs are charged once.
- BE: the first reminder is free (periodic supply: for three due dates a calendar year, then at
  most 7.50 plus postage) and states the damages; 14 days from the third working day after posting,
  or from the day after an e-mail; after them the damages (Book XIX) are charged once.
- NO: a reminder no earlier than 14 days after the due date, fee 1/20 of the inkassosats, fees for
  at most two letters in all (the inkassovarsel counts); the inkassovarsel gives 14 days from the
  day it is sent and states the agency's light fee; the agency may start only after them.
Business debtors owe 40 or more from the day after the due date without notice in NL (WIK scale)
and BE (a flat 40); NO applies its rules to every debtor. Other countries: no fees, 14 days.

Money is Decimal, rounded half up to cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.dunning.statutes import CHANNELS, FeeSource, Statutes, default_statutes

CENT = Decimal("0.01")
DAY = timedelta(days=1)
STEP_KINDS = ("reminder", "final_notice", "agency", "pre_due")
DEBTOR_TYPES = ("consumer", "business")


@dataclass(frozen=True)
class Fee:
    # What the country's law calls it; a message names it in its language (templates, fees):
    # reminder_fee (BE periodic supply, NO purregebyr), collection_costs (NL incassokosten, BE
    # business flat compensation), damages (BE Book XIX) or collection_fee (NO inkassosalær).
    kind: str
    amount: Decimal
    currency: str
    source: FeeSource  # the rule that allows it; a message states source.basis(language)


@dataclass(frozen=True)
class Terms:
    allowed: bool
    reason: str | None = None  # why the law forbids the step now
    earliest: date | None = None  # the first day it will allow it, where that is known
    fee: Fee | None = None  # charged with this step
    costs_if_unpaid: Fee | None = None  # charged if unpaid by the deadline; the notice states it
    deadline: date | None = None  # the last day to pay


@dataclass(frozen=True)
class History:
    """What earlier steps of this overdue episode did."""

    due_date: date  # of the (oldest) overdue invoice
    reminders: int = 0  # reminders and notices sent so far
    fees_charged: int = 0  # NO: reminder fees charged so far (a fee-bearing inkassovarsel counts)
    reminders_this_year: int = 0  # BE periodic: first reminders for other due dates this year
    notice_deadline: date | None = None  # deadline of the notice that stated the costs
    costs_charged: bool = False  # this episode's collection costs or damages are charged
    costs_in_six_months: Decimal = Decimal(0)  # NL instalments: costs on the contract, 6 months


@dataclass(frozen=True)
class Contract:
    instalment: Decimal | None = None  # the amount billed each period; None for a one-off invoice
    sector: str | None = None  # BE: 'energy' and 'telecom' are outside the periodic rule


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _positive(principal: Decimal) -> Decimal:
    if principal <= 0:
        raise ValueError(f"the principal must be positive, not {principal}")
    return principal


# --- the figures ---------------------------------------------------------------------------------


def nl_collection_costs(
    principal: Decimal,
    *,
    monthly_amount: Decimal | None = None,
    costs_so_far_in_six_months: Decimal = Decimal(0),
    vat_rate: Decimal | None = None,
    statutes: Statutes | None = None,
) -> Decimal:
    """NL buitengerechtelijke incassokosten: the marginal WIK scale within its minimum and
    maximum; for an instalment below the threshold at most what the six-month cap leaves; VAT on
    top only for a creditor who cannot deduct it (vat_rate)."""
    _positive(principal)
    nl = (statutes or default_statutes()).NL
    rule, cap = nl.collection_costs, nl.instalment_cap
    total, lower = Decimal(0), Decimal(0)
    for band in rule.scale:  # each band taxes the part of the principal inside it
        upper = principal if band.up_to is None else min(principal, band.up_to)
        total += (upper - lower) * band.rate
        lower = upper
    costs = min(max(total, rule.minimum), rule.maximum)
    if monthly_amount is not None and monthly_amount < cap.below:
        costs = min(costs, max(cap.per_six_months - costs_so_far_in_six_months, Decimal(0)))
    costs = cents(costs)
    return cents(costs * (1 + vat_rate)) if vat_rate is not None else costs


def be_damages(balance: Decimal, *, statutes: Statutes | None = None) -> Decimal:
    """BE: the most a consumer owes as damages (schadebeding) on an unpaid balance."""
    rule = (statutes or default_statutes()).BE.damages
    band = next(b for b in rule.bands if b.up_to is None or _positive(balance) <= b.up_to)
    return cents(min(band.fixed + band.rate * max(balance - band.above, Decimal(0)), rule.maximum))


def no_reminder_fee(*, statutes: Statutes | None = None) -> Decimal:
    """NO: the most a reminder (purregebyr) or fee-bearing inkassovarsel may cost."""
    no = (statutes or default_statutes()).NO
    return cents(no.inkassosats.amount * no.reminder.fee_fraction)


def no_collection_fee(principal: Decimal, *, statutes: Statutes | None = None) -> Decimal:
    """NO: a collection agency's light fee (lett salær) for a principal."""
    no = (statutes or default_statutes()).NO
    step = next(
        s
        for s in no.collection_fee.light_scale
        if s.up_to is None or _positive(principal) <= s.up_to
    )
    return cents(no.inkassosats.amount * step.factor)


def deadline(
    country: str, channel: str, sent_on: date, *, statutes: Statutes | None = None
) -> date:
    """The last day to pay a reminder or notice sent on `sent_on`, by the country's counting."""
    statutes = statutes or default_statutes()
    rule = statutes.deadline_rule(country)
    start = rule.letter if channel == "letter" else rule.electronic
    if start.working_day:
        first, seen = sent_on, 0
        while seen < start.working_day:
            first += DAY
            seen += _working_day(statutes, country, first)
    else:
        first = sent_on + timedelta(days=start.delivery_days + 1)
    last = first + timedelta(days=rule.days - 1)
    while rule.extend_past_holidays and not _working_day(statutes, country, last):
        last += DAY
    return last


def _working_day(statutes: Statutes, country: str, day: date) -> bool:
    return day.weekday() < 5 and not statutes.is_holiday(country, day)


# --- the steps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    """One question to terms(), with what every country's rules read from it."""

    country: str
    business: bool
    step: str
    principal: Decimal
    currency: str
    sent_on: date
    channel: str
    history: History
    contract: Contract
    statutes: Statutes

    def fee(self, kind: str, amount: Decimal, source: FeeSource) -> Fee | None:
        return Fee(kind, amount, self.currency, source) if amount > 0 else None

    @property
    def deadline(self) -> date | None:
        if self.step == "agency":
            return None
        return deadline(self.country, self.channel, self.sent_on, statutes=self.statutes)

    @property
    def costs_due(self) -> bool:
        """The notice's deadline has passed unpaid and its costs are not charged yet."""
        h = self.history
        return (
            not h.costs_charged
            and h.notice_deadline is not None
            and self.sent_on > h.notice_deadline
        )


def terms(
    country: str,
    debtor_type: str,
    step_kind: str,
    principal: Decimal,
    currency: str,
    sent_on: date,
    channel: str,
    history: History,
    *,
    contract: Contract | None = None,
    statutes: Statutes | None = None,
) -> Terms:
    """The law's answer for one dunning step; see the module docstring."""
    for value, allowed, name in (
        (step_kind, STEP_KINDS, "step_kind"),
        (debtor_type, DEBTOR_TYPES, "debtor_type"),
        (channel, (*CHANNELS, "agency"), "channel"),
    ):
        if value not in allowed:
            raise DebtflowError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
    statutes = statutes or default_statutes()
    rules = statutes.country(country)
    if rules and currency != rules.currency:
        raise DebtflowError(
            f"{country.upper()} fees are set in {rules.currency}, this claim is in {currency}; "
            f"fix: pass the principal converted to {rules.currency}"
        )
    if step_kind == "pre_due":
        if sent_on > history.due_date:
            return _refused(f"overdue since {history.due_date + DAY}: no pre-due reminder", None)
        return Terms(True, deadline=history.due_date)
    if sent_on <= history.due_date:
        return _refused(
            f"not overdue: the invoice is due on {history.due_date}", history.due_date + DAY
        )
    case = _Case(
        country.upper(),
        debtor_type == "business",
        step_kind,
        _positive(principal),
        currency,
        sent_on,
        channel,
        history,
        contract or Contract(),
        statutes,
    )
    return {"NL": _nl, "BE": _be, "NO": _no}.get(case.country, _elsewhere)(case)


def _refused(reason: str, earliest: date | None) -> Terms:
    return Terms(False, reason=reason, earliest=earliest)


def _owed_at_once(case: _Case, owed: Fee | None) -> Terms:
    """Business debtors owe the costs from the day after the due date, without any notice."""
    return Terms(True, fee=None if case.history.costs_charged else owed, deadline=case.deadline)


def _after_notice(case: _Case, costs: Fee | None, *, opens: bool, fee: Fee | None = None) -> Terms:
    """Costs allowed only once a notice that stated them has gone unpaid past its deadline."""
    if case.costs_due:
        return Terms(True, fee=costs, deadline=case.deadline)
    stated = costs if opens and not case.history.costs_charged else None
    return Terms(True, fee=fee, costs_if_unpaid=stated, deadline=case.deadline)


def _nl(case: _Case) -> Terms:
    nl = case.statutes.NL
    if case.business:
        owed = nl_collection_costs(
            case.principal, vat_rate=nl.collection_costs.vat_rate, statutes=case.statutes
        )
        return _owed_at_once(case, case.fee("collection_costs", owed, nl.business.source))
    costs = nl_collection_costs(
        case.principal,
        monthly_amount=case.contract.instalment,
        costs_so_far_in_six_months=case.history.costs_in_six_months,
        vat_rate=nl.collection_costs.vat_rate,
        statutes=case.statutes,
    )
    fee = case.fee("collection_costs", costs, nl.collection_costs.source)
    return _after_notice(case, fee, opens=case.step == "final_notice")


def _be(case: _Case) -> Terms:
    be = case.statutes.BE
    if case.business:
        return _owed_at_once(
            case, case.fee("collection_costs", be.business.amount, be.business.source)
        )
    damages = case.fee(
        "damages", be_damages(case.principal, statutes=case.statutes), be.damages.source
    )
    first = case.history.reminders == 0 and case.step != "agency"
    return _after_notice(case, damages, opens=first, fee=_be_periodic_fee(case) if first else None)


def _be_periodic_fee(case: _Case) -> Fee | None:
    """Periodic supply: the first reminder is free for three due dates a year, then it may cost."""
    rule = case.statutes.BE.periodic_reminder
    if (
        case.contract.instalment is None
        or case.contract.sector in rule.excluded_sectors
        or case.history.reminders_this_year < rule.free_per_year
    ):
        return None
    postage = rule.postage_letter if case.channel == "letter" else Decimal(0)
    return case.fee("reminder_fee", rule.fee + postage, rule.source)


def _no(case: _Case) -> Terms:
    no, h = case.statutes.NO, case.history
    collection = case.fee(
        "collection_fee",
        no_collection_fee(case.principal, statutes=case.statutes),
        no.collection_fee.source,
    )
    if case.step == "agency":
        if h.notice_deadline is None or case.sent_on <= h.notice_deadline:
            return _refused(
                "collection may start only after the inkassovarsel's deadline has passed unpaid "
                f"({no.deadline.source.cite})",
                h.notice_deadline + DAY if h.notice_deadline else None,
            )
        return Terms(True, fee=None if h.costs_charged else collection)
    earliest = h.due_date + timedelta(days=no.reminder.earliest_days_after_due)
    if case.step == "reminder" and case.sent_on < earliest:
        return _refused(
            f"a reminder may be sent no earlier than {no.reminder.earliest_days_after_due} days "
            f"after the due date ({no.reminder.source.cite})",
            earliest,
        )
    fee = None
    if case.sent_on >= earliest and h.fees_charged < no.reminder.max_fees:
        fee = case.fee("reminder_fee", no_reminder_fee(statutes=case.statutes), no.reminder.source)
    stated = collection if case.step == "final_notice" and not h.costs_charged else None
    return Terms(True, fee=fee, costs_if_unpaid=stated, deadline=case.deadline)


def _elsewhere(case: _Case) -> Terms:
    """A country without rules here: no fees, the default deadline."""
    return Terms(True, deadline=case.deadline)
