"""dbt on a small simulated world, loaded through the real ingest.

- The marts agree with totals computed by DuckDB straight from the landing files, and the
  payers after each contact with a pairwise search of those files.
- Point in time: with data through T + 60 loaded, the marts built as of T equal the marts built
  when only data through T was loaded.
- The incremental snapshot table equals a full refresh.
- Published, the day's scores equal the table's; every SQL example of the READMEs, run on the
  published files as the README says, gives the figures computed another way (readme_examples.py),
  and the same on the live warehouse.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt_world import query
from readme_examples import EXPECTED, Book, examples, mismatches, on_warehouse

from debtflow.flows.build import publish, transform
from debtflow.flows.core import warehouse
from debtflow.flows.core.settings import Settings
from debtflow.flows.ingest import ingest
from debtflow.flows.simulation.simulation import simulate

T = date(2026, 8, 1)
END = T + timedelta(days=60)  # history batch dated T, then one batch a day up to T + 60
DEBTORS, MONTHS, SEED = 600, 14, 5


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(DEBTORS, MONTHS, SEED, out, END, 60)
    return out


def _home(tmp_path_factory, world: Path, load_until: date, build_as_of: date) -> Settings:
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), landing_url=str(world / "landing"), training_months=4
    )
    ingest.ingest(settings, load_until)
    transform.build(settings, build_as_of)
    return settings


@pytest.fixture(scope="module")
def loaded_to_t(tmp_path_factory, world: Path) -> Settings:
    return _home(tmp_path_factory, world, T, T)


@pytest.fixture(scope="module")
def loaded_to_t60(tmp_path_factory, world: Path) -> Settings:
    return _home(tmp_path_factory, world, END, T)


def _rows(settings: Settings, table: str) -> list[tuple]:
    return query(settings, f"select * from {table} order by all")


@pytest.mark.parametrize(
    "table",
    [
        "marts.debtor_features",
        "marts.debtor_feature_snapshots",
        "marts.fct_invoices",
        "marts.fct_payments",
        "marts.ar_aging",
        "marts.dim_debtors",
    ],
)
def test_marts_as_of_t_ignore_data_loaded_after_t(loaded_to_t, loaded_to_t60, table) -> None:
    later = query(loaded_to_t60, "select count(*) from raw.payments")[0][0]
    assert later > query(loaded_to_t, "select count(*) from raw.payments")[0][0]
    assert _rows(loaded_to_t60, table) == _rows(loaded_to_t, table)


LANDING_TOTALS = """
with invoices as (
    select * from (
        select invoice_id, debtor_id, coalesce(document_type, 'invoice') as document_type,
            issue_date::date as issue_date, amount::decimal(18, 2) as amount, updated_at
        from read_parquet('{landing}/*/invoices.parquet')
        union all by name
        select invoice_id, debtor_id, coalesce(nullif(document_type, ''), 'invoice'),
            issue_date::date, amount::decimal(18, 2), updated_at::timestamp
        from read_csv('{landing}/*/invoices.csv', all_varchar = true)
    )
    qualify row_number() over (partition by invoice_id order by updated_at desc) = 1
),
payments as (
    select distinct payment_id, amount::decimal(18, 2) as amount, paid_at::timestamp as paid_at
    from (
        select payment_id, amount::varchar as amount, paid_at::varchar as paid_at
        from read_parquet('{landing}/*/payments.parquet')
        union all
        select payment_id, amount, paid_at from read_csv('{landing}/*/payments.csv', all_varchar = true)
    )
)
select
    (select sum(amount) from invoices where document_type = 'invoice' and issue_date < $t),
    (select count(*) from invoices where document_type = 'invoice' and issue_date < $t),
    (select sum(amount) from invoices where document_type = 'credit_note' and issue_date < $t),
    (select sum(amount) from payments where paid_at::date < $t),
    (select count(*) from payments where paid_at::date < $t)
