"""All configuration, read once from `DEBTFLOW_*` environment variables (and an optional `.env`).

Every path the platform writes to derives from `home`, so one variable moves a whole installation.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from debtflow.flows.core.errors import DebtflowError

SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _half_the_memory() -> str:
    """Half the machine's RAM, in whole GiB (at least 1): DuckDB spills beyond it, and the rest
    stays for the flow's own work (scoring, pandas) and Prefect."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1, total // 2**31)}GiB"


def _env(name: str) -> AliasChoices:
    """DEBTFLOW_<name>, or the DEBTFLOW_ALERT_<name> that earlier versions read."""
    return AliasChoices(f"DEBTFLOW_{name}", f"DEBTFLOW_ALERT_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEBTFLOW_", env_file=".env", extra="ignore", populate_by_name=True
    )

    home: Path = Field(
        Path(".debtflow"), description="Warehouse, registry, outbox, tapes, reports."
    )
    landing_url: str | None = Field(
        None, description="Landing zone: a folder or s3://bucket/prefix; default HOME/landing."
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, moto).")
    publish_url: str | None = Field(
        None,
        description="Where marts are published as Parquet: a folder or s3://bucket/prefix; "
        "default HOME/published.",
    )
    timezone: str = Field("Europe/Amsterdam", description="Time zone that defines 'today'.")
    dbt_project_dir: Path = Field(SOURCE_ROOT / "dbt_project")
    expectations_dir: Path = Field(SOURCE_ROOT / "expectations")
    dunning_policy: Path | None = Field(
        None, description="YAML dunning policy (flows/dunning/policy.yml is the default)."
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="HMAC key that pseudonymises the ids on bidder tapes: a random secret of at "
        "least 32 characters, kept in your secret store. No default: `debtflow demo` makes one "
        "in HOME/secrets for its own home, and elsewhere a tape is refused without it.",
    )
    tapes_url: str | None = Field(
        None,
        description="Where sale tapes are published (under tapes/<tape_id>/): a folder or "
        "s3://bucket/prefix; default HOME.",
    )
    tape_selection: Path | None = Field(
        None, description="YAML sale selection (flows/tape/selection.yml is the default)."
    )
    forward_flow: Path | None = Field(
        None,
        description="YAML standing forward-flow agreement with a buyer (flows/tape/forward_flow.yml "
        "is an example); none: no forward flow is sold.",
    )
    value_terms: Path | None = Field(
        None,
        description="YAML costs, fees and discount rates of `debtflow value` "
        "(flows/value/terms.yml is the default).",
    )
    duckdb_memory_limit: str = Field(
        default_factory=_half_the_memory,
        description="DuckDB memory cap (e.g. 8GiB); beyond it, work spills to disk. "
        "Default: half the machine's RAM.",
    )
    lock_wait_seconds: int = Field(
        300,
        ge=0,
        description="How long a command waits for another process (a running flow, an analyst's "
        "duckdb session) to release the warehouse before it gives up.",
    )
    future_tolerance_days: int = Field(1, description="How far past as_of an event time may lie.")
    training_months: int = Field(12, description="Month-end snapshots used to train.")
    # one SMTP configuration, for dunning e-mail and failure alerts (the DEBTFLOW_ALERT_SMTP_*
    # names of earlier versions still work)
    smtp_host: str | None = Field(
        None,
        description="SMTP server (dunning e-mail, alerts).",
        validation_alias=_env("SMTP_HOST"),
    )
    smtp_port: int = Field(25, description="SMTP port.", validation_alias=_env("SMTP_PORT"))
    smtp_from: str = Field(
        "debtflow@localhost", description="Sender address.", validation_alias=_env("SMTP_FROM")
    )
    smtp_username: str | None = Field(
        None, description="SMTP login, if one is needed.", validation_alias=_env("SMTP_USERNAME")
    )
    smtp_password: SecretStr | None = Field(
        None, description="SMTP password.", validation_alias=_env("SMTP_PASSWORD")
    )
    smtp_starttls: bool = Field(
        False,
        description="Upgrade the SMTP connection with TLS.",
        validation_alias=_env("SMTP_STARTTLS"),
    )
    alert_email_to: str | None = Field(
        None,
        description="Comma-separated recipients of failure alerts.",
        validation_alias=AliasChoices("DEBTFLOW_ALERT_EMAIL_TO", "DEBTFLOW_ALERT_SMTP_TO"),
    )
    sms_url: str | None = Field(None, description="HTTP JSON SMS gateway for dunning texts.")
    sms_token: SecretStr | None = Field(None, description="Bearer token of the SMS gateway.")
    sms_sender: str = Field("debtflow", description="Sender id shown on dunning texts.")
    send_retry_backoff: float = Field(
        0.5, ge=0, description="Seconds before the first retry of a failed send (doubling)."
    )
    letters_url: str | None = Field(
        None, description="Where letters go as PDF: a folder or s3://bucket/prefix."
    )
    alert_webhook_url: str | None = Field(
        None, description="URL that receives failure alerts as a JSON POST (Slack, Teams, ...)."
    )
    dask_address: str = Field(
        "",
        description="Score on Dask through prefect-dask: empty = in this process; 'local' = a "
        "LocalCluster of threads on this machine; 'tcp://host:8786' = an existing scheduler "
        "(its workers need debtflow installed).",
    )
    dask_partition_rows: int = Field(
        250_000, gt=0, description="Debtors per scoring partition (one Prefect task) on Dask."
    )

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
    def tapes_store(self) -> str:
        return self.tapes_url or str(self.root)

    @property
    def tapes_work_dir(self) -> Path:
        """Where a tape's files are written before they are published."""
        return self.root / "tmp" / "tapes"

    @property
    def pseudonym_key_file(self) -> Path:
        """The demo's own random key (`debtflow demo` writes it; nothing else reads a file)."""
        return self.root / "secrets" / "pseudonym.key"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def data_quality_dir(self) -> Path:
        """The data-quality pages built from the validation results (open index.html)."""
        return self.reports_dir / "data_quality"

    @property
    def validation_results_dir(self) -> Path:
        """GX validation results (JSON), one file per suite and run: the data-quality pages'
        source and history."""
        return self.reports_dir / "validations"

    @property
    def dbt_target_dir(self) -> Path:
        return self.root / "dbt" / "target"

    @property
    def extension_dir(self) -> Path:
        return self.root / "duckdb_extensions"

    def today(self) -> date:
        return datetime.now(ZoneInfo(self.timezone)).date()


def get_settings() -> Settings:
    """Settings as the environment says now (tests change DEBTFLOW_HOME between cases); a bad
    value is a DebtflowError naming the variable, the value and why."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [
            f"  {'.'.join(map(str, e['loc']))}={e['input']!r}: {e['msg']}" for e in exc.errors()
        ]
        raise DebtflowError(
            "the settings are not valid; fix these DEBTFLOW_* values (environment or .env):\n"
            + "\n".join(problems)
        ) from None
