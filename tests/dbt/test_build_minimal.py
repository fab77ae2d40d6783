"""A landing zone with only customers, invoices and payments builds and passes every test;
a failing data test raises TransformError naming the node."""

from __future__ import annotations

from decimal import Decimal

import pytest
from dbt_world import AS_OF, query

from debtflow.flows.build import transform
from debtflow.flows.core import warehouse
from debtflow.flows.core.settings import Settings


@pytest.fixture(scope="module")
def built(build_world) -> tuple[Settings, dict]:
    return build_world(False)


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
