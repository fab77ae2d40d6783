"""The `debtflow` command: every stage of the pipeline, the daily run and the demo."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from debtflow.flows.errors import DebtflowError
from debtflow.flows.runtime import configure_prefect
from debtflow.flows.settings import get_settings

COMMANDS: dict[str, Callable[[argparse.Namespace], object]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


def _as_of(args: argparse.Namespace) -> date:
    return args.as_of or get_settings().today()


def _print(result: object) -> None:
    print(json.dumps(result, indent=2, default=str))


@command("simulate")
def cmd_simulate(args):
    from debtflow.flows.simulation import simulate

    _print(simulate(args.debtors, args.months, args.seed, args.out, args.end_date, args.daily_days))


@command("ingest")
def cmd_ingest(args):
    from debtflow.flows import ingest

    settings = get_settings()
    if args.landing:
        settings.landing_url = str(args.landing)
    for r in ingest.ingest(settings, _as_of(args)):
        loaded = sum(f.rows_loaded for f in r.files)
        bad = sum(f.rows_quarantined for f in r.files)
        print(f"{r.batch_id}: {r.status} ({loaded} rows loaded, {bad} quarantined)")


@command("quarantine")
def cmd_quarantine(args):
    from debtflow.flows import quarantine
    from debtflow.flows.warehouse import session

    with session() as con:
        if args.action == "list":
            for batch, file, column, reason, status, n in quarantine.summary(con, args.batch):
                print(f"{batch}  {file}  {column}  {status:<11} {n:>8}  {reason}")
        elif args.action == "show":
            for row in quarantine.rows(con, args.batch, args.file, args.limit):
                print(json.dumps(row, default=str))
        else:
            print(f"released {quarantine.release(con, args.batch, args.file)} row(s)")


@command("transform")
def cmd_transform(args):
    from debtflow.flows import transform

    result = transform.build(get_settings(), _as_of(args), full_refresh=args.full_refresh)
    print(f"dbt build: {len(result)} nodes passed")


@command("validate")
def cmd_validate(args):
    from debtflow.flows import validation
    from debtflow.flows.warehouse import session

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
    from debtflow.models import train

    _print(train.train(get_settings(), _as_of(args), args.truth))


@command("score")
def cmd_score(args):
    from debtflow.models import predict

    _print(predict.score(get_settings(), _as_of(args)))


@command("dunning")
def cmd_dunning(args):
    from debtflow.flows import dunning
    from debtflow.flows.warehouse import session

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
    from debtflow.flows import tape
    from debtflow.flows.warehouse import session

    settings = get_settings()
    with session(settings) as con:
        _print(tape.build_tape(con, settings, _as_of(args)))


@command("run")
def cmd_run(args):
    from debtflow.flows.daily_flow import daily

    _print(daily(_as_of(args)))


@command("demo")
def cmd_demo(args):
    from debtflow.flows.demo import demo

    demo(get_settings(), args.debtors, args.months, args.seed)


def parser() -> argparse.ArgumentParser:
    iso = date.fromisoformat
    p = argparse.ArgumentParser(
        prog="debtflow",
        description="Turn billing extracts into collected cash: load, model, dun, sell.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help)

    def as_of(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--as-of", type=iso, help="business date YYYY-MM-DD (default: today)")

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
    as_of(add("validate", "Run the data-quality suites on the day's batches and the marts."))
    s = add("train", "Train the collectability model and register it (champion through a gate).")
    as_of(s)
    s.add_argument("--truth", type=Path, help="simulator truth folder: report oracle metrics")
    as_of(add("score", "Score every debtor with an overdue balance into ml.debtor_scores."))
    as_of(add("dunning", "Plan the day's dunning actions into the ledger and send them."))
    s = add("tape", "Debt-sale data tapes.")
    tape_sub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    as_of(tape_sub.add_parser("build", help="Write the sale tape and its manifest for a date."))
    s = add("run", "Run a flow.")
    run_sub = s.add_subparsers(dest="flow", required=True, metavar="FLOW")
    as_of(run_sub.add_parser("daily", help="ingest -> validate -> transform -> score -> dunning"))
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
    configure_prefect(get_settings())
    try:
        COMMANDS[args.command](args)
    except DebtflowError as exc:
        print(f"debtflow {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