"""


def test_marts_match_totals_from_the_landing_files(world: Path, loaded_to_t60) -> None:
    with duckdb.connect() as con:
        sql = LANDING_TOTALS.format(landing=world / "landing")
        invoiced, n_invoices, credited, paid, n_payments = con.execute(sql, {"t": T}).fetchone()
    assert credited > 0 and paid > 0
    marts = query(
        loaded_to_t60,
        """
        select
            (select sum(amount) from marts.fct_invoices where document_type = 'invoice'),
            (select count(*) from marts.fct_invoices where document_type = 'invoice'),
            (select sum(amount) from marts.fct_invoices where document_type = 'credit_note'),
            (select sum(amount) from marts.fct_payments),
            (select count(*) from marts.fct_payments),
            (select sum(open_balance) - sum(credit_balance) from marts.debtor_features),
            (select sum(open_total) from marts.ar_aging),
            (select sum(open_amount) from marts.fct_invoices)
        """,
    )[0]
    assert marts[:5] == (invoiced, n_invoices, credited, paid, n_payments)
    # money is conserved: what is still owed net of credit = invoiced - credited - paid
    assert marts[5] == invoiced - credited - paid
    assert marts[6] == marts[7] > Decimal(0)


LANDING_PAYERS = """
with events as (
    select * from (
        select event_id, debtor_id, channel, event_type, step, variant, occurred_at, filename
        from read_parquet('{landing}/*/contact_events.parquet', filename = true)
        union all by name
        select event_id, debtor_id, channel, event_type, step, variant,
            occurred_at::timestamp, filename
        from read_csv('{landing}/*/contact_events.csv', all_varchar = true, filename = true)
    )
    qualify row_number() over (partition by event_id order by filename desc) = 1
),
sends as (
    select debtor_id, lower(channel) as channel, coalesce(lower(step), 'none') as step,
        coalesce(nullif(variant, ''), 'none') as variant, occurred_at
    from events
    where lower(event_type) in ('sent', 'call_attempt') and occurred_at::date < $t
),
payments as (
    select distinct payment_id, debtor_id, paid_at::timestamp as paid_at
    from (
        select payment_id, debtor_id, paid_at::varchar as paid_at
        from read_parquet('{landing}/*/payments.parquet')
        union all
        select payment_id, debtor_id, paid_at
        from read_csv('{landing}/*/payments.csv', all_varchar = true)
    )
    where paid_at::date < $t
),
per_send as (
    select sends.*, (
        select min(paid_at) from payments
        where payments.debtor_id = sends.debtor_id and payments.paid_at > sends.occurred_at
    ) - sends.occurred_at as wait
    from sends
),
per_debtor as (
    select channel, step, variant, debtor_id,
        bool_or(wait <= interval 7 day) as paid_7d, bool_or(wait <= interval 14 day) as paid_14d
    from per_send
    group by all
)
select channel, step, variant, count(*), count(*) filter (where paid_7d),
    count(*) filter (where paid_14d)
