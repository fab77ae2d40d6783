"""The landing zone: which batches exist and which files they hold (a local folder for now)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from debtflow.flows.contract import FILE_FORMATS, TABLES
from debtflow.flows.errors import DebtflowError

BATCH_ID = re.compile(r"^(\d{4}-\d{2}-\d{2})T\d{4}$")


@dataclass(frozen=True)
class LandingFile:
    path: Path
    table: str | None  # None: a file name the contract does not know
    file_format: str | None

    @property
    def name(self) -> str:
        return self.path.name

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


@dataclass(frozen=True)
class Batch:
    batch_id: str
    path: Path

    @property
    def business_date(self) -> date:
        return date.fromisoformat(BATCH_ID.match(self.batch_id).group(1))

    def files(self) -> list[LandingFile]:
        found = []
        for path in sorted(p for p in self.path.iterdir() if p.is_file()):
            stem, _, ext = path.name.partition(".")
            known = stem in TABLES and ext in FILE_FORMATS
            found.append(LandingFile(path, stem if known else None, ext if known else None))
        return found


def list_batches(landing: Path, up_to: date | None = None) -> list[Batch]:
    """Batches in load order; folders whose names are not batch ids (temp folders) are skipped."""
    if not landing.is_dir():
        raise DebtflowError(f"landing zone {landing} does not exist: set DEBTFLOW_LANDING_URL")
    batches = [
        Batch(p.name, p) for p in sorted(landing.iterdir()) if p.is_dir() and BATCH_ID.match(p.name)
    ]
    return [b for b in batches if up_to is None or b.business_date <= up_to]
