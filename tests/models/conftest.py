"""Fixtures for the model tests: a fresh home with the synthetic feature marts in its warehouse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from synthetic_marts import build_warehouse

from debtflow.flows.core.settings import Settings, get_settings


@pytest.fixture
def settings(home: Path) -> Settings:
    return get_settings()


@pytest.fixture
def warehouse(settings: Settings) -> pd.DataFrame:
    return build_warehouse(settings)


@pytest.fixture
def truth_dir(tmp_path: Path, warehouse: pd.DataFrame) -> Path:
    path = tmp_path / "truth"
    path.mkdir()
    warehouse[["debtor_id", "as_of", "p_true", "label_collected_30d"]].rename(
        columns={"label_collected_30d": "label"}
    ).to_parquet(path / "collectability.parquet")
    return path
