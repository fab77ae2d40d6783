"""Transform: `dbt build` of the warehouse marts for one business date, in-process.

dbt runs through `dbtRunner` with the project's own profile; the warehouse path and the DuckDB
settings of `warehouse.connect` (memory limit, spill directory) reach the profile as environment
variables, so both open the file with the same configuration. A failed node raises
`TransformError` naming it. Each node that finishes is reported as a progress line
(flows/core/progress.py); dbt's own console lines (warnings only) go to stderr, never into the
command's result on stdout. After each invocation the adapter's cached DuckDB instance is closed,
so later code in the process may open the file with any configuration (DuckDB refuses a second
configuration while an instance is open).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import date
from pathlib import Path

import duckdb

from debtflow.flows.core import progress
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import Settings
from debtflow.flows.core.warehouse import RAW, connect
from debtflow.flows.ops import stage_cache

FAILED = {"error", "fail", "runtime error"}


class TransformError(DebtflowError):
    """dbt build failed; the message names each failed node and dbt's message for it."""


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _dbt_env(settings: Settings) -> dict[str, str]:
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    settings.extension_dir.mkdir(parents=True, exist_ok=True)
    (settings.root / "tmp" / "duckdb").mkdir(parents=True, exist_ok=True)
    return {
        "DEBTFLOW_WAREHOUSE": str(settings.warehouse_path),
        "DEBTFLOW_DUCKDB_EXTENSION_DIR": str(settings.extension_dir),
        # must equal warehouse.connect()'s config: one process, one configuration per file
        "DEBTFLOW_DUCKDB_MEMORY_LIMIT": str(settings.duckdb_memory_limit),
        "DEBTFLOW_DUCKDB_TEMP_DIR": str(settings.root / "tmp" / "duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def _release_dbt_connection() -> None:
    """Close dbt-duckdb's process-wide DuckDB instance (it outlives the dbtRunner call)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def build_args(
    settings: Settings,
    as_of: date,
    select: str | None = None,
    full_refresh: bool = False,
    snapshot_dates: int | None = None,
    tests: bool = True,
) -> list[str]:
    project = str(settings.dbt_project_dir)
    dbt_vars = {"as_of": as_of.isoformat(), "snapshot_months": settings.training_months}
    if snapshot_dates:
        dbt_vars["snapshot_dates_per_build"] = snapshot_dates
    args = [
        "build",
        "--project-dir", project,
        "--profiles-dir", project,
        "--target-path", str(settings.dbt_target_dir),
        "--log-path", str(settings.root / "dbt" / "logs"),
        "--vars", json.dumps(dbt_vars),
        "--log-level", "warn",
        "--log-level-file", "info",
    ]  # fmt: skip
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if not tests:
        args += ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
    return args


def _row_counts(settings: Settings, results: list) -> dict[str, int]:
    """Rows per built table (dbt-duckdb reports none); not views, which a count would compute,
    and tests report their failures instead."""
    relations = {
        r.node.unique_id: r.node.relation_name
        for r in results
        if r.node.resource_type == "model"
        and str(r.status) == "success"
        and r.node.config.materialized != "view"
    }
    if not relations:
        return {}
    with connect(settings) as con:
        return {
            node: con.execute(f"select count(*) from {relation}").fetchone()[0]
            for node, relation in relations.items()
        }


SNAPSHOTS_NODE = "model.debtflow.debtor_feature_snapshots"
# (debtor, date) pairs one snapshot query may compute: each month start recomputes every
# overdue debtor's history, and 12 dates x 1M debtors at once spilled more than 60 GB
SNAPSHOT_DEBTOR_DATES = 2_000_000


def _snapshot_dates_per_build(settings: Settings) -> int:
    """All twelve month starts at once for a small book, two at 1M debtors."""
    with connect(settings) as con:
        try:
            (debtors,) = con.execute(
                f"select count(distinct debtor_id) from {RAW}.customers"
            ).fetchone()
        except duckdb.CatalogException:  # nothing loaded yet
            debtors = 0
    return max(1, SNAPSHOT_DEBTOR_DATES // max(debtors, 1))


def _pending_snapshot_dates(settings: Settings) -> int:
    """What the model's post-hook recorded (macros/pending_snapshot_dates.sql)."""
    with connect(settings) as con:
        row = con.execute(
            "select dates_pending from intermediate.build_state "
            "where model = 'debtor_feature_snapshots'"
        ).fetchone()
    return row[0] if row else 0


class NodeProgress:
    """dbt's events -> a progress line per finished node, '  [ 45/195] model int_ledger ... 3.2 s';
    a node that did not pass stays on screen. dbt calls back from its worker threads."""

    OK = {"success", "pass"}

    def __init__(self, prefix: str = "") -> None:
        self.prefix, self.done, self.total = prefix, 0, None
        self.lock = threading.Lock()

    def __call__(self, event) -> None:
        name, data = event.info.name, event.data
        if name.startswith("Log") and name.endswith("Result"):  # LogModelResult, LogTestResult...
            self.total = getattr(data, "total", 0) or getattr(data, "num_models", 0) or self.total
        elif name == "NodeFinished":
            node, result = data.node_info, data.run_result
            status = str(result.status or node.node_status)
            with self.lock:
                self.done += 1
                what = f"{self.prefix}{node.resource_type} {node.node_name}"
                if status not in self.OK:
                    what += f" {status.upper()}"
                line = progress.counted(self.done, self.total, what, result.execution_time)
            (progress.done if status in self.OK else progress.note)(line)


def _invoke(
    settings: Settings,
    as_of: date,
    select: str | None,
    full_refresh: bool,
    snapshot_dates: int,
    prefix: str = "",
    tests: bool = True,
    manifest=None,
) -> list:
    from dbt.cli.main import dbtRunner  # heavy import, only when transforming

    args = build_args(settings, as_of, select, full_refresh, snapshot_dates, tests)
    connect(settings).close()  # wait while another process holds the warehouse: dbt would not
    with _environment(_dbt_env(settings)), redirect_stdout(sys.stderr):
        try:
            runner = dbtRunner(callbacks=[NodeProgress(prefix)], manifest=manifest)
            outcome = runner.invoke(args)
        finally:
            _release_dbt_connection()
            progress.clear()  # what prints next (a log line, the result) starts on a clean line
    if outcome.exception is not None:
        raise TransformError(f"dbt build for {as_of} crashed: {outcome.exception}") from (
            outcome.exception if isinstance(outcome.exception, BaseException) else None
        )
    results = list(getattr(outcome.result, "results", None) or [])
    failed = [r for r in results if str(r.status) in FAILED]
    if failed or not outcome.success:
        lines = [f"  {r.node.unique_id} [{r.status}]: {r.message}" for r in failed]
        detail = "\n".join(lines) or "  (no failed node reported; see the dbt log)"
        log = settings.root / "dbt" / "logs" / "dbt.log"
        raise TransformError(f"dbt build for {as_of} failed:\n{detail}\nlog: {log}")
    return results


def build(
    settings: Settings,
    as_of: date,
    select: str | None = None,
    full_refresh: bool = False,
    tests: bool = True,
    manifest=None,
) -> dict[str, dict]:
    """Run `dbt build` for `as_of`; return {unique_id: {status, seconds, rows}} per node.
    tests=False builds the selected models only (a partial build's cross-model tests would
    compare with marts it did not rebuild). `manifest` (from `parse`) skips dbt's parsing,
    which a new as_of would otherwise redo whole (the vars change).

    debtor_feature_snapshots computes at most `_snapshot_dates_per_build` month starts per
    invocation (dbt var snapshot_dates_per_build); while dates are pending - a first build, a
    full refresh, a back-fill - that model, what reads it and their tests are built again
    (seconds add up)."""
    stage_cache.forget(settings, "transform")  # the marts are about to change
    per_build = _snapshot_dates_per_build(settings)
    results = _invoke(
        settings, as_of, select, full_refresh, per_build, tests=tests, manifest=manifest
    )
    seconds = {r.node.unique_id: r.execution_time or 0.0 for r in results}
    pending = _pending_snapshot_dates(settings) if SNAPSHOTS_NODE in seconds else 0
    while pending:
        again = _invoke(
            settings, as_of, "debtor_feature_snapshots+", False, per_build, "more snapshot dates: "
        )
        left = _pending_snapshot_dates(settings)
        if left >= pending:  # the model built nothing: stop rather than loop forever
            raise TransformError(f"debtor_feature_snapshots for {as_of}: {left} dates stay pending")
        pending = left
        for r in again:
            seconds[r.node.unique_id] = seconds.get(r.node.unique_id, 0.0) + (
                r.execution_time or 0.0
            )
    counts = _row_counts(settings, results)
    return {
        r.node.unique_id: {
            "status": str(r.status),
            "seconds": round(seconds[r.node.unique_id], 3),
            "rows": counts.get(r.node.unique_id, r.failures),
        }
        for r in results
    }


def parse(settings: Settings, as_of: date):
    """dbt's parsed project (a Manifest), for builds of later dates that skip parsing: the vars
    (as_of) are read again when each build compiles its models."""
    from dbt.cli.main import dbtRunner

    args = ["parse", *build_args(settings, as_of)[1:]]
    with _environment(_dbt_env(settings)), redirect_stdout(sys.stderr):
        try:
            outcome = dbtRunner().invoke(args)
        finally:
            _release_dbt_connection()
    if not outcome.success:
        raise TransformError(f"dbt parse failed: {outcome.exception or 'see the dbt log'}")
    return outcome.result


# dbt's own index.html fetches manifest.json and catalog.json at load time, which a browser
# refuses (or hangs on) for a page opened from disk; --static inlines both into one page.
STATIC_PAGE = "static_index.html"
# The page loads a tracking script from a CDN when the manifest says usage stats are on.
_TRACKING_ON = '"send_anonymous_usage_stats": true'


def docs(settings: Settings, as_of: date) -> Path:
    """`dbt docs generate --static` against the warehouse: the site is one self-contained page,
    HOME/reports/dbt_docs/index.html, that opens from disk with no network."""
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    target = settings.root / "dbt" / "docs_target"
    args = [
        "docs", "generate", "--static",
        "--project-dir", project,
        "--profiles-dir", project,
        "--target-path", str(target),
        "--log-path", str(settings.root / "dbt" / "logs"),
        "--vars", json.dumps({"as_of": as_of.isoformat(), "snapshot_months": settings.training_months}),
        "--log-level", "warn",
    ]  # fmt: skip
    with _environment(_dbt_env(settings)):
        try:
            outcome = dbtRunner().invoke(args)
        finally:
            _release_dbt_connection()
    if not outcome.success:
        raise TransformError(f"dbt docs generate failed: {outcome.exception or 'see the dbt log'}")
    site = settings.reports_dir / "dbt_docs"
    site.mkdir(parents=True, exist_ok=True)
    page = (target / STATIC_PAGE).read_text(encoding="utf-8")
    # DBT_SEND_ANONYMOUS_USAGE_STATS=false already says so; this holds if a profile says otherwise
    page = page.replace(_TRACKING_ON, '"send_anonymous_usage_stats": false')
    (site / "index.html").write_text(page, encoding="utf-8")
    for stale in ("catalog.json", "manifest.json"):  # the old site's data files, now inline
        (site / stale).unlink(missing_ok=True)
    return site
