"""The `debtflow` command: every stage of the pipeline, the daily run and the demo."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from debtflow.flows.core.errors import DebtflowError
from debtflow.flows.core.runtime import configure_prefect
from debtflow.flows.core.settings import get_settings
from debtflow.flows.core.warehouse import require

COMMANDS: dict[str, Callable[[argparse.Namespace], object]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


# Commands that may start a new home (the first ingest creates the warehouse); every other
# command reads an existing one and refuses a home without a warehouse.
STARTS_A_HOME = {"simulate", "ingest", "run", "backfill", "demo", "doctor"}


def _as_of(args: argparse.Namespace) -> date:
    return args.as_of or get_settings().today()


def _built_as_of(args: argparse.Namespace) -> date:
    """--as-of, else the date the marts were last built for (said on stderr), else today."""
    if args.as_of:
        return args.as_of
    from debtflow.flows.core.warehouse import built_as_of, session

    with session() as con:
        built = built_as_of(con)
    if built is None:
        return get_settings().today()
    print(f"as of {built}: the date the warehouse was last built for", file=sys.stderr)
    return built


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def _print(result: object) -> None:
    print(json.dumps(result, indent=2, default=str))


@command("simulate")
def cmd_simulate(args):
    from debtflow.flows.simulation.simulation import simulate

    _print(simulate(args.debtors, args.months, args.seed, args.out, args.end_date, args.daily_days))


@command("ingest")
def cmd_ingest(args):
    from debtflow.flows.ingest import ingest

    settings = get_settings()
    if args.landing:
        settings.landing_url = str(args.landing)
    for r in ingest.ingest(settings, _as_of(args)):
        loaded = sum(f.rows_loaded for f in r.files)
        bad = sum(f.rows_quarantined for f in r.files)
        print(f"{r.batch_id}: {r.status} ({loaded} rows loaded, {bad} quarantined)")


@command("quarantine")
def cmd_quarantine(args):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.ingest import quarantine

    with session() as con:
        if args.batch:
            quarantine.require_batch(con, args.batch)
        if args.action == "list":
            groups = quarantine.summary(con, args.batch)
            for batch, file, column, reason, status, n in groups:
                print(f"{batch}  {file}  {column}  {status:<11} {n:>8}  {reason}")
            if not groups:
                print(f"no quarantined rows{f' in batch {args.batch}' if args.batch else ''}")
        elif args.action == "show":
            found = quarantine.rows(con, args.batch, args.file, args.limit)
            for row in found:
                print(json.dumps(row, default=str))
            if not found:
                print(f"no quarantined rows in batch {args.batch}", file=sys.stderr)
        else:
            print(f"released {quarantine.release(con, args.batch, args.file)} row(s)")


@command("transform")
def cmd_transform(args):
    from debtflow.flows.build import transform

    result = transform.build(get_settings(), _as_of(args), full_refresh=args.full_refresh)
    print(f"dbt build: {len(result)} nodes passed")


@command("publish")
def cmd_publish(args):
    from debtflow.flows.build.publish import publish

    _print(publish(get_settings(), _built_as_of(args)))


@command("docs")
def cmd_docs(args):
    from debtflow.flows.build import transform

    print(f"dbt docs: {transform.docs(get_settings(), _as_of(args))}/index.html")


@command("validate")
def cmd_validate(args):
    from debtflow.flows.build import validation
    from debtflow.flows.core.warehouse import session

    as_of = _as_of(args)
    with session() as con:
        batches = [
            r[0]
            for r in con.execute(
                "select distinct batch_id from raw.load_log where batch_id like ? || '%'",
                [as_of.isoformat()],
            ).fetchall()
        ]
        results = [
            *validation.validate_raw_all(con, batches),
            validation.validate_marts(con, as_of),
        ]
    print(validation.summary_markdown(results))
    validation.raise_if_failed(results)


@command("train")
def cmd_train(args):
    from debtflow.models import late_payment, train

    as_of = _built_as_of(args)
    if args.model == "late_payment":
        _print(late_payment.train_model(get_settings(), as_of, args.truth))
    else:
        _print(train.train(get_settings(), as_of, args.truth))


@command("models")
def cmd_models(args):
    from debtflow.models import registry

    settings = get_settings()
    if args.action == "list":
        rows = registry.summary(settings, args.model)
        for row in rows:
            print(
                f"{row['version']}  {'champion' if row['champion'] else '        '}  "
                f"roc_auc {row['roc_auc']} (logistic baseline {row['baseline_roc_auc']})  "
                f"brier {row['brier']}  {row['valid_dates']}"
            )
        if not rows:
            print(f"no {args.model} model yet: run `debtflow train`")
    elif args.action == "show":
        _print(registry.show(settings, args.version, args.model))
    else:
        registry.promote(settings, args.version, args.model)
        print(f"{args.model} champion: {args.version}")


@command("advise-terms")
def cmd_advise_terms(args):
    from debtflow.models import terms

    _print(terms.advise_terms(get_settings(), _built_as_of(args), args.debtor or None, args.out))


@command("score")
def cmd_score(args):
    from debtflow.flows.score import score

    _print(score.score(get_settings(), _as_of(args)))


@command("dunning")
def cmd_dunning(args):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.dunning import dunning

    settings, as_of = get_settings(), _as_of(args)
    with session(settings) as con:
        _print(
            {
                "planned": dunning.plan(con, settings, as_of),
                "sent": dunning.send_outbox(con, settings, as_of),
            }
        )


@command("tape")
def cmd_tape(args):
    from debtflow.flows.core.warehouse import session
    from debtflow.flows.tape import tape

    settings = get_settings()
    with session(settings) as con:
        _print(tape.build_tape(con, settings, _as_of(args)))


@command("run")
def cmd_run(args):
    """A deployable flow, run here as its deployment would run it (flows/<name>.py)."""
    if args.flow == "daily":
        from debtflow.flows.daily import daily

        _print(daily(_as_of(args), force=args.force))
    elif args.flow == "dunning-send":
        from debtflow.flows.dunning_send import dunning_send

        _print(dunning_send(_as_of(args)))
    elif args.flow == "train":
        from debtflow.flows.train import train

        _print(train(_built_as_of(args)))
    else:
        from debtflow.flows.sale_tape import sale_tape

        _print(sale_tape(_as_of(args)))


@command("backfill")
def cmd_backfill(args):
    from debtflow.flows.ops.backfill import backfill

    def progress(as_of, what):
        print(f"{as_of}: {what}", flush=True)

    _print(backfill(get_settings(), args.start, args.end, on_date=progress))


@command("doctor")
def cmd_doctor(args):
    from debtflow.flows.ops.doctor import doctor

    failed = doctor(get_settings())
    if failed:
        raise DebtflowError(f"{failed} check(s) failed; fix them and run `debtflow doctor` again")


@command("demo")
def cmd_demo(args):
    from debtflow.flows.ops.demo import demo

    demo(get_settings(), args.debtors, args.months, args.seed)


def parser() -> argparse.ArgumentParser:
    iso = iso_date
    p = argparse.ArgumentParser(
        prog="debtflow",
        description="Turn billing extracts into collected cash: load, model, dun, sell.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help)

    def as_of(sp: argparse.ArgumentParser, default: str = "today") -> None:
        sp.add_argument("--as-of", type=iso, help=f"business date YYYY-MM-DD (default: {default})")

    built = "the date the warehouse was last built for"

    s = add("simulate", "Write a simulated billing world: landing batches and ground truth.")
    s.add_argument("--debtors", type=int, default=20_000)
    s.add_argument("--months", type=int, default=24)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--out", type=Path, required=True, help="writes OUT/landing and OUT/truth")
    s.add_argument("--end-date", type=iso, help="date of the last daily batch (default: today)")
    s.add_argument("--daily-days", type=int, default=3, help="daily batches after the history")
    s = add("ingest", "Load new landing batches into raw.*, quarantining bad rows.")
    as_of(s)
    s.add_argument("--landing", type=Path, help="landing folder (default: DEBTFLOW_LANDING_URL)")
    s = add("quarantine", "Inspect quarantined rows and re-process them after a fix.")
    q_sub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = q_sub.add_parser("list", help="Count quarantined rows by batch, file, column and reason.")
    q.add_argument("--batch", help="only this batch id")
    q = q_sub.add_parser("show", help="Show a batch's quarantined rows (personal data masked).")
    q.add_argument("--batch", required=True)
    q.add_argument("--file", help="only this file name")
    q.add_argument("--limit", type=int, default=20)
    q = q_sub.add_parser(
        "release", help="Re-check a batch's quarantined rows; load those now valid."
    )
    q.add_argument("--batch", required=True)
    q.add_argument("--file", help="only this file name")
    s = add(
        "transform", "Build the warehouse with dbt (staging, intermediate, marts) as of a date."
    )
    as_of(s)
    s.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    as_of(
        add("publish", "Publish every mart as Parquet (HOME/published or DEBTFLOW_PUBLISH_URL)."),
        built,
    )
    as_of(add("docs", "Build the dbt docs site into HOME/reports/dbt_docs/."))
    as_of(add("validate", "Run the data-quality suites on the day's batches and the marts."))
    s = add("train", "Train a model and register it (champion through a gate).")
    as_of(s, built)
    s.add_argument("--truth", type=Path, help="simulator truth folder: report oracle metrics")
    models = ("collectability", "late_payment")
    s.add_argument("--model", choices=models, default="collectability")
    s = add("models", "The model registry: versions, metrics, the champion.")
    m_sub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    m = m_sub.add_parser("list", help="Versions with their validation metrics; marks the champion.")
    m.add_argument("--model", choices=models, default="collectability")
    m = m_sub.add_parser("show", help="A version's metadata and metrics (default: the champion).")
    m.add_argument("version", nargs="?")
    m.add_argument("--model", choices=models, default="collectability")
    m = m_sub.add_parser("promote", help="Make a version the champion by hand (bypasses the gate).")
    m.add_argument("version")
    m.add_argument("--model", choices=models, default="collectability")
    s = add("advise-terms", "Payment-terms advice per customer with the expected loss it avoids.")
    as_of(s, built)
    s.add_argument("--debtor", action="append", help="only this debtor (repeatable)")
    s.add_argument("--out", type=Path, help="CSV path (default HOME/reports/terms/<as_of>.csv)")
    as_of(add("score", "Score every debtor with an overdue balance into ml.debtor_scores."))
    as_of(add("dunning", "Plan the day's dunning actions into the ledger and send them."))
    s = add("tape", "Debt-sale data tapes.")
    tape_sub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    as_of(tape_sub.add_parser("build", help="Write the sale tape and its manifest for a date."))
    s = add("run", "Run a deployable flow here, as its deployment runs it (infra/prefect.yaml).")
    run_sub = s.add_subparsers(dest="flow", required=True, metavar="FLOW")
    s = run_sub.add_parser("daily", help="ingest -> validate -> transform -> score -> dunning")
    as_of(s)
    s.add_argument(
        "--force", action="store_true", help="rebuild and rescore even if the inputs are unchanged"
    )
    as_of(run_sub.add_parser("dunning-send", help="plan and send the day's dunning messages"))
    as_of(run_sub.add_parser("train", help="train the collectability model; gate"), built)
    as_of(run_sub.add_parser("sale-tape", help="the debt-sale tape and its manifest"))
    s = add("backfill", "Run the daily flow for each date in a range; skips dates already done.")
    s.add_argument("--from", dest="start", type=iso, required=True, help="first date YYYY-MM-DD")
    s.add_argument("--to", dest="end", type=iso, required=True, help="last date (inclusive)")
    add("doctor", "Check the configuration and every connection; say what to fix.")
    s = add("demo", "Simulate a world, load it, train, run the day and build a tape; summarise.")
    s.add_argument("--debtors", type=int, default=20_000)
    s.add_argument("--months", type=int, default=24)
    s.add_argument("--seed", type=int, default=7)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = get_settings()
    try:
        if args.command not in STARTS_A_HOME:
            require(settings)
        if args.command != "doctor":  # it only looks: no Prefect, and no folders made
            configure_prefect(settings)
        COMMANDS[args.command](args)
    except DebtflowError as exc:
        print(f"debtflow {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
