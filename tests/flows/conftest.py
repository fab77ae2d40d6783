"""Fixtures the flow tests share: the test home's settings and the hand-made dunning warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dunning_world import create

from debtflow.flows.core.settings import Settings, get_settings
from debtflow.flows.core.warehouse import connect


@pytest.fixture
def settings(home: Path) -> Settings:
    """The test home's settings (a module may override it, e.g. with a policy of its own)."""
    return get_settings()


@pytest.fixture
def con(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The dunning warehouse of dunning_world.py; a module with a warehouse of its own defines
    its own `con`."""
    con = connect(settings)
    create(con)
    yield con
    con.close()
