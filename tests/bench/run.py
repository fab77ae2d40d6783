"""`make bench`: time each stage at scale, one subprocess per stage so peak memory is its own.

Environment: BENCH_DEBTORS (simulated world, default 200,000), BENCH_MONTHS (24),
BENCH_INGEST_DEBTORS (synthetic history for the ingest benchmark, default 1,000,000),
BENCH_TRAIN_ROWS (synthetic snapshot rows for the training benchmark, default 2,000,000),
BENCH_LOOP_DEBTORS and BENCH_LOOP_DAYS (the closed loop, default 5,000 debtors x 90 days),
BENCH_HOME (default /tmp/debtflow-bench), BENCH_STAGES (comma-separated subset).
Prints a Markdown table and writes BENCH_HOME/bench.json. A benchmark, not a test: it asserts
nothing and is not part of `make test`.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

AS_OF = date(2026, 11, 20)
HOME = Path(os.environ.get("BENCH_HOME", "/tmp/debtflow-bench"))
DEBTORS = int(os.environ.get("BENCH_DEBTORS", 200_000))
MONTHS = int(os.environ.get("BENCH_MONTHS", 24))
INGEST_DEBTORS = int(os.environ.get("BENCH_INGEST_DEBTORS", 1_000_000))
TRAIN_ROWS = int(os.environ.get("BENCH_TRAIN_ROWS", 2_000_000))
LOOP_DEBTORS = int(os.environ.get("BENCH_LOOP_DEBTORS", 5_000))
LOOP_DAYS = int(os.environ.get("BENCH_LOOP_DAYS", 90))


def _world_env() -> None:
    os.environ["DEBTFLOW_HOME"] = str(HOME / "world")
    os.environ.pop("DEBTFLOW_LANDING_URL", None)


def stage_simulate() -> dict:
    from debtflow.flows.simulation.simulation import simulate

    summary = simulate(DEBTORS, MONTHS, 7, HOME / "world", AS_OF, 3)
    return {"rows": sum(summary["rows"].values())}


def stage_ingest_world() -> dict:
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.ingest import ingest

    _world_env()
    results = ingest.ingest(get_settings(), AS_OF)
    return {"rows": sum(f.rows_loaded for r in results for f in r.files)}


def stage_transform() -> dict:
    from debtflow.flows.build import transform
    from debtflow.flows.core.settings import get_settings

    _world_env()
    return {"nodes": len(transform.build(get_settings(), AS_OF))}


def _warehouse_build(label: str, day: date, full: bool) -> dict:
    """Ingest `day`'s batch, then build the warehouse for it (full refresh or daily), in the
    bench's warehouse home; ingest is timed apart and not counted."""
    from debtflow.flows.build import transform
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.ingest import ingest

    os.environ["DEBTFLOW_HOME"] = str(HOME / "transform_daily")
    os.environ["DEBTFLOW_LANDING_URL"] = str(HOME / "world" / "landing")
    settings = get_settings()
    start = time.perf_counter()
    ingest.ingest(settings, day)
    figures = {f"ingest_{label}_s": round(time.perf_counter() - start, 1)}
    start = time.perf_counter()
    nodes = transform.build(settings, day, full_refresh=full)
    figures[f"{label}_s"] = round(time.perf_counter() - start, 1)
    slowest = sorted(nodes.items(), key=lambda kv: -kv[1]["seconds"])[:6]
    figures[f"{label}_slowest"] = {k.split(".")[-1]: v["seconds"] for k, v in slowest}
    return figures


def stage_transform_full() -> dict:
    """The full refresh on the simulated world with history through the day before AS_OF, in
    a home of its own (HOME/transform_daily)."""
    shutil.rmtree(HOME / "transform_daily", ignore_errors=True)
    return _warehouse_build("full", AS_OF - timedelta(days=1), True)


def stage_transform_daily() -> dict:
    """The next day: AS_OF's batch and the daily (incremental) build on transform_full's
    warehouse, in a process of its own as a scheduled run is: after the full refresh in the same
    process, its staging merges ran several times slower."""
    if not (HOME / "transform_daily" / "warehouse.duckdb").exists():
        raise SystemExit("stage transform_daily needs stage transform_full first")
    return _warehouse_build("daily", AS_OF, False)