from per_debtor
group by all
order by all
"""


def test_channel_performance_matches_payers_from_the_landing_files(
    world: Path, loaded_to_t60
) -> None:
    with duckdb.connect() as con:
        sql = LANDING_PAYERS.format(landing=world / "landing")
        expected = con.execute(sql, {"t": T}).fetchall()
    # late payers and payments outside the windows both occur, so the windows are exercised
    assert any(row[4] < row[5] < row[3] for row in expected)
    assert query(
        loaded_to_t60,
        "select channel, step, variant, contacted_debtors, paid_7d_debtors, paid_14d_debtors "
        "from marts.channel_performance where segment_dimension = 'all' order by all",
    ) == [tuple(row) for row in expected]


def test_incremental_snapshots_equal_a_full_refresh(
    tmp_path_factory, loaded_to_t60, monkeypatch
) -> None:
    # one month start per dbt invocation, as a large book gets: the builds repeat until done
    monkeypatch.setattr(transform, "SNAPSHOT_DEBTOR_DATES", 1)
    home = tmp_path_factory.mktemp("incremental")
    query(loaded_to_t60, "checkpoint")  # the copy must not miss the write-ahead log
    shutil.copy(loaded_to_t60.warehouse_path, home / "warehouse.duckdb")
    settings = Settings(home=home, training_months=4)
    later = END + timedelta(days=1)
    nodes = transform.build(settings, later)
    assert nodes["model.debtflow.debtor_feature_snapshots"]["status"] == "success"
    incremental = _rows(settings, "marts.debtor_feature_snapshots")
    transform.build(settings, later, full_refresh=True)
    assert _rows(settings, "marts.debtor_feature_snapshots") == incremental
    dates = query(settings, "select distinct as_of from marts.debtor_feature_snapshots order by 1")
    assert [d for (d,) in dates] == [date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1),
                                     date(2026, 9, 1)]  # fmt: skip


WAREHOUSE_SCHEMAS = ("staging", "intermediate", "marts")
INTERMEDIATE = (
    "int_invoices_settled",
    "int_ledger",
    "int_overdue_episodes_merged",
    "int_payments_allocated",
)


def _warehouse(settings: Settings) -> dict[str, list[tuple]]:
    """Every table and view, except the bookkeeping of the builds (what they recomputed)."""
    tables = query(
        settings,
        "select table_schema || '.' || table_name from information_schema.tables "
        f"where table_schema in {WAREHOUSE_SCHEMAS} "
        "and table_name not in ('build_state', 'changed_debtors') order by 1",
    )
    return {table: _rows(settings, table) for (table,) in tables}


def _backdated_payment(settings: Settings, landing: Path, day: date) -> str:
    """A batch for `day` with a payment dated the day before the due date of an invoice still
    open and overdue, paying it in full; returns the invoice_id."""
    invoice_id, debtor_id, due_date, open_amount, currency = query(
        settings,
        "select invoice_id, debtor_id, due_date, open_amount, currency "
        "from marts.fct_invoices where status = 'open' and due_date < as_of - 20 "
        "order by due_date desc, invoice_id limit 1",
    )[0]
    _payment_batch(
        landing,
        day,
        "PAYBACKDATED",
        debtor_id,
        invoice_id,
        due_date - timedelta(days=1),
        open_amount,
        currency,
    )
    return invoice_id


def _payment_batch(
    landing: Path,
    day: date,
    payment_id: str,
    debtor_id: str,
    invoice_id: str,
    paid_on: date,
    amount: Decimal,
    currency: str,
) -> None:
    """A batch for `day` with one bank transfer naming `invoice_id`, paid at noon of `paid_on`."""
    batch = landing / f"{day.isoformat()}T0900"
    batch.mkdir()
    (batch / "payments.csv").write_text(
        "payment_id,debtor_id,invoice_id,paid_at,amount,currency,method,reference\n"
        f"{payment_id},{debtor_id},{invoice_id},{paid_on} 12:00:00,{amount},{currency},"
        "bank_transfer,\n"
    )


def _at_issue_rows(settings: Settings, debtor_id: str) -> list[tuple]:
    return query(
        settings,
        "select * from intermediate.int_invoices_at_issue "
        f"where debtor_id = '{debtor_id}' and issue_date < '{T}' order by invoice_id",
    )


def _payment_naming_a_paid_invoice(settings: Settings, landing: Path, day: date) -> tuple:
    """A batch for `day` with a payment dated the day before, naming an invoice that money was
    allocated to oldest first, of a debtor with an invoice issued after that invoice was paid.
    Before the ledger, the payment took the invoice back and the money moved on, changing older
    paid dates; now the invoice is paid already, so the payment pays what is open or stays credit.
    Returns the debtor_id, the invoice_id and the debtor's invoice-at-issue rows before the batch."""
    invoice_id, debtor_id, amount, currency = query(
        settings,
        "select invoice_id, debtor_id, amount, currency "
        "from intermediate.int_invoices_settled as named "
        "where document_type = 'invoice' and paid_date is not null "
        "and invoice_id in (select invoice_id from intermediate.int_payments_allocated "
        "    where allocation_method = 'oldest_first') "
        "and debtor_id in (select debtor_id from intermediate.int_invoices_settled as later "
        "    where later.issue_date > named.paid_date) "
        "order by invoice_id limit 1",
    )[0]
    _payment_batch(
        landing, day, "PAYNAMED", debtor_id, invoice_id, day - timedelta(days=1), amount, currency
    )
    return debtor_id, invoice_id, _at_issue_rows(settings, debtor_id)


# kept as first built: table -> its date column
FIXED_ONCE_BUILT = {
    "marts.debtor_feature_snapshots": "as_of",
    "marts.debtor_history_snapshots": "as_of",
    "intermediate.int_book_lateness": "day",
}


