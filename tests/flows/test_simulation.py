"""The simulated billing world: layout, contract, determinism, consistency and calibrated truth."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.ingest.contract import TABLES
from debtflow.flows.simulation import tables as st
from debtflow.flows.simulation import world as sw
from debtflow.flows.simulation.recovery_truth import by_pool, payment_chance
from debtflow.flows.simulation.simulation import batch_ids, simulate

END = date(2026, 11, 20)
DAILY = 3


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sim")
    summary = simulate(800, 24, seed=11, out=out, end_date=END, daily_days=DAILY)
    return out, summary


def read(out: Path, table: str) -> pd.DataFrame:
    """Every batch's rows of one table, with the batch date, read through DuckDB as the loader does."""
    frames = []
    for batch in sorted((out / "landing").iterdir()):
        (path,) = batch.glob(f"{table}.*")
        src = (
            f"read_parquet('{path}')"
            if path.suffix == ".parquet"
            else f"read_csv('{path}', header=true, all_varchar=true)"
        )
        df = duckdb.sql(f"select * from {src}").df()
        df["_batch_date"] = pd.Timestamp(batch.name[:10])
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def test_batch_layout_and_ids(world: tuple[Path, dict]) -> None:
    out, summary = world
    expected = ["2026-11-17T0600", "2026-11-18T0600", "2026-11-19T0600", "2026-11-20T0600"]
    assert batch_ids(END, DAILY) == expected == summary["batches"]
    assert sorted(p.name for p in (out / "landing").iterdir()) == expected
    for i, batch in enumerate(expected):
        ext = "parquet" if i == 0 else "csv"
        names = sorted(p.name for p in (out / "landing" / batch).iterdir())
        assert names == sorted(f"{t}.{ext}" for t in TABLES)
    assert sorted(p.name for p in (out / "truth").iterdir()) == [
        "collectability.parquet",
        "debtors.parquet",
        "late_payment.parquet",
        "world.json",
    ]


def test_every_file_has_the_contract_columns_in_order(world: tuple[Path, dict]) -> None:
    out, _ = world
    for batch in (out / "landing").iterdir():
        for path in batch.iterdir():
            if path.suffix == ".csv":
                header = path.read_text(encoding="utf-8").splitlines()[0]
                columns = [c.strip('"') for c in header.split(",")]
            else:
                columns = duckdb.sql(f"select * from read_parquet('{path}') limit 0").columns
            assert columns == TABLES[path.stem].column_names, path


def test_required_columns_are_filled_and_keys_unique_per_batch(world: tuple[Path, dict]) -> None:
    out, _ = world
    for name, spec in TABLES.items():
        df = read(out, name)
        assert len(df), name
        for col in spec.required:
            assert df[col].notna().all(), (name, col)
        assert not df.duplicated([*spec.key, "_batch_date"]).any(), name