def stage_train() -> dict:
    from debtflow.flows.core.settings import get_settings
    from debtflow.models import train

    _world_env()
    result = train.train(get_settings(), AS_OF, HOME / "world" / "truth")
    keep = ("roc_auc", "oracle_roc_auc", "brier", "oracle_brier", "n_train", "n_valid")
    metrics = result.get("metrics", result)
    return {k: metrics.get(k) for k in keep}


def stage_score() -> dict:
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.score import score

    _world_env()
    return {"rows": score.score(get_settings(), AS_OF).get("rows")}


def stage_ingest_synthetic() -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from synthetic import write_daily, write_history

    from debtflow.flows.build import validation
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.ingest import ingest

    root = HOME / "synthetic"
    os.environ["DEBTFLOW_HOME"] = str(root / "home")
    os.environ["DEBTFLOW_LANDING_URL"] = str(root / "landing")
    day = AS_OF + timedelta(days=1)
    start = time.perf_counter()
    write_history(root / "landing", INGEST_DEBTORS, 24, AS_OF)
    generated = time.perf_counter() - start
    start = time.perf_counter()
    ingest.ingest(get_settings(), AS_OF)
    history = time.perf_counter() - start
    write_daily(root / "landing", INGEST_DEBTORS, day)
    start = time.perf_counter()
    (result,) = ingest.ingest(get_settings(), day)[-1:]
    with session(get_settings()) as con:
        validation.raise_if_failed(
            validation.validate_raw_all(con, [result.batch_id], get_settings())
        )
    daily = time.perf_counter() - start
    return {
        "generate_s": round(generated, 1),
        "history_load_s": round(history, 1),
        "daily_ingest_and_gx_s": round(daily, 1),
    }


def stage_train_2m() -> dict:
    """Collectability training end to end (read, type, boost, calibrate, baseline, register) on
    TRAIN_ROWS synthetic snapshot rows as wide as the real marts (~70 features, 11 monthly
    dates); the time to build the synthetic mart is reported apart and not counted in train_s."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
    from synthetic_marts import build_scale_warehouse

    from debtflow.flows.core.settings import get_settings
    from debtflow.models import train

    home = HOME / "train_2m"
    shutil.rmtree(home, ignore_errors=True)
    (home / "truth").mkdir(parents=True)
    os.environ["DEBTFLOW_HOME"] = str(home)
    settings = get_settings()
    dates = [date(2025 + (11 + m) // 12, (11 + m) % 12 + 1, 1) for m in range(11)]
    start = time.perf_counter()
    rows = build_scale_warehouse(
        settings, TRAIN_ROWS, dates, home / "truth" / train.TRUTH_FILE, ceil=True
    )
    built = time.perf_counter() - start
    start = time.perf_counter()
    result = train.train(settings, AS_OF, home / "truth")
    trained = time.perf_counter() - start
    m = result["metrics"]
    return {
        "rows": rows,
        "build_s": round(built, 1),
        "train_s": round(trained, 1),
        "phases_s": result.get("phases"),
        **{k: m.get(k) for k in ("n_train", "roc_auc", "oracle_roc_auc", "brier", "oracle_brier")},
        "baseline_roc_auc": m.get("baseline_roc_auc"),
    }


def stage_small_books() -> dict:
    """The collectability model beside its logistic baseline (out-of-time ROC AUC) on small books:
    simulated books of 120, 400 and 2,000 debtors and the real UCI card sample (3,000 holders,
    tests/data/real), trained with the small-book mode (cross-fitted) and with the held-out
    slices of a large book, for comparison."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "real"))
    import uci_credit_card

    from debtflow.flows.build import transform
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.ingest import ingest
    from debtflow.flows.simulation.simulation import simulate
    from debtflow.models import train

    books = {"sim_120": (120, 24, 5), "sim_400": (400, 18, 3), "sim_2000": (2000, 18, 11)}
    out = {}
    for name in [*books, "uci_cards_3000"]:
        home = HOME / "small_books" / name
        shutil.rmtree(home, ignore_errors=True)
        os.environ["DEBTFLOW_HOME"] = str(home)
        os.environ.pop("DEBTFLOW_LANDING_URL", None)
        if name in books:
            as_of = AS_OF
            simulate(*books[name], home, as_of, 1)
        else:
            as_of = date(2005, 10, 1)
            data = Path(__file__).parents[1] / "data" / "real" / "uci_credit_card"
            uci_credit_card.convert(data / "clients_1-3000.csv", home / "landing")
        settings = get_settings()
        ingest.ingest(settings, as_of)
        transform.build(settings, as_of)
        small = train.SMALL_BOOK_ROWS
        for mode, rows in (("small_book", small), ("held_out", 0)):
            train.SMALL_BOOK_ROWS = rows
            m = train.train(settings, as_of)["metrics"]
            out[f"{name}_{mode}"] = (
                f"auc {m['roc_auc']:.4f} vs baseline {m['baseline_roc_auc']:.4f} "
                f"({m['roc_auc'] - m['baseline_roc_auc']:+.4f}), n_train {m['n_train']}"
            )
        train.SMALL_BOOK_ROWS = small
    return out


