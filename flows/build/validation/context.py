"""The Great Expectations context of a home: suites, definitions and checkpoints in memory,
validation results on disk (settings.validation_results_dir, the data-quality pages' source).

GX's own data docs site is not built: its pages load Bootstrap, jQuery and Vega from CDNs and are
blank offline; quality_page.py renders the stored results instead."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import great_expectations as gx
from great_expectations.data_context.data_context.context_factory import set_context
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from debtflow.flows.core.settings import Settings


def context(settings: Settings) -> Any:
    """This home's GX context, made the active one (suites and checkpoints bind to it)."""
    context = _context_for(settings.validation_results_dir)
    set_context(context)
    return context


@cache
def _context_for(results_dir: Path) -> Any:
    # One per process and home: creating a context and its datasource is the expensive part.
    # Suites, definitions and checkpoints live in memory (they are rebuilt from code and JSON);
    # validation results go to files, the history the data-quality pages are built from.
    defaults = InMemoryStoreBackendDefaults()
    defaults.stores[defaults.validation_results_store_name]["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(results_dir),
    }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.data_sources.add_pandas("debtflow")
    return context


def checkpoint(
    context: Any, suite: gx.ExpectationSuite, key_columns: list[str], exclude_values: bool
) -> Any:
    """The suite's checkpoint, (re)registered so it always runs the suite as given."""
    source = context.data_sources.get("debtflow")
    try:
        asset = source.get_asset(suite.name)
    except LookupError:
        asset = source.add_dataframe_asset(suite.name)
    try:
        batch = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        batch = asset.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
    )
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": 20,
        "unexpected_index_column_names": key_columns,
        "exclude_unexpected_values": exclude_values,
    }
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=[definition],
            result_format=result_format,
        )
    )
