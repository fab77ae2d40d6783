"""All configuration, read once from `DEBTFLOW_*` environment variables (and an optional `.env`).

Every path the platform writes to derives from `home`, so one variable moves a whole installation.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SOURCE_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEBTFLOW_", env_file=".env", extra="ignore")

    home: Path = Field(
        Path(".debtflow"), description="Warehouse, registry, outbox, tapes, reports."
    )
    landing_url: str | None = Field(
        None, description="Landing zone: a folder or s3://bucket/prefix; default HOME/landing."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, moto).")
    timezone: str = Field("Europe/Amsterdam", description="Time zone that defines 'today'.")
    dbt_project_dir: Path = Field(SOURCE_ROOT / "dbt_project")
    expectations_dir: Path = Field(SOURCE_ROOT / "expectations")
    dunning_ladder: Path | None = Field(None, description="YAML dunning ladder; default built in.")
    pseudonym_key: SecretStr = Field(
        SecretStr("debtflow-demo-key"), description="HMAC key that pseudonymises tape ids."
    )
    future_tolerance_days: int = Field(1, description="How far past as_of an event time may lie.")
    training_months: int = Field(12, description="Month-end snapshots used to train.")

    @cached_property
    def root(self) -> Path:
        return self.home.resolve()

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def landing(self) -> str:
        return self.landing_url or str(self.root / "landing")

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def registry_dir(self) -> Path:
        return self.root / "registry"

    @property
    def outbox_dir(self) -> Path:
        return self.root / "outbox"

    @property
    def tapes_dir(self) -> Path:
        return self.root / "tapes"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def dbt_target_dir(self) -> Path:
        return self.root / "dbt" / "target"

    @property
    def extension_dir(self) -> Path:
        return self.root / "duckdb_extensions"

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()


def get_settings() -> Settings:
    """Settings as the environment says now (tests change DEBTFLOW_HOME between cases)."""
    return Settings()
