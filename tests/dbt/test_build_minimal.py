"""A landing zone with only customers, invoices and payments builds and passes every test;
a failing data test raises TransformError naming the node; each node is a progress line as it
finishes."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from dbt_world import AS_OF, query

from debtflow.flows.build import transform
from debtflow.flows.core import progress, warehouse
from debtflow.flows.core.settings import Settings

PROGRESS = io.StringIO()  # what the command line shows on stderr while the world builds


@pytest.fixture(scope="module")
def built(build_world) -> tuple[Settings, dict]:
    progress.start(PROGRESS, live=False)
    try:
        return build_world(False)
    finally:
        progress.stop()


def test_build_passes_with_empty_optional_tables(built) -> None:
    settings, nodes = built
    assert all(n["status"] in {"success", "pass"} for n in nodes.values())
    rows = query(
        settings,
        "select debtor_id, overdue_balance, email_bounced, active_plan, bureau_score, "
        "reminders_current_episode from marts.debtor_features where debtor_id = 'D2'",
    )
    assert rows == [("D2", Decimal("430.00"), False, False, None, 0)]
    assert query(settings, "select count(*) from marts.channel_performance") == [(0,)]
    labels = query(
        settings,
        "select debtor_id, label_collected_30d from marts.debtor_feature_snapshots "
        "order by debtor_id, as_of",
    )
    assert labels == [("D1", 1), ("D1", 1), ("D2", 0), ("D2", 0), ("D2", None)]


def test_failed_test_raises_transform_error_naming_the_node(built) -> None:
    settings, _ = built
    with warehouse.connect(settings) as con:
        con.execute(
            "insert into raw.invoices (invoice_id, debtor_id, document_type, issue_date, "
            "due_date, amount, currency, updated_at) values "
            "('X1', 'D1', 'receipt', '2026-01-01', '2026-01-15', 5, 'EUR', '2026-01-01')"
        )
    with pytest.raises(transform.TransformError, match="document_type") as error:
        transform.build(settings, AS_OF, select="source:billing.invoices")
    assert "accepted_values" in str(error.value)


def test_each_node_is_a_progress_line_as_it_finishes(built) -> None:
    _, nodes = built
    built_nodes = [uid for uid in nodes if not uid.startswith("operation.")]  # hooks: not nodes
    lines = PROGRESS.getvalue().splitlines()
    shape = re.compile(r"  \[ *(\d+)/(\d+)\] (\w+) (\S+) \.\.\. \d+\.\d s")
    found = [shape.fullmatch(line) for line in lines]
    assert len(lines) == len(built_nodes) and all(found), lines
    assert [int(m[1]) for m in found] == list(range(1, len(built_nodes) + 1))  # as they finish
    assert {int(m[2]) for m in found} == {len(built_nodes)}
    named = {(m[3], m[4]) for m in found}
    assert ("model", "int_ledger") in named and ("model", "debtor_features") in named
    assert {kind for kind, _ in named} == {"model", "test", "unit_test"}