def stage_dunning() -> dict:
    """Planning for 100,000 overdue debtors (a synthetic marts.dunning_candidates), 2,000
    e-mails to a local SMTP server (aiosmtpd) with the ledger kept exactly once, and 10,000
    letters rendered as PDF."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "flows"))
    import socket
    from dataclasses import replace

    from aiosmtpd.controller import Controller
    from dunning_world import AS_OF as DAY
    from dunning_world import create

    from debtflow.flows.core.settings import Settings
    from debtflow.flows.core.warehouse import connect
    from debtflow.flows.dunning import compose, letter, plan, send
    from debtflow.flows.dunning.policy import policy

    home = HOME / "dunning"
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home)
    con = connect(settings)
    create(con)
    con.execute(
        "insert into marts.dunning_candidates select ?, 'D' || lpad(i::varchar, 7, '0'), "
        "case when i % 50 = 0 then 'NOK' else 'EUR' end, "
        "case when i % 7 = 0 then 'business' else 'consumer' end, ['NL', 'BE', 'NO', 'DE'][1 + i % 4], "
        "'nl', ? - (5 + i % 120)::int, 5 + i % 120, (20 + i % 900)::decimal(18, 2), 'INV' || i, 1, "
        "0, null, case i % 3 when 0 then ['reminder_1'] when 1 then ['reminder_1', 'reminder_2'] "
        "else [] end::varchar[], ? - (i % 40)::int, i % 5 <> 0, i % 4 <> 0, true, "
        "case when i % 20 = 0 then 'active_plan' end from range(100000) t(i)",
        [DAY, DAY, DAY],
    )
    start = time.perf_counter()
    planned = plan.plan(con, settings, DAY)
    plan_s = time.perf_counter() - start
    # 2,000 of the e-mails, sent to a local SMTP server
    con.execute(
        "update dunning.ledger set state = 'held' where channel <> 'email' or idempotency_key "
        "not in (select idempotency_key from dunning.ledger where channel = 'email' "
        "order by idempotency_key limit 2000)"
    )
    con.execute(
        "insert into staging.stg_billing__customer_versions select debtor_id, 'Customer', "
        "lower(debtor_id) || '@example.nl', '+31612345678', 'Kerkstraat 1', '1011 AA', "
        "'Amsterdam', country, 'nl', timestamp '2020-01-01' from dunning.ledger where state = 'planned'"
    )
    con.execute(
        "insert into intermediate.int_invoices_settled select invoice_id, debtor_id, 'invoice', "
        "? - 60, ? - 30, amount_due, currency, null from dunning.ledger where state = 'planned'",
        [DAY, DAY],
    )

    class Inbox:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Inbox.received += 1
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    mail = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    start = time.perf_counter()
    sent = send.send(con, mail, DAY, at=datetime(2026, 11, 20, 10, 0))
    send_s = time.perf_counter() - start
    controller.stop()
    twice = send.send(con, mail, DAY, at=datetime(2026, 11, 20, 10, 0))["sent"]
    # 10,000 letters: one message rendered 10,000 times under distinct keys
    cursor = con.execute("select * from dunning.ledger where state = 'sent' limit 1")
    action = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    (msg,) = compose.messages(con, [action], policy(settings), DAY).values()
    start = time.perf_counter()
    for i in range(10_000):
        letter.render_letter_pdf(replace(msg, idempotency_key=f"{i:064d}"))
    letters_s = time.perf_counter() - start
    con.close()
    return {
        "plan_100k_s": round(plan_s, 1),
        "planned": planned["planned_total"],
        "emails": sent["sent"],
        "email_s": round(send_s, 1),
        "emails_per_s": round(sent["sent"] / send_s, 1),
        "received_by_server": Inbox.received,
        "sent_by_a_second_run": twice,
        "letters_10k_s": round(letters_s, 1),
    }


def stage_tape() -> dict:
    """A bidder tape of 100,000 receivables (50,000 debtors) with 36 months of repayments, in
    CSV, Parquet and XLSX with its strats, report (HTML and PDF), dictionary and manifest,
    published to a folder. The marts it reads are synthetic tables with the real columns."""
    from debtflow.flows.core.settings import Settings
    from debtflow.flows.core.warehouse import connect, ensure_schema
    from debtflow.flows.tape import tape

    day = date(2026, 11, 20)
    home = HOME / "tape"
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home, pseudonym_key="bench-" + "Qx7pL2mZ9rV4wK8sN1dH6bJ3cF5gT0y")
    con = connect(settings)
    ensure_schema(con)
    for schema in ("marts", "staging", "intermediate"):
        con.execute(f"create schema if not exists {schema}")
    n, debtor = 100_000, "'D' || lpad((i // 2)::varchar, 7, '0')"
    con.execute(
        f"create table marts.sale_candidates as select $d as as_of, 'INV' || i as invoice_id,"
        f" {debtor} as debtor_id, 'consumer' as debtor_type, 'NL' as country, 'EUR' as currency,"
        " $d - 500 - (i % 400)::int as issue_date, $d - 486 - (i % 400)::int as due_date,"
        " (30 + i % 2000)::decimal(18, 2) as amount, (25 + i % 1900)::decimal(18, 2)"
        " as principal_balance, 486 + i % 400 as days_past_due, 'open' as status,"
        " $d - 396 - (i % 400)::int as default_date, 13 + (i % 400) // 31 as months_since_default,"
        " $d - 200 as last_payment_date, 5.00::decimal(18, 2) as last_payment_amount,"
        " $d - 470 - (i % 400)::int as collection_started_date,"
        " 15 + (i % 400) // 31 as months_in_collection, $d + 1200 as limitation_date,"
        f" false as placed_with_agency, null::varchar as exclusion from range({n}) t(i)",
        {"d": day},
    )
    con.execute(
        f"create table marts.debtor_features as select distinct {debtor} as debtor_id,"
        f" $d as as_of, false as deceased, (i // 2) % 97 = 0 as bankrupt, false as debt_restructuring"
        f" from range({n}) t(i)",
        {"d": day},
    )
    con.execute(
        "create table marts.dim_debtors as select debtor_id, date '2019-03-01' as customer_since,"
        " true as has_email, hash(debtor_id) % 3 <> 0 as has_mobile, as_of - 40 as"
        " last_response_date from marts.debtor_features"
    )
    con.execute(
        "create table marts.dunning_candidates as select debtor_id, hash(debtor_id) % 5 <> 0 as"
        " email_ok, true as sms_ok, ['reminder_1', 'reminder_2', 'final_notice'] as steps_taken"
        " from marts.debtor_features"
    )
    con.execute(
        "create table staging.stg_billing__customers as select debtor_id, 'Name ' || debtor_id"
        " as name, 'Kerkstraat 1' as street, (1000 + hash(debtor_id) % 8999)::varchar || ' AB'"
        " as postal_code, 'Utrecht' as city, lower(debtor_id) || '@example.nl' as email,"
        " '+31612345678' as phone_mobile, date '1970-01-01' + (hash(debtor_id) % 15000)::int"
        " as date_of_birth, null::varchar as company_registration from marts.debtor_features"
    )
    con.execute(
        "create table staging.stg_billing__contact_events as select f.debtor_id,"
        " ['email', 'sms', 'letter', 'phone'][1 + e % 4] as channel,"
        " ['sent', 'opened', 'sent', 'call_attempt', 'clicked'][1 + e % 5] as event_type,"
        " $d - (15 * e + 3)::int as occurred_date from marts.debtor_features f, range(20) t(e)",
        {"d": day},
    )
    con.execute(
        "create table intermediate.int_ledger as select c.invoice_id, 5.00::decimal(18, 2) as"
        " allocated_amount, $d - (35 * k + 20)::int as applied_date"
        " from marts.sale_candidates c, range(6) t(k)",
        {"d": day},
    )
    con.execute(
        "create table marts.fct_invoices as select invoice_id, principal_balance as open_amount,"
        " as_of from marts.sale_candidates"
    )
    start = time.perf_counter()
    (made,) = tape.build(con, settings, day)
    seconds = time.perf_counter() - start
    con.close()
    folder = home / "tapes" / made.tape_id
    return {
        "receivables": made.manifest["receivables"],
        "tape_100k_s": round(seconds, 1),
        "files": sorted(p.name for p in folder.iterdir()),
        "mib": round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20, 1),
    }


def stage_valuation() -> dict:
    """Value every pool of the simulated world after stage transform: the sale selection, the
    recovery curves' rates, bootstrap and sensitivity, written to sale.portfolio_valuation."""
    from debtflow.flows.core.settings import get_settings
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.value import valuation

    _world_env()
    settings = get_settings()
    with session(settings) as con:
        result = valuation.value(con, settings, AS_OF)
    return {
        "pools": len(result["pools"]),
        "receivables": sum(p["receivables"] for p in result["pools"]),
    }


