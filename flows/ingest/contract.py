"""The landing contract (v1), defined once.

The loader, the raw-table DDL, the Great Expectations raw suites and the dbt sources all derive
from the tables below; nothing else lists these columns by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONTRACT_VERSION = 1
FILE_FORMATS = ("csv", "parquet", "jsonl")

# Logical type -> DuckDB type of the raw column.
SQL_TYPES = {
    "text": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "decimal": "DECIMAL(18,2)",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "text"
    required: bool = False
    accepted: tuple[str, ...] = ()
    positive: bool = False
    personal: bool = False  # personal data: never in logs, bidder tapes or reports
    doc: str = ""
    # A format a value should have; a value that does not match is counted and warned about,
    # never rejected (an unusable e-mail address is still a debtor worth collecting from).
    warn_pattern: str | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Rule:
    """A row-level rule between two columns of a row: `column` >= `at_least` when both are set."""

    column: str
    at_least: str
    reason: str


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    event_time: str  # the column that places a row in time (point-in-time features, freshness)
    doc: str = ""
    references: dict[str, str] = field(default_factory=dict)  # column -> referenced table
    rules: tuple[Rule, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def identifiers(self) -> list[str]:
        """Key and id columns: matched exactly downstream, so never cleaned, only accepted as is."""
        return [c.name for c in self.columns if c.name in self.key or c.name.endswith("_id")]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


C = Column
# Deliberately loose: a local part, an @, a domain with a dot and a top-level part. Catches the
# usual export damage (no @, no domain, spaces) without rejecting unusual but valid addresses.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$"
# E.164: +, a country code without leading zero, 9-15 digits in all. Real mobile numbers in our
# markets have 11 (NL, BE) or 10 (NO); shorter ones are almost always truncated.
E164_PATTERN = r"^\+[1-9][0-9]{8,14}$"
CURRENCIES = ("EUR", "NOK", "SEK", "DKK", "GBP", "USD", "CHF", "PLN")
CHANNELS = ("email", "sms", "app", "letter", "phone")
STEPS = ("pre_due", "reminder_1", "reminder_2", "final_notice", "phone", "plan_offer", "agency")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            key=("debtor_id",),
            event_time="updated_at",
            doc="One row per debtor version.",
            columns=(
                C("debtor_id", required=True),
                C("debtor_type", required=True, accepted=("consumer", "business")),
                C("name", personal=True),
                C("email", personal=True, warn_pattern=EMAIL_PATTERN),
                C("phone_mobile", personal=True, doc="E.164", warn_pattern=E164_PATTERN),
                C("street", personal=True),
                C("postal_code", personal=True),
                C("city", personal=True),
                C("country", required=True, doc="ISO 3166-1 alpha-2"),
                C("language", doc="ISO 639-1"),
                C("date_of_birth", "date", personal=True),
                C("company_registration"),
                C("customer_since", "date", required=True),
                C("acquisition_channel", accepted=("online", "offline", "partner")),
                C("paperless", "boolean"),
                C("updated_at", "timestamp", required=True),
            ),
        ),
        Table(
            "invoices",
            key=("invoice_id",),
            event_time="issue_date",
            doc="Invoices and credit notes; a restatement carries a newer updated_at.",
            references={"debtor_id": "customers"},
            rules=(Rule("due_date", "issue_date", "due_date is before issue_date"),),
            columns=(
                C("invoice_id", required=True),
                C("debtor_id", required=True),
                C("document_type", accepted=("invoice", "credit_note"), doc="default invoice"),
                C("issue_date", "date", required=True),
                C("due_date", "date", required=True),
                C("amount", "decimal", required=True, positive=True),
                C("currency", required=True, accepted=CURRENCIES),
                C("product"),
                C("disputed", "boolean"),
                C("dispute_opened_at", "timestamp"),
                C("updated_at", "timestamp", required=True),
            ),
        ),
        Table(
            "payments",
            key=("payment_id",),
            event_time="paid_at",
            doc="Incoming payments; empty invoice_id is allocated by reference, then oldest first.",
            references={"debtor_id": "customers"},
            columns=(
                C("payment_id", required=True),
                C("debtor_id", required=True),
                C("invoice_id"),
                C("paid_at", "timestamp", required=True),
                C("amount", "decimal", required=True, positive=True),
                C("currency", required=True, accepted=CURRENCIES),
                C(
                    "method",
                    accepted=(
                        "direct_debit",
                        "bank_transfer",
                        "card",
                        "ideal",
                        "cash",
                        "agency",
                    ),
                ),
                C("reference"),
            ),
        ),
        Table(
            "contact_events",
            key=("event_id",),
            event_time="occurred_at",
            doc="What happened to each dunning contact, per channel.",
            references={"debtor_id": "customers"},
            columns=(
                C("event_id", required=True),
                C("debtor_id", required=True),
                C("invoice_id"),
                C("channel", required=True, accepted=CHANNELS),
                C(
                    "event_type",
                    required=True,
                    accepted=(
                        "sent",
                        "delivered",
                        "bounced",
                        "opened",
                        "clicked",
                        "replied",
                        "call_attempt",
                        "call_connected",
                        "promise_to_pay",
                        "opt_out",
                    ),
                ),
                C("occurred_at", "timestamp", required=True),
                C("step", accepted=STEPS),
                C("campaign"),
                C("variant"),
            ),
        ),
        Table(
            "payment_plans",
            key=("plan_id",),
            event_time="updated_at",
            doc="Payment plans (afbetalingsplan / avbetalingsavtale).",
            references={"debtor_id": "customers"},
            columns=(
                C("plan_id", required=True),
                C("debtor_id", required=True),
                C("created_at", "timestamp", required=True),
                C("total_amount", "decimal", required=True, positive=True),
                C("installments", "integer", required=True, positive=True),
                C("frequency", accepted=("weekly", "monthly")),
                C(
                    "status",
                    required=True,
                    accepted=("active", "completed", "broken", "cancelled"),
                ),
                C("updated_at", "timestamp", required=True),
            ),
        ),
        Table(
            "credit_reports",
            key=("debtor_id", "reported_at"),
            event_time="reported_at",
            doc="Credit bureau reports.",
            references={"debtor_id": "customers"},
            columns=(
                C("debtor_id", required=True),
                C("reported_at", "timestamp", required=True),
                C("bureau_score", "integer"),
                C("registered_debts", "integer"),
                C("debt_restructuring", "boolean"),
                C("bankrupt", "boolean"),
                C("deceased", "boolean"),
            ),
        ),
    )
}

# Columns the loader adds to every raw table.
LINEAGE_COLUMNS = {"_batch_id": "VARCHAR", "_source_file": "VARCHAR", "_loaded_at": "TIMESTAMP"}


def personal_columns() -> set[str]:
    return {c.name for t in TABLES.values() for c in t.columns if c.personal}