def test_daily_incremental_builds_equal_a_full_refresh(tmp_path_factory, world, loaded_to_t):
    """Day by day (a batch loaded, then the build), a same-day re-run with nothing new, and a
    back-fill to an earlier date: every staging, intermediate and mart table equals a full
    refresh for the same date and data, while the intermediate models recompute only the
    debtors that changed (macros/incremental_debtors.sql).

    The second day also brings a payment dated weeks back. The month-start snapshots and the
    book lateness per day are kept as first built: the later batch changes none of them up to
    T, while a full refresh recomputes the snapshots (the book lateness is kept by design).
    The first day brings a payment naming an invoice paid long ago: money once applied never
    moves, so nothing dated before it changes."""
    home = tmp_path_factory.mktemp("daily")
    query(loaded_to_t, "checkpoint")
    shutil.copy(loaded_to_t.warehouse_path, home / "warehouse.duckdb")
    shutil.copytree(world / "landing", home / "landing")
    settings = Settings(home=home, landing_url=str(home / "landing"), training_months=4)
    recomputed, falling_due, at_issue, booked, n_allocated, fixed = [], [], [], [], [], []
    for day in (T + timedelta(days=1), T + timedelta(days=2), T + timedelta(days=2)):
        if not recomputed:
            named_debtor, named_invoice, rows_before = _payment_naming_a_paid_invoice(
                settings, home / "landing", day
            )
        if len(recomputed) == 1:
            backdated = _backdated_payment(settings, home / "landing", day)
        merged = query(settings, "select max(loaded_at) from staging.stg_billing__payments")
        ingest.ingest(settings, day)
        transform.build(settings, day)
        # where the day's merge started: its key test reads the payments loaded since
        assert merged == query(
            settings,
            "select merged_after from intermediate.build_state "
            "where model = 'stg_billing__payments'",
        )
        state = query(
            settings,
            "select model, as_of, debtors_recomputed from intermediate.build_state "
            f"where model in {INTERMEDIATE}",
        )
        assert {(model, as_of) for model, as_of, _ in state} == {(m, day) for m in INTERMEDIATE}
        n = {model: debtors for model, _, debtors in state}
        # allocation and settlement share one changed set; the episodes also take the debtors
        # whose only change is an invoice falling due
        assert n["int_payments_allocated"] == n["int_invoices_settled"]
        recomputed.append(n["int_overdue_episodes_merged"])
        booked.append(n["int_ledger"])
        falling_due.append(recomputed[-1] - n["int_payments_allocated"])
        n_allocated.append(n["int_payments_allocated"])
        at_issue += query(
            settings,
            "select debtors_recomputed from intermediate.build_state "
            "where model = 'int_invoices_at_issue'",
        )[0]
        fixed.append(
            {
                table: _rows(settings, f"(select * from {table} where {column} <= '{T}')")
                for table, column in FIXED_ONCE_BUILT.items()
            }
        )
    known = query(settings, "select count(distinct debtor_id) from staging.stg_billing__invoices")
    assert 0 < recomputed[0] < known[0][0] / 2
    assert 0 < recomputed[1] < known[0][0] / 2
    assert recomputed[2] == 0 == at_issue[2]  # same day, nothing loaded: nothing to recompute
    assert falling_due[0] > 0 and falling_due[1] > 0
    # point-in-time rows: a debtor who only paid or fell due keeps its invoice features
    assert 0 < at_issue[0] < recomputed[0]
    # the ledger re-books only the debtors with rows loaded, not those whose dates the day passed
    assert 0 < booked[0] <= n_allocated[0] and booked[2] == 0
    # money once applied never moves: the invoice keeps its money, older rows stay as they were
    assert _at_issue_rows(settings, named_debtor) == rows_before
    named = query(
        settings,
        "select count(*) from intermediate.int_ledger "
        f"where payment_id = 'PAYNAMED' and invoice_id = '{named_invoice}'",
    )
    assert named == [(0,)]
    paid_on_time = query(
        settings,
        "select paid_date < due_date from intermediate.int_invoices_settled "
        f"where invoice_id = '{backdated}'",
    )
    assert paid_on_time == [(True,)]
    assert fixed[1] == fixed[0]
    assert all(fixed[0].values())
    incremental = _warehouse(settings)
    assert len(incremental["intermediate.int_payments_allocated"]) > 1000
    transform.build(settings, T + timedelta(days=2), full_refresh=True)
    recomputed_by_full_refresh = [
        "marts.debtor_feature_snapshots",
        "marts.debtor_history_snapshots",
    ]
    assert _differing(_warehouse(settings), incremental) == recomputed_by_full_refresh

    transform.build(settings, T + timedelta(days=1))  # back-fill: incremental, backwards
    backwards = _warehouse(settings)
    transform.build(settings, T + timedelta(days=1), full_refresh=True)
    assert _differing(_warehouse(settings), backwards) == []