def stage_closed_loop() -> dict:
    """`simulate-policy` with the default policy alone: LOOP_DAYS days of ingest, the daily
    build of what the planner reads, planning and sending to the outbox, on LOOP_DEBTORS."""
    from debtflow.flows.core.settings import Settings
    from debtflow.flows.simulation.closed_loop import simulate_policy

    home = HOME / "closed_loop"
    result = simulate_policy(
        Settings(home=home), None, LOOP_DAYS, LOOP_DEBTORS, 7, home / "run", arms=("policy",)
    )
    arm = result["arms"]["policy"]
    return {
        "debtors": LOOP_DEBTORS,
        "days": LOOP_DAYS,
        "seconds_setup": result["seconds"]["setup"],
        "seconds_per_stage": result["seconds"]["policy"],
        "messages": arm["messages"],
        "net": {c: m["net"] for c, m in arm["money"].items()},
    }


STAGES = {
    "simulate": stage_simulate,
    "ingest_world": stage_ingest_world,
    "transform": stage_transform,
    "transform_full": stage_transform_full,
    "transform_daily": stage_transform_daily,
    "train": stage_train,
    "score": stage_score,
    "ingest_synthetic": stage_ingest_synthetic,
    "train_2m": stage_train_2m,
    "small_books": stage_small_books,
    "dunning": stage_dunning,
    "tape": stage_tape,
    "valuation": stage_valuation,
    "closed_loop": stage_closed_loop,
}


