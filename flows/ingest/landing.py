"""The landing zone: batches of billing extracts in a folder or an S3 prefix, and their dialect."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import date

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.storage import Store, StoredFile
from debtflow.flows.ingest.contract import FILE_FORMATS, TABLES

BATCH_ID = re.compile(r"^(\d{4}-\d{2}-\d{2})T\d{4}$")
DIALECT_FILE = "batch.json"


@dataclass(frozen=True)
class Dialect:
    """How a batch's CSV files are written; Dutch, Belgian and Norwegian exports often differ."""

    delimiter: str = ","
    quote: str = '"'
    decimal_separator: str = "."
    encoding: str = "utf-8"
    date_format: str | None = None  # strptime format, e.g. "%d-%m-%Y"; default ISO
    timestamp_format: str | None = None

    @classmethod
    def parse(cls, text: str, where: str) -> Dialect:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DebtflowError(f"{where}: not valid JSON: {exc}") from exc
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known - {"contract_version"})
        if unknown:
            raise DebtflowError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}")
        dialect = cls(**{k: v for k, v in values.items() if k in known})
        if dialect.decimal_separator not in (".", ","):
            raise DebtflowError(f"{where}: decimal_separator must be '.' or ','")
        return dialect

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class DataFile:
    file: StoredFile
    table: str | None  # None: a name the contract does not know
    file_format: str | None

    @property
    def name(self) -> str:
        return self.file.name


@dataclass(frozen=True)
class Batch:
    batch_id: str
    files: tuple[StoredFile, ...]

    @property
    def business_date(self) -> date:
        return date.fromisoformat(BATCH_ID.match(self.batch_id).group(1))

    @property
    def dialect_file(self) -> StoredFile | None:
        return next((f for f in self.files if f.name == DIALECT_FILE), None)

    def data_files(self) -> list[DataFile]:
        """Contract files first in contract order (customers before what refers to them)."""
        order = {name: i for i, name in enumerate(TABLES)}
        found = []
        for f in self.files:
            if f.name == DIALECT_FILE:
                continue
            stem, _, ext = f.name.partition(".")
            known = stem in TABLES and ext in FILE_FORMATS
            found.append(DataFile(f, stem if known else None, ext if known else None))
        return sorted(found, key=lambda d: (order.get(d.table, len(order)), d.name))


@dataclass(frozen=True)
class Survey:
    """What a landing zone holds as of a business date."""

    batches: list[Batch]  # due (business date <= up_to), in load order
    later: list[str]  # batch ids dated after up_to: they wait for their date
    strays: list[str]  # folders and files at the top that are not batches

    def describe(self, landing: str, up_to: date | None) -> list[str]:
        """Lines for the person running ingest: what was not loaded, and why."""
        lines = []
        if self.strays:
            lines.append(
                f"landing {landing}: skipped {', '.join(self.strays)}: not a batch folder "
                "(a batch is a folder named YYYY-MM-DDTHHMM, e.g. 2026-11-21T0600)"
            )
        if self.later:
            lines.append(
                f"landing {landing}: {len(self.later)} batch(es) dated after {up_to} wait for "
                f"their date: {', '.join(self.later[:5])}{' ...' if len(self.later) > 5 else ''}"
            )
        if not self.batches and not self.later and not self.strays:
            lines.append(f"landing {landing} is empty: nothing to load")
        return lines


def survey(store: Store, up_to: date | None = None) -> Survey:
    """Batches in load order, and what else the landing zone holds. Hidden names (a leading dot
    or underscore: temp folders of an upload in progress) are passed over in silence."""
    batches, later, strays = [], [], []
    for name in store.list_dirs():
        match = BATCH_ID.match(name)
        if match and (up_to is None or date.fromisoformat(match.group(1)) <= up_to):
            batches.append(Batch(name, tuple(store.list_files(name))))
        elif match:
            later.append(name)
        elif not name.startswith((".", "_")):
            strays.append(f"{name}/")
    strays += [f.name for f in store.list_files("") if not f.name.startswith((".", "_"))]
    return Survey(batches, later, strays)
