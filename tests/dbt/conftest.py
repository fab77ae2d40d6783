"""Fixtures for the dbt tests: build the hand-made world of dbt_world.py once per module."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dbt_world import AS_OF, load_world

from debtflow.flows.build import transform
from debtflow.flows.core import warehouse
from debtflow.flows.core.settings import Settings

BuildWorld = Callable[[bool], tuple[Settings, dict]]


@pytest.fixture(scope="module")
def build_world(tmp_path_factory: pytest.TempPathFactory) -> BuildWorld:
    """Load the world into a fresh home and run `dbt build` for AS_OF (3 snapshot months)."""

    def build(optional: bool = True) -> tuple[Settings, dict]:
        home: Path = tmp_path_factory.mktemp("dbt-home")
        settings = Settings(home=home, training_months=3)
        with warehouse.connect(settings) as con:
            load_world(con, optional=optional)
        return settings, transform.build(settings, AS_OF)

    return build