def run_one(name: str) -> None:
    start = time.perf_counter()
    extra = STAGES[name]()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "stage": name,
                "seconds": round(time.perf_counter() - start, 1),
                "peak_rss_mib": round(peak),
                **extra,
            },
            default=str,
        )
    )


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--stage":
        return run_one(sys.argv[2])
    wanted = os.environ.get("BENCH_STAGES", ",".join(STAGES)).split(",")
    HOME.mkdir(parents=True, exist_ok=True)
    rows = []
    print(
        f"debtflow bench: {DEBTORS:,} simulated debtors x {MONTHS} months; "
        f"ingest on {INGEST_DEBTORS:,} synthetic debtors; home {HOME}",
        flush=True,
    )
    for name in wanted:
        out = subprocess.run(
            [sys.executable, __file__, "--stage", name],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
        )
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"bench stage {name} failed")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(
            f"  {name:<18} {rows[-1]['seconds']:>8.1f} s  {rows[-1]['peak_rss_mib']:>6} MiB",
            flush=True,
        )
    (HOME / "bench.json").write_text(json.dumps(rows, indent=2))
    print("\n| stage | seconds | peak RSS (MiB) | details |\n| --- | --- | --- | --- |")
    for r in rows:
        details = ", ".join(
            f"{k}={v}" for k, v in r.items() if k not in ("stage", "seconds", "peak_rss_mib")
        )
        print(f"| {r['stage']} | {r['seconds']} | {r['peak_rss_mib']} | {details} |")


if __name__ == "__main__":
    main()