def _differing(a: dict[str, list[tuple]], b: dict[str, list[tuple]]) -> list[str]:
    return [table for table in sorted(a.keys() | b.keys()) if a.get(table) != b.get(table)]


# made-up scores for T and the day before: the scoring model is not what these tests are about
SCORES = """
create temp table days as select * from (values (date '{t}'), (date '{t}' - 1)) as days (day);
insert into ml.debtor_scores
select debtor_id, day, p, least(10, 1 + floor(10 * p)), 'overdue_share+', 'test', now()
from (
    select debtor_id, day, hash(debtor_id, day) % 1000 / 1000 as p
    from marts.debtor_features, days
    where overdue_balance > 0
);
insert into ml.invoice_late_scores
select invoice_id, day, debtor_id, issue_date, due_date, amount,
    hash(invoice_id, day) % 1000 / 1000, 'test', now()
from marts.fct_invoices, days
where document_type = 'invoice' and open_amount > 0 and due_date >= as_of;
"""
SCORE_TABLES = ("debtor_scores", "invoice_late_scores")


@pytest.fixture(scope="module")
def published(tmp_path_factory, loaded_to_t) -> Settings:
    """A copy of the warehouse as of T, with scores for T and the day before, published."""
    home = tmp_path_factory.mktemp("published")
    query(loaded_to_t, "checkpoint")
    shutil.copy(loaded_to_t.warehouse_path, home / "warehouse.duckdb")
    settings = Settings(home=home, training_months=4)
    query(settings, SCORES.format(t=T))
    publish.publish(settings, T)
    return settings


def test_publish_writes_the_days_scores_beside_the_marts(published) -> None:
    folder = published.root / "published"
    for as_of in (T, None):  # without a date: the date the marts were built for
        if as_of is None:
            publish.publish(published)
        manifest = json.loads((folder / "_manifest.json").read_text())
        assert manifest["as_of"] == T.isoformat()
        with warehouse.connect(published, read_only=True) as con:
            for name in SCORE_TABLES:
                table = con.execute(f"select * from ml.{name} where as_of = ? order by all", [T])
                columns, rows = table.description, table.fetchall()
                assert 0 < len(rows) < con.execute(f"select count(*) from ml.{name}").fetchone()[0]
                file = con.execute(f"select * from '{folder}/{name}.parquet' order by all")
                assert file.description == columns and file.fetchall() == rows
                assert manifest["scores"][name] == len(rows)


@pytest.fixture(scope="module")
def landing_payers(world: Path) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(LANDING_PAYERS.format(landing=world / "landing"), {"t": T}).fetchall()


def test_every_computed_readme_example_is_in_a_readme() -> None:
    assert set(EXPECTED) == set(examples())


@pytest.mark.parametrize("name", sorted(examples()))
def test_readme_sql_example_gives_the_figures_computed_another_way(
    name, published, landing_payers, monkeypatch
) -> None:
    sql = examples()[name]
    assert sql is not None, f"the SQL block at {name} does not start with `-- example: <name>`"
    assert name in EXPECTED, f"no computation for the README example {name} in readme_examples.py"
    compute, keys = EXPECTED[name]
    monkeypatch.chdir(published.root / "published")  # where the README runs them
    with duckdb.connect() as con:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    with warehouse.connect(published, read_only=True) as con:
        expected = compute(Book(con, T, landing_payers))
        live = con.execute(on_warehouse(sql)).fetchall()
    assert mismatches([dict(zip(columns, row, strict=True)) for row in rows], expected, keys) == []
    assert live == rows  # the live warehouse, as the README says, answers the same
