"""Sale tapes on a small simulated world loaded through the real ingest and dbt build: who is on
a tape, that it reconciles, that it names nobody, how it is published (a folder, and moto's S3
server over HTTP), and what a sale changes (the aging, the dunning, the buyer's full tape)."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import uuid
import zipfile
import zlib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from unittest.mock import Mock

import boto3
import duckdb
import pandas as pd
import pytest
from pydantic import SecretStr

from debtflow.flows.build import transform
from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.settings import SOURCE_ROOT, Settings, get_settings
from debtflow.flows.core.storage import S3Store
from debtflow.flows.core.warehouse import connect
from debtflow.flows.dunning import dunning
from debtflow.flows.ingest import ingest
from debtflow.flows.ingest.contract import TABLES, personal_columns
from debtflow.flows.ops import summaries
from debtflow.flows.simulation.simulation import simulate
from debtflow.flows.tape import dictionary, forward_flow, pseudonym, sale, tape
from debtflow.flows.tape.agreement import agreement
from debtflow.flows.tape.agreement import load as load_agreement
from debtflow.flows.tape.selection import load as load_selection

AS_OF = date(2026, 11, 20)
KEY = "tApe-" + "x7Qm2Lp9Zr4Vw8Ks1Nd6Hb3Jc5Fg0Ty" + "-uE9aW"  # made up for the test only


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 debtors over 30 months: receivables unresolved a year after collection started."""
    out = tmp_path_factory.mktemp("world")
    simulate(400, 30, 7, out, AS_OF, 2)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, world: Path) -> Path:
    """A home with the world loaded and built as of AS_OF, copied per test (tests change it)."""
    home = tmp_path_factory.mktemp("built")
    settings = Settings(home=home, landing_url=str(world / "landing"))
    ingest.ingest(settings, AS_OF)
    transform.build(settings, AS_OF)
    return home