def test_same_seed_gives_identical_bytes(tmp_path: Path, home: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(300, 6, seed=5, out=a, end_date=END, daily_days=2)
    simulate(300, 6, seed=5, out=b, end_date=END, daily_days=2)
    simulate(300, 6, seed=5, out=b, end_date=END, daily_days=2)  # overwrite in place
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert not [p for p in (b / "landing").iterdir() if p.name.startswith(".")]
    other = tmp_path / "c"
    simulate(300, 6, seed=6, out=other, end_date=END, daily_days=2)
    rel = Path("landing/2026-11-18T0600/invoices.parquet")
    assert (a / rel).read_bytes() != (other / rel).read_bytes()


def test_end_date_defaults_to_today(tmp_path: Path, home: Path) -> None:
    from debtflow.flows.core.settings import Settings

    summary = simulate(50, 2, seed=1, out=tmp_path, daily_days=1)
    assert summary["end_date"] == Settings().today().isoformat()


EVENT_TIME = {
    "customers": "updated_at",
    "invoices": "updated_at",
    "payments": "paid_at",
    "contact_events": "occurred_at",
    "payment_plans": "updated_at",
    "credit_reports": "reported_at",
}


def test_no_event_is_dated_on_or_after_its_batch_date(world: tuple[Path, dict]) -> None:
    out, _ = world
    first_daily = pd.Timestamp(END - timedelta(days=DAILY))
    for name, col in EVENT_TIME.items():
        df = read(out, name)
        day = pd.to_datetime(df[col]).dt.normalize()
        assert (day < df["_batch_date"]).all(), name
        daily = df["_batch_date"] > first_daily
        # a daily batch holds exactly the day before its date
        assert (day[daily] == df["_batch_date"][daily] - pd.Timedelta(days=1)).all(), name
    inv = read(out, "invoices")
    assert (pd.to_datetime(inv["issue_date"]) < inv["_batch_date"]).all()


def test_invoices_are_monthly_per_debtor(world: tuple[Path, dict]) -> None:
    out, _ = world
    inv = read(out, "invoices")
    inv = inv[inv.document_type == "invoice"].drop_duplicates("invoice_id")
    issue = pd.to_datetime(inv["issue_date"])
    months = issue.dt.year * 12 + issue.dt.month
    per = inv.assign(m=months, d=issue.dt.day).groupby("debtor_id")
    assert (per["m"].nunique() == per.size()).all()  # one invoice per month
    assert (per["d"].nunique() == 1).all()  # on the debtor's billing day
    assert ((per["m"].max() - per["m"].min() + 1) == per.size()).all()  # no gaps
    terms = (pd.to_datetime(inv["due_date"]) - issue).dt.days
    assert set(terms) == {14, 30}
    credit = read(out, "invoices").query("document_type == 'credit_note'")
    assert 0.01 < len(credit) / len(inv) < 0.06


def test_payments_never_exceed_the_invoice(world: tuple[Path, dict]) -> None:
    out, _ = world
    pay = read(out, "payments")
    inv = read(out, "invoices").drop_duplicates("invoice_id").set_index("invoice_id")
    pay["amount"] = pay["amount"].astype(float)
    target = pay["invoice_id"].fillna(pay["reference"])
    by_invoice = pay.assign(t=target).dropna(subset=["t"]).groupby("t")["amount"].sum()
    assert (by_invoice <= inv.loc[by_invoice.index, "amount"].astype(float) + 1e-9).all()
    assert (inv.loc[by_invoice.index, "document_type"] == "invoice").all()
    assert not pay["payment_id"].duplicated().any()
    # unallocated lumps: ~3% of payment events, each equals an exact sum of open invoices
    lumps = pay[target.isna()]
    assert 0 < len(lumps) < 0.05 * len(pay)


def test_lump_payments_equal_the_open_overdue_invoices(world: tuple[Path, dict]) -> None:
    out, _ = world
    pay, inv = allocated(out)
    due = pd.to_datetime(inv["due_date"])
    lumps = pay[pay["invoice_id"].isna() & pay["reference"].isna()]
    assert len(lumps)
    for _, lump in lumps.iterrows():
        covered = inv[inv["lump"] == lump.payment_id]
        assert (due[covered.index] < lump.day).all()
        assert covered["amount"].astype(float).sum() == pytest.approx(float(lump.amount))


def allocated(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Payments with their day, and invoices with the day they were paid (lumps oldest first)."""
    pay = read(out, "payments")
    inv = read(out, "invoices").drop_duplicates("invoice_id", keep="last")
    inv = inv[inv.document_type == "invoice"].sort_values(["debtor_id", "due_date"])
    pay["day"] = pd.to_datetime(pay["paid_at"]).dt.normalize()
    target = pay["invoice_id"].fillna(pay["reference"])
    inv["paid"] = inv["invoice_id"].map(
        pay.assign(t=target).dropna(subset=["t"]).groupby("t")["day"].min()
    )
    due = pd.to_datetime(inv["due_date"])
    for _, lump in pay[target.isna()].sort_values("day").iterrows():
        hit = (inv.debtor_id == lump.debtor_id) & (due < lump.day) & inv["paid"].isna()
        inv.loc[hit, "paid"] = lump.day
        inv.loc[hit, "lump"] = lump.payment_id
    return pay, inv


def test_truth_rows_exist_for_every_snapshot_and_invoice(world: tuple[Path, dict]) -> None:
    out, summary = world
    truth = pd.read_parquet(out / "truth" / "collectability.parquet")
    days = sorted(pd.to_datetime(truth["as_of"]).dt.date.unique())
    # history starts 2024-11-01; monthly snapshots from the third month, plus the daily dates
    firsts = [date(2025 + i // 12, i % 12 + 1, 1) for i in range(23)]
    expected = sorted({*firsts, *(END - timedelta(days=i) for i in range(DAILY))})
    assert days == expected
    observed = pd.to_datetime(truth["as_of"]).dt.date + timedelta(days=30) <= END
    assert truth.loc[observed, "label"].notna().all()
    assert truth.loc[~observed, "label"].isna().all()
    assert truth["p_true"].between(0, 1).all()
    assert not truth.duplicated(["debtor_id", "as_of"]).any()
    late = pd.read_parquet(out / "truth" / "late_payment.parquet")
    inv = read(out, "invoices").query("document_type == 'invoice'")
    assert set(late["invoice_id"]) == set(inv["invoice_id"])
    debtors = pd.read_parquet(out / "truth" / "debtors.parquet")
    assert len(debtors) == 800 and debtors["archetype"].nunique() == 6


def test_truth_overdue_debtors_match_the_landing_data(world: tuple[Path, dict]) -> None:
    """Debtors overdue at D per the landed invoices and payments are exactly the truth's rows."""
    out, _ = world
    truth = pd.read_parquet(out / "truth" / "collectability.parquet")
    _, inv = allocated(out)
    due = pd.to_datetime(inv["due_date"])
    for as_of in [
        pd.Timestamp("2025-06-01"),
        pd.Timestamp("2026-03-01"),
        pd.Timestamp(END - timedelta(days=1)),
        pd.Timestamp(END),
    ]:
        overdue = inv[(due < as_of) & ~(inv["paid"] < as_of)]
        expected = set(overdue["debtor_id"])
        got = set(truth.loc[pd.to_datetime(truth["as_of"]) == as_of, "debtor_id"])
        assert got == expected, as_of


def test_truth_is_calibrated(tmp_path: Path) -> None:
    simulate(3000, 24, seed=3, out=tmp_path, end_date=END, daily_days=1)
    truth = pd.read_parquet(tmp_path / "truth" / "collectability.parquet").dropna()
    n = len(truth)
    assert n > 8000
    y, p = truth["label"].astype(float), truth["p_true"]
    assert 0.3 < y.mean() < 0.7
    # rows of one debtor are correlated across snapshots, so allow ~3x the iid standard error
    assert abs(y.mean() - p.mean()) < 3 * 3 * np.sqrt((p * (1 - p)).sum()) / n + 0.005
    deciles = pd.qcut(p, 10, labels=False, duplicates="drop")
    table = pd.DataFrame({"y": y, "p": p, "d": deciles}).groupby("d").mean()
    assert (table["y"] - table["p"]).abs().max() < 0.06, table
    late = pd.read_parquet(tmp_path / "truth" / "late_payment.parquet").dropna()
    assert abs(late["label"].mean() - late["p_late"].mean()) < 0.01


def test_some_customers_are_restated_in_daily_batches(world: tuple[Path, dict]) -> None:
    out, _ = world
    customers = read(out, "customers")
    first_daily = pd.Timestamp(END - timedelta(days=DAILY))
    newer = customers[customers["_batch_date"] > first_daily]
    restated = newer[
        newer["debtor_id"].isin(customers.loc[customers["_batch_date"] == first_daily, "debtor_id"])
    ]
    assert 0 < len(restated) < 0.06 * customers["debtor_id"].nunique()
    old = customers.drop_duplicates("debtor_id").set_index("debtor_id")
    changed = restated.set_index("debtor_id")
    assert (
        (changed["email"] != old.loc[changed.index, "email"])
        | (changed["street"] != old.loc[changed.index, "street"])
    ).all()
    assert (
        changed["email"].dropna().str.fullmatch(r"debtor\d+@example\.com").any() or len(changed) < 5
    )


ORACLE_AS_OF, ORACLE_MONTHS = date(2025, 6, 1), 6  # a monthly truth snapshot; 183 days after


@pytest.fixture(scope="module")
def overdue(world: tuple[Path, dict]) -> pd.DataFrame:
    """The landed invoices overdue and unpaid at the start of ORACLE_AS_OF (face = amount)."""
    _, inv = allocated(world[0])
    day = pd.Timestamp(ORACLE_AS_OF)
    inv = inv[(pd.to_datetime(inv["due_date"]) < day) & ~(inv["paid"] < day)]
    return inv.assign(face=inv["amount"].astype(float))[["invoice_id", "debtor_id", "face"]]


def test_simulate_writes_the_worlds_parameters_and_the_oracle_redraws_its_hazard(
    world: tuple[Path, dict], overdue: pd.DataFrame
) -> None:
    """The oracle's chance for one debtor is 1 - prod(1 - hazard) over the days after as_of,
    computed here from the world drawn by hand; a debtor with nothing overdue gets 0."""
    out, _ = world
    params = json.loads((out / "truth" / "world.json").read_text())
    assert params == {"debtors": 800, "months": 24, "seed": 11, "end_date": END.isoformat(),
                      "daily_days": DAILY, "email_affinity": 1.0}  # fmt: skip
    book = overdue
    chosen = book["debtor_id"].value_counts().sort_index().idxmax()  # several overdue invoices
    idle = sorted({f"D{i + 1:08d}" for i in range(800)} - set(book["debtor_id"]))[0]
    (idle_invoice,) = read(out, "invoices").query("debtor_id == @idle")["invoice_id"].iloc[:1]
    book = pd.concat([book[book["debtor_id"] == chosen],
                      pd.DataFrame([{"invoice_id": idle_invoice, "debtor_id": idle}])])  # fmt: skip
    got = payment_chance(out / "truth", ORACLE_AS_OF, ORACLE_MONTHS, book)

    start = date(2024, 11, 1)
    n_days = (END - start).days
    w = sw.make_world(800, n_days, 8 * 365, 11)
    months = st.month_starts(start.toordinal(), 25)
    inv = st.invoices(w, months[months < n_days])
    st.customer_versions(w, n_days - DAILY)
    late = ~inv["credit"] & inv["late"]
    ep_debtor, ep_d0, ep_event = sw.run_overdue_process(w, inv["debtor"][late], inv["due"][late])
    m, debtor = (ORACLE_AS_OF - start).days, int(chosen[1:]) - 1
    (ep,) = np.flatnonzero((ep_debtor == debtor) & (ep_d0 < m) & ((ep_event >= m) | (ep_event < 0)))
    survive = 1.0
    for t in range(m, m + 183):
        survive *= 1 - sw.hazard(w, np.array([debtor]), ep_d0[ep : ep + 1], np.array([t]))[0]
    assert len(got) == len(book) > 2
    assert got[:-1] == pytest.approx(np.full(len(book) - 1, 1 - survive), rel=1e-9)
    assert 0 < got[0] < 1 and got[-1] == 0.0


def test_the_oracle_pool_recovery_is_face_times_chance_and_draws_are_repeatable(
    world: tuple[Path, dict], overdue: pd.DataFrame
) -> None:
    out, _ = world
    book = overdue.sort_values("invoice_id").reset_index(drop=True)
    book["pool"] = np.where(book.index % 3 == 0, "a", "b")
    one = book[book["debtor_id"] == book["debtor_id"].iat[0]].assign(pool="single")
    book = pd.concat([book[~book.index.isin(one.index)], one], ignore_index=True)
    chance = payment_chance(out / "truth", ORACLE_AS_OF, ORACLE_MONTHS, book)
    pools = by_pool(out / "truth", book, ORACLE_AS_OF, ORACLE_MONTHS, 0.15)
    assert set(pools) == {"a", "b", "single"}
    for name, (recovery, within) in pools.items():
        mine = book["pool"] == name
        assert recovery == round(float(book.loc[mine, "face"] @ chance[mine.to_numpy()]), 2)
        assert 0 <= within <= 1
    # one all-or-nothing debtor pays its face or nothing: within 15% of face x p only if p >= .85
    p = chance[len(book) - len(one)]
    assert pools["single"][1] == (pytest.approx(p, abs=0.03) if p >= 0.85 else 0.0)
    assert by_pool(out / "truth", book, ORACLE_AS_OF, ORACLE_MONTHS, 0.15) == pools


def test_the_oracle_refuses_an_old_truth_folder_and_another_worlds_receivables(
    world: tuple[Path, dict], overdue: pd.DataFrame, tmp_path: Path
) -> None:
    out, _ = world
    with pytest.raises(DebtflowError, match=r"world.json is missing.*re-run `debtflow simulate`"):
        payment_chance(tmp_path, ORACLE_AS_OF, ORACLE_MONTHS, overdue)
    stranger = pd.DataFrame([{"invoice_id": "INV0000000001", "debtor_id": "D00000801"}])
    with pytest.raises(DebtflowError, match=r"1 receivable\(s\) are not in the world.*D00000801"):
        payment_chance(out / "truth", ORACLE_AS_OF, ORACLE_MONTHS, stranger)
