"""What a dunning message says: the facts the planner fills in, before any wording or channel.

A Message is the content of one ledger row. It holds no prose: the words per language live in
templates/<language>.yml (see wording.py), and mail.py, sms.py and letter.py turn a Message into
what a channel sends. Name, address, e-mail, mobile and customer number are personal data: they go
to the channel and nowhere else, so they are left out of the repr that tracebacks and logs show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

LANGUAGES = ("nl", "fr", "en", "nb")
# Norwegian readers of "no" (macrolanguage) and Nynorsk get Bokmål rather than English.
LANGUAGE_ALIASES = {"no": "nb", "nn": "nb"}
STEP_KINDS = {
    # a friendly reminder before the due date: no fee, pay by the due date
    "pre_due": "pre_due",
    "reminder_1": "reminder",
    "reminder_2": "reminder",
    "final_notice": "final_notice",
    # a phone step falls back to a letter for debtors without a mobile number: a reminder
    "phone": "reminder",
    "agency": "agency",
}
FEE_KINDS = ("reminder_fee", "collection_costs", "collection_fee", "interest", "damages")
# Debtors who usually pay by card or iDEAL get a link to tap; everyone else transfer details
# (a direct debit that failed or was reversed will not be collected again by itself).
LINK_METHODS = ("card", "ideal")


def language(code: str | None) -> str:
    """The supported language for an ISO 639-1 code or a locale ('nl-BE' -> 'nl'); else 'en'."""
    base = (code or "").replace("_", "-").split("-")[0].strip().lower()
    base = LANGUAGE_ALIASES.get(base, base)
    return base if base in LANGUAGES else "en"


@dataclass(frozen=True)
class Invoice:
    number: str
    issue_date: date
    due_date: date
    open_amount: Decimal

    def __post_init__(self) -> None:
        if self.open_amount <= 0:
            raise ValueError(f"invoice {self.number}: open_amount must be positive")


@dataclass(frozen=True)
class Fee:
    """A cost with the law or contract term that allows it, e.g. 'art. 6:96 BW'."""

    kind: str
    amount: Decimal
    legal_basis: str

    def __post_init__(self) -> None:
        if self.kind not in FEE_KINDS:
            raise ValueError(f"fee kind {self.kind!r} is not one of {FEE_KINDS}")
        if self.amount <= 0:
            raise ValueError(f"fee {self.kind}: amount must be positive")


@dataclass(frozen=True)
class BankTransfer:
    """Pay to an account, quoting a structured reference (NL betalingskenmerk, BE
    gestructureerde mededeling, NO KID, ISO 11649 RF) so the payment matches itself."""

    iban: str
    reference: str
    beneficiary: str
    bic: str = ""


@dataclass(frozen=True)
class PaymentLink:
    url: str

    def __post_init__(self) -> None:
        # the link becomes an <a href> in the e-mail: no javascript: or plain-http targets
        if not self.url.startswith("https://"):
            raise ValueError("a payment link must be an https:// URL")


@dataclass(frozen=True)
class Party:
    """The creditor, or the collection agency a claim was handed to."""

    name: str
    address: tuple[str, ...]
    phone: str
    email: str
    website: str = ""


@dataclass(frozen=True)
class LapsedPlan:
    """A payment plan that broke: the ladder resumed, and the message says why."""

    started: date
    instalment: int


@dataclass(frozen=True)
class PlanOffer:
    """A payment plan offered with the message: its reference and instalment amounts."""

    reference: str
    frequency: str  # weekly or monthly
    amounts: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        if len(self.amounts) < 2 or min(self.amounts) <= 0:
            raise ValueError(f"plan offer {self.reference}: needs two or more positive instalments")


def how_to_pay(
    usual_method: str | None, transfer: BankTransfer, link: PaymentLink | None
) -> BankTransfer | PaymentLink:
    """The payment instructions for a debtor who usually pays with `usual_method`."""
    return link if link is not None and usual_method in LINK_METHODS else transfer


@dataclass(frozen=True, kw_only=True)
class Message:
    """One dunning message: who is asked to pay what, by when, how, and on what grounds.

    `invoices` are demanded; `disputed` are named as left out of the demand. `fees` are charged
    now and count in the total; `costs_if_unpaid` are what will be charged if the deadline passes
    (the final notice must state them). `language` is normalised: unknown codes become 'en'.
    """

    idempotency_key: str
    as_of: date
    language: str
    step: str
    creditor: Party
    debtor_name: str = field(repr=False)
    customer_number: str = field(repr=False)
    postal_address: tuple[str, ...] = field(repr=False)
    email: str | None = field(default=None, repr=False)
    mobile: str | None = field(default=None, repr=False)
    currency: str
    invoices: tuple[Invoice, ...]
    disputed: tuple[Invoice, ...] = ()
    fees: tuple[Fee, ...] = ()
    costs_if_unpaid: tuple[Fee, ...] = ()
    deadline: date
    payment: BankTransfer | PaymentLink
    agency: Party | None = None
    wording: str = ""  # a wording variant in templates/<language>.yml (policy step `wording`)
    lapsed_plan: LapsedPlan | None = None
    plan_offer: PlanOffer | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "language", language(self.language))
        key = self.idempotency_key
        if self.step not in STEP_KINDS:
            raise ValueError(f"message {key}: unknown step {self.step!r}")
        if not self.invoices:
            raise ValueError(f"message {key}: no invoice to demand")
        if {i.number for i in self.invoices} & {i.number for i in self.disputed}:
            raise ValueError(f"message {key}: an invoice is both demanded and disputed")
        if self.deadline < self.as_of:
            raise ValueError(f"message {key}: deadline {self.deadline} is before {self.as_of}")
        if self.kind == "agency" and self.agency is None:
            raise ValueError(f"message {key}: an agency notice must name the agency")

    @property
    def kind(self) -> str:
        """pre_due, reminder, final_notice or agency: what the wording is chosen by."""
        return STEP_KINDS[self.step]

    @property
    def contact(self) -> Party:
        """Whom the debtor turns to: the agency, once the claim is handed over to one."""
        return self.agency if self.kind == "agency" and self.agency else self.creditor

    @property
    def total_due(self) -> Decimal:
        """The demanded invoices' open amounts plus the fees charged now; never disputes."""
        return sum((i.open_amount for i in self.invoices), Decimal(0)) + sum(
            (f.amount for f in self.fees), Decimal(0)
        )