@pytest.fixture
def settings(built: Path, world: Path, tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    shutil.copytree(built, home)
    # pools by currency alone: two tapes (one kept apart for the agency), each with its report
    selection = tmp_path / "selection.yml"
    default = (SOURCE_ROOT / "flows" / "tape" / "selection.yml").read_text(encoding="utf-8")
    selection.write_text(
        default.replace("pool_by: [debtor_type, country, currency]", "pool_by: [currency]"),
        encoding="utf-8",
    )
    return Settings(
        home=home,
        landing_url=str(world / "landing"),
        pseudonym_key=KEY,
        tape_selection=selection,
    )


@pytest.fixture
def con(settings: Settings):
    con = connect(settings)
    yield con
    con.close()


def published_rows(settings: Settings, tape_id: str) -> pd.DataFrame:
    return pd.read_parquet(Path(settings.tapes_store) / "tapes" / tape_id / "tape.parquet")


def selected(con, months: int = 12) -> pd.DataFrame:
    """What the default selection must put on tapes, straight from the mart."""
    return con.execute(
        "select invoice_id, debtor_id, currency, principal_balance from marts.sale_candidates"
        " where months_in_collection >= ? and principal_balance >= case currency"
        " when 'NOK' then 250 when 'SEK' then 250 else 25 end"
        " and (exclusion is null or exclusion = 'placed_with_agency') order by invoice_id",
        [months],
    ).df()


def test_tapes_hold_exactly_the_selected_receivables_once(con, settings):
    expected = selected(con)
    tapes = tape.build(con, settings, AS_OF)
    assert len(expected) > 10  # the world has something to sell
    on_tapes = con.execute(
        "select invoice_id, tape_id from sale.tape_receivables order by invoice_id"
    ).df()
    assert on_tapes["invoice_id"].tolist() == expected["invoice_id"].tolist()
    assert sum(t.manifest["receivables"] for t in tapes) == len(expected)
    pools = {t.pool for t in tapes}
    assert len(pools) == len(tapes)
    assert any(p.startswith("placed_with_agency-") for p in pools)  # kept apart, not mixed
    for t in tapes:
        rows = published_rows(settings, t.tape_id)
        assert list(rows.columns) == [f.name for f in dictionary.fields()]
        assert set(rows["pool"]) == {t.pool}
        assert rows["currency"].nunique() == 1  # a pool never mixes currencies


def test_tape_totals_reconcile_with_the_warehouse_and_the_landing_files(con, settings, world):
    ids = selected(con)
    tapes = tape.build(con, settings, AS_OF)
    secret = KEY.encode()
    refs = {pseudonym.pseudonym(secret, "invoice", i): i for i in ids["invoice_id"]}
    rows = pd.concat([published_rows(settings, t.tape_id) for t in tapes])
    rows["invoice_id"] = rows["receivable_id"].map(refs)
    assert rows["invoice_id"].notna().all()
    con.register("taped", rows[["invoice_id", "currency"]])
    warehouse = dict(
        con.execute(
            "select t.currency, sum(f.open_amount) from taped t join marts.fct_invoices f"
            " using (invoice_id) group by 1"
        ).fetchall()
    )
    landing = world / "landing"
    invoiced = dict(  # the newest version of each invoice in the landing files
        duckdb.sql(
            f"select currency, sum(amount) from (select * from read_parquet("
            f"'{landing}/*/invoices.parquet') qualify row_number() over (partition by"
            " invoice_id order by updated_at desc) = 1) i where invoice_id in"
            f" ({', '.join(repr(i) for i in rows['invoice_id'])}) group by 1"
        ).fetchall()
    )
    for t in tapes:
        for line in t.manifest["reconciliation"]:
            assert line["difference"] == "0.00", line
    for currency, group in rows.groupby("currency"):
        principal = sum(
            Decimal(str(v)).quantize(Decimal("0.01")) for v in group["principal_balance"]
        )
        original = sum(Decimal(str(v)).quantize(Decimal("0.01")) for v in group["original_amount"])
        manifest_total = sum(
            Decimal(t.manifest["totals_by_currency"][currency]["principal_balance"])
            for t in tapes
            if currency in t.manifest["totals_by_currency"]
        )
        assert principal == warehouse[currency] == manifest_total
        assert original == invoiced[currency]


def test_bidder_files_hold_no_personal_value_of_the_landing_data(con, settings, world):
    tapes = tape.build(con, settings, AS_OF)
    landing = world / "landing"
    personal = [
        c for c in personal_columns() if c in {col.name for col in TABLES["customers"].columns}
    ]
    customers = duckdb.sql(
        f"select debtor_id, {', '.join(personal)}, company_registration"
        f" from read_parquet('{landing}/*/customers.parquet')"
    ).df()
    invoice_ids = duckdb.sql(
        f"select distinct invoice_id from read_parquet('{landing}/*/invoices.parquet')"
    ).df()["invoice_id"]
    # values that identify a person wherever they appear
    words = set()
    for column in ("name", "email", "phone_mobile", "street", "city", "company_registration"):
        words |= {str(v) for v in customers[column].dropna() if len(str(v)) >= 5}
    words |= {str(v) for v in customers["postal_code"].dropna() if re.search(r"[A-Z]", str(v))}
    words |= set(customers["debtor_id"]) | set(invoice_ids)
    # a date of birth or a postcode of digits only looks like any date or number: the tape's
    # rows must not hold them (the report holds no row)
    births = {str(v) for v in customers["date_of_birth"].dropna()}
    scanned = 0
    for t in tapes:
        folder = Path(settings.tapes_store) / "tapes" / t.tape_id
        for path in sorted(folder.iterdir()):
            found = find_any(words, readable_text(path))
            scanned += 1
            assert found is None, f"{path.name} of {t.tape_id} holds {found!r}"
        rows = published_rows(settings, t.tape_id).astype(str)
        assert not rows.isin(births).to_numpy().any(), "a date of birth on the tape"
        assert not set(rows["region"]) & set(customers["postal_code"].astype(str))
    assert scanned == 8 * len(tapes)


TOKEN = re.compile(r"[\w@.+\-]+")


def find_any(values: set[str], text: str) -> str | None:
    """The first of `values` in `text`: a value is searched only where its first word is a word
    of the text (thousands of values, no regex alternation)."""
    words = set(TOKEN.findall(text))
    for value in sorted(values):
        first = TOKEN.findall(value)
        if first and first[0] in words and value in text:
            return value
    return None


def readable_text(path: Path) -> str:
    """The text a reader of the file could see: CSV/HTML as is, Parquet's values, XLSX's cells,
    a PDF's content streams inflated."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        return pd.read_parquet(path).to_csv(index=False)
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8") for n in z.namelist() if n.endswith(".xml"))
    if path.suffix == ".pdf":
        streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
        parts = []
        for s in streams:
            try:
                parts.append(zlib.decompress(s).decode("latin-1"))
            except zlib.error:
                parts.append(s.decode("latin-1"))
        return "\n".join(parts)
    return data.decode("utf-8")


def test_no_key_in_the_source_recomputes_a_pseudonym(con, settings):
    tapes = tape.build(con, settings, AS_OF)
    debtor = con.execute("select debtor_id from sale.tape_receivables limit 1").fetchone()[0]
    published = set(published_rows(settings, tapes[0].tape_id)["counterparty_id"]) | {
        pseudonym.pseudonym(KEY.encode(), "debtor", debtor)
    }
    files = subprocess.run(
        ["git", "ls-files"], cwd=SOURCE_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    candidates = set()
    for name in files:
        path = SOURCE_ROOT / name
        if path.suffix in {".py", ".yml", ".yaml", ".md", ".toml", ".sql", ".env", ".cfg", ""}:
            text = path.read_text(encoding="utf-8", errors="ignore")
            candidates |= set(re.findall(r"[\w\-+/=.:]{6,}", text))
    candidates.discard(KEY)  # this file's own test key is not a key of any real tape
    assert len(candidates) > 1000
    for candidate in candidates:
        assert pseudonym.pseudonym(candidate.encode(), "debtor", debtor) not in published


def test_a_tape_needs_a_strong_key(con, settings):
    for key, why in (
        (None, "no pseudonymisation key"),
        ("debtflow-demo-key", "public demo key"),
        ("short-but-secret", "at least 32"),
        ("a" * 64, "not random enough"),
    ):
        weak = settings.model_copy(update={"pseudonym_key": key and SecretStr(key)})
        with pytest.raises(DebtflowError, match=why):
            tape.build(con, weak, AS_OF)
    assert con.execute("select count(*) from sale.tapes").fetchone() == (0,)
    demo = settings.model_copy(update={"pseudonym_key": None})
    pseudonym.make_demo_key(demo)
    assert demo.pseudonym_key_file.stat().st_mode & 0o777 == 0o600
    assert tape.build(con, demo, AS_OF)


def test_a_tape_id_is_never_reused(con, settings):
    first = tape.build(con, settings, AS_OF)
    pool = first[0].pool
    again = tape.build(con, settings, AS_OF)
    assert [t.tape_id for t in again] == [t.tape_id for t in first]  # idempotent by date
    replaced = tape.build(con, settings, AS_OF, pool=pool, new=True)
    assert replaced[0].tape_id == f"{AS_OF:%Y%m%d}-{pool}-2"
    states = dict(con.execute("select tape_id, state from sale.tapes").fetchall())
    assert states[first[0].tape_id] == "withdrawn"
    assert states[replaced[0].tape_id] == "published"
    # the withdrawn tape stays as published: a bidder holding it holds what its manifest says
    assert (Path(settings.tapes_store) / "tapes" / first[0].tape_id / "manifest.json").exists()
    with pytest.raises(DebtflowError, match="no receivables in pool 'nowhere'"):
        tape.build(con, settings, AS_OF, pool="nowhere")


def test_an_interrupted_publish_to_s3_leaves_no_manifest_and_the_next_build_finishes_it(
    con, settings, s3_endpoint, monkeypatch
):
    bucket = f"tapes-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=bucket)
    on_s3 = settings.model_copy(
        update={"tapes_url": f"s3://{bucket}/sale", "s3_endpoint_url": s3_endpoint}
    )
    put, calls = S3Store.put, []

    def cut_after_three(self, src, key):
        calls.append(key)
        if len(calls) > 3:
            raise ConnectionError("network gone")
        put(self, src, key)

    monkeypatch.setattr(S3Store, "put", cut_after_three)
    with pytest.raises(ConnectionError):
        tape.build(con, on_s3, AS_OF)
    tape_id, state = con.execute("select tape_id, state from sale.tapes").fetchone()
    assert state == "built"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 3 and not any(k.endswith("manifest.json") for k in keys)

    monkeypatch.setattr(S3Store, "put", put)
    tapes = tape.build(con, on_s3, AS_OF)
    assert tapes[0].tape_id == tape_id and tapes[0].state == "published"
    prefix = f"sale/tapes/{tape_id}/"
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert listed == {prefix + n for n in (*tapes[0].manifest["files"], "manifest.json")}
    for key in listed:
        assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
    body = s3.get_object(Bucket=bucket, Key=prefix + "tape.csv")["Body"].read().decode()
    assert len(list(csv.DictReader(io.StringIO(body)))) == tapes[0].manifest["receivables"]


def test_a_sale_leaves_the_aging_stops_the_dunning_and_gives_the_buyer_a_full_tape(
    con, settings, tmp_path
):
    tapes = tape.build(con, settings, AS_OF)
    sold_tape = max(tapes, key=lambda t: t.manifest["receivables"])
    with pytest.raises(DebtflowError, match="not sold to 'Buyer B.V.'"):
        sale.full_tape(con, settings, sold_tape.tape_id, "Buyer B.V.")
    done = sale.mark_sold(con, sold_tape.tape_id, "Buyer B.V.", sold_on=AS_OF)
    assert done["sold_by_currency"] == {
        c: {"receivables": v["receivables"], "total_balance": v["total_balance"]}
        for c, v in sold_tape.manifest["totals_by_currency"].items()
    }
    with pytest.raises(DebtflowError, match="only a published tape"):
        sale.mark_sold(con, sold_tape.tape_id, "Other Ltd")
    sold = con.execute(
        "select invoice_id, debtor_id, total_balance from sale.sold_receivables"
    ).df()
    sold_total = con.execute("select sum(total_balance) from sale.sold_receivables").fetchone()[0]
    con.close()

    transform.build(settings, AS_OF)
    with connect(settings) as again:
        statuses = again.execute(
            "select distinct status from marts.fct_invoices where invoice_id in"
            " (select invoice_id from sale.sold_receivables)"
        ).fetchall()
        aging = again.execute(
            "select sum(sold_total), sum(n_sold_invoices) from marts.ar_aging"
        ).fetchone()
        reasons = again.execute(
            "select distinct suppression_reason from marts.dunning_candidates where debtor_id in"
            " (select debtor_id from sale.sold_receivables)"
        ).fetchall()
        full = sale.full_tape(again, settings, sold_tape.tape_id, "Buyer B.V.")
    assert statuses == [("sold",)]
    assert aging == (sold_total, len(sold))
    assert reasons == [("sold",)]
    planned = dunning.plan(settings, AS_OF)
    with connect(settings) as again:
        dunned = again.execute(
            "select count(*) from dunning.ledger where as_of = ? and debtor_id in"
            " (select debtor_id from sale.sold_receivables)",
            [AS_OF],
        ).fetchone()[0]
        full_manifest = again.execute(
            "select kind, buyer, manifest from sale.tapes where tape_id = ?", [full["tape_id"]]
        ).fetchone()
    assert planned["planned_total"] > 0 and dunned == 0  # others are dunned, not the sold

    assert full_manifest[:2] == ("full", "Buyer B.V.")
    assert '"contains_personal_data": true' in full_manifest[2]
    rows = published_rows(settings, full["tape_id"])
    assert sorted(rows["invoice_id"]) == sorted(sold["invoice_id"])
    assert rows["name"].notna().all()  # the buyer gets the identities

    # the buyer reports back by pseudonym; a file with a bad line loads nothing
    first = rows.iloc[0]
    good = tmp_path / "feedback-2026-12.csv"
    good.write_text(
        "counterparty_id,receivable_id,reported_on,email_invalid,outcome,amount\n"
        f"{first['counterparty_id']},{first['receivable_id']},2026-12-01,true,paid,"
        f"{first['principal_balance']}\n",
        encoding="utf-8",
    )
    bad = tmp_path / "feedback-bad.csv"
    bad.write_text(
        "counterparty_id,outcome\n"
        f"{first['counterparty_id']},paid\n"
        "0123456789abcdef01234567,paid\n",
        encoding="utf-8",
    )
    with connect(settings) as again:
        with pytest.raises(DebtflowError, match="line 3, column counterparty_id"):
            sale.ingest_feedback(again, settings, bad)
        loaded = sale.ingest_feedback(again, settings, good)
        sale.ingest_feedback(again, settings, good)  # again: replaces, does not add
        stored = again.execute(
            "select debtor_id, invoice_id, outcome, email_invalid from sale.buyer_feedback"
        ).fetchall()
    assert loaded == {"file": good.name, "rows": 1, "outcomes": {"paid": 1}}
    assert stored == [(first["debtor_id"], first["invoice_id"], "paid", True)]


def test_the_selection_names_the_key_that_is_wrong(tmp_path):
    text = (SOURCE_ROOT / "flows" / "tape" / "selection.yml").read_text()
    bad = tmp_path / "selection.yml"
    bad.write_text(text.replace("months_in_collection: 12", "months_in_collection: 6")
                   .replace("  offered_for_sale: exclude\n", ""))  # fmt: skip
    with pytest.raises(DebtflowError) as raised:
        load_selection(bad)
    assert "months_in_collection: Input should be greater than or equal to 12" in str(raised.value)
    assert "exclusions: Value error, say `exclude` or `pool` for ['offered_for_sale']" in str(
        raised.value
    )


def test_the_valuation_values_the_pools_the_tapes_would_hold(con, settings):
    from debtflow.flows.value import valuation

    expected = selected(con)
    result = valuation.value(con, settings, AS_OF)
    # pooled as the tapes are (this test's selection pools by currency; agency kept apart)
    assert {p["pool"] for p in result["pools"]} <= {
        "eur",
        "nok",
        "placed_with_agency-eur",
        "placed_with_agency-nok",
    }
    assert sum(p["receivables"] for p in result["pools"]) == len(expected)
    for currency, rows in expected.groupby("currency"):
        valued = [p for p in result["pools"] if p["currency"] == currency]
        principal = sum(
            Decimal(str(v)).quantize(Decimal("0.01")) for v in rows["principal_balance"]
        )
        assert sum(p["face_value"] for p in valued) == principal
    for p in result["pools"]:
        assert 0 < p["expected_recovery_12m"] <= p["expected_recovery_36m"] <= p["face_value"]
        assert p["recommendation"] in ("keep", "place", "sell")
    recorded = con.execute(
        "select count(*), sum(receivables) from sale.portfolio_valuation where as_of = ?", [AS_OF]
    ).fetchone()
    assert recorded == (len(result["pools"]), len(expected))


def whole_months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


def test_recovery_curves_equal_a_direct_computation_from_the_ledger(con):
    """Per currency and month after default: receivables observed, their face at default, what
    was open at the month's start and what was paid in it, counted receivable by receivable."""
    invoices = con.execute(
        "select invoice_id, currency, amount, cast(due_date + 90 as date) as default_date"
        " from staging.stg_billing__invoices where document_type = 'invoice'"
        " and due_date + 90 < ?",
        [AS_OF],
    ).fetchall()
    shares: dict[str, list] = {}
    for invoice_id, source, amount, applied in con.execute(
        "select invoice_id, source, allocated_amount, applied_date from intermediate.int_ledger"
        " where applied_date < ? and invoice_id is not null",
        [AS_OF],
    ).fetchall():
        shares.setdefault(invoice_id, []).append((source, amount, applied))
    expected: dict[tuple, list] = {}
    for invoice_id, currency, amount, default in invoices:
        mine = shares.get(invoice_id, [])
        face = amount - sum(a for _, a, d in mine if d < default)
        observed = min(36, whole_months(default, AS_OF))
        if face <= 0 or observed < 1:
            continue
        by_month = [(whole_months(default, d) + 1, s, a) for s, a, d in mine if d >= default]
        for month in range(1, observed + 1):
            row = expected.setdefault((currency, month), [0, Decimal(0), Decimal(0), Decimal(0)])
            row[0] += 1
            row[1] += face
            row[2] += face - sum(a for m, _, a in by_month if m < month)
            row[3] += sum(a for m, s, a in by_month if m == month and s == "payment")
    got = con.execute(
        "select currency, month_after_default, sum(receivables), sum(face_at_default),"
        " sum(open_at_month_start), sum(recovered) from marts.recovery_curves"
        " group by 1, 2 order by 1, 2"
    ).fetchall()
    assert len(got) > 20
    assert [(c, m, n, f, o, r) for c, m, n, f, o, r in got] == [
        (c, m, *expected[(c, m)]) for c, m in sorted(expected)
    ]


def forward_agreement(tmp_path: Path, prices: dict[str, str], start: date | None = None) -> Path:
    """The default agreement (60 days past due) with these prices per pool (and this start)."""
    text = (SOURCE_ROOT / "flows" / "tape" / "forward_flow.yml").read_text(encoding="utf-8")
    if start is not None:
        text = text.replace("start: 2026-01-01", f"start: {start}")
    head, _, tail = text.partition("prices_pct:\n")
    tail = tail[tail.index("\n\n") :]  # the lines after the default prices
    listed = "".join(f"  {pool}: {pct}\n" for pool, pct in prices.items())
    path = tmp_path / "forward_flow.yml"
    path.write_text(f"{head}prices_pct:\n{listed}{tail}", encoding="utf-8")
    return path


def test_forward_flow_sells_the_months_fresh_receivables_once_at_the_agreed_price(
    con, settings, tmp_path
):
    # straight from the mart: no exclusion, 60 days past due in (2026-10-20, AS_OF]; the first
    # run's window starts at the agreement's start
    fresh = con.execute(
        "select invoice_id, debtor_id, due_date, lower(concat_ws('-', debtor_type, country,"
        " currency)) as pool from marts.sale_candidates where exclusion is null"
    ).df()
    reached = pd.to_datetime(fresh["due_date"]).dt.date + pd.Timedelta(days=60)
    fresh = fresh[(reached > date(2026, 10, 20)) & (reached <= AS_OF)]
    counts = fresh["pool"].value_counts()
    assert len(counts) >= 2 and len(fresh) > 10  # the world has fresh receivables to sell
    kept = counts.index[-1]  # the smallest pool has no price: it stays in house
    prices = {p: Decimal(30 + 2 * i) + Decimal("0.5") for i, p in enumerate(counts.index[:-1])}
    agreed = forward_agreement(tmp_path, prices, start=date(2026, 10, 21))
    deal = settings.model_copy(update={"forward_flow": agreed})

    result = forward_flow.run(con, deal, AS_OF)
    assert result["window"] == {"from": "2026-10-21", "to": "2026-11-20"}
    sold = con.execute("select invoice_id from sale.sold_receivables order by invoice_id").df()
    expected = fresh[fresh["pool"] != kept].sort_values("invoice_id")
    assert sold["invoice_id"].tolist() == expected["invoice_id"].tolist()  # each once
    assert result["unpriced"] == {kept: int(counts[kept])}
    assert {t["pool"] for t in result["tapes"]} == set(prices)
    assert all(t["tape_id"].startswith(f"{AS_OF:%Y%m%d}-forward-") for t in result["tapes"])
    assert con.execute("select distinct buyer, sold_on from sale.sold_receivables").fetchall() == [
        ("Forward Buyer B.V.", AS_OF)
    ]
    for pool, pct, balance, price in con.execute(  # DECIMAL, as stored
        "select pool, price_pct, total_balance, price from sale.sold_receivables"
    ).fetchall():
        assert pct == prices[pool]
        assert price == (balance * pct / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    tapes = con.execute(
        "select kind, state, buyer, count(*) from sale.tapes group by all"
    ).fetchall()
    assert sorted(tapes) == [
        ("forward_flow", "sold", "Forward Buyer B.V.", len(prices)),
        ("full", "published", "Forward Buyer B.V.", len(prices)),
    ]
    full_rows = pd.concat(published_rows(settings, t["full_tape_id"]) for t in result["tapes"])
    assert sorted(full_rows["invoice_id"]) == sorted(sold["invoice_id"])

    again = forward_flow.run(con, deal, AS_OF)  # sells nothing more, makes nothing more
    assert [t["tape_id"] for t in again["tapes"]] == [t["tape_id"] for t in result["tapes"]]
    assert con.execute("select count(*) from sale.sold_receivables").fetchone() == (len(sold),)
    assert con.execute("select count(*) from sale.tapes").fetchone() == (2 * len(prices),)
    con.close()

    transform.build(settings, AS_OF, select="dunning_candidates", tests=False)
    with connect(settings) as after:
        reasons = after.execute(
            "select distinct suppression_reason from marts.dunning_candidates where debtor_id in"
            " (select debtor_id from sale.sold_receivables)"
        ).fetchall()
    assert reasons == [("sold",)]


def reached_60_days(con, first: date, last: date) -> pd.DataFrame:
    """Straight from the mart: the receivables without exclusion 60 days past due in [first, last]."""
    return con.execute(
        "select invoice_id, due_date + 60 as reached,"
        " lower(concat_ws('-', debtor_type, country, currency)) as pool"
        " from marts.sale_candidates where exclusion is null"
        " and due_date + 60 between ? and ? order by invoice_id",
        [first, last],
    ).df()


def test_a_cut_short_and_a_skipped_forward_flow_run_are_caught_up_by_the_next_each_once(
    con, settings, tmp_path, monkeypatch
):
    """Run on 2026-09-20 but cut short after publishing, skipped on 2026-10-20, run on AS_OF: the
    tapes of 2026-09-20 are sold as of that date, the receivables that reached the days past due
    in the skipped month are sold on AS_OF, and nothing is sold twice."""
    before, skipped = date(2026, 9, 20), date(2026, 10, 20)
    every_pool = (
        "select distinct lower(concat_ws('-', debtor_type, country, currency))"
        " from marts.sale_candidates"
    )
    pools = {p for (p,) in con.execute(every_pool).fetchall()}  # priced, none stays in house
    con.close()

    transform.build(settings, before, tests=False)
    with connect(settings) as then:
        first = reached_60_days(then, date(2026, 8, 21), before)
        pools |= {p for (p,) in then.execute(every_pool).fetchall()}
        agreed = forward_agreement(tmp_path, dict.fromkeys(sorted(pools), "40"), date(2026, 8, 21))
        deal = settings.model_copy(update={"forward_flow": agreed})
        with monkeypatch.context() as cut:  # the run dies between publishing and selling
            cut.setattr(forward_flow.sale, "mark_sold", Mock(side_effect=RuntimeError("cut")))
            with pytest.raises(RuntimeError, match="cut"):
                forward_flow.run(then, deal, before)
        (n,) = then.execute("select count(*) from sale.sold_receivables").fetchone()
        states = then.execute("select distinct state from sale.tapes where as_of = ?", [before])
        assert n == 0 and states.fetchall() == [("published",)]
    assert len(first) > 10

    transform.build(settings, AS_OF, tests=False)
    with connect(settings) as now:
        then_on = reached_60_days(now, date(2026, 9, 21), AS_OF)
        in_skipped = then_on[pd.to_datetime(then_on["reached"]).dt.date <= skipped]
        assert len(in_skipped) > 10  # the skipped month had receivables to sell
        result = forward_flow.run(now, deal, AS_OF)
        assert result["window"] == {"from": "2026-09-21", "to": "2026-11-20"}
        lines = summaries.forward_flow_sold(result)
        assert lines[1] == (
            "Window: receivables that reached the agreed days past due from 2026-09-21 to 2026-11-20"
        )
        finished = {t["tape_id"] for t in result["finished"]}
        assert finished and all(t.startswith("20260920-forward-") for t in finished)
        assert lines[2].startswith("Finished first, as of their own dates (an earlier run was cut")
        (full,) = now.execute(
            "select count(*) from sale.tapes where kind = 'full' and as_of = ?", [before]
        ).fetchone()
        assert full == len(finished)  # the buyer got its full tapes of 2026-09-20 too
        again = forward_flow.run(now, deal, AS_OF)  # a rerun: same window, nothing more sold
        assert again["window"] == result["window"] and again["finished"] == []
        assert [t["tape_id"] for t in again["tapes"]] == [t["tape_id"] for t in result["tapes"]]
        sold = now.execute(
            "select invoice_id, sold_on from sale.sold_receivables order by invoice_id"
        ).df()
    expected = sorted([*first["invoice_id"], *then_on["invoice_id"]])
    assert sold["invoice_id"].tolist() == expected  # each once
    on_before = sold[pd.to_datetime(sold["sold_on"]).dt.date == before]
    assert on_before["invoice_id"].tolist() == first["invoice_id"].tolist()
    on_as_of = sold[pd.to_datetime(sold["sold_on"]).dt.date == AS_OF]
    assert on_as_of["invoice_id"].tolist() == then_on["invoice_id"].tolist()
    assert set(in_skipped["invoice_id"]) <= set(on_as_of["invoice_id"])


def test_the_forward_flow_agreement_names_the_key_that_is_wrong(tmp_path):
    path = forward_agreement(tmp_path, {"consumer-nl-eur": "40"})
    path.write_text(path.read_text().replace("days_past_due: 60", "days_past_due: 0"))
    with pytest.raises(DebtflowError, match="days_past_due: Input should be greater than or"):
        load_agreement(path)
    for prices, why in (
        ({"consumer-nl-eur": "120"}, "prices_pct.consumer-nl-eur: 120 is not a percentage"),
        ({"consumer-nl": "40"}, "prices_pct.consumer-nl: not a pool of pool_by"),
    ):
        with pytest.raises(DebtflowError, match=why):
            load_agreement(forward_agreement(tmp_path, prices))


def test_no_forward_flow_is_sold_without_an_agreement_of_ones_own(home):
    """The shipped agreement is an example: with DEBTFLOW_FORWARD_FLOW unset, nothing is sold."""
    with pytest.raises(DebtflowError, match="no forward-flow agreement is configured"):
        agreement(get_settings())
