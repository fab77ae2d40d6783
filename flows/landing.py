"""The landing zone: batches of billing extracts in a folder or an S3 prefix, and their dialect."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import date

from debtflow.flows.contract import FILE_FORMATS, TABLES
from debtflow.flows.errors import DebtflowError
from debtflow.flows.storage import Store, StoredFile

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


def list_batches(store: Store, up_to: date | None = None) -> list[Batch]:
    """Batches in load order; folders whose names are not batch ids (temp folders) are skipped."""
    batches = []
    for name in store.list_dirs():
        match = BATCH_ID.match(name)
        if match and (up_to is None or date.fromisoformat(match.group(1)) <= up_to):
            batches.append(Batch(name, tuple(store.list_files(name))))
    return batches
