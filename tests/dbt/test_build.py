"""dbt build on the hand-made world of conftest.py: exact values a credit manager can check."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import pytest
from dbt_world import AS_OF, query

from debtflow.flows.core.settings import Settings


@pytest.fixture(scope="module")
def built(build_world) -> tuple[Settings, dict]:
    return build_world(True)


@pytest.fixture(scope="module")
def settings(built) -> Settings:
    return built[0]


def test_build_reports_every_node_with_status_seconds_and_rows(built) -> None:
    _, nodes = built
    assert nodes["model.debtflow.fct_invoices"]["status"] == "success"
    assert nodes["model.debtflow.int_invoices_settled"]["rows"] == 8
    assert nodes["model.debtflow.fct_invoices"]["rows"] is None  # a view: counting computes it
    assert nodes["model.debtflow.debtor_features"]["rows"] == 4
    assert all(n["status"] in {"success", "pass"} for n in nodes.values())
    assert any(key.startswith("unit_test.") for key in nodes)


def test_schemas_are_named_exactly(settings: Settings) -> None:
    rows = query(
        settings,
        "select distinct table_schema from information_schema.tables "
        "where table_schema in ('staging', 'intermediate', 'marts') or table_schema like '%\\_%' "
        "escape '\\' order by 1",
    )
    assert [r[0] for r in rows] == ["intermediate", "marts", "staging"]


def test_payments_are_allocated_by_reference_then_oldest_first(settings: Settings) -> None:
    rows = query(
        settings,
        "select payment_id, invoice_id, allocated_amount, allocation_method "
        "from intermediate.int_payments_allocated order by payment_id, invoice_id nulls last",
    )
    assert rows == [
        # credit note I6 is credited like an unnamed payment: D2's oldest open invoice
        ("I6", "I5", Decimal("20.00"), "oldest_first"),
        ("P1", "I1", Decimal("100.00"), "oldest_first"),
        ("P1", "I2", Decimal("20.00"), "oldest_first"),
        ("P2", "I3", Decimal("80.00"), "reference"),
        ("P3", "I2", Decimal("30.00"), "oldest_first"),
        ("P4", "I5", Decimal("50.00"), "invoice_id"),
        ("P5", "I8", Decimal("60.00"), "oldest_first"),
        ("P5", None, Decimal("40.00"), "credit"),
    ]


def test_invoices_show_open_amount_status_and_days_past_due(settings: Settings) -> None:
    rows = query(
        settings,
        "select invoice_id, amount, allocated_amount, open_amount, days_past_due, status, "
        "paid_date, paid_late, disputed from marts.fct_invoices order by invoice_id",
    )
    d, D = date, Decimal
    assert rows == [
        ("I1", D("100.00"), D("100.00"), D("0.00"), 0, "paid", d(2025, 12, 20), True, False),
        ("I2", D("50.00"), D("50.00"), D("0.00"), 0, "paid", d(2026, 1, 25), True, False),
        ("I3", D("80.00"), D("80.00"), D("0.00"), 0, "paid", d(2026, 1, 10), False, False),
        ("I4", D("40.00"), D("0.00"), D("40.00"), 0, "open", None, None, False),
        # P4 pays 50 by invoice id, credit note I6 credits 20; D2 has an active plan
        ("I5", D("200.00"), D("70.00"), D("130.00"), 121, "in_plan", None, True, False),
        ("I6", D("20.00"), D("0.00"), D("0.00"), 0, "credit_note", None, None, False),
        ("I7", D("300.00"), D("0.00"), D("300.00"), 25, "disputed", None, True, True),
        ("I8", D("60.00"), D("60.00"), D("0.00"), 0, "paid", d(2026, 1, 15), False, False),
    ]


def test_aging_buckets_add_up_to_the_open_amount(settings: Settings) -> None:
    aging = query(
        settings,
        "select sum(open_current + open_1_30 + open_31_60 + open_61_90 + open_91_180 "
        "+ open_181_365 + open_over_365), sum(open_total), sum(n_open_invoices) from marts.ar_aging",
    )[0]
    invoices = query(
        settings,
        "select sum(open_amount), count(*) from marts.fct_invoices "
        "where document_type = 'invoice' and open_amount > 0",
    )[0]
    assert aging == (Decimal("470.00"), Decimal("470.00"), 3)
    assert (aging[1], aging[2]) == invoices
    be = query(
        settings,
        "select sum(open_1_30), sum(open_91_180), sum(overdue_total) from marts.ar_aging "
        "where country = 'BE'",
    )
    assert be == [(Decimal("300.00"), Decimal("130.00"), Decimal("430.00"))]


def test_features_at_as_of(settings: Settings) -> None:
    row = query(
        settings,
        "select overdue_balance, open_balance, max_days_past_due, oldest_overdue_invoice_id, "
        "n_overdue_invoices, disputed_open_amount, active_plan, email_bounced, sms_bounced, "
        "reminders_current_episode, bureau_score, tenure_days, as_of "
        "from marts.debtor_features where debtor_id = 'D2'",
    )
    # D2's e-mail bounced (E2) for an address it has no longer: a bounce counts only for the
    # address in use (email_since), so it is not "bounced" now
    assert row == [
        (Decimal("430.00"), Decimal("430.00"), 121, "I5", 2, Decimal("300.00"), True, False,
         False, 2, 550, 273, AS_OF),
    ]  # fmt: skip
    d1 = query(
        settings,
        "select overdue_balance, open_balance, has_email, has_mobile, n_invoices_paid_late_12m, "
        "n_past_overdue_episodes, days_since_last_payment, n_payments_90d "
        "from marts.debtor_features where debtor_id = 'D1'",
    )
    # the 2026-02-15 customer version dropped the e-mail address
    assert d1 == [(Decimal("0.00"), Decimal("40.00"), False, True, 2, 1, 35, 3)]
    debtors = query(settings, "select debtor_id from marts.debtor_features order by 1")
    assert [r[0] for r in debtors] == ["D1", "D2", "D3", "D4"]


def test_snapshots_are_point_in_time_with_labels(settings: Settings) -> None:
    rows = query(
        settings,
        "select debtor_id, as_of, overdue_balance, max_days_past_due, has_email, bureau_score, "
        "label_collected_30d from marts.debtor_feature_snapshots order by debtor_id, as_of",
    )
    d, D = date, Decimal
    assert rows == [
        # I1 (100, due 2025-11-15) is paid 2025-12-20, before 2025-12-31: collected
        ("D1", d(2025, 12, 1), D("100.00"), 16, True, None, 1),
        # I2 has 30 open after P1's oldest-first share; P3 pays it 2026-01-25: collected
        ("D1", d(2026, 1, 1), D("30.00"), 17, True, None, 1),
        # credit note I6 (2025-11-01) took 20 off I5
        ("D2", d(2025, 12, 1), D("180.00"), 31, False, None, 0),
        ("D2", d(2026, 1, 1), D("180.00"), 62, False, 550, 0),
        # 2026-02-01 + 30 days is after as_of: not observed yet
        ("D2", d(2026, 2, 1), D("130.00"), 93, False, 550, None),
    ]


def test_channel_performance_counts_payers_after_contact(settings: Settings) -> None:
    rows = query(
        settings,
        "select channel, step, variant, sent, delivered, bounced, clicked, contacted_debtors, "
        "paid_7d_debtors, paid_14d_debtors from marts.channel_performance "
        "where segment_dimension = 'all' order by channel",
    )
    assert rows == [
        ("email", "reminder_1", "A", 1, 0, 1, 0, 1, 0, 0),
        ("sms", "reminder_2", "B", 1, 1, 0, 1, 1, 1, 1),
    ]


def test_every_mart_column_is_described(settings: Settings) -> None:
    manifest = json.loads((settings.dbt_target_dir / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] != "marts":
            continue
        columns = query(
            settings,
            "select column_name from information_schema.columns "
            f"where table_schema = 'marts' and table_name = '{node['name']}'",
        )
        assert node["description"], node["name"]
        for (column,) in columns:
            described = node["columns"].get(column, {}).get("description")
            assert described, f"{node['name']}.{column} has no description"


def test_payments_mart_shows_the_unallocated_credit(settings: Settings) -> None:
    rows = query(
        settings,
        "select payment_id, amount, allocated_amount, unallocated_amount, n_invoices "
        "from marts.fct_payments where debtor_id = 'D3'",
    )
    assert rows == [("P5", Decimal("100.00"), Decimal("60.00"), Decimal("40.00"), 1)]


def test_publish_writes_every_mart_as_parquet_with_a_manifest(settings: Settings) -> None:
    from debtflow.flows.build.publish import publish

    result = publish(settings, AS_OF)
    folder = settings.root / "published"
    manifest = json.loads((folder / "_manifest.json").read_text())
    assert manifest["as_of"] == AS_OF.isoformat() == result["as_of"]
    assert {"fct_invoices", "debtor_features", "ar_aging", "ar_monthly"} <= set(manifest["marts"])
    assert not list(folder.glob(".*.tmp"))
    with duckdb.connect() as con:
        for mart, rows in manifest["marts"].items():
            path = folder / f"{mart}.parquet"
            assert con.execute(f"select count(*) from '{path}'").fetchone()[0] == rows
        assert con.execute(
            f"select sum(open_amount) from '{folder}/fct_invoices.parquet'"
        ).fetchone() == (Decimal("470.00"),)


def test_publish_to_s3(settings: Settings, s3_endpoint: str) -> None:
    import boto3

    from debtflow.flows.build.publish import publish

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="analysts")
    remote = settings.model_copy(
        update={"publish_url": "s3://analysts/marts", "s3_endpoint_url": s3_endpoint}
    )
    publish(remote, AS_OF)
    keys = {
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
            Bucket="analysts", Prefix="marts/"
        )["Contents"]
    }
    assert {"marts/_manifest.json", "marts/fct_invoices.parquet"} <= keys


def test_docs_are_one_page_that_opens_offline(settings: Settings) -> None:
    """dbt's own index.html fetches manifest.json and catalog.json, which a page opened from
    disk cannot: the static page inlines them and loads nothing from elsewhere."""
    from debtflow.flows.build import transform

    site = transform.docs(settings, AS_OF)
    assert site == settings.reports_dir / "dbt_docs"
    assert [p.name for p in site.iterdir()] == ["index.html"]
    page = (site / "index.html").read_text()
    assert '"MANIFEST.JSON INLINE DATA"' not in page and '"CATALOG.JSON INLINE DATA"' not in page
    assert '"model.debtflow.fct_invoices"' in page and "debtflow warehouse" in page  # overview
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page)
    assert tags and not [t for t in tags if re.search(r"(?:src|href)=[\"']?(?:https?:)?//", t)]
    assert not re.search(r"@import|url\([\"']?(?:https?:)?//", page)
    # the only script that would load from a CDN is dbt's tracker, off unless this is true
    assert '"send_anonymous_usage_stats": false' in page
    assert '"send_anonymous_usage_stats": true' not in page


def test_status_days_to_settle_and_credit_balance(settings: Settings) -> None:
    rows = query(
        settings,
        "select invoice_id, paid_amount, credited_amount, days_to_settle from marts.fct_invoices "
        "where invoice_id in ('I1', 'I5', 'I8') order by 1",
    )
    D = Decimal
    assert rows == [
        ("I1", D("100.00"), D("0.00"), 49),
        ("I5", D("50.00"), D("20.00"), None),
        ("I8", D("60.00"), D("0.00"), 14),
    ]
    credit = query(
        settings, "select debtor_id, credit_balance from marts.debtor_features order by 1"
    )
    assert credit == [("D1", D("0.00")), ("D2", D("0.00")), ("D3", D("40.00")), ("D4", D("0.00"))]


def test_ar_monthly_dso_and_cei(settings: Settings) -> None:
    rows = query(
        settings,
        "select month, opening_receivables, invoiced, closing_receivables, dso_count_back, "
        "collection_effectiveness_index from marts.ar_monthly order by month",
    )
    D, d = Decimal, date
    assert rows[0][0] == d(2025, 10, 1)
    feb = [r for r in rows if r[0] == d(2026, 2, 1)][0]
    # opening 2026-02-01: I5 130 + I7 300; invoiced in Feb: I4 40; closing: 130 + 300 + 40
    assert feb[1:4] == (D("430.00"), D("40.00"), D("470.00"))
    # count-back: February invoiced 40 (all 28 days), January 440 covers the other 430:
    # 28 + 31 * 430 / 440 = 58.3 days
    assert feb[4] == 58.3
    # nothing due was collected in February (I7, due 4 Feb, stayed open): CEI 0
    assert feb[5] == 0.0


def test_per_debtor_tests_read_the_rows_the_last_build_recomputed(build_world) -> None:
    """A daily build tests the rows of the debtors it recomputed, not the whole table: a duplicate
    key among them fails; one in a debtor it left alone is outside that check (the build that
    wrote it tested it); after a full build every row counts again. After a failure the model's
    next build rewrites and tests every debtor."""
    from debtflow.flows.build import transform
    from debtflow.flows.core import warehouse

    settings, _ = build_world(True)
    unique = "unique_int_invoices_settled_invoice_id"
    with warehouse.connect(settings) as con:
        con.execute(
            "insert into intermediate.int_invoices_settled "
            "select * from intermediate.int_invoices_settled where invoice_id = 'I1'"  # D1's
        )
        # as a daily build that recomputed D2 only leaves the bookkeeping
        con.execute(
            "update intermediate.build_state set debtors_recomputed = 1 "
            "where model = 'int_invoices_settled'"
        )
        con.execute(
            "insert into intermediate.changed_debtors values ('int_invoices_settled', 'D2')"
        )
    passed = transform.build(settings, AS_OF, select=unique)
    tests = [(n["status"], n["rows"]) for k, n in passed.items() if k.startswith("test.")]
    assert tests == [("pass", 0)]

    with warehouse.connect(settings) as con:
        con.execute("update intermediate.changed_debtors set debtor_id = 'D1'")
    with pytest.raises(transform.TransformError, match=unique):
        transform.build(settings, AS_OF, select=unique)
    # the failure is not forgotten: the model's next build rewrites and tests every debtor
    assert query(
        settings,
        "select retest_all from intermediate.build_state where model = 'int_invoices_settled'",
    ) == [(True,)]
    rebuilt = transform.build(settings, AS_OF, select="int_invoices_settled")
    assert [n["status"] for k, n in rebuilt.items() if unique in k] == ["pass"]
    assert query(
        settings,
        "select debtors_recomputed, retest_all from intermediate.build_state "
        "where model = 'int_invoices_settled'",
    ) == [(None, None)]
    assert query(
        settings,
        "select count(*) from intermediate.int_invoices_settled where invoice_id = 'I1'",
    ) == [(1,)]  # D1 was not in the changed set, yet rewritten

    with warehouse.connect(settings) as con:
        con.execute(
            "insert into intermediate.int_invoices_settled "
            "select * from intermediate.int_invoices_settled where invoice_id = 'I1'"
        )
        con.execute("delete from intermediate.changed_debtors")
        con.execute(
            "update intermediate.build_state set debtors_recomputed = null "
            "where model = 'int_invoices_settled'"
        )
    with pytest.raises(transform.TransformError, match=unique):
        transform.build(settings, AS_OF, select=unique)


def test_staging_key_tests_read_the_keys_the_last_merge_wrote(build_world) -> None:
    """A merged staging model's unique test reads the keys its last merge wrote (rows loaded
    since the merge's start): a duplicate of another key is outside that check (the merge did
    not touch it); a duplicate of a merged key fails, and fails again in the next build, which
    merges nothing new but tests every key after a failure."""
    from debtflow.flows.build import transform
    from debtflow.flows.core import warehouse

    settings, _ = build_world(True)
    unique = "unique_stg_billing__payments_payment_id"
    with warehouse.connect(settings) as con:
        con.execute(
            "insert into staging.stg_billing__payments "
            "select * from staging.stg_billing__payments where payment_id = 'P1'"
        )
        (loaded,) = con.execute("select max(_loaded_at) from raw.payments").fetchone()
        # as a daily build whose merge found nothing new leaves the bookkeeping
        con.execute(
            "update intermediate.build_state set merged_after = ? "
            "where model = 'stg_billing__payments'",
            [loaded],
        )
    passed = transform.build(settings, AS_OF, select=unique)
    tests = [(n["status"], n["rows"]) for k, n in passed.items() if k.startswith("test.")]
    assert tests == [("pass", 0)]

    with warehouse.connect(settings) as con:  # P1 re-delivered: the last merge wrote it
        con.execute(
            "update raw.payments set _loaded_at = _loaded_at + interval 1 second "
            "where payment_id = 'P1'"
        )
    with pytest.raises(transform.TransformError, match=unique):
        transform.build(settings, AS_OF, select=unique)

    # the next merge writes nothing new (P1 as first loaded); the failure is not forgotten:
    # every key is tested
    with warehouse.connect(settings) as con:
        con.execute("update raw.payments set _loaded_at = ? where payment_id = 'P1'", [loaded])
    with pytest.raises(transform.TransformError, match=unique):
        transform.build(settings, AS_OF, select="stg_billing__payments")
    assert query(
        settings,
        "select merged_after from intermediate.build_state where model = 'stg_billing__payments'",
    ) == [(None,)]


def test_unique_combination_counts_a_repeated_credit_share(build_world) -> None:
    """A credit share (null invoice_id) repeated for one payment is a duplicate: the combination
    test groups the null part like any other value."""
    from debtflow.flows.build import transform
    from debtflow.flows.core import warehouse

    settings, nodes = build_world(True)
    (test,) = [k for k in nodes if k.startswith("test.debtflow.unique_combination_int_payments")]
    name = test.split(".")[2]  # test.debtflow.<name>.<hash>
    passed = transform.build(settings, AS_OF, select=name)
    assert [(n["status"], n["rows"]) for k, n in passed.items() if k == test] == [("pass", 0)]
    with warehouse.connect(settings) as con:
        con.execute(
            "insert into intermediate.int_payments_allocated "
            "select * replace (cast(null as varchar) as invoice_id, 'credit' as allocation_method) "
            "from intermediate.int_payments_allocated where invoice_id is not null limit 1"
        )
        con.execute(
            "insert into intermediate.int_payments_allocated "
            "select * from intermediate.int_payments_allocated where allocation_method = 'credit' "
            "limit 1"
        )
    with pytest.raises(transform.TransformError, match=name):
        transform.build(settings, AS_OF, select=name)


def _instalments_by_hand(start: date, total: int, n: int, weeks: int, payments: list) -> list:
    """(instalment, due, amount, paid on, state) for a plan paid by `payments` (day, amount):
    total / n down to the cent, the rest on the last; paid when the payments since the start
    reach what is due through it; missed when unpaid more than 14 days (plan_broken_after_days)."""
    cents = total * 100
    amounts = [Decimal(cents // n) / 100] * (n - 1) + [Decimal(cents - cents // n * (n - 1)) / 100]
    paid = sorted((day, amount) for day, amount in payments if start <= day < AS_OF)
    rows, due_through = [], Decimal(0)
    for k in range(1, n + 1):
        due, due_through = start + timedelta(weeks=weeks * k), due_through + amounts[k - 1]
        running = [(day, sum(a for _, a in paid[: i + 1])) for i, (day, _) in enumerate(paid)]
        on = next((day for day, total_paid in running if total_paid >= due_through), None)
        if on is not None:
            state = "paid" if on <= due else "paid_late"
        else:
            state = "upcoming" if due >= AS_OF else "missed" if (AS_OF - due).days > 14 else "late"
        rows.append((k, due, amounts[k - 1], on, state))
    return rows


def test_plan_instalments_and_adherence_match_a_direct_computation(settings: Settings) -> None:
    """D1's accepted weekly plan (from 2026-01-01) is paid by P2 and P3, not by P1 before it;
    D2's accepted plan got 50 of 300 before its landing plan PL1 started (the payments after
    that count for PL1), so it broke at its first instalment; PL1 has nothing due yet."""
    got: dict[str, list] = {}
    for plan_id, *row in query(
        settings,
        "select plan_id, instalment, due_date, amount, paid_on, state "
        "from marts.plan_instalments order by plan_id, instalment",
    ):
        got.setdefault(plan_id, []).append(tuple(row))
    d1 = [(date(2026, 1, 10), Decimal(80)), (date(2026, 1, 25), Decimal(30))]
    assert got == {
        "PO-D1": _instalments_by_hand(date(2026, 1, 1), 100, 3, 1, d1),
        "PO-D2": _instalments_by_hand(date(2026, 1, 5), 300, 3, 1, [(date(2026, 1, 20), 50)]),
        "PL1": [
            (1, date(2026, 3, 10), Decimal("50.00"), None, "upcoming"),
            (2, date(2026, 4, 10), Decimal("50.00"), None, "upcoming"),
            (3, date(2026, 5, 10), Decimal("50.00"), None, "upcoming"),
        ],
    }
    assert [r[4] for r in got["PO-D1"]] == ["paid_late", "paid", "paid_late"]
    assert [r[2] for r in got["PO-D1"]] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    assert query(
        settings,
        "select plan_id, status, broken_instalment, broken_on from marts.plan_adherence order by 1",
    ) == [
        ("PL1", "kept", None, None),
        ("PO-D1", "completed", None, None),
        ("PO-D2", "broken", 1, date(2026, 1, 27)),
    ]
    # the kept plan suppresses D2; D1's completed plan suppresses nothing
    assert query(settings, "select debtor_id, reason from marts.debtor_suppressions") == [
        ("D2", "active_plan")
    ]
